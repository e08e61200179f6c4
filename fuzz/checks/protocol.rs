//! git's credential protocol, both directions.
//!
//! Requests: whatever `read_request` accepts, `Request::format` writes back
//! so that reading it again gives the same request (parse → write → parse is
//! the identity), or refuses it because a value holds a CR. Answers: a
//! written answer never carries LF, CR or NUL inside a value, and reads back
//! to the token (and username) it was given.

use git_credential_entra::git::protocol::{Request, Response, format_response, read_request};
use git_credential_entra::sys::secret::Secret;

/// Runs both properties on `data`.
pub fn check(data: &[u8]) {
    request_round_trip(data);
    let [token, username, expiry] = super::fields::<3>(data);
    answer_reads_back(
        &String::from_utf8_lossy(token),
        &String::from_utf8_lossy(username),
        expiry
            .iter()
            .fold(0i64, |n, &b| n.wrapping_mul(31).wrapping_add(i64::from(b))),
    );
}

fn values(r: &Request) -> Vec<&str> {
    let mut v: Vec<&str> = [&r.protocol, &r.host, &r.path, &r.username]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    v.extend(
        r.password
            .iter()
            .chain(&r.credential)
            .map(|s| s.expose().as_str()),
    );
    v.extend(r.capabilities.iter().chain(&r.wwwauth).map(String::as_str));
    v
}

/// Every line of a written message is `key=value` with a clean value, and
/// the message ends with exactly one blank line when `blank_end` is set.
fn assert_clean_lines(bytes: &[u8], blank_end: bool) {
    let body = if blank_end {
        bytes
            .strip_suffix(b"\n")
            .expect("a request ends with a blank line")
    } else {
        bytes
    };
    assert!(
        body.is_empty() || body.ends_with(b"\n"),
        "every line ends with LF"
    );
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.contains(&b'='), "every written line is key=value");
        assert!(
            !line.contains(&b'\r') && !line.contains(&0),
            "no CR or NUL in a value"
        );
    }
}

fn request_round_trip(data: &[u8]) {
    let Ok(first) = read_request(data) else {
        return;
    };
    match first.format() {
        Ok(bytes) => {
            assert_clean_lines(&bytes, true);
            let second = read_request(&bytes[..]).expect("a formatted request reads back");
            assert_eq!(second, first, "parse -> write -> parse changed the request");
            assert_eq!(second.format().expect("formats again"), bytes);
        }
        Err(refused) => assert!(
            values(&first).iter().any(|v| v.contains('\r')),
            "format refused {refused} but no value holds a CR (LF and NUL cannot be parsed)"
        ),
    }
}

fn answer_reads_back(token: &str, username: &str, expiry: i64) {
    // Longer values make lines over git's limit, which reading refuses by design.
    if token.len() + username.len() > 60_000 {
        return;
    }
    let secret = Secret::new(token.to_string());
    let unsafe_text = |s: &str| s.contains(['\n', '\r', '\0']);
    let bearer = Response::Bearer {
        token: &secret,
        expiry,
    };
    match format_response(&bearer) {
        Ok(bytes) => {
            assert!(!unsafe_text(token), "a token with LF/CR/NUL was written");
            assert_clean_lines(&bytes, false);
            let back = read_request(&bytes[..]).expect("an answer reads as key=value lines");
            assert_eq!(
                back.credential.as_ref().map(|s| s.expose().as_str()),
                Some(token)
            );
            assert!(back.offers_authtype());
        }
        Err(_) => assert!(unsafe_text(token), "a clean token was refused"),
    }
    let basic = Response::Basic {
        username,
        password: &secret,
        expiry,
    };
    match format_response(&basic) {
        Ok(bytes) => {
            assert!(!unsafe_text(token) && !unsafe_text(username));
            assert!(!username.is_empty() && !username.contains(':'));
            assert_clean_lines(&bytes, false);
            let back = read_request(&bytes[..]).expect("an answer reads as key=value lines");
            assert_eq!(back.username.as_deref(), Some(username));
            assert_eq!(
                back.password.as_ref().map(|s| s.expose().as_str()),
                Some(token)
            );
        }
        Err(_) => assert!(
            unsafe_text(token)
                || unsafe_text(username)
                || username.is_empty()
                || username.contains(':'),
            "a clean Basic answer was refused"
        ),
    }
}
