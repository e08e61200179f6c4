//! Cold `get`s (nothing cached) for each identity type against the local fakes, split into
//! phases by the helper's own trace, and N concurrent cold `get`s.

use std::io::{Read as _, Write as _};
use std::process::{Child, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

use crate::measure::{field, ms, reap};
use crate::phases;
use crate::support::{self, FakeEntra, FakeImds, FakeOidc, Federation, MiKind, TestEnv};
use crate::{ADO_HOST, Doc, REQUEST, TENANT, fmt_ms};

/// Cold `get`s per identity type.
pub const COLD_RUNS: usize = 30;
/// Batch sizes of the concurrency test.
pub const BATCHES: [usize; 3] = [1, 8, 32];

/// One identity type, configured in its own environment with the file store.
pub struct Case {
    /// Label in the report.
    label: String,
    /// The isolated environment whose config selects this identity.
    pub env: TestEnv,
    /// Fakes that must live as long as the case.
    _keep: Vec<Box<dyn std::any::Any>>,
}

/// Sets up every identity type that can run against the fakes; prints the skipped ones.
pub fn cases(entra: &FakeEntra, doc: &mut Doc) -> Vec<Case> {
    let mut cases = Vec::new();
    let app = |entra: &FakeEntra| {
        let (client, secret) = (
            support::random_guid(),
            format!("bench-secret-{}", support::random_guid()),
        );
        entra.add_app(TENANT, &client, &secret);
        (client, secret)
    };
    let sp = |client: &str, extra: Value| {
        let mut v = json!({"type": "service-principal", "tenant": TENANT, "client_id": client});
        for (k, x) in extra.as_object().expect("an object") {
            v[k] = x.clone();
        }
        v
    };

    let (client, secret) = app(entra);
    let mut env = environment(
        entra,
        sp(&client, json!({"client_secret_env": "CI_SECRET"})),
    );
    env.set_env("CI_SECRET", &secret);
    cases.push(case("service principal, client secret", env, Vec::new()));

    if support::cert::openssl_available() {
        let dir = tempfile::tempdir().expect("a directory for the certificates");
        let cert = support::cert::TestCert::new(dir.path(), "bench", 30);
        let pem = cert.combine("bench.pem", &[&cert.cert, &cert.key_pkcs8]);
        let pfx = cert.pfx("bench.pfx", "bench-pfx-password", None);
        let client = support::random_guid();
        entra.add_cert_app(TENANT, &client, &cert.der);
        let env = environment(entra, sp(&client, json!({"certificate": pem})));
        cases.push(case(
            "service principal, certificate (PEM)",
            env,
            Vec::new(),
        ));
        let mut env = environment(
            entra,
            sp(
                &client,
                json!({"certificate": pfx, "certificate_password_env": "PFX_PASS"}),
            ),
        );
        env.set_env("PFX_PASS", "bench-pfx-password");
        cases.push(case(
            "service principal, certificate (PFX)",
            env,
            vec![Box::new(dir)],
        ));
    } else {
        doc.note("certificate rows skipped: no `openssl` command to make a certificate (Debian package `openssl`)");
    }

    let imds = FakeImds::start(MiKind::Imds, &entra.tenant_id(TENANT));
    let mut env = environment(entra, json!({"type": "managed-identity"}));
    env.set_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.url());
    cases.push(case(
        "managed identity (VM, IMDS)",
        env,
        vec![Box::new(imds)],
    ));

    // Workload identity with a projected token file, as on AKS.
    let federation = Federation {
        issuer: "https://oidc.prod-aks.azure.com/bench/".into(),
        subject: "system:serviceaccount:build:git".into(),
        audience: support::EXCHANGE_AUDIENCE.into(),
    };
    let now = support::now_secs();
    let k8s = support::jwt::sign(&json!({
        "iss": federation.issuer, "sub": federation.subject,
        "aud": [support::EXCHANGE_AUDIENCE], "iat": now, "nbf": now, "exp": now + 3600,
    }));
    let client = support::random_guid();
    entra.add_federated_app(TENANT, &client, federation);
    let token_file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(token_file.path(), &k8s).expect("write the token file");
    let env = environment(
        entra,
        json!({"type": "workload-identity", "tenant": TENANT, "client_id": client,
               "assertion": "file", "token_file": token_file.path()}),
    );
    cases.push(case(
        "workload identity, token file (AKS)",
        env,
        vec![Box::new(token_file)],
    ));

    for (label, oidc, assertion) in [
        (
            "workload identity, GitHub Actions OIDC",
            FakeOidc::github(&format!("bench-gh-request-{}", support::random_guid())),
            json!({"assertion": "github-actions"}),
        ),
        (
            "workload identity, Azure Pipelines OIDC",
            FakeOidc::pipelines(
                &format!("bench-job-token-{}", support::random_guid()),
                "8e1c0a52-55a1-4f7b-b0b2-3b5e4f0c9a11",
            ),
            json!({"assertion": "azure-pipelines",
                   "service_connection_id": "8e1c0a52-55a1-4f7b-b0b2-3b5e4f0c9a11"}),
        ),
    ] {
        let client = support::random_guid();
        entra.add_federated_app(TENANT, &client, oidc.federation());
        let mut identity =
            json!({"type": "workload-identity", "tenant": TENANT, "client_id": client});
        for (k, x) in assertion.as_object().expect("an object") {
            identity[k] = x.clone();
        }
        let mut env = environment(entra, identity);
        for (k, v) in oidc.job_env() {
            env.set_env(k, &v);
        }
        cases.push(case(label, env, vec![Box::new(oidc)]));
    }

    // The job token itself: no request, never cached.
    let job = support::jwt::sign(&json!({
        "aud": support::ADO_RESOURCE, "tid": entra.tenant_id(TENANT),
        "appid": support::random_guid(), "scp": "app_token", "exp": now + 3600,
    }));
    support::register_sensitive(&job);
    let mut env = environment(entra, json!({"type": "pipeline-token"}));
    env.set_env("TF_BUILD", "True");
    env.set_env("SYSTEM_ACCESSTOKEN", &job);
    cases.push(case(
        "pipeline-token (the job's token as is)",
        env,
        Vec::new(),
    ));

    doc.note("not measured cold: `azure-cli`, `azure-powershell` and `azure-developer-cli` (they run `az`, `pwsh` or `azd`, which ask the real Entra) and `user` sign-in (a person at a browser or a device-code prompt; afterwards the refresh token is redeemed with one token request, as above)");
    cases
}

