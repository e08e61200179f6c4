//! Cached `get`s: one helper process per cache store next to `git credential-cache get`,
//! the whole `git credential fill` for this helper and for `git-credential-oauth` behind
//! git's cache, peak RSS, and the release binary's size.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::measure::{Stats, field, probe, probe_maxrss, run_timed};
use crate::support::{FakeEntra, TestEnv, random_guid};
use crate::{ADO_HOST, Doc, REQUEST, TENANT, helper_bin};

/// Timed runs per series.
const RUNS: usize = 200;
/// Probe runs per peak-RSS figure.
const RSS_RUNS: usize = 50;
/// The password stored in git's credential cache for the baselines.
const CACHE_PASSWORD: &str = "baseline-password-0123456789";
/// Other builds of the helper timed on the same warm stores, each named by a
/// variable: the static (musl) release build `scripts/benchmarks.sh` makes, and
/// any build to compare. (Row label, variable.)
pub const OTHER_BUILDS: [(&str, &str); 2] = [
    ("static build (musl)", "GIT_CREDENTIAL_ENTRA_BENCH_STATIC"),
    ("other build", "GIT_CREDENTIAL_ENTRA_BENCH_OTHER"),
];

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

/// One timed series, run interleaved with the others of its table so that a change in the
/// machine's load hits every row alike.
struct Series {
    /// Label in the report.
    label: String,
    /// Second column: the store used, or the helpers configured.
    detail: String,
    /// The command, stdin and stdout piped by each run.
    cmd: Command,
    /// What it is given on stdin.
    stdin: Vec<u8>,
    /// The password each run must print, when it must print one.
    expect: Option<String>,
    /// One duration per run.
    times: Vec<Duration>,
    /// The first failed run's last stderr line.
    failed: Option<String>,
}

impl Series {
    /// A series of `cmd` with `stdin`, expecting `expect` as the password.
    fn new(
        label: String,
        detail: &str,
        mut cmd: Command,
        stdin: &[u8],
        expect: Option<&str>,
    ) -> Series {
        cmd.stderr(Stdio::piped());
        Series {
            label,
            detail: detail.to_string(),
            cmd,
            stdin: stdin.to_vec(),
            expect: expect.map(str::to_string),
            times: Vec::new(),
            failed: None,
        }
    }
}

/// Runs every series `runs` times, round-robin.
fn run_interleaved(series: &mut [Series], runs: usize) {
    for _ in 0..runs {
        for s in series.iter_mut() {
            let run = run_timed(&mut s.cmd, &s.stdin);
            let printed = field(&run.stdout, "password");
            let good = run.ok
                && s.expect
                    .as_ref()
                    .is_none_or(|e| printed.as_ref() == Some(e));
            if !good && s.failed.is_none() {
                s.failed = Some(
                    run.stderr
                        .lines()
                        .last()
                        .unwrap_or("no message")
                        .to_string(),
                );
            }
            s.times.push(run.elapsed);
        }
    }
}

/// Prints `series` as rows with the ratio of each median to `base`'s; returns the stats.
fn rows(series: Vec<Series>, base: usize, doc: &mut Doc) -> Vec<(String, Stats)> {
    let stats: Vec<Stats> = series.iter().map(|s| Stats::of(s.times.clone())).collect();
    let reference = stats.get(base).map(|s| s.median);
    let mut out = Vec::new();
    for (s, st) in series.into_iter().zip(stats) {
        doc.check(
            s.failed.is_none(),
            format!(
                "{}: a run failed: {}",
                s.label,
                s.failed.unwrap_or_default()
            ),
        );
        let ratio = reference.map_or("—".to_string(), |r| format!("{:.2}", st.median / r));
        doc.stats_row(&s.label, &s.detail, &st, &ratio);
        out.push((s.label, st));
    }
    out
}

/// A row saying why `label` was not measured.
fn skipped_row(label: &str, why: &str, doc: &mut Doc) {
    let empty = String::new;
    doc.table_row(&[
        label.to_string(),
        format!("skipped: {why}"),
        empty(),
        empty(),
        empty(),
        empty(),
    ]);
}

