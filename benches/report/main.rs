//! The benchmark report, `docs/benchmarks.md`: every figure measured in one run, against the
//! test suite's local fakes (loopback only), with each target of the project next to its
//! reference.
//!
//! Sections: cached `get` per cache store (the release build, and the static musl build
//! when `GIT_CREDENTIAL_ENTRA_BENCH_STATIC` names it) next to `/bin/true`,
//! `git credential-cache get` and the whole
//! `git credential fill` (this helper; `git-credential-oauth` behind git's cache); peak RSS
//! and the binaries' sizes; a cold `get` per identity type split into phases by the
//! helper's own trace; a cold `get` over TLS through a proxy next to `curl` making the same
//! token request; N concurrent cold `get`s; a small `git clone` through the helper, with
//! the time inside helper processes taken from git's trace2 events, against the same clone
//! with the token in `http.extraHeader`; the `az` CLI when asked for.
//!
//! Run `scripts/benchmarks.sh`, which builds the release profile and the static binary, starts a throwaway D-Bus
//! session with gnome-keyring for the Secret Service rows, runs the soak and fault tests for
//! their targets, and writes the report. By hand: `cargo bench --bench report`, with
//! `GIT_CREDENTIAL_ENTRA_BENCH_REPORT=path` to write the Markdown there (stdout otherwise).
//! Tokens are only compared, never printed. Exit status: 0 when every correctness check
//! passed, 1 otherwise (after writing the report), 2 when it overran its deadline.

// The bench uses the test support's fakes; the rest is the tests'.
#[path = "../../tests/it/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

mod cached;
mod clone;
mod cold;
mod machine;
mod measure;
mod phases;
mod tls;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use measure::Stats;
use support::FakeEntra;

/// Tenant of every bench identity.
pub const TENANT: &str = "contoso.onmicrosoft.com";
/// The Azure DevOps-like host the helper is configured to serve; nothing listens there.
pub const ADO_HOST: &str = "127.0.0.1:8081";
/// The request git sends for `http://127.0.0.1:8081/contoso/p/_git/r` with useHttpPath.
pub const REQUEST: &str = "protocol=http\nhost=127.0.0.1:8081\npath=contoso/p/_git/r\n";
/// Where to write the report (stdout when unset).
const REPORT_VAR: &str = "GIT_CREDENTIAL_ENTRA_BENCH_REPORT";
/// The whole bench is abandoned (exit 2) after this long, so no loop can hang it.
const DEADLINE: Duration = Duration::from_secs(900);

/// The helper binary under test.
pub fn helper_bin() -> PathBuf {
    support::env::helper_bin()
}

/// `v` ms with two decimals under 10 ms, one from there.
pub fn fmt_ms(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// The report being written, and the checks made along the way.
#[derive(Default)]
pub struct Doc {
    /// Markdown of the sections.
    body: String,
    /// Rows skipped and things not measured, listed at the end.
    notes: Vec<String>,
    /// Descriptions of the checks that failed.
    failures: Vec<String>,
}

impl Doc {
    /// Starts a section.
    fn section(&mut self, title: &str) {
        eprintln!("bench: {title}");
        self.body.push_str(&format!("\n## {title}\n\n"));
    }

    /// A paragraph.
    pub fn para(&mut self, text: &str) {
        self.body.push_str(text);
        self.body.push_str("\n\n");
    }

    /// Something skipped or not measured, listed at the end.
    pub fn note(&mut self, text: &str) {
        eprintln!("bench: note: {text}");
        self.notes.push(text.to_string());
    }

    /// Records `what` as failed unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let what = what.into();
            eprintln!("bench: FAILED: {what}");
            self.failures.push(what);
        }
    }

    /// A table's header row.
    pub fn table_head(&mut self, columns: &[&str]) {
        self.body
            .push_str(&format!("| {} |\n", columns.join(" | ")));
        let rule: Vec<&str> = columns
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect();
        self.body.push_str(&format!("|{}|\n", rule.join("|")));
    }

    /// A table row.
    pub fn table_row(&mut self, cells: &[String]) {
        eprintln!("bench:   {}", cells.join(" | "));
        self.body.push_str(&format!("| {} |\n", cells.join(" | ")));
    }

    /// A row of label, detail, median, p95, min and a ratio.
    pub fn stats_row(&mut self, label: &str, detail: &str, s: &Stats, ratio: &str) {
        self.table_row(&[
            label.to_string(),
            detail.to_string(),
            fmt_ms(s.median),
            fmt_ms(s.p95),
            fmt_ms(s.min),
            ratio.to_string(),
        ]);
    }

    /// Ends a table.
    pub fn end_table(&mut self) {
        self.body.push('\n');
    }
}

/// One target of the project, with what this run measured.
struct Target {
    /// The target as the project states it.
    what: &'static str,
    /// The figure and its reference, measured in this run.
    measured: String,
    /// Met, missed, or not measurable here.
    pass: Option<bool>,
}