/// A case named `label`.
fn case(label: &str, env: TestEnv, keep: Vec<Box<dyn std::any::Any>>) -> Case {
    Case {
        label: label.to_string(),
        env,
        _keep: keep,
    }
}

/// An environment whose config serves the bench host with `identity`, file store.
fn environment(entra: &FakeEntra, identity: Value) -> TestEnv {
    let mut env = TestEnv::new();
    let config = json!({
        "identities": {"bench": identity},
        "routes": [{"url": format!("http://{ADO_HOST}/contoso"), "identity": "bench"}],
        "hosts": [format!("http://{ADO_HOST}")],
        "authority_host": entra.url(),
    });
    env.write_config(&config.to_string());
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "file");
    env
}

/// Empties the file store of `env`.
pub fn clear(env: &TestEnv) {
    let tokens = env.path().join("cache/git-credential-entra/tokens");
    // Absent before the first run.
    let _ = std::fs::remove_dir_all(tokens);
}

/// Section: cold `get` per identity type, split by the trace.
pub fn bench_cold(cases: &[Case], doc: &mut Doc) {
    let mut head = vec!["identity type"];
    head.extend(phases::COLUMNS);
    doc.table_head(&head);
    for case in cases {
        let series = phases::traced_gets(&case.label, &case.env, REQUEST, COLD_RUNS, &clear);
        doc.check(
            series.good == COLD_RUNS && series.splits.len() == COLD_RUNS,
            format!(
                "cold get, {}: {}/{COLD_RUNS} returned a token, {} traces could be split",
                case.label,
                series.good,
                series.splits.len()
            ),
        );
        if series.splits.is_empty() {
            continue;
        }
        let mut cells = vec![case.label.clone()];
        cells.extend(phases::row(&series.splits));
        doc.table_row(&cells);
    }
}

/// Section: `n` cold `get`s started at once, for the first case (a client secret).
pub fn bench_batches(entra: &FakeEntra, case: &Case, doc: &mut Doc) {
    doc.table_head(&[
        "concurrent cold `get`s",
        "token requests",
        "all got the same token",
        "all exited 0",
        "wall time",
    ]);
    for n in BATCHES {
        clear(&case.env);
        let before = entra.token_requests().len();
        let issued_before = entra.issued_tokens().len();
        let mut cmd = case.env.helper();
        cmd.arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut children: Vec<Child> = (0..n)
            .map(|_| cmd.spawn().expect("spawn the helper"))
            .collect();
        for child in &mut children {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // A helper that exits without reading shows up as a failed run below.
            let _ = stdin.write_all(REQUEST.as_bytes());
        }
        let mut outputs = Vec::with_capacity(n);
        for child in &mut children {
            let mut out = String::new();
            let _ = child
                .stdout
                .take()
                .expect("stdout is piped")
                .read_to_string(&mut out);
            let (ok, _) = reap(child);
            outputs.push((ok, out));
        }
        let wall = start.elapsed();
        for child in &mut children {
            let mut err = String::new();
            let _ = child
                .stderr
                .take()
                .expect("stderr is piped")
                .read_to_string(&mut err);
            support::assert_no_leak("stderr of git-credential-entra get", &err);
        }
        let requests = entra.token_requests().len() - before;
        let new_tokens: Vec<String> = entra.issued_tokens()[issued_before..].to_vec();
        let tokens: Vec<Option<String>> =
            outputs.iter().map(|(_, o)| field(o, "password")).collect();
        let same = tokens.iter().all(|t| t.is_some() && *t == tokens[0])
            && tokens[0].as_ref() == new_tokens.first();
        let all_ok = outputs.iter().filter(|(ok, _)| *ok).count();
        doc.table_row(&[
            n.to_string(),
            requests.to_string(),
            if same { "yes" } else { "NO" }.to_string(),
            format!("{all_ok}/{n}"),
            fmt_ms(ms(wall)),
        ]);
        doc.check(
            requests == 1 && same && all_ok == n,
            format!(
                "{} N={n}: {requests} token requests (want 1), same token: {same}, {all_ok}/{n} ok",
                case.label
            ),
        );
    }
}
