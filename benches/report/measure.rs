//! Running and timing processes as git runs a helper, their peak RSS, and statistics.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::support;

/// First argument that turns the bench binary into the peak-RSS probe.
pub const PROBE_ARG: &str = "--gce-rss-probe";
/// Prefix of the probe's last stderr line, which carries the child's `ru_maxrss` in KiB.
const PROBE_MARKER: &str = "gce-rss-probe maxrss_kib=";

/// One finished process.
pub struct Run {
    /// Spawn to reap.
    pub elapsed: Duration,
    /// Wall-clock time just before the spawn (to line up with the helper's trace).
    pub spawned_at: SystemTime,
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Its stdout (may hold a token: compare, never print).
    pub stdout: String,
    /// Its stderr, checked for leaked secrets.
    pub stderr: String,
}

/// Runs `cmd` as git runs a helper and times spawn → write stdin → stdout EOF → reap.
///
/// Stdin and stdout are piped here; callers pipe stderr when they want it captured.
pub fn run_timed(cmd: &mut Command, stdin: &[u8]) -> Run {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let spawned_at = SystemTime::now();
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
        spawned_at,
        ok,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    }
}

/// Reaps `child` with `wait4`: whether it exited 0, and its `ru_maxrss` in KiB.
#[cfg(unix)]
pub fn reap(child: &mut Child) -> (bool, i64) {
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
pub fn reap(child: &mut Child) -> (bool, i64) {
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

/// Wraps `inner` so that it runs under the peak-RSS probe (this binary re-executed).
pub fn probe(inner: &Command) -> Command {
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
pub fn probe_maxrss(run: &Run) -> Option<i64> {
    run.stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(PROBE_MARKER))
        .and_then(|v| v.trim().parse().ok())
}

/// Probe mode: runs `argv` with this process's stdio and env, reports its `ru_maxrss`, exits.
///
/// A child's `ru_maxrss` starts from its spawner's resident size at `exec`, so measuring the
/// helper from the bench (large: threads, fake servers) would report the bench's size instead.
pub fn rss_probe(argv: &[OsString]) -> ! {
    let (program, args) = argv.split_first().expect("the probe needs a program");
    let mut child = Command::new(program)
        .args(args)
        .spawn()
        .expect("the probe spawns its program");
    let (ok, maxrss) = reap(&mut child);
    eprintln!("{PROBE_MARKER}{maxrss}");
    std::process::exit(if ok { 0 } else { 1 });
}

/// The value of the first `key=` line of a credential-protocol answer.
pub fn field(answer: &str, key: &str) -> Option<String> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Milliseconds as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Summary of a series of durations, in ms.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Samples.
    pub n: usize,
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// 95th percentile, nearest rank.
    pub p95: f64,
    /// Smallest sample.
    pub min: f64,
}

impl Stats {
    /// Summarises `times` (not empty).
    pub fn of(mut times: Vec<Duration>) -> Stats {
        times.sort();
        let n = times.len();
        assert!(n > 0, "no samples");
        let median = if n % 2 == 1 {
            ms(times[n / 2])
        } else {
            (ms(times[n / 2 - 1]) + ms(times[n / 2])) / 2.0
        };
        // Nearest rank: the smallest sample with at least 95% of samples at or below it.
        let p95 = ms(times[(n * 95).div_ceil(100) - 1]);
        Stats {
            n,
            median,
            p95,
            min: ms(times[0]),
        }
    }

    /// The median of `values` (ms), for split-up figures.
    pub fn median_of(values: &[f64]) -> f64 {
        let times = values
            .iter()
            .map(|v| Duration::from_secs_f64(v.max(0.0) / 1000.0))
            .collect();
        Stats::of(times).median
    }
}
