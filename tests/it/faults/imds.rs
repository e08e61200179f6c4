//! IMDS answering 410 ("updating, available within 70 seconds") for a
//! minute: the helper outlasts it even with the default 30 s budget (and a
//! process waiting for the lock outlasts it too), and gives one clear error
//! when the update takes longer than documented.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{IMDS_UPDATE_WINDOW, MANAGED_IDENTITY, SLACK, row_of};
use crate::support::mi_world::MiWorld;
use crate::support::world::token_of;
use crate::support::{MiKind, RunOutput, Scripted, assert_no_leak};

/// How long one `get` may take at most while IMDS answers 410 from the start.
fn bound() -> Duration {
    MANAGED_IDENTITY.deadline(Some(Duration::ZERO)) + SLACK
}

/// `get` for identity `vm`, allowed to run for [`bound`] (longer than the
/// test environment's usual deadline); timed.
fn long_get(m: &MiWorld) -> (RunOutput, Duration) {
    let started = Instant::now();
    let child = super::spawn_get(&m.w, &["--identity", "vm"]);
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(bound()) {
        Ok(out) => out.expect("the helper ran"),
        Err(_) => {
            // SAFETY: signalling our own child, which has not been reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("get did not end within {:?}", bound());
        }
    };
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_leak("stderr of get", &stderr);
    let out = RunOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    };
    super::report(&out, took);
    (out, took)
}

#[test]
#[ignore = "slow: waits out the helper's own time limits; run with `cargo test --test it faults:: -- --ignored` (CI does)"]
fn imds_updating_for_a_minute() {
    assert_eq!(
        git_credential_entra::config::Config::default().managed_identity_timeout_seconds,
        30,
        "the default budget is shorter than the update"
    );
    let updating = Duration::from_secs(60);
    // Longer than documented: the same wait, then one error. Beside the
    // other half, since each takes about a minute.
    let longer = std::thread::spawn(|| {
        let m = MiWorld::new(MiKind::Imds);
        m.mi.set_outage_for(Scripted::status(410), IMDS_UPDATE_WINDOW * 10);
        let (out, took) = long_get(&m);
        let line = crate::support::mi_world::one_error(&out);
        assert!(
            line.contains("answered HTTP 410 (the identity endpoint is updating")
                && line.contains("identity 'vm'"),
            "{line}"
        );
        assert!(took >= IMDS_UPDATE_WINDOW, "{took:?}");
        assert!(row_of(&m.w, "vm").contains("not cached"));
    });

    // Two gets at once: one rides the update out, the other waits for it
    // (a waiter must not give up before the holder is done).
    let m = MiWorld::new(MiKind::Imds);
    m.mi.set_outage_for(Scripted::status(410), updating);
    let (first, second) = std::thread::scope(|s| {
        let other = s.spawn(|| long_get(&m));
        (long_get(&m), other.join().expect("the other get"))
    });
    let requests = m.mi.requests().len();
    assert!(requests > 2, "retried through the update: {requests}");
    let issued = m.mi.issued_tokens();
    assert_eq!(issued.len(), 1, "one token for both");
    for (out, took) in [first, second] {
        assert!(out.status.success(), "{}", out.stderr);
        assert!(took >= updating, "{took:?}");
        assert_eq!(token_of(&out.stdout), issued[0]);
    }
    assert!(row_of(&m.w, "vm").contains("fresh"));
    let (again, _) = m.get("vm");
    assert_eq!(token_of(&again.stdout), issued[0], "cached");
    assert_eq!(m.mi.issued_tokens().len(), 1);

    longer.join().expect("the longer update failed clearly");
}
