//! Latency, memory and concurrency benchmark for `git-credential-entra get`.
//!
//! Measures, against an in-process fake Entra authority and isolated XDG directories:
//!
//! 1. a cached `get` as git runs it (spawn, write the request, read stdout to EOF, reap), for
//!    the `file`, `keyutils` and Secret Service (`keyring`) stores, each store skipped with a
//!    printed reason when it is unusable here;
//! 2. the baselines `git credential-cache get` (git's own cache daemon) and `/bin/true` (the
//!    process-start floor), and the ratios of the helper's medians to credential-cache's;
//! 3. the peak RSS (`ru_maxrss`) of a cached `get`, taken by a small probe process (this bench
//!    binary re-executed) so that the bench's own memory does not inflate the figure;
//! 4. N = 1, 8, 32, 64 helpers started at once on a cold cache: token requests made (must be
//!    one), whether all returned the same token, and the wall time of the batch;
//! 5. a cold `get` (no cache) with a client secret and with a certificate (PEM, PFX): the whole
//!    process, and the certificate's load-and-sign time taken from the helper's `-v` line, so
//!    signing is seen not to dominate (certificates made by the `openssl` command; skipped
//!    without it).
//!
//! Run it with `cargo bench --bench latency` (release profile), or `scripts/bench.sh`, which
//! starts a throwaway D-Bus session and gnome-keyring so the Secret Service row is measured too.
//! The report goes to stdout. Tokens are only compared, never printed. The exit status is 0
//! when every correctness check passed and 1 otherwise, after the full report.

// The bench uses a few of the test support's fakes; the rest is the tests'.
#[path = "../tests/it/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{FakeEntra, TestEnv};

/// Names another helper binary to time on the same warm stores.
const OTHER_BINARY: &str = "GIT_CREDENTIAL_ENTRA_BENCH_OTHER";
/// Timed runs per series.
const RUNS: usize = 200;
/// Probe runs per peak-RSS figure.
const RSS_RUNS: usize = 100;
/// Batch sizes of the cold-cache concurrency test.
const BATCHES: [usize; 4] = [1, 8, 32, 64];
/// The whole bench is abandoned (exit 2) after this long, so no loop can hang it.
const BENCH_DEADLINE: Duration = Duration::from_secs(300);
/// First argument that turns this binary into the peak-RSS probe.
const PROBE_ARG: &str = "--gce-rss-probe";
/// Prefix of the probe's last stderr line, which carries the child's `ru_maxrss` in KiB.
const PROBE_MARKER: &str = "gce-rss-probe maxrss_kib=";
/// Tenant of every bench identity.
const TENANT: &str = "contoso.onmicrosoft.com";
/// The Azure DevOps-like host the helper is configured to serve; nothing listens there.
const ADO_HOST: &str = "127.0.0.1:8081";
/// The request git sends for `http://127.0.0.1:8081/contoso/p/_git/r` with useHttpPath.
const REQUEST: &str = "protocol=http\nhost=127.0.0.1:8081\npath=contoso/p/_git/r\n";
/// The password stored in git's credential cache for the baseline.
const CACHE_PASSWORD: &str = "baseline-password-0123456789";

/// The cache stores under test: (label, `GIT_CREDENTIAL_ENTRA_CACHE`, store name in the trace).
const STORES: [(&str, &str, &str); 4] = [
    ("auto", "auto", "secret-service+keyutils"),
    ("file", "file", "file"),
    ("keyutils", "keyutils", "keyutils"),
    ("secret-service", "keyring", "secret-service"),
];

/// Entry point: either the peak-RSS probe or the bench itself.
fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == PROBE_ARG) {
        rss_probe(&args[2..]);
    }
    std::thread::spawn(|| {
        std::thread::sleep(BENCH_DEADLINE);
        eprintln!("latency bench: not finished after {BENCH_DEADLINE:?}; giving up");
        std::process::exit(2);
    });
    let mut report = Report::default();
    bench(&mut report);
    if report.failures.is_empty() {
        println!("\nchecks: all passed");
    } else {
        println!("\nchecks: {} FAILED", report.failures.len());
        for f in &report.failures {
            println!("  FAILED: {f}");
        }
        std::process::exit(1);
    }
}