/// Entry point: either the peak-RSS probe or the bench itself.
fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == measure::PROBE_ARG) {
        measure::rss_probe(&args[2..]);
    }
    std::thread::spawn(|| {
        std::thread::sleep(DEADLINE);
        eprintln!("bench: not finished after {DEADLINE:?}; giving up");
        std::process::exit(2);
    });
    let started = Instant::now();
    let header = machine::header();
    let mut doc = Doc::default();
    let targets = run(&mut doc);
    let report = assemble(&header, &targets, &doc, started.elapsed());
    match std::env::var_os(REPORT_VAR) {
        Some(path) => {
            std::fs::write(&path, &report).expect("write the report");
            eprintln!("bench: report written to {}", PathBuf::from(path).display());
        }
        None => print!("{report}"),
    }
    if !doc.failures.is_empty() {
        eprintln!("bench: {} checks FAILED", doc.failures.len());
        std::process::exit(1);
    }
}

/// Runs every section; returns the targets.
fn run(doc: &mut Doc) -> Vec<Target> {
    let entra = FakeEntra::start();
    entra.set_lifetime(3599);
    let mut medians = cached::Medians::default();

    doc.section("Cached `get`");
    doc.para("A `get` answered from the cache, timed as git runs a helper: spawn, write the request, read the answer to EOF, reap (200 runs each; the helper's token was cached by a warm-up `get`). *Desktop* runs inside the D-Bus session with gnome-keyring; *headless* is the same `auto` store without a session bus, as on a server or in CI. The *static build (musl)* rows are the same `get` of the static release binary (`scripts/dist.sh`'s flags, built by `scripts/benchmarks.sh`), interleaved with the rest on the same warm stores: no dynamic loader to run.");
    let stores = cached::bench_cached(&entra, doc, &mut medians);

    doc.section("Memory and size");
    cached::bench_rss(&stores, doc, &mut medians);
    let stripped = machine::stripped_size(&helper_bin(), doc);

    doc.section("Cold `get` per identity type");
    doc.para("Nothing cached (the file store, emptied before each run), against the local fakes on loopback (30 runs each; the median of each phase, so the phases need not add up to the total exactly). The phases come from the helper's own trace (`GIT_CREDENTIAL_ENTRA_TRACE=1`), whose lines are stamped in microseconds since the trace's zero and whose first line gives that zero's wall-clock time: *process start* is spawn → that zero (exec, loader, argument parsing); *config + cache check* runs to the `cache miss` line (config, route, store, lookup, lock); *assertion* is loading the certificate and signing it (the trace's own figure), or the request for the CI's OIDC token; *git's network settings* is reading git's `http.*` settings for the remote (`git config --get-urlmatch http <remote>`, one `git` process, once, when the first request is about to be made; the trace's own figure); *HTTP client set-up* is building the HTTP clients, as the trace times each (TLS roots from the system's one bundle file plus git's `http.sslCAInfo`, proxy; one client for every outbound request, and the managed identity's own); *token request* is the exchange with the fake Entra or managed-identity endpoint as the trace times it (whole milliseconds); the rest stores the token, answers git and exits. A dash is a phase the flow does not have: the managed identity reads no git settings (its endpoint is local and never proxied), and the job's token needs no request. The fakes answer in about a millisecond; the real Entra's answer takes tens to hundreds of milliseconds over the network and would dominate every row.");
    let cases = cold::cases(&entra, doc);
    cold::bench_cold(&cases, doc);
    doc.end_table();

    doc.section("Cold `get` over TLS through a proxy, next to curl");
    doc.para("The service principal of the cold table (client secret, file store emptied before each run; 30 runs each), for an https remote (`https://dev.azure.com/contoso/...`), with Entra by its public name `login.microsoftonline.com`: reachable only through an HTTP proxy on loopback (the test proxy, which tunnels that name to a TLS front on loopback relaying to the fake Entra) and presenting a certificate of a test CA. The helper is told about both only as git is, in the global git config (`http.proxy`, `http.sslCAInfo`), with `HTTPS_PROXY` set to a closed port so that nothing could skip the proxy unnoticed; the config names no `authority_host`. So a cold `get` here runs `git config --get-urlmatch` for the remote, loads the system's CA bundle plus git's CA file, opens a tunnel and makes a TLS handshake. `curl` makes the same token request (the form read from a file, through the same proxy, trusting only the same CA file) and exits: a floor for one HTTPS request from a fresh process. The last row is the same `get` with Entra at the fake's plain loopback URL (no proxy, no TLS; git's settings are still read, and find nothing); the cold table's client-secret row is the same with an http remote. The helper's phases are split by its trace as in the cold table; over TLS, *token request* includes the proxy's tunnel and the TLS handshake (the connection is opened for it).");
    tls::bench_tls(doc);

    doc.section("Concurrent cold `get`s");
    doc.para("N helpers started at once on an empty cache (client secret, file store); the fake Entra counts token requests. One process asks; the others wait for its lock and read its token.");
    if let Some(first) = cases.first() {
        cold::bench_batches(&entra, first, doc);
        doc.end_table();
    }

    doc.section("`git clone` through the helper");
    doc.para("A one-commit repository cloned from the fake Azure DevOps (`git http-backend` behind a gate that demands a valid token, on loopback; tiny_http, which serves the fakes, does not set `TCP_NODELAY`, so the fakes set it on their listening socket and every connection inherits it: no response written in two parts waits for the client's delayed ACK). Through the helper, git first sends an unauthenticated request, gets 401, runs the helper's `get`, retries, and after the clone runs the helper's `store`; the time inside helper processes comes from git's own `GIT_TRACE2_EVENT` (`child_start` → `child_exit` of the helper). With the token in `http.extraHeader` git sends it from the first request and runs no helper: the difference is what any credential helper implies.");
    let clone = clone::bench_clone(&entra, doc);

    doc.section("The `az` CLI");
    machine::az(doc);

    cached::clear_stores(&stores, doc);
    targets(&medians, clone.as_ref(), stripped)
}

