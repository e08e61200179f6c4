use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

use super::*;
use crate::net::http::direct;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER: &str = "11111111-2222-3333-4444-555555555555";
/// A loopback port nothing listens on: the probe fails at once.
const CLOSED: &str = "http://127.0.0.1:9";

/// A server answering one request with `head` (status line and headers);
/// the request it saw comes back through the handle.
fn serve_once(head: &str) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let head = format!("{head}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 8192];
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        s.write_all(head.as_bytes()).expect("write");
        String::from_utf8_lossy(&seen).into_owned()
    });
    (base, server)
}

#[test]
fn challenges_name_the_tenant() {
    let one = |v: &str| from_challenges([v]);
    assert_eq!(
        one(&format!(
            "Bearer authorization_uri=https://login.microsoftonline.com/{TID}"
        )),
        Some(TID.into())
    );
    assert_eq!(
        one(&format!(
            "bearer AUTHORIZATION_URI=\"https://login.microsoftonline.com/{}\", x=y",
            TID.to_uppercase()
        )),
        Some(TID.into())
    );
    assert_eq!(
        one(&format!(
            "Bearer authorization_uri=https://login.microsoftonline.com/{EMPTY_GUID}"
        )),
        Some(ORGANIZATIONS.into())
    );
    for none in [
        "Basic realm=\"https://tfsprodneu2.visualstudio.com/\"",
        "TFS-Federated",
        "Bearer authorization_uri=not-a-url",
        "Bearer authorization_uri=https://login.microsoftonline.com/a%2F..%2Fb",
        "Bearer authorization_uri=https://login.microsoftonline.com/",
    ] {
        assert_eq!(one(none), None, "{none}");
    }
    let git = [
        "Basic realm=\"x\"".to_string(),
        format!("Bearer authorization_uri=https://login.microsoftonline.com/{TID}"),
    ];
    assert_eq!(
        from_challenges(git.iter().map(String::as_str)),
        Some(TID.into())
    );
}

#[test]
fn resource_tenant_takes_the_first_real_tenant() {
    assert_eq!(
        from_resource_tenant([EMPTY_GUID, TID]),
        Some(TID.into()),
        "several values: the first Entra tenant"
    );
    assert_eq!(
        from_resource_tenant([&format!("{EMPTY_GUID}, {OTHER}") as &str]),
        Some(OTHER.into())
    );
    assert_eq!(
        from_resource_tenant([EMPTY_GUID]),
        Some(ORGANIZATIONS.into())
    );
    assert_eq!(from_resource_tenant(["", "??"]), None);
}

#[test]
fn the_probe_url_is_vssps_for_dev_azure_com() {
    assert_eq!(
        probe_url("contoso", "https://dev.azure.com"),
        "https://vssps.dev.azure.com/contoso"
    );
    assert_eq!(
        probe_url("contoso", "https://ado.example.com/"),
        "https://ado.example.com/contoso"
    );
}

#[test]
fn wwwauth_wins_and_needs_no_network() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wwwauth = [format!(
        "Bearer authorization_uri=https://login.microsoftonline.com/{TID}"
    )];
    let t = discover(&direct(), "contoso", CLOSED, &wwwauth, Some(dir.path()));
    assert_eq!(
        t,
        Tenant {
            id: TID.into(),
            how: How::Challenge
        }
    );
    // And it is remembered for requests without wwwauth[].
    let t = discover(&direct(), "contoso", CLOSED, &[], Some(dir.path()));
    assert_eq!((t.id.as_str(), t.how), (TID, How::Remembered));
    assert_eq!(remembered(dir.path()), [TID]);
}

#[test]
fn remembered_lists_each_tenant_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(remembered(dir.path()).is_empty());
    let challenge = |tid: &str| {
        [format!(
            "Bearer authorization_uri=https://login.microsoftonline.com/{tid}"
        )]
    };
    for (org, tid) in [("contoso", TID), ("contoso2", TID), ("fabrikam", OTHER)] {
        discover(&direct(), org, CLOSED, &challenge(tid), Some(dir.path()));
    }
    assert_eq!(remembered(dir.path()), [OTHER, TID]);
}

