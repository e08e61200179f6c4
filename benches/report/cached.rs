//! Cached `get`s: one helper process per cache store next to `git credential-cache get`,
//! the whole `git credential fill` for this helper and for `git-credential-oauth` behind
//! git's cache, peak RSS, and the release binary's size.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::measure::{Run, Stats, field, probe, probe_maxrss, run_timed};
use crate::support::{FakeEntra, TestEnv, random_guid};
use crate::{ADO_HOST, Doc, REQUEST, TENANT, helper_bin};

/// Timed runs per series.
const RUNS: usize = 200;
/// Probe runs per peak-RSS figure.
const RSS_RUNS: usize = 50;
/// The password stored in git's credential cache for the baselines.
const CACHE_PASSWORD: &str = "baseline-password-0123456789";
/// Names another helper binary to time on the same warm stores.
const OTHER_BINARY: &str = "GIT_CREDENTIAL_ENTRA_BENCH_OTHER";

/// The stores under test: (label, `GIT_CREDENTIAL_ENTRA_CACHE`, without a D-Bus session).
const STORES: [(&str, &str, bool); 5] = [
    ("`auto` (default), desktop", "auto", false),
    ("`auto` (default), headless", "auto", true),
    ("`file`", "file", false),
    ("`keyutils`", "keyutils", false),
    ("`keyring` (Secret Service alone)", "keyring", false),
];

/// One store set up for measurement.
pub struct Store {
    /// Label in the report.
    pub label: &'static str,
    /// The store the helper reported using.
    pub used: String,
    /// Whether it runs as on a machine without a D-Bus session.
    headless: bool,
    /// The isolated environment whose config selects this store.
    env: TestEnv,
    /// The token the warm-up cached; compared, never printed.
    token: String,
}

impl Store {
    /// The helper, in this store's environment.
    fn helper(&self) -> Command {
        let mut cmd = self.env.helper();
        if self.headless {
            cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
        }
        cmd
    }

    /// `git`, in this store's environment.
    fn git(&self) -> Command {
        let mut cmd = self.env.git("git");
        if self.headless {
            cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
        }
        cmd
    }
}

