//! A small `git clone` from the fake Azure DevOps through the helper with a cached token:
//! the time git spent inside helper processes (from git's own trace2 events) as a share of
//! the clone; the same clone through the smallest helper there can be (a shell function that
//! prints the token: what git's way of running helpers costs by itself); and the same clone
//! with the token in `http.extraHeader` (no helper, no 401).

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::measure::{Stats, field, ms, run_timed};
use crate::support::{FakeAdo, FakeEntra, SeenAuth, TestEnv, random_guid};
use crate::{Doc, TENANT, fmt_ms, helper_bin};

/// Clones per series.
const CLONES: usize = 20;

/// What the clone section measured.
pub struct CloneFigures {
    /// Median share of the clone spent inside helper processes, in %.
    pub helper_share: f64,
    /// The same for the smallest possible helper, in %: no helper can go below it.
    pub floor_share: f64,
}

/// The smallest helper git can run: a shell function (no program of its own) that answers
/// `get` with the token from the environment, so neither git's config nor its trace holds it.
const FLOOR_HELPER: &str = "!f() { test \"$1\" = get && printf 'username=entra\\npassword=%s\\n' \"$BENCH_FLOOR_TOKEN\"; }; f";
/// A word of [`FLOOR_HELPER`] that finds its children in git's trace.
const FLOOR_MARK: &str = "BENCH_FLOOR_TOKEN";