/// Correctness checks made along the way.
#[derive(Default)]
struct Report {
    /// Descriptions of the checks that failed.
    failures: Vec<String>,
}

impl Report {
    /// Records `what` as failed unless `ok`, and says so at once.
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            println!("  FAILED: {what}");
            self.failures.push(what);
        }
    }
}

/// One store set up for measurement.
struct Store {
    /// Label in the report.
    label: &'static str,
    /// The isolated environment whose config selects this store.
    env: TestEnv,
    /// The token the warm-up cached; compared, never printed.
    token: String,
}

/// Runs every measurement and prints the report.
fn bench(report: &mut Report) {
    let entra = FakeEntra::start();
    entra.set_lifetime(3599);
    println!("git-credential-entra latency bench (release build)");
    println!(
        "machine: {} CPUs, {}, helper {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        git_version(),
        env!("CARGO_BIN_EXE_git-credential-entra"),
    );

    println!(
        "\n== 1-2. one process as git runs it: spawn, write stdin, read stdout to EOF, reap =="
    );
    println!(
        "{:<44} {:>5} {:>10} {:>10} {:>10}",
        "series", "n", "median ms", "p95 ms", "min ms"
    );
    let floor = bench_true();
    let baseline = bench_credential_cache(report);
    let mut stores = Vec::new();
    let mut medians = Vec::new();
    for (label, mode, name) in STORES {
        match setup_store(&entra, label, mode, name, report) {
            Ok(store) => {
                let median = bench_cached_get(&entra, &store, None, report);
                medians.push((label.to_string(), median));
                // Another build of the helper (say, the commit before a change)
                // on the same warm store, for a before/after in one run.
                if let Some(other) = std::env::var_os(OTHER_BINARY) {
                    let other = std::path::PathBuf::from(other);
                    let median = bench_cached_get(&entra, &store, Some(&other), report);
                    medians.push((format!("{label}, other build"), median));
                }
                stores.push(store);
            }
            Err(why) => println!(
                "{:<44} skipped: {why}",
                format!("helper get, cached, {label}")
            ),
        }
    }

    println!("\n   ratios of medians");
    if let Some(base) = baseline {
        println!(
            "   {:<44} {:>8.2}",
            "credential-cache get / /bin/true",
            base / floor
        );
        for (label, median) in &medians {
            println!(
                "   {:<44} {:>8.2}",
                format!("{label} get / credential-cache get"),
                median / base
            );
        }
    } else {
        println!("   (no credential-cache baseline)");
    }

    println!("\n== 3. peak RSS (max ru_maxrss over {RSS_RUNS} runs, via a probe process) ==");
    bench_rss(&stores, report);

    println!("\n== 4. cold cache, N helpers started at once (Entra token lifetime 3599 s) ==");
    println!(
        "{:<16} {:>4} {:>15} {:>11} {:>10} {:>9} {:>13}",
        "store", "N", "token requests", "same token", "all ok", "wall ms", "lock notices"
    );
    for store in &stores {
        for n in BATCHES {
            bench_cold_batch(&entra, store, n, report);
        }
    }

    println!("\n== 5. cold get (no cache): a client secret vs a certificate ==");
    bench_certificate(&entra, report);

    for store in &stores {
        // Keyring items outlive the temporary directories: drop them.
        let out = run_helper(&store.env, &["cache", "clear"], "");
        report.check(
            out.ok,
            format!("{}: final `cache clear` failed", store.label),
        );
    }
}

/// Cold `get`s per series of section 5.
const COLD_RUNS: usize = 40;

