//! `url=` splitting, differential: the helper's parser against the model of
//! git's `credential_from_url` in [`super::git_url`].
//!
//! Where git accepts a URL the helper must find the same protocol, host,
//! path, user name and password, so the host it matches is the host git
//! would have sent. It may refuse more than git in one case only, by
//! design: a component that is not UTF-8 once decoded (git would pass the
//! bytes on; the helper refuses non-UTF-8 input everywhere).

use git_credential_entra::git::protocol::{MAX_LINE, Request, read_request};

use super::git_url::{GitCredential, credential_from_url};

/// Compares the two parsers on `data` as the value of a `url=` line.
pub fn check(data: &[u8]) {
    // One line as git reads it: no LF, no NUL (git's strings end there), and
    // the helper refuses non-UTF-8 lines before looking at keys.
    if data.contains(&b'\n') || data.contains(&0) || std::str::from_utf8(data).is_err() {
        return;
    }
    let mut line = b"url=".to_vec();
    line.extend_from_slice(data);
    line.push(b'\n');
    if line.len() > MAX_LINE {
        return;
    }
    let ours = read_request(&line[..]);
    // git's line reader drops one trailing CR, as ours does.
    let value = data.strip_suffix(b"\r").unwrap_or(data);
    match credential_from_url(value) {
        None => assert!(
            ours.is_err(),
            "git refuses this url= but the helper accepted it"
        ),
        Some(git) => match as_text(&git) {
            None => assert!(ours.is_err(), "a non-UTF-8 component must be refused"),
            Some(expected) => {
                let ours = ours.expect("git accepts this url=, so must the helper");
                assert_eq!(ours, expected, "the helper splits this url= unlike git");
            }
        },
    }
}

/// git's answer as the request the helper should have read.
fn as_text(git: &GitCredential) -> Option<Request> {
    let text = |b: &Vec<u8>| String::from_utf8(b.clone()).ok();
    let opt = |b: &Option<Vec<u8>>| match b {
        None => Some(None),
        Some(b) => text(b).map(Some),
    };
    Some(Request {
        protocol: Some(text(&git.protocol)?),
        host: Some(text(&git.host)?),
        path: opt(&git.path)?,
        username: opt(&git.username)?,
        password: opt(&git.password)?.map(Into::into),
        ..Request::default()
    })
}