/// Medians the targets compare.
#[derive(Default)]
pub struct Medians {
    /// `git credential-cache get`, one process.
    pub credential_cache: Option<f64>,
    /// Per store label: one helper process.
    pub helper: Vec<(&'static str, f64)>,
    /// Peak RSS per store label, KiB.
    pub rss: Vec<(&'static str, i64)>,
}

/// Section: one process per cached `get`; then `git credential fill`; returns the stores.
pub fn bench_cached(entra: &FakeEntra, doc: &mut Doc, medians: &mut Medians) -> Vec<Store> {
    doc.table_head(&[
        "one process, as git runs it",
        "store used",
        "median",
        "p95",
        "min",
        "median ÷ credential-cache",
    ]);
    let floor = time(&mut Command::new("/bin/true"), b"", RUNS, |_| true);
    let (cache_env, socket) = start_credential_cache(doc);
    let base = socket.as_ref().map(|socket| {
        let mut get = cache_env.git("git");
        get.args(["credential-cache", "--socket", socket, "get"]);
        time(&mut get, b"protocol=https\nhost=example.com\n", RUNS, |r| {
            field(&r.stdout, "password").as_deref() == Some(CACHE_PASSWORD)
        })
    });
    let ratio =
        |s: &Stats| base.map_or("—".to_string(), |b| format!("{:.2}", s.median / b.median));
    doc.stats_row("`/bin/true` (process start)", "—", &floor, &ratio(&floor));
    if let Some(b) = &base {
        doc.stats_row("`git credential-cache get` (git's daemon)", "—", b, "1.00");
        medians.credential_cache = Some(b.median);
    } else {
        doc.check(false, "git credential-cache could not be started");
    }
    let mut stores = Vec::new();
    for (label, mode, headless) in STORES {
        match setup_store(entra, label, mode, headless, doc) {
            Ok(store) => {
                let s = time_cached(entra, &store, None, doc);
                doc.stats_row(
                    &format!("helper `get`, {label}"),
                    &store.used,
                    &s,
                    &ratio(&s),
                );
                medians.helper.push((label, s.median));
                if let Some(other) = std::env::var_os(OTHER_BINARY) {
                    let s = time_cached(entra, &store, Some(Path::new(&other)), doc);
                    doc.stats_row(
                        &format!("other build, {label}"),
                        &store.used,
                        &s,
                        &ratio(&s),
                    );
                }
                stores.push(store);
            }
            Err(why) => {
                doc.table_row(&[
                    format!("helper `get`, {label}"),
                    format!("skipped: {why}"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    doc.end_table();

    doc.para("The same lookups as git makes them before a request: the whole `git credential fill` (git, a shell, the helper). `git-credential-oauth` is configured as its documentation says, after `credential.helper \"cache --timeout 7200\"`, so a cached credential is answered by git's cache and `git-credential-oauth` is not started at all (checked below with `GIT_TRACE`).");
    doc.table_head(&[
        "`git credential fill`",
        "helpers",
        "median",
        "p95",
        "min",
        "median ÷ cache row",
    ]);
    let cache_fill = fill_cache_chain(&cache_env, socket.as_deref(), false, None, doc);
    let fill_ratio =
        |s: &Stats| cache_fill.map_or("—".to_string(), |b| format!("{:.2}", s.median / b.median));
    if oauth_installed() {
        fill_cache_chain(&cache_env, socket.as_deref(), true, cache_fill, doc);
    } else {
        doc.table_row(&["git's cache + `git-credential-oauth`".into(), "skipped: `git-credential-oauth` is not installed (Debian package `git-credential-oauth`)".into(), String::new(), String::new(), String::new(), String::new()]);
    }
    for store in &stores {
        let gitconfig = format!(
            "[credential]\n\thelper =\n\thelper = {}\n\tuseHttpPath = true\n",
            helper_bin().display()
        );
        std::fs::write(store.env.path().join("home/.gitconfig"), gitconfig)
            .expect("write .gitconfig");
        let mut fill = store.git();
        fill.args(["credential", "fill"]);
        let s = time(&mut fill, REQUEST.as_bytes(), RUNS / 2, |r| {
            field(&r.stdout, "password").as_deref() == Some(store.token.as_str())
        });
        doc.stats_row(
            &format!("git-credential-entra, {}", store.label),
            &store.used,
            &s,
            &fill_ratio(&s),
        );
    }
    doc.end_table();
    if let Some(socket) = socket {
        let mut exit = cache_env.git("git");
        exit.args(["credential-cache", "--socket", &socket, "exit"]);
        let _ = run_timed(&mut exit, b"");
    }
    stores
}

/// Times `runs` runs of `cmd` with `stdin`; `good` judges each run (a failure is recorded).
fn time(cmd: &mut Command, stdin: &[u8], runs: usize, good: impl Fn(&Run) -> bool) -> Stats {
    cmd.stderr(Stdio::piped());
    let mut times = Vec::with_capacity(runs);
    let mut bad = None;
    for _ in 0..runs {
        let run = run_timed(cmd, stdin);
        if !(run.ok && good(&run)) {
            bad = Some(
                run.stderr
                    .lines()
                    .last()
                    .unwrap_or("no message")
                    .to_string(),
            );
        }
        times.push(run.elapsed);
    }
    assert!(
        bad.is_none(),
        "{:?} failed: {}",
        cmd.get_program(),
        bad.unwrap_or_default()
    );
    Stats::of(times)
}

/// Starts git's credential-cache daemon holding one credential; its socket.
fn start_credential_cache(doc: &mut Doc) -> (TestEnv, Option<String>) {
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
            "600",
            "--socket",
            &socket,
            "store",
        ])
        .stderr(Stdio::null());
    let started = run_timed(&mut store, stored.as_bytes());
    doc.check(started.ok, "git credential-cache store failed");
    (env, started.ok.then_some(socket))
}

/// Whether `git-credential-oauth` is on PATH.
pub fn oauth_installed() -> bool {
    Command::new("git-credential-oauth")
        .arg("-help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Times `git credential fill` answered by git's cache (followed by oauth when `oauth`).
fn fill_cache_chain(
    env: &TestEnv,
    socket: Option<&str>,
    oauth: bool,
    base: Option<Stats>,
    doc: &mut Doc,
) -> Option<Stats> {
    let socket = socket?;
    let mut gitconfig =
        format!("[credential]\n\thelper =\n\thelper = cache --timeout 7200 --socket {socket}\n");
    if oauth {
        gitconfig.push_str("\thelper = oauth\n");
    }
    std::fs::write(env.path().join("home/.gitconfig"), gitconfig).expect("write .gitconfig");
    let request = b"protocol=https\nhost=example.com\n";
    let s = time(
        env.git("git").args(["credential", "fill"]),
        request,
        RUNS / 2,
        |r| field(&r.stdout, "password").as_deref() == Some(CACHE_PASSWORD),
    );
    let (label, helpers) = if oauth {
        (
            "git's cache + `git-credential-oauth`",
            "`cache --timeout 7200`, `oauth`",
        )
    } else {
        ("git's cache alone", "`cache --timeout 7200`")
    };
    let ratio = base.map_or("1.00".to_string(), |b| {
        format!("{:.2}", s.median / b.median)
    });
    doc.stats_row(label, helpers, &s, &ratio);
    if oauth {
        let mut traced = env.git("git");
        traced
            .args(["credential", "fill"])
            .env("GIT_TRACE", "1")
            .stderr(Stdio::piped());
        let run = run_timed(&mut traced, request);
        doc.check(
            run.ok && run.stderr.contains("credential-cache") && !run.stderr.contains("credential-oauth"),
            "git-credential-oauth was started although git's cache answered (or the cache was not asked)",
        );
    }
    Some(s)
}

/// Configures an identity cached in `mode` and warms the cache; `Err` says why it is unusable.
fn setup_store(
    entra: &FakeEntra,
    label: &'static str,
    mode: &str,
    headless: bool,
    doc: &mut Doc,
) -> Result<Store, String> {
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !headless && !bus && (mode == "keyring" || mode == "auto") {
        return Err("no D-Bus session (`scripts/benchmarks.sh` starts one when `dbus` and `gnome-keyring` are installed)".to_string());
    }
    // One app per store, so keyring items of different stores never share a fingerprint.
    let client_id = random_guid();
    let secret = format!("bench-secret-{}", random_guid());
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
    let mut store = Store {
        label,
        used: String::new(),
        headless,
        env,
        token: String::new(),
    };

    let before = entra.token_requests().len();
    let traced = |store: &Store| {
        let mut cmd = store.helper();
        cmd.arg("get")
            .env("GIT_CREDENTIAL_ENTRA_TRACE", "1")
            .stderr(Stdio::piped());
        run_timed(&mut cmd, REQUEST.as_bytes())
    };
    let run = traced(&store);
    // A forced store that cannot work here is skipped; `auto` falls back by design.
    if let Some(line) = run
        .stderr
        .lines()
        .find(|l| mode != "auto" && l.contains("unusable"))
    {
        let why = line.split_once("] ").map_or(line, |(_, rest)| rest);
        return Err(why.trim().to_string());
    }
    store.used = run
        .stderr
        .lines()
        .find_map(|l| l.split_once("cache: using the ")?.1.strip_suffix(" store"))
        .ok_or("the helper did not say which store it used")?
        .to_string();
    let token = field(&run.stdout, "password");
    let issued = entra.issued_tokens().last().cloned();
    doc.check(
        run.ok && token.is_some() && token == issued,
        format!("{label}: the warm-up get did not return the issued token"),
    );
    store.token = token.ok_or("the warm-up get returned no password")?;
    let again = traced(&store);
    let fetched = entra.token_requests().len() - before;
    if fetched != 1 || field(&again.stdout, "password").as_deref() != Some(store.token.as_str()) {
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
    Ok(store)
}

/// Times cached `get`s for `store` (by `other` instead of this build, when given), checking each.
fn time_cached(entra: &FakeEntra, store: &Store, other: Option<&Path>, doc: &mut Doc) -> Stats {
    let before = entra.token_requests().len();
    let mut cmd = match other {
        // `git` only names the program: any program gets the isolated environment.
        Some(bin) => {
            let mut cmd = store.env.git(&bin.to_string_lossy());
            if store.headless {
                cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
            }
            cmd
        }
        None => store.helper(),
    };
    cmd.arg("get");
    let s = time(&mut cmd, REQUEST.as_bytes(), RUNS, |r| {
        field(&r.stdout, "password").as_deref() == Some(store.token.as_str())
    });
    let fetched = entra.token_requests().len() - before;
    doc.check(
        fetched == 0,
        format!(
            "{}: {fetched} token requests during cached gets",
            store.label
        ),
    );
    s
}

/// Section: peak RSS of a cached `get` per store, and the probe's floor.
pub fn bench_rss(stores: &[Store], doc: &mut Doc, medians: &mut Medians) {
    doc.table_head(&["peak RSS (max `ru_maxrss` over runs)", "store used", "peak"]);
    let floor = (0..RSS_RUNS)
        .filter_map(|_| probe_maxrss(&run_timed(&mut probe(&Command::new("/bin/true")), b"")))
        .max()
        .unwrap_or(0);
    for store in stores {
        let mut peak = 0;
        let mut good = 0;
        for _ in 0..RSS_RUNS {
            let mut helper = store.helper();
            helper.arg("get");
            let run = run_timed(&mut probe(&helper), REQUEST.as_bytes());
            good += usize::from(
                run.ok && field(&run.stdout, "password").as_deref() == Some(store.token.as_str()),
            );
            peak = peak.max(probe_maxrss(&run).unwrap_or(0));
        }
        doc.check(
            good == RSS_RUNS,
            format!("{}: RSS probe runs: {good}/{RSS_RUNS} ok", store.label),
        );
        doc.table_row(&[
            format!("helper `get`, cached, {}", store.label),
            store.used.clone(),
            mib(peak),
        ]);
        medians.rss.push((store.label, peak));
    }
    doc.table_row(&[
        "`/bin/true` (floor: a child's `ru_maxrss` starts from its parent's)".into(),
        "—".into(),
        mib(floor),
    ]);
    doc.end_table();
}

/// Drops every store's cached token: keyring items outlive the temporary directories.
pub fn clear_stores(stores: &[Store], doc: &mut Doc) {
    for store in stores {
        let mut clear = store.helper();
        clear.args(["cache", "clear"]).stderr(Stdio::piped());
        let run = run_timed(&mut clear, b"");
        doc.check(
            run.ok,
            format!("{}: the final `cache clear` failed", store.label),
        );
    }
}

/// KiB as MB (MiB) text.
pub fn mib(kib: i64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}