/// Section 5: cold `get`s with a secret, a PEM and a PFX certificate; the
/// certificate's load-and-sign time comes from the helper's `-v` line.
fn bench_certificate(entra: &FakeEntra, report: &mut Report) {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        println!("   skipped: no openssl command to make a certificate");
        return;
    }
    let mut env = TestEnv::new();
    let cert = support::cert::TestCert::new(&env.path().join("certs"), "bench", 30);
    let pem = cert.combine("bench.pem", &[&cert.cert, &cert.key_pkcs8]);
    let pfx = cert.pfx("bench.pfx", "bench-pfx-password", None);
    let (secret_app, cert_app) = (support::random_guid(), support::random_guid());
    let secret = format!("bench-secret-{}", support::random_guid());
    entra.add_app(TENANT, &secret_app, &secret);
    entra.add_cert_app(TENANT, &cert_app, &cert.der);
    let sp = |extra: serde_json::Value, app: &str| {
        let mut v =
            serde_json::json!({"type": "service-principal", "tenant": TENANT, "client_id": app});
        for (k, x) in extra.as_object().expect("an object") {
            v[k] = x.clone();
        }
        v
    };
    let config = serde_json::json!({
        "identities": {
            "secret": sp(serde_json::json!({"client_secret_env": "CI_SECRET"}), &secret_app),
            "pem": sp(serde_json::json!({"certificate": pem}), &cert_app),
            "pfx": sp(serde_json::json!({"certificate": pfx, "certificate_password_env": "PFX_PASS"}), &cert_app),
        },
        "hosts": [format!("http://{ADO_HOST}")],
        "authority_host": entra.url(),
    });
    env.write_config(&config.to_string());
    env.set_env("CI_SECRET", &secret);
    env.set_env("PFX_PASS", "bench-pfx-password");
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "none");
    println!(
        "{:<44} {:>5} {:>10} {:>10} {:>10}",
        "series", "n", "median ms", "p95 ms", "min ms"
    );
    let mut medians = Vec::new();
    for identity in ["secret", "pem", "pfx"] {
        let mut cmd = env.helper();
        cmd.args(["get", "-v", "--identity", identity])
            .stderr(Stdio::piped());
        let (mut times, mut signing, mut good) = (Vec::new(), Vec::new(), 0);
        for _ in 0..COLD_RUNS {
            let run = run_timed(&mut cmd, REQUEST.as_bytes());
            good += usize::from(run.ok && field(&run.stdout, "password").is_some());
            times.push(run.elapsed);
            // "... client assertion with certificate ... in N us"
            if let Some(us) = run
                .stderr
                .lines()
                .find(|l| l.contains("client assertion with certificate"))
                .and_then(|l| l.rsplit_once(" in "))
                .and_then(|(_, t)| t.trim_end_matches(" us").parse::<u64>().ok())
            {
                signing.push(Duration::from_micros(us));
            }
        }
        report.check(
            good == COLD_RUNS,
            format!("cold get with {identity}: {good}/{COLD_RUNS} returned a token"),
        );
        let median = print_stats(&format!("helper get, cold, {identity}"), times);
        if identity != "secret" {
            report.check(
                signing.len() == COLD_RUNS,
                format!("{identity}: the -v line with the signing time is missing"),
            );
            let sign = print_stats(&format!("  of which load + sign, {identity}"), signing);
            println!(
                "   {:<44} {:>7.1} %",
                format!("{identity}: load + sign share of a cold get"),
                100.0 * sign / median
            );
        }
        medians.push((identity, median));
    }
    if let (Some((_, secret)), Some((_, pem))) = (medians.first(), medians.get(1)) {
        println!(
            "   {:<44} {:>8.2}",
            "pem cold get / secret cold get",
            pem / secret
        );
    }
}

/// `git --version` of the git on PATH, for the report header.
fn git_version() -> String {
    Command::new("git")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "git: not found".to_string())
}