/// Section: the clone, through the helper and with the token in a header.
pub fn bench_clone(entra: &FakeEntra, doc: &mut Doc) -> Option<CloneFigures> {
    let client = random_guid();
    let secret = format!("bench-secret-{}", random_guid());
    entra.add_app(TENANT, &client, &secret);
    let mut env = TestEnv::new();
    let srv = env.path().join("srv");
    std::fs::create_dir_all(&srv).expect("create the server's root");
    let ado = FakeAdo::start(&srv, &entra.tenant_id(TENANT));
    let url = ado.create_repo("contoso", "proj", "repo");
    ado.allow("contoso", &client);
    let config = serde_json::json!({
        "identities": {"ci": {"type": "service-principal", "tenant": TENANT,
                              "client_id": client, "client_secret_env": "CI_SECRET"}},
        "routes": [{"url": format!("{}/contoso", ado.base_url()), "identity": "ci"}],
        "hosts": [ado.base_url()],
        "authority_host": entra.url(),
    });
    env.write_config(&config.to_string());
    env.set_env("CI_SECRET", &secret);
    std::fs::write(
        env.path().join("home/.gitconfig"),
        format!(
            "[credential]\n\thelper =\n\thelper = {}\n\tuseHttpPath = true\n",
            helper_bin().display()
        ),
    )
    .expect("write .gitconfig");

    // Warm the (default) cache, and keep the token for the header clones.
    let request = format!(
        "protocol=http\nhost={}\npath=contoso/proj/_git/repo\n",
        ado.host()
    );
    let mut get = env.helper();
    get.arg("get").stderr(Stdio::piped());
    let warm = run_timed(&mut get, request.as_bytes());
    let Some(token) = field(&warm.stdout, "password").filter(|_| warm.ok) else {
        doc.check(false, "clone: the warm-up get returned no token");
        return None;
    };
    let fetched_before = entra.token_requests().len();

    let (mut helper_clones, mut helper_times, mut shares) = (Vec::new(), Vec::new(), Vec::new());
    let (mut gets, mut stores, mut header_clones) = (Vec::new(), Vec::new(), Vec::new());
    let (mut floor_times, mut floor_shares, mut floor_failures) = (Vec::new(), Vec::new(), 0);
    let (mut helper_requests, mut header_requests) = (Vec::new(), Vec::new());
    let (mut helper_failures, mut header_failures) = (0, 0);
    let events = env.path().join("trace2.json");
    // No helper for the header clones: their global config is empty.
    let no_helper = env.path().join("home/empty.gitconfig");
    std::fs::write(&no_helper, "").expect("write an empty .gitconfig");
    let bin = helper_bin();
    let name = Path::new(&bin)
        .file_name()
        .expect("the helper has a file name")
        .to_string_lossy()
        .into_owned();
    // Alternating the two kinds of clone lets a change in load hit both alike.
    for i in 0..CLONES {
        let _ = std::fs::remove_file(&events);
        let dest = format!("helper-{i}");
        let mut clone = env.git("git");
        clone
            .args(["clone", "-q", &url, &dest])
            .env("GIT_TRACE2_EVENT", &events)
            .stderr(Stdio::piped());
        let seen = ado.requests().len();
        let run = run_timed(&mut clone, b"");
        helper_requests.extend(ado.requests()[seen..].iter().cloned());
        let _ = std::fs::remove_dir_all(env.path().join(&dest));
        let parsed = std::fs::read_to_string(&events)
            .ok()
            .and_then(|t| clone_times(&t, &name));
        match parsed {
            Some((get, store)) if run.ok => {
                let total = ms(run.elapsed);
                let helper = get + store;
                gets.push(get);
                stores.push(store);
                helper_clones.push(total);
                helper_times.push(helper);
                shares.push(100.0 * helper / total);
            }
            _ => helper_failures += 1,
        }

        // The smallest helper: the same 401 and the same two helper runs, nothing inside.
        let _ = std::fs::remove_file(&events);
        let dest = format!("floor-{i}");
        let mut clone = env.git("git");
        clone
            .args(["clone", "-q", &url, &dest])
            // Through the environment, which git takes as is (a config file would
            // read the quotes and backslashes of the function as its own syntax).
            .env("GIT_CONFIG_GLOBAL", &no_helper)
            .env("GIT_CONFIG_COUNT", "3")
            .env("GIT_CONFIG_KEY_0", "credential.helper")
            .env("GIT_CONFIG_VALUE_0", "")
            .env("GIT_CONFIG_KEY_1", "credential.helper")
            .env("GIT_CONFIG_VALUE_1", FLOOR_HELPER)
            .env("GIT_CONFIG_KEY_2", "credential.useHttpPath")
            .env("GIT_CONFIG_VALUE_2", "true")
            .env("BENCH_FLOOR_TOKEN", &token)
            .env("GIT_TRACE2_EVENT", &events)
            .stderr(Stdio::piped());
        let run = run_timed(&mut clone, b"");
        let _ = std::fs::remove_dir_all(env.path().join(&dest));
        let parsed = std::fs::read_to_string(&events)
            .ok()
            .and_then(|t| clone_times(&t, FLOOR_MARK));
        match parsed {
            Some((get, store)) if run.ok => {
                floor_times.push(get + store);
                floor_shares.push(100.0 * (get + store) / ms(run.elapsed));
            }
            _ => floor_failures += 1,
        }

        // The token in a header: no helper, no unauthenticated request. It goes in
        // through the environment, so no command line or trace shows it.
        let dest = format!("header-{i}");
        let mut clone = env.git("git");
        clone
            .args(["clone", "-q", &url, &dest])
            .env("GIT_CONFIG_GLOBAL", &no_helper)
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Bearer {token}"),
            )
            .stderr(Stdio::piped());
        let seen = ado.requests().len();
        let run = run_timed(&mut clone, b"");
        header_requests.extend(ado.requests()[seen..].iter().cloned());
        let _ = std::fs::remove_dir_all(env.path().join(&dest));
        if run.ok {
            header_clones.push(ms(run.elapsed));
        } else {
            header_failures += 1;
        }
    }
    let fetched = entra.token_requests().len() - fetched_before;
    doc.check(
        helper_failures == 0 && fetched == 0,
        format!("clone through the helper: {helper_failures} failed; {fetched} token requests (want 0: the token is cached)"),
    );
    doc.check(
        floor_failures == 0,
        format!("clone through the smallest helper: {floor_failures} failed"),
    );
    doc.check(
        header_failures == 0,
        format!("clone with the token in a header: {header_failures} failed"),
    );
    if helper_clones.is_empty() || header_clones.is_empty() || floor_times.is_empty() {
        return None;
    }
    let per_clone = |reqs: &[crate::support::AdoRequest],
                     pred: &dyn Fn(&crate::support::AdoRequest) -> bool| {
        reqs.iter().filter(|r| pred(r)).count() as f64 / CLONES as f64
    };
    let unauth_helper = per_clone(&helper_requests, &|r| r.auth == SeenAuth::None);
    let unauth_header = per_clone(&header_requests, &|r| r.auth == SeenAuth::None);
    let total_helper = per_clone(&helper_requests, &|_| true);
    let total_header = per_clone(&header_requests, &|_| true);

    let helper_clone = Stats::median_of(&helper_clones);
    let helper_time = Stats::median_of(&helper_times);
    let share = Stats::median_of(&shares);
    let header_clone = Stats::median_of(&header_clones);
    doc.table_head(&[
        "`git clone` of a one-commit repository (median of {CLONES})"
            .replace("{CLONES}", &CLONES.to_string())
            .as_str(),
        "figure",
    ]);
    doc.table_row(&[
        "clone through the helper (cached token), wall time".into(),
        fmt_ms(helper_clone),
    ]);
    doc.table_row(&[
        "of which inside helper processes (trace2 `child_start` → `child_exit`)".into(),
        format!("{} ({:.1} %)", fmt_ms(helper_time), share),
    ]);
    doc.table_row(&[
        "… in `get` (git asks for the credential after the 401)".into(),
        fmt_ms(Stats::median_of(&gets)),
    ]);
    doc.table_row(&[
        "… in `store` (git reports that it worked; the helper only reads the request)".into(),
        fmt_ms(Stats::median_of(&stores)),
    ]);
    let floor_share = Stats::median_of(&floor_shares);
    doc.table_row(&[
        "the same clone through the smallest helper (a shell function printing the token), time inside it: what git's running of any helper costs".into(),
        format!(
            "{} ({:.1} %)",
            fmt_ms(Stats::median_of(&floor_times)),
            floor_share
        ),
    ]);
    doc.table_row(&[
        "time inside this helper beyond that floor".into(),
        fmt_ms(helper_time - Stats::median_of(&floor_times)),
    ]);
    doc.table_row(&[
        "the same clone with the token in `http.extraHeader` (no helper), wall time".into(),
        fmt_ms(header_clone),
    ]);
    doc.table_row(&[
        "difference: git's unauthenticated first request, its 401 and the helper".into(),
        fmt_ms(helper_clone - header_clone),
    ]);
    doc.table_row(&[
        "HTTP requests per clone: through the helper / with the header".into(),
        format!("{total_helper:.0} / {total_header:.0}"),
    ]);
    doc.table_row(&[
        "unauthenticated requests (answered 401) per clone: through the helper / with the header"
            .into(),
        format!("{unauth_helper:.0} / {unauth_header:.0}"),
    ]);
    doc.end_table();
    Some(CloneFigures {
        helper_share: share,
        floor_share,
    })
}

