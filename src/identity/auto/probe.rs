//! Whether IMDS answers on this machine, for `auto`: a request IMDS refuses
//! at once, given the second Azure's SDKs give it (IMDS on a busy or freshly
//! started VM is slow), its answer remembered in the cache directory — a hit
//! for a day, a miss only for minutes, so one slow moment does not turn the
//! managed identity off for long, while a laptop still does not wait on
//! every cached `get`.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sys::files::{private_dir, read_private, write_private};
use crate::sys::time::now;
use crate::sys::trace::Trace;

/// How long IMDS has to answer the probe (DefaultAzureCredential's second).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an answer is remembered: a hit for a day, a miss briefly.
const HIT_MEMORY_SECS: i64 = 24 * 3600;
const MISS_MEMORY_SECS: i64 = 5 * 60;
const PROBE_FILE: &str = "imds-probe.json";

/// Whether IMDS answers here, remembered in the cache directory.
pub struct ImdsProbe<'a> {
    memory: Option<&'a Path>,
    pub(super) trace: &'a Trace,
    live: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Remembered {
    authority: String,
    present: bool,
    at: i64,
}

impl<'a> ImdsProbe<'a> {
    /// A probe whose answers are remembered in `cache_dir` (when there is one).
    pub fn remembered(cache_dir: Option<&'a Path>, trace: &'a Trace) -> ImdsProbe<'a> {
        ImdsProbe {
            memory: cache_dir,
            trace,
            live: true,
        }
    }

    /// A probe that never asks the network and remembers nothing: IMDS is
    /// taken as absent. For `configure`, which decides whether an identity
    /// can answer without waiting on a VM endpoint (IMDS there is unknown,
    /// so not counted), and for tests, which must not reach a real endpoint.
    pub fn offline(trace: &'a Trace) -> ImdsProbe<'a> {
        ImdsProbe {
            memory: None,
            trace,
            live: false,
        }
    }

    /// Whether IMDS at `authority` answers: from memory when a fresh answer
    /// is there, else by asking it (briefly) and remembering.
    pub fn answers(&self, authority: &str) -> bool {
        if let Some(present) = self.recall(authority) {
            self.trace.detail(format_args!(
                "auto: IMDS at {authority} {} (remembered)",
                if present {
                    "answers"
                } else {
                    "does not answer"
                }
            ));
            return present;
        }
        if !self.live {
            self.trace
                .detail(format_args!("auto: IMDS at {authority} not probed"));
            return false;
        }
        let present = probe(authority);
        self.trace.detail(format_args!(
            "auto: IMDS at {authority} {} a {} ms probe",
            if present {
                "answered"
            } else {
                "did not answer"
            },
            PROBE_TIMEOUT.as_millis()
        ));
        self.remember(authority, present);
        present
    }

    /// Whether IMDS is asked (false: a command that does not wait on the
    /// network for it, such as `configure`).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Why the managed identity was skipped when IMDS did not answer, for
    /// `auto`'s list of what it tried.
    pub fn miss(&self, authority: &str) -> String {
        if self.live {
            format!(
                "no IMDS answered at {authority} within {} ms; remembered for {} minutes",
                PROBE_TIMEOUT.as_millis(),
                MISS_MEMORY_SECS / 60
            )
        } else {
            format!(
                "IMDS at {authority} not asked: this command does not wait on the network for it"
            )
        }
    }

    fn recall(&self, authority: &str) -> Option<bool> {
        let text = read_private(&self.memory?.join(PROBE_FILE), 4096).ok()??;
        let r: Remembered = serde_json::from_str(&text).ok()?;
        let age = now().saturating_sub(r.at);
        let kept = if r.present {
            HIT_MEMORY_SECS
        } else {
            MISS_MEMORY_SECS
        };
        (r.authority == authority && (0..kept).contains(&age)).then_some(r.present)
    }

    fn remember(&self, authority: &str, present: bool) {
        self.write(&Remembered {
            authority: authority.to_string(),
            present,
            at: now(),
        });
    }

    fn write(&self, r: &Remembered) {
        let Some(dir) = self.memory else { return };
        let text =
            serde_json::to_string(r).expect("strings, a bool and an integer always serialise");
        if let Err(e) =
            private_dir(dir).and_then(|()| write_private(dir, PROBE_FILE, text.as_bytes()))
        {
            self.trace
                .detail(format_args!("auto: cannot remember the IMDS probe: {e}"));
        }
    }
}

/// IMDS refuses a token request without `Metadata: true` at once, with
/// HTTP 400: that answer, and only that one, says IMDS is here. Something
/// else answering the address (a filtering proxy's 403 or 502 page) is not
/// IMDS, and must not send every later `get` to it.
fn probe(authority: &str) -> bool {
    let url = format!("{authority}/metadata/identity/oauth2/token?api-version=2018-02-01");
    let Ok(client) = crate::net::http::managed_identity_client(&url) else {
        return false;
    };
    client
        .get(&url)
        .timeout(PROBE_TIMEOUT)
        .send()
        .is_ok_and(|r| r.status().as_u16() == 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-request HTTP server on loopback answering `status_line`.
    fn answer_once(status_line: &'static str) -> (String, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ =
                    s.write_all(format!("{status_line}\r\ncontent-length: 0\r\n\r\n").as_bytes());
            }
        });
        (url, server)
    }

    #[test]
    fn only_imdss_own_refusal_counts_as_imds() {
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(None, &trace);
        let (url, server) = answer_once("HTTP/1.1 403 Forbidden");
        assert!(!probe.answers(&url), "a filtering proxy's page is not IMDS");
        server.join().expect("server");
    }

    #[test]
    fn probe_answers_are_remembered_per_authority() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
        // IMDS's answer to a request without `Metadata: true`; then close.
        let (open, server) = answer_once("HTTP/1.1 400 Bad Request");
        assert!(probe.answers(&open), "a live endpoint answers");
        server.join().expect("server");
        assert!(
            probe.answers(&open),
            "remembered: the closed listener is not asked"
        );
        assert!(
            !probe.answers("http://127.0.0.1:9"),
            "another authority is probed"
        );
        assert_eq!(probe.recall("http://127.0.0.1:9"), Some(false));
        assert_eq!(
            probe.recall(&open),
            None,
            "one authority is remembered at a time"
        );
    }

    #[test]
    fn a_miss_is_remembered_for_minutes_a_hit_for_a_day() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = Trace::off();
        let probe = ImdsProbe::remembered(Some(dir.path()), &trace);
        let imds = "http://127.0.0.1:9";
        let at = |present: bool, ago: i64| {
            probe.write(&Remembered {
                authority: imds.into(),
                present,
                at: now() - ago,
            });
            probe.recall(imds)
        };
        assert_eq!(at(false, 60), Some(false), "a minute-old miss");
        assert_eq!(
            at(false, 10 * 60),
            None,
            "a miss ten minutes old is asked again"
        );
        assert_eq!(at(true, 10 * 60), Some(true));
        assert_eq!(at(true, 23 * 3600), Some(true), "a hit of the same day");
        assert_eq!(at(true, 25 * 3600), None);
    }
}