/// Times `/bin/true` (the floor of any spawned process); returns its median in ms.
fn bench_true() -> f64 {
    let mut cmd = Command::new("/bin/true");
    cmd.env_clear().stderr(Stdio::piped());
    let times = (0..RUNS)
        .map(|_| {
            let run = run_timed(&mut cmd, b"");
            assert!(run.ok, "/bin/true failed");
            run.elapsed
        })
        .collect();
    print_stats("/bin/true (process-start floor)", times)
}

/// Starts git's credential-cache daemon and times `git credential-cache get` against it.
fn bench_credential_cache(report: &mut Report) -> Option<f64> {
    let env = TestEnv::new();
    let socket = env.path().join("git-cache/sock");
    let socket = socket.to_str().expect("the temp path is UTF-8").to_string();
    let stored =
        format!("protocol=https\nhost=example.com\nusername=u\npassword={CACHE_PASSWORD}\n");
    // The daemon started by `store` keeps running; its stderr must not hold our pipe open.
    let mut store = env.git("git");
    store
        .args([
            "credential-cache",
            "--timeout",
            "300",
            "--socket",
            &socket,
            "store",
        ])
        .stderr(Stdio::null());
    let started = run_timed(&mut store, stored.as_bytes());
    if !started.ok {
        println!(
            "{:<44} skipped: `git credential-cache store` failed",
            "git credential-cache get"
        );
        report.check(false, "git credential-cache store failed");
        return None;
    }
    let mut get = env.git("git");
    get.args(["credential-cache", "--socket", &socket, "get"])
        .stderr(Stdio::piped());
    let mut times = Vec::with_capacity(RUNS);
    let mut good = 0;
    for _ in 0..RUNS {
        let run = run_timed(&mut get, b"protocol=https\nhost=example.com\n");
        if run.ok && field(&run.stdout, "password").as_deref() == Some(CACHE_PASSWORD) {
            good += 1;
        }
        times.push(run.elapsed);
    }
    let median = print_stats("git credential-cache get (daemon)", times);
    report.check(
        good == RUNS,
        format!("credential-cache get returned the password in {good}/{RUNS} runs"),
    );
    let mut exit = env.git("git");
    exit.args(["credential-cache", "--socket", &socket, "exit"])
        .stderr(Stdio::piped());
    report.check(
        run_timed(&mut exit, b"").ok,
        "git credential-cache exit failed",
    );
    Some(median)
}

/// Configures an identity cached in `mode` and warms the cache; `Err` says why it is unusable.
fn setup_store(
    entra: &FakeEntra,
    label: &'static str,
    mode: &str,
    name: &str,
    report: &mut Report,
) -> Result<Store, String> {
    if mode == "keyring" && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return Err("no D-Bus session".to_string());
    }
    // One app per store, so keyring items of different stores never share a fingerprint.
    let client_id = support::random_guid();
    let secret = format!("bench-secret-{}", support::random_guid());
    entra.add_app(TENANT, &client_id, &secret);
    let mut env = TestEnv::new();
    let config = serde_json::json!({
        "identities": {"ci": {
            "type": "service-principal",
            "tenant": TENANT,
            "client_id": client_id,
            "client_secret_env": "CI_SECRET",
        }},
        "routes": [{"url": format!("http://{ADO_HOST}/contoso"), "identity": "ci"}],
        "hosts": [format!("http://{ADO_HOST}")],
        "authority_host": entra.url(),
    });
    env.write_config(&config.to_string());
    env.set_env("CI_SECRET", &secret);
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", mode);

    let before = entra.token_requests().len();
    let mut warm = env.helper();
    warm.arg("get")
        .env("GIT_CREDENTIAL_ENTRA_TRACE", "1")
        .stderr(Stdio::piped());
    let run = run_timed(&mut warm, REQUEST.as_bytes());
    if let Some(line) = run.stderr.lines().find(|l| l.contains("unusable")) {
        let why = line.split_once("] ").map_or(line, |(_, rest)| rest);
        return Err(why.trim().to_string());
    }
    let used = format!("cache: using the {name} store");
    if !run.stderr.contains(&used) {
        return Err(format!("the helper did not report `{used}`"));
    }
    let token = field(&run.stdout, "password");
    let issued = entra.issued_tokens().last().cloned();
    let fetched = entra.token_requests().len() - before;
    report.check(
        run.ok && fetched == 1 && token.is_some() && token == issued,
        format!(
            "{label}: warm-up get: exit ok {}, {fetched} token requests (want 1), returned the issued token {}",
            run.ok,
            token.is_some() && token == issued
        ),
    );
    let token = token.ok_or_else(|| "the warm-up get returned no password".to_string())?;
    let mut again = env.helper();
    again
        .arg("get")
        .env("GIT_CREDENTIAL_ENTRA_TRACE", "1")
        .stderr(Stdio::piped());
    let again = run_timed(&mut again, REQUEST.as_bytes());
    let fetched = entra.token_requests().len() - before;
    if fetched != 1 || field(&again.stdout, "password").as_deref() != Some(token.as_str()) {
        // The trace's cache lines say why (they never carry a token).
        let why: Vec<&str> = run
            .stderr
            .lines()
            .chain(again.stderr.lines())
            .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest.trim()))
            .filter(|l| l.starts_with("cache") && !l.starts_with("cache: using"))
            .collect();
        return Err(format!(
            "the warm-up get left no cached token ({fetched} token requests after two gets; trace: {})",
            why.join(" | ")
        ));
    }
    Ok(Store { label, env, token })
}