/// The project's targets, each with its figure and reference from this run.
fn targets(
    m: &cached::Medians,
    clone: Option<&clone::CloneFigures>,
    stripped: Option<u64>,
) -> Vec<Target> {
    let mut out = Vec::new();
    for (label, which) in [
        ("desktop", "`auto` (default), desktop"),
        ("headless", "`auto` (default), headless"),
    ] {
        let helper = m.helper.iter().find(|(l, _)| *l == which).map(|(_, v)| *v);
        let (measured, pass) = match (helper, m.credential_cache) {
            (Some(h), Some(c)) => (
                format!(
                    "{} vs {} for `git credential-cache get`: {:.2}×",
                    fmt_ms(h),
                    fmt_ms(c),
                    h / c
                ),
                Some(h <= 1.5 * c),
            ),
            _ => (
                "not measured here (see the cached `get` table)".to_string(),
                None,
            ),
        };
        out.push(Target {
            what: if label == "desktop" {
                "Cached `get` with the default store, Linux desktop: median ≤ 1.5× `git credential-cache get`"
            } else {
                "Cached `get` with the default store, Linux headless: median ≤ 1.5× `git credential-cache get`"
            },
            measured,
            pass,
        });
    }
    out.push(Target {
        what: "Time inside the helper during a small `git clone` with a cached token ≤ 5 % of the clone",
        measured: clone.map_or("not measured".to_string(), |c| {
            format!(
                "{:.1} % (the smallest helper git can run, a shell function: {:.1} %)",
                c.helper_share, c.floor_share
            )
        }),
        pass: clone.map(|c| c.helper_share <= 5.0),
    });
    let suite = machine::suite_result();
    out.push(Target {
        what: "Zero failures and zero cross-identity tokens in the soak; every fault outcome within its bound",
        measured: suite.0,
        pass: suite.1,
    });
    out.push(Target {
        what: "Binary ≤ 8 MB stripped",
        measured: stripped.map_or("not measured (no `strip`)".to_string(), |b| {
            format!("{:.2} MB ({b} bytes)", b as f64 / 1_048_576.0)
        }),
        pass: stripped.map(|b| b <= 8 * 1_048_576),
    });
    let peak = m.rss.iter().map(|(_, k)| *k).max();
    out.push(Target {
        what: "Cached `get` ≤ 10 MB RSS",
        measured: peak.map_or("not measured".to_string(), |k| {
            format!("{} peak over every store", cached::mib(k))
        }),
        pass: peak.map(|k| k <= 10 * 1024),
    });
    out
}

/// The whole Markdown file.
fn assemble(header: &str, targets: &[Target], doc: &Doc, took: Duration) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push_str("\n## Targets\n\n| target | this run | met |\n|---|---|---|\n");
    for t in targets {
        let met = match t.pass {
            Some(true) => "pass",
            Some(false) => "**FAIL**",
            None => "—",
        };
        out.push_str(&format!("| {} | {} | {met} |\n", t.what, t.measured));
    }
    out.push('\n');
    if doc.failures.is_empty() {
        out.push_str("Every correctness check of the run passed (each cached `get` returned the cached token with no token request, each cold batch made one request, every clone succeeded).\n");
    } else {
        out.push_str("**Correctness checks that failed in this run:**\n\n");
        for f in &doc.failures {
            out.push_str(&format!("* {f}\n"));
        }
    }
    out.push_str(&doc.body);
    out.push_str("## Skipped and not measured\n\n");
    if doc.notes.is_empty() {
        out.push_str("Nothing.\n");
    }
    for n in &doc.notes {
        out.push_str(&format!("* {n}\n"));
    }
    out.push_str(&format!(
        "\nThe run took {:.0} s. Regenerate this file with `scripts/benchmarks.sh`.\n",
        took.as_secs_f64()
    ));
    out
}