/// From one clone's trace2 events: the time spent in the `get` and `store` children of the
/// helper whose command line contains `name` (`child_start` → `child_exit`, whichever git
/// process ran them), in ms.
fn clone_times(events: &str, name: &str) -> Option<(f64, f64)> {
    let events: Vec<Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let str_of = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
    // git runs `helper get` through the shell: argv is one string ending in the action.
    let helpers: Vec<(String, i64, String)> = events
        .iter()
        .filter(|e| str_of(e, "event").as_deref() == Some("child_start"))
        .filter_map(|e| {
            let argv: Vec<&str> = e
                .get("argv")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let line = argv.join(" ");
            line.contains(name).then_some(())?;
            let action = line.split_whitespace().last()?.to_string();
            Some((str_of(e, "sid")?, e.get("child_id")?.as_i64()?, action))
        })
        .collect();
    if helpers.is_empty() {
        return None;
    }
    let (mut get, mut store) = (0.0, 0.0);
    for (sid, id, action) in &helpers {
        let exit = events.iter().find(|e| {
            str_of(e, "event").as_deref() == Some("child_exit")
                && str_of(e, "sid").as_ref() == Some(sid)
                && e.get("child_id").and_then(Value::as_i64) == Some(*id)
        })?;
        let t = exit.get("t_rel")?.as_f64()? * 1000.0;
        match action.as_str() {
            "get" => get += t,
            _ => store += t,
        }
    }
    Some((get, store))
}