/// Times cached `get`s for `store` (by `other` instead of this build's
/// helper, when given), checking each; returns the median in ms.
fn bench_cached_get(
    entra: &FakeEntra,
    store: &Store,
    other: Option<&std::path::Path>,
    report: &mut Report,
) -> f64 {
    let before = entra.token_requests().len();
    let mut cmd = match other {
        // `git` only names the program: any program gets the isolated environment.
        Some(bin) => store.env.git(&bin.to_string_lossy()),
        None => store.env.helper(),
    };
    let label = match other {
        Some(_) => format!("{}, other build", store.label),
        None => store.label.to_string(),
    };
    cmd.arg("get").stderr(Stdio::piped());
    let mut times = Vec::with_capacity(RUNS);
    let mut good = 0;
    for _ in 0..RUNS {
        let run = run_timed(&mut cmd, REQUEST.as_bytes());
        if run.ok && field(&run.stdout, "password").as_deref() == Some(store.token.as_str()) {
            good += 1;
        }
        times.push(run.elapsed);
    }
    let median = print_stats(&format!("helper get, cached, {label}"), times);
    let fetched = entra.token_requests().len() - before;
    report.check(
        good == RUNS && fetched == 0,
        format!(
            "{label}: cached gets: {good}/{RUNS} returned the cached token, {fetched} token requests (want 0)"
        ),
    );
    median
}

/// Prints the peak RSS of cached `get`s per store, and of `/bin/true` as the probe's floor.
fn bench_rss(stores: &[Store], report: &mut Report) {
    let floor = (0..RSS_RUNS)
        .map(|_| {
            let mut cmd = probe(Command::new("/bin/true"));
            let run = run_timed(&mut cmd, b"");
            probe_maxrss(&run).expect("the probe reports ru_maxrss")
        })
        .max()
        .unwrap_or(0);
    for store in stores {
        let mut peak = 0;
        let mut good = 0;
        for _ in 0..RSS_RUNS {
            let mut helper = store.env.helper();
            helper.arg("get");
            let mut cmd = probe(helper);
            let run = run_timed(&mut cmd, REQUEST.as_bytes());
            if run.ok && field(&run.stdout, "password").as_deref() == Some(store.token.as_str()) {
                good += 1;
            }
            peak = peak.max(probe_maxrss(&run).unwrap_or(0));
        }
        report.check(
            good == RSS_RUNS,
            format!("{}: RSS probe runs: {good}/{RSS_RUNS} ok", store.label),
        );
        println!(
            "   {:<44} {:>6.1} MB ({peak} KiB)",
            format!("helper get, cached, {}", store.label),
            peak as f64 / 1024.0
        );
    }
    println!(
        "   {:<44} {:>6.1} MB ({floor} KiB)  <- floor: a child's ru_maxrss includes its spawner's",
        "/bin/true",
        floor as f64 / 1024.0
    );
}

