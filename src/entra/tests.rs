use super::*;

#[test]
fn parses_numbers_and_strings() {
    let t = parse_token(
        200,
        r#"{"access_token":"a","expires_in":"3599","refresh_in":1800}"#,
        1000,
    )
    .expect("ok")
    .into_access_token();
    assert_eq!(
        (t.expires_on, t.obtained, t.refresh_on),
        (4599, 1000, Some(2800))
    );
    let t = parse_token(
        200,
        r#"{"access_token":"a","expires_on":"5000","expires_in":""}"#,
        1000,
    )
    .expect("ok");
    assert_eq!(t.expires_on, 5000);
    assert!(parse_token(200, r#"{"access_token":"a"}"#, 1000).is_err());
    assert!(parse_token(200, r#"{"expires_in":5}"#, 1000).is_err());
    assert!(parse_token(200, "<html>", 1000).is_err());
}

#[test]
fn a_refresh_token_is_kept_in_the_answer_only() {
    let r = parse_token(
        200,
        r#"{"access_token":"a","expires_in":3600,"refresh_token":"rt-1"}"#,
        1000,
    )
    .expect("ok");
    assert_eq!(
        r.refresh_token.as_ref().map(Secret::expose),
        Some(&"rt-1".to_string())
    );
    let cached = r.into_access_token().to_json();
    assert!(!cached.expose().contains("rt-1"), "never cached");
    let r = parse_token(
        200,
        r#"{"access_token":"a","expires_in":3600,"refresh_token":""}"#,
        1000,
    )
    .expect("ok");
    assert_eq!(r.refresh_token, None);
}

#[test]
fn lifetimes_are_clamped_and_must_be_positive() {
    let day = MAX_LIFETIME_SECS;
    let parse = |body: &str, received: i64| parse_token(200, body, received);
    for (body, received) in [
        (
            r#"{"access_token":"a","expires_in":9223372036854775807}"#,
            1000,
        ),
        (
            r#"{"access_token":"a","expires_in":"9223372036854775807"}"#,
            1000,
        ),
        (
            r#"{"access_token":"a","expires_on":9223372036854775807}"#,
            1000,
        ),
        (
            r#"{"access_token":"a","expires_in":9223372036854775807,"refresh_in":9223372036854775807}"#,
            1000,
        ),
    ] {
        let t = parse(body, received).expect(body).into_access_token();
        assert_eq!(t.expires_on, received + day, "{body}");
        assert!(t.refresh_on.is_none_or(|r| r <= t.expires_on), "{body}");
        assert!(t.git_expiry(300, received) > received, "{body}");
    }
    let t = parse(r#"{"access_token":"a","expires_in":3600}"#, i64::MAX - 10).expect("late clock");
    assert_eq!(t.expires_on, i64::MAX);
    let t = parse(
        r#"{"access_token":"a","expires_on":10}"#,
        -9223372036854775000,
    )
    .expect("early clock");
    assert_eq!(t.expires_on, -9223372036854775000 + day);
    for body in [
        r#"{"access_token":"a","expires_in":0}"#,
        r#"{"access_token":"a","expires_in":-5}"#,
        r#"{"access_token":"a","expires_in":-9223372036854775808}"#,
        r#"{"access_token":"a","expires_in":-1,"expires_on":99999}"#,
        r#"{"access_token":"a","expires_on":1000}"#,
        r#"{"access_token":"a","expires_on":-9223372036854775808}"#,
    ] {
        assert!(parse(body, 1000).is_err(), "{body}");
    }
}

#[test]
fn aadsts_errors_fit_on_one_line_with_the_correlation_id_once() {
    let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: c1\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[7000215],"correlation_id":"c1"}"#;
    let text = parse_error(401, body, &[]).to_string();
    assert_eq!(
        text,
        format!(
            "Entra refused the token request with AADSTS7000215 (invalid client secret): Invalid client secret provided. Fix: {} (correlation id c1)",
            aadsts(7000215).1
        )
    );
    // Some proxies and older endpoints put the ids on the same line.
    let body = r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found Trace ID: t Correlation ID: c2 Timestamp: now","error_codes":[90002],"correlation_id":"c2"}"#;
    let text = parse_error(400, body, &[]).to_string();
    assert!(!text.contains('\n'), "{text}");
    assert_eq!(text.matches("c2").count(), 1, "{text}");
    assert!(
        text.contains("(tenant not found): Tenant 'x' not found. Fix: check the tenant"),
        "{text}"
    );
    assert!(
        !text.contains("Trace ID") && !text.contains("Timestamp"),
        "{text}"
    );
    let text = parse_error(400, r#"{"error":"invalid_request"}"#, &[]).to_string();
    assert!(text.contains("(HTTP 400, invalid_request). Fix:"), "{text}");
    for code in [7000215, 7000222, 700016, 90002, 70011, 500011, 50196, 53003] {
        assert!(!aadsts(code).0.starts_with("see "), "{code} has a meaning");
    }
}

#[test]
fn server_text_loses_control_characters_and_our_form_values() {
    let secret = "s3cr3t-value~with.chars";
    let sent = [("client_id", "app-id-1234"), ("client_secret", secret)];
    let body = serde_json::json!({
        "error": "bad\u{1b}[2J",
        "error_description": format!("AADSTS7000215: got \u{1b}]0;x\u{7}{secret} for app-id-1234\u{1b}[31m"),
        "error_codes": [7000215],
        "correlation_id": "c1\u{7}\u{1b}[1A",
    })
    .to_string();
    let text = parse_error(401, &body, &sent).to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(!text.contains(secret) && !text.contains("s3cr3t"), "{text}");
    assert!(!text.contains("app-id-1234"), "{text}");
    assert!(
        text.contains("got ]0;x <client_secret> for <client_id> [31m"),
        "{text}"
    );
    assert!(text.contains("(correlation id c1 [1A)"), "{text}");
    // A secret split by control characters is hidden all the same.
    let body = serde_json::json!({"error": format!("x {}\u{7}{}", &secret[..4], &secret[4..])})
        .to_string();
    let text = parse_error(400, &body, &sent).to_string();
    assert!(!text.contains("3t-value"), "{text}");
    assert!(text.contains("x <client_secret>"), "{text}");
}

#[test]
fn outages_are_labelled_by_status() {
    let text = |status| {
        EntraError::Unavailable {
            status,
            attempts: 3,
            waited: Duration::from_secs(7),
        }
        .to_string()
    };
    assert!(text(429).contains("HTTP 429 (throttled) 3 time(s) over 7 s"));
    assert!(text(503).contains("HTTP 503 (service unavailable)"));
    for status in [500, 502, 504] {
        assert!(
            text(status).contains(&format!("HTTP {status} (server error)")),
            "{}",
            text(status)
        );
    }
}

// A self-signed certificate no system trusts (EC P-256, for 127.0.0.1).
const UNTRUSTED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBxTCCAWugAwIBAgITCn7SnWeCd4elKuBbo8iJqQvwujAKBggqhkjOPQQDAjAZ
MRcwFQYDVQQDDA51bnRydXN0ZWQudGVzdDAgFw0yNjExMzAxNDQzNDNaGA8yMTI2
MTEwNjE0NDM0M1owGTEXMBUGA1UEAwwOdW50cnVzdGVkLnRlc3QwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAASvFPsxHK3lDrrr3EvPERkxbxhwHJq8boViHGh1H7dv
50ybT1OwsD8o1S7wYzoZup/sxhN8aSvzdnual/4PVZ1to4GPMIGMMB0GA1UdDgQW
BBRMU/Au9eRN4lmcbPyii4tGDdF5fTAfBgNVHSMEGDAWgBRMU/Au9eRN4lmcbPyi
i4tGDdF5fTAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDAYDVR0TAQH/BAIw
ADALBgNVHQ8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwCgYIKoZIzj0EAwID
SAAwRQIhAM7QC6D15MV4Pe9+fp1SdIJM7aH81/RBt6aM8ncx8tulAiA7klBZj2Ux
k3x/eOyQV1s4XZn9Nn5UIcKSask+1sqMKw==
-----END CERTIFICATE-----
";
const UNTRUSTED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwK2A7PNVndlb7FIm
ZvCzAVfJRPifJ5tut6WBHmsH1+KhRANCAASvFPsxHK3lDrrr3EvPERkxbxhwHJq8
boViHGh1H7dv50ybT1OwsD8o1S7wYzoZup/sxhN8aSvzdnual/4PVZ1t
-----END PRIVATE KEY-----
";

/// Serves TLS with [`UNTRUSTED_CERT`] to one client on 127.0.0.1.
fn untrusted_tls_server() -> (u16, std::thread::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(UNTRUSTED_CERT.as_bytes()).expect("cert");
    let key = PrivateKeyDer::from_pem_slice(UNTRUSTED_KEY.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("server config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        let mut tls = rustls::ServerConnection::new(std::sync::Arc::new(config)).expect("session");
        // Runs until the client rejects the certificate and hangs up.
        while tls.complete_io(&mut tcp).is_ok() && tls.is_handshaking() {}
    });
    (port, server)
}

#[test]
fn an_untrusted_certificate_is_named_not_blamed_on_the_proxy() {
    let (port, server) = untrusted_tls_server();
    let authority = format!("https://127.0.0.1:{port}");
    let http = crate::net::http::direct()
        .entra(&authority)
        .expect("client");
    let secret = Secret::new("not-sent-anywhere".to_string());
    let started = Instant::now();
    let e = client_credentials(
        &http,
        &authority,
        "t",
        "c",
        "s",
        &ClientAuth::Secret(secret),
        &Trace::off(),
    )
    .expect_err("the certificate is not trusted");
    server.join().expect("server thread");
    assert!(
        matches!(
            e,
            EntraError::Transport {
                cause: Cause::Certificate,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("TLS certificate was not trusted"), "{text}");
    assert!(
        text.contains("authority_host") && text.contains("CA certificate"),
        "{text}"
    );
    assert!(!text.contains("HTTPS_PROXY"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10), "not retried");
}

#[test]
fn a_secret_and_an_assertion_make_different_forms() {
    let secret = ClientAuth::Secret(Secret::new("the-secret".to_string()));
    assert_eq!(
        client_credentials_form("app", "res/.default", &secret),
        [
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("scope", "res/.default"),
            ("client_secret", "the-secret"),
        ]
    );
    let assertion = ClientAuth::Assertion(Secret::new("eyJ.jwt.sig".to_string()));
    let form = client_credentials_form("app", "res/.default", &assertion);
    assert_eq!(
        form,
        [
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("scope", "res/.default"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", "eyJ.jwt.sig"),
        ]
    );
    assert!(form.iter().all(|(k, _)| *k != "client_secret"));
    // An error answer that echoes the assertion does not print it.
    let echoed = r#"{"error":"invalid_client","error_description":"bad eyJ.jwt.sig"}"#;
    let text = parse_error(401, echoed, &form).to_string();
    assert!(
        text.contains("<client_assertion>") && !text.contains("eyJ.jwt.sig"),
        "{text}"
    );
}

#[test]
fn entra_retries_throttling_and_outages_only() {
    for status in [429, 500, 503, 599] {
        assert!(POLICY.retries(status), "{status}");
    }
    for status in [200, 400, 401, 404, 410] {
        assert!(!POLICY.retries(status), "{status}");
    }
    let waits: Vec<u64> = (1..=6).map(|n| POLICY.backoff(n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 16]);
    const { assert!(POLICY.honour_retry_after && POLICY.retry_transport) };
}

#[test]
fn timeouts_are_found_inside_io_errors() {
    let inner = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
    let wrapped = std::io::Error::other(inner);
    let (e, retry) = transport(&wrapped, true, Instant::now());
    assert!(retry);
    assert!(
        matches!(
            e,
            EntraError::Transport {
                cause: Cause::Timeout {
                    reading_body: true,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("stopped arriving"), "{e}");
    let refused = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
    let (e, retry) = transport(&refused, false, Instant::now());
    assert!(
        retry
            && matches!(
                e,
                EntraError::Transport {
                    cause: Cause::Network,
                    ..
                }
            )
    );
}

#[test]
fn a_refusal_is_read_from_another_programs_text() {
    assert!(refusal_in_text("ERROR: Please run 'az login' to setup account.").is_none());
    assert!(refusal_in_text("AADSTS: no code").is_none());
    let e = refusal_in_text(
        "WARNING: w\nERROR: AADSTS90002: Tenant 'x\u{1b}[31m' not found. Trace ID: t Correlation ID: c9 Timestamp: now\nmore",
    )
    .expect("a refusal");
    assert_eq!(e.refusal(), Some(("", &[90002][..])));
    assert_eq!(
        e.to_string(),
        format!(
            "Entra refused the token request with AADSTS90002 (tenant not found): Tenant 'x [31m' not found. Fix: {} (correlation id c9)",
            aadsts(90002).1
        )
    );
}