#[test]
fn the_probe_reads_the_resource_tenant_and_is_remembered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, server) = serve_once(&format!(
        "HTTP/1.1 404 Not Found\r\nX-VSS-ResourceTenant: {TID}"
    ));
    let t = discover(&direct(), "contoso", &base, &[], Some(dir.path()));
    assert_eq!((t.id.as_str(), t.how), (TID, How::Probe));
    let request = server.join().expect("server");
    assert!(
        request.starts_with("HEAD /contoso HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("x-tfs-fedauthredirect: suppress\r\n"),
        "{request}"
    );
    assert!(!request.to_ascii_lowercase().contains("authorization:"));
    // The server is gone; the memory answers.
    let t = discover(&direct(), "contoso", &base, &[], Some(dir.path()));
    assert_eq!((t.id.as_str(), t.how), (TID, How::Remembered));
    // Per organization and per host.
    let t = discover(&direct(), "fabrikam", &base, &[], Some(dir.path()));
    assert!(matches!(t.how, How::Default { .. }), "{t:?}");
    assert!(forget("contoso", &base, dir.path()).expect("forget"));
    assert!(!forget("contoso", &base, dir.path()).expect("forget again"));
    let t = discover(&direct(), "contoso", &base, &[], Some(dir.path()));
    assert_eq!(t.id, ORGANIZATIONS, "forgotten: {t:?}");
}

#[test]
fn www_authenticate_beats_the_resource_tenant_header() {
    let (base, server) = serve_once(&format!(
        "HTTP/1.1 401 Unauthorized\r\nX-VSS-ResourceTenant: {OTHER}\r\nWWW-Authenticate: Basic realm=\"x\"\r\nWWW-Authenticate: Bearer authorization_uri=https://login.microsoftonline.com/{TID}"
    ));
    let t = discover(&direct(), "contoso", &base, &[], None);
    assert_eq!((t.id.as_str(), t.how), (TID, How::Probe));
    server.join().expect("server");
}

#[test]
fn a_microsoft_account_org_signs_in_through_organizations() {
    let (base, server) = serve_once(&format!(
        "HTTP/1.1 404 Not Found\r\nX-VSS-ResourceTenant: {EMPTY_GUID}"
    ));
    let t = discover(&direct(), "msa-org", &base, &[], None);
    assert_eq!((t.id.as_str(), t.how), (ORGANIZATIONS, How::Probe));
    server.join().expect("server");
}

#[test]
fn a_stale_memory_is_used_when_the_probe_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Memory::new(dir.path(), CLOSED, "contoso");
    private_dir(&m.dir).expect("dir");
    let old = serde_json::json!({
        "base": CLOSED, "org": "contoso", "tenant": TID, "at": now() - FRESH_SECS - 60
    });
    write_private(&m.dir, &m.name, old.to_string().as_bytes()).expect("write");
    let t = discover(&direct(), "contoso", CLOSED, &[], Some(dir.path()));
    assert_eq!(t.id, TID);
    assert!(matches!(t.how, How::Stale { .. }), "{t:?}");
    assert!(
        t.how
            .to_string()
            .contains("HEAD http://127.0.0.1:9/contoso"),
        "{}",
        t.how
    );
    // A probe that answers replaces the stale memory.
    let (base, server) = serve_once(&format!(
        "HTTP/1.1 404 Not Found\r\nX-VSS-ResourceTenant: {OTHER}"
    ));
    let t = discover(&direct(), "contoso", &base, &[], Some(dir.path()));
    assert_eq!((t.id.as_str(), t.how), (OTHER, How::Probe));
    server.join().expect("server");
}

#[test]
fn nothing_found_means_organizations() {
    let t = discover(&direct(), "contoso", CLOSED, &[], None);
    assert_eq!(t.id, ORGANIZATIONS);
    assert!(matches!(t.how, How::Default { .. }));
    let (base, server) =
        serve_once("HTTP/1.1 302 Found\r\nLocation: https://example.invalid/_signin");
    let t = discover(&direct(), "contoso", &base, &[], None);
    assert_eq!(t.id, ORGANIZATIONS);
    assert!(
        t.how
            .to_string()
            .contains("answered HTTP 302 naming no tenant"),
        "{}",
        t.how
    );
    server.join().expect("server");
    let t = discover(&direct(), "a/b", CLOSED, &[], None);
    assert_eq!(t.id, ORGANIZATIONS);
}

#[test]
fn the_probe_is_bounded() {
    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hold = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let started = std::time::Instant::now();
    let t = discover(&direct(), "contoso", &base, &[], None);
    let took = started.elapsed();
    assert_eq!(t.id, ORGANIZATIONS);
    assert!(
        took >= PROBE_TIMEOUT && took < PROBE_TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
    drop(hold.join());
}