/// Clears the cache, starts `n` helpers at once and prints what happened.
fn bench_cold_batch(entra: &FakeEntra, store: &Store, n: usize, report: &mut Report) {
    let cleared = run_helper(&store.env, &["cache", "clear"], "");
    report.check(cleared.ok, format!("{}: `cache clear` failed", store.label));
    let before = entra.token_requests().len();
    let issued_before = entra.issued_tokens().len();
    let mut cmd = store.env.helper();
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
    let mut notices = 0;
    for child in &mut children {
        let mut err = String::new();
        let _ = child
            .stderr
            .take()
            .expect("stderr is piped")
            .read_to_string(&mut err);
        support::assert_no_leak("stderr of git-credential-entra get", &err);
        notices += usize::from(err.contains("waiting for another git process"));
    }
    let requests = entra.token_requests().len() - before;
    let new_tokens: Vec<String> = entra.issued_tokens()[issued_before..].to_vec();
    let tokens: Vec<Option<String>> = outputs.iter().map(|(_, o)| field(o, "password")).collect();
    let same = tokens.iter().all(|t| t.is_some() && *t == tokens[0]);
    let distinct = {
        let mut d: Vec<&Option<String>> = tokens.iter().collect();
        d.sort();
        d.dedup();
        d.len()
    };
    let all_ok = outputs.iter().filter(|(ok, _)| *ok).count();
    println!(
        "{:<16} {:>4} {:>15} {:>11} {:>10} {:>9.1} {:>13}",
        store.label,
        n,
        requests,
        if same {
            "yes".to_string()
        } else {
            format!("NO ({distinct})")
        },
        format!("{all_ok}/{n}"),
        ms(wall),
        notices
    );
    report.check(
        requests == 1,
        format!(
            "{} N={n}: {requests} token requests on a cold cache (want 1); {} tokens issued",
            store.label,
            new_tokens.len()
        ),
    );
    report.check(
        same && new_tokens.len() == 1 && tokens[0].as_ref() == new_tokens.first(),
        format!(
            "{} N={n}: {distinct} distinct answers; all the issued token: {}",
            store.label,
            same && tokens[0].as_ref() == new_tokens.first()
        ),
    );
    report.check(
        all_ok == n,
        format!("{} N={n}: {all_ok}/{n} helpers exited 0", store.label),
    );
}

/// Wraps `inner` so that it runs under the peak-RSS probe (this binary re-executed).
fn probe(inner: Command) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the bench knows its own path"));
    cmd.arg(PROBE_ARG)
        .arg(inner.get_program())
        .args(inner.get_args());
    // The probe passes its environment on unchanged, so give it exactly the inner one.
    cmd.env_clear().stderr(Stdio::piped());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

/// The child's `ru_maxrss` (KiB) that the probe reported on its last stderr line.
fn probe_maxrss(run: &Run) -> Option<i64> {
    run.stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(PROBE_MARKER))
        .and_then(|v| v.trim().parse().ok())
}

/// Probe mode: runs `argv` with this process's stdio and env, reports its `ru_maxrss`, exits.
///
/// A child's `ru_maxrss` starts from its spawner's resident size at `exec`, so measuring the
/// helper from the bench (large: threads, fake server) would report the bench's size instead.
fn rss_probe(argv: &[OsString]) -> ! {
    let (program, args) = argv.split_first().expect("the probe needs a program");
    let mut child = Command::new(program)
        .args(args)
        .spawn()
        .expect("the probe spawns its program");
    let (ok, maxrss) = reap(&mut child);
    eprintln!("{PROBE_MARKER}{maxrss}");
    std::process::exit(if ok { 0 } else { 1 });
}