/// Section: one process per cached `get`; then `git credential fill`; returns the stores.
pub fn bench_cached(entra: &FakeEntra, doc: &mut Doc, medians: &mut Medians) -> Vec<Store> {
    let (cache_env, socket) = start_credential_cache(doc);
    let mut stores = Vec::new();
    let mut skipped = Vec::new();
    for (label, mode, headless) in STORES {
        match setup_store(entra, label, mode, headless, doc) {
            Ok(store) => stores.push(store),
            Err(why) => skipped.push((label, why)),
        }
    }
    let before = entra.token_requests().len();

    doc.table_head(&[
        "one process, as git runs it",
        "store used",
        "median",
        "p95",
        "min",
        "median ÷ credential-cache",
    ]);
    let mut series = vec![Series::new(
        "`/bin/true` (process start)".into(),
        "—",
        Command::new("/bin/true"),
        b"",
        None,
    )];
    if let Some(socket) = &socket {
        let mut get = cache_env.git("git");
        get.args(["credential-cache", "--socket", socket, "get"]);
        series.push(Series::new(
            "`git credential-cache get` (git's daemon)".into(),
            "—",
            get,
            b"protocol=https\nhost=example.com\n",
            Some(CACHE_PASSWORD),
        ));
    }
    for store in &stores {
        let mut get = store.helper();
        get.arg("get");
        series.push(Series::new(
            format!("helper `get`, {}", store.label),
            &store.used,
            get,
            REQUEST.as_bytes(),
            Some(&store.token),
        ));
        for (build, var) in OTHER_BUILDS {
            let Some(other) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            // `git` only names the program: any program gets the isolated environment.
            let mut get = store.env.git(&other.to_string_lossy());
            if store.headless {
                get.env_remove("DBUS_SESSION_BUS_ADDRESS");
            }
            get.arg("get");
            series.push(Series::new(
                format!("{build}, {}", store.label),
                &store.used,
                get,
                REQUEST.as_bytes(),
                Some(&store.token),
            ));
        }
    }
    run_interleaved(&mut series, RUNS);
    let base = if socket.is_some() { 1 } else { usize::MAX };
    for (label, stats) in rows(series, base, doc) {
        if label.starts_with("`git credential-cache get`") {
            medians.credential_cache = Some(stats.median);
        }
        if let Some(store) = stores
            .iter()
            .find(|s| label == format!("helper `get`, {}", s.label))
        {
            medians.helper.push((store.label, stats.median));
        }
    }
    for (label, why) in &skipped {
        skipped_row(&format!("helper `get`, {label}"), why, doc);
        doc.note(&format!("helper `get`, {label}: {why}"));
    }
    doc.end_table();

    doc.para("The same lookups as git makes them before a request: the whole `git credential fill` (git, a shell, the helper). `git-credential-oauth` is configured as its documentation says, after `credential.helper \"cache --timeout 7200\"`, so a cached credential is answered by git's cache and `git-credential-oauth` is not started at all (the run checks this with `GIT_TRACE`).");
    doc.table_head(&[
        "`git credential fill`",
        "helpers or store",
        "median",
        "p95",
        "min",
        "median ÷ git's cache alone",
    ]);
    let mut series = Vec::new();
    let oauth = oauth_installed();
    if let Some(socket) = &socket {
        let request = b"protocol=https\nhost=example.com\n";
        let mut chains = vec![("git's cache alone", "`cache --timeout 7200`", false)];
        if oauth {
            chains.push((
                "git's cache + `git-credential-oauth`",
                "`cache --timeout 7200`, `oauth`",
                true,
            ));
        }
        for (label, helpers, with_oauth) in chains {
            let mut gitconfig = format!(
                "[credential]\n\thelper =\n\thelper = cache --timeout 7200 --socket {socket}\n"
            );
            if with_oauth {
                gitconfig.push_str("\thelper = oauth\n");
            }
            let name = if with_oauth { "oauth" } else { "cache" };
            let path = cache_env.path().join(format!("home/{name}.gitconfig"));
            std::fs::write(&path, gitconfig).expect("write a .gitconfig");
            let mut fill = cache_env.git("git");
            fill.args(["credential", "fill"])
                .env("GIT_CONFIG_GLOBAL", &path);
            if with_oauth {
                let mut traced = cache_env.git("git");
                traced
                    .args(["credential", "fill"])
                    .env("GIT_CONFIG_GLOBAL", &path)
                    .env("GIT_TRACE", "1")
                    .stderr(Stdio::piped());
                let run = run_timed(&mut traced, request);
                doc.check(
                    run.ok && run.stderr.contains("credential-cache") && !run.stderr.contains("credential-oauth"),
                    "git-credential-oauth was started although git's cache answered (or the cache was not asked)",
                );
            }
            series.push(Series::new(
                label.to_string(),
                helpers,
                fill,
                request,
                Some(CACHE_PASSWORD),
            ));
        }
    }
    for store in &stores {
        let path = store.env.path().join("home/entra.gitconfig");
        let gitconfig = format!(
            "[credential]\n\thelper =\n\thelper = {}\n\tuseHttpPath = true\n",
            helper_bin().display()
        );
        std::fs::write(&path, gitconfig).expect("write a .gitconfig");
        let mut fill = store.git();
        fill.args(["credential", "fill"])
            .env("GIT_CONFIG_GLOBAL", &path);
        series.push(Series::new(
            format!("git-credential-entra, {}", store.label),
            &store.used,
            fill,
            REQUEST.as_bytes(),
            Some(&store.token),
        ));
    }
    run_interleaved(&mut series, RUNS / 2);
    rows(series, if socket.is_some() { 0 } else { usize::MAX }, doc);
    if !oauth {
        skipped_row(
            "git's cache + `git-credential-oauth`",
            "`git-credential-oauth` is not installed (Debian package `git-credential-oauth`)",
            doc,
        );
        doc.note(
            "`git-credential-oauth` rows: not installed (Debian package `git-credential-oauth`)",
        );
    }
    doc.end_table();
    let fetched = entra.token_requests().len() - before;
    doc.check(
        fetched == 0,
        format!("{fetched} token requests during cached gets (want 0)"),
    );
    if let Some(socket) = socket {
        let mut exit = cache_env.git("git");
        exit.args(["credential-cache", "--socket", &socket, "exit"]);
        let _ = run_timed(&mut exit, b"");
    }
    stores
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
