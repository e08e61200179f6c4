//! Self-test of the fake's LFS server: behind the same gate as git's
//! requests, object ids checked on upload, hrefs from the name the client used.

use crate::support::tests::{APP, SECRET, TENANT, fetch_token};
use crate::support::{FakeAdo, FakeEntra, SeenAuth, TestEnv};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

#[test]
fn fake_ado_serves_lfs_behind_the_same_gate_and_checks_object_ids() {
    let env = TestEnv::new();
    let entra = FakeEntra::start();
    entra.add_app(TENANT, APP, SECRET);
    let ado = FakeAdo::start(&env.path().join("srv"), &entra.tenant_id(TENANT));
    ado.allow("org", APP);
    ado.create_repo("org", "proj", "repo");
    let token = fetch_token(&entra, APP, SECRET);
    let basic = format!("Basic {}", STANDARD.encode(format!("x:{token}")));
    let content = b"an LFS object".to_vec();
    let oid = super::oid(&content);
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    // Without `.git`, as git-lfs derives the API from such a remote URL.
    let object = format!(
        "{}/org/proj/_git/repo/info/lfs/objects/{oid}",
        ado.base_url()
    );
    let put = |auth: &str, body: &[u8]| {
        let rq = client
            .put(&object)
            .header("Authorization", auth)
            .body(body.to_vec());
        rq.send().expect("the fake answers").status().as_u16()
    };
    assert_eq!(
        put("Basic eDp5", &content),
        401,
        "no valid token, no upload"
    );
    assert_eq!(
        put(&basic, b"other bytes"),
        422,
        "content must hash to its oid"
    );
    assert_eq!(ado.lfs_object("org", "proj", "repo", &oid), None);
    assert_eq!(put(&basic, &content), 200);
    assert_eq!(
        ado.lfs_object("org", "proj", "repo", &oid),
        Some(content.clone())
    );
    // Hrefs follow the name and scheme the client used (a TLS front's).
    let missing = "0".repeat(64);
    let batch = json!({ "operation": "download", "transfers": ["basic"],
        "objects": [{ "oid": oid, "size": content.len() }, { "oid": missing, "size": 1 }] });
    let answer = client
        .post(format!(
            "{}/org/proj/_git/repo.git/info/lfs/objects/batch",
            ado.base_url()
        ))
        .header("Authorization", &basic)
        .header("Accept", "application/vnd.git-lfs+json")
        .header("Host", "ado.example.com")
        .header("X-Forwarded-Proto", "https")
        .body(batch.to_string())
        .send()
        .expect("the fake answers");
    assert_eq!(answer.status().as_u16(), 200);
    let answer: Value = answer.json().expect("JSON");
    let href = format!("https://ado.example.com/org/proj/_git/repo.git/info/lfs/objects/{oid}");
    assert_eq!(
        answer["objects"][0]["actions"]["download"]["href"],
        href.as_str()
    );
    assert!(
        answer["objects"][0]["actions"]["download"]
            .get("header")
            .is_none()
    );
    assert_eq!(answer["objects"][1]["error"]["code"], 404);
    // A revoked token is refused like a missing one, with the same challenges.
    ado.revoke(&token);
    let refused = client
        .get(&object)
        .header("Authorization", &basic)
        .send()
        .expect("answers");
    assert_eq!(refused.status().as_u16(), 401);
    let challenges: Vec<_> = refused
        .headers()
        .get_all("WWW-Authenticate")
        .iter()
        .collect();
    assert_eq!(challenges.len(), 3, "{challenges:?}");
    assert_eq!(
        ado.requests().last().expect("logged").auth,
        SeenAuth::Invalid
    );
}