/// One finished process.
struct Run {
    /// Spawn to reap.
    elapsed: Duration,
    /// Whether it exited with status 0.
    ok: bool,
    /// Its stdout (may hold a token: compare, never print).
    stdout: String,
    /// Its stderr, checked for leaked secrets.
    stderr: String,
}

/// Runs `cmd` as git runs a helper and times spawn → write stdin → stdout EOF → reap.
///
/// Stdin and stdout are piped here; callers pipe stderr when they want it captured.
fn run_timed(cmd: &mut Command, stdin: &[u8]) -> Run {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn the measured command");
    {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // A command that exits without reading its input (e.g. /bin/true) is fine.
        let _ = pipe.write_all(stdin);
    }
    let mut stdout = Vec::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_end(&mut stdout);
    let (ok, _) = reap(&mut child);
    let elapsed = start.elapsed();
    let mut stderr = Vec::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_end(&mut stderr);
    }
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    support::assert_no_leak("stderr of a measured command", &stderr);
    Run {
        elapsed,
        ok,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    }
}

/// Runs the helper with `args` (a setup step, not a measurement), capturing stderr too.
fn run_helper(env: &TestEnv, args: &[&str], stdin: &str) -> Run {
    let mut cmd = env.helper();
    cmd.args(args).stderr(Stdio::piped());
    run_timed(&mut cmd, stdin.as_bytes())
}

/// Reaps `child` with `wait4`: whether it exited 0, and its `ru_maxrss` in KiB.
#[cfg(unix)]
fn reap(child: &mut Child) -> (bool, i64) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert!(
            e.kind() == std::io::ErrorKind::Interrupted,
            "wait4({pid}): {e}"
        );
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, usage.ru_maxrss)
}

/// Reaps `child`: whether it exited 0, and its peak working set in KiB (the
/// nearest Windows has to `ru_maxrss`; the exited process's handle still has it).
#[cfg(windows)]
fn reap(child: &mut Child) -> (bool, i64) {
    use std::os::windows::io::AsRawHandle as _;
    use windows_sys::Win32::System::ProcessStatus::{
        K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    let ok = child.wait().expect("wait for the child").success();
    // SAFETY: plain old data, for which all-zero bytes are a valid value.
    let mut counters: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    let size = u32::try_from(std::mem::size_of::<PROCESS_MEMORY_COUNTERS>()).expect("small struct");
    // SAFETY: the child's handle is open until `child` drops; `counters` is writable.
    let got = unsafe { K32GetProcessMemoryInfo(child.as_raw_handle(), &mut counters, size) };
    assert_ne!(
        got,
        0,
        "GetProcessMemoryInfo: {}",
        std::io::Error::last_os_error()
    );
    (
        ok,
        i64::try_from(counters.PeakWorkingSetSize / 1024).unwrap_or(i64::MAX),
    )
}

/// The value of the first `key=` line of a credential-protocol answer.
fn field(answer: &str, key: &str) -> Option<String> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Milliseconds as a float.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints n, median, p95 and min of `times` under `label`; returns the median in ms.
fn print_stats(label: &str, mut times: Vec<Duration>) -> f64 {
    times.sort();
    let n = times.len();
    assert!(n > 0, "no samples for {label}");
    let median = if n % 2 == 1 {
        ms(times[n / 2])
    } else {
        (ms(times[n / 2 - 1]) + ms(times[n / 2])) / 2.0
    };
    // Nearest rank: the smallest sample with at least 95% of samples at or below it.
    let p95 = ms(times[(n * 95).div_ceil(100) - 1]);
    println!(
        "{label:<44} {n:>5} {median:>10.2} {p95:>10.2} {:>10.2}",
        ms(times[0])
    );
    median
}
