//! A reference model of git's `credential_from_url` (credential.c) and
//! `url_decode_mem` (url.c), written from git's C source independently of
//! the helper's own parser so the two can be compared byte for byte.
//!
//! It works on bytes with C string semantics (`strstr`, `strchr`,
//! `strcspn`), as git does, and returns what git would put in its
//! `struct credential`, or `None` where git dies ("credential url cannot be
//! parsed").

/// The parts git fills in from a `url=` line.
#[derive(Debug, PartialEq, Eq)]
pub struct GitCredential {
    pub protocol: Vec<u8>,
    pub host: Vec<u8>,
    pub path: Option<Vec<u8>>,
    pub username: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn strchr(s: &[u8], c: u8) -> Option<usize> {
    s.iter().position(|&b| b == c)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// url.c `url_decode_mem`: text before a ':' that is not the first byte is
/// copied as is (git takes it for a scheme); then `%XX` with two hex digits
/// becomes byte XX unless that is 0, everything else is copied.
pub fn url_decode_mem(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut q = 0;
    if let Some(colon) = strchr(s, b':')
        && colon > 0
    {
        out.extend_from_slice(&s[..colon]);
        q = colon;
    }
    while q < s.len() {
        let c = s[q];
        if c == 0 {
            break;
        }
        if c == b'%'
            && s.len() - q >= 3
            && let (Some(h), Some(l)) = (hex(s[q + 1]), hex(s[q + 2]))
            && h * 16 + l > 0
        {
            out.push(h * 16 + l);
            q += 3;
            continue;
        }
        out.push(c);
        q += 1;
    }
    out
}

/// credential.c `credential_from_url_1` with `allow_partial_url = 0`, then
/// `check_url_component` (no component may hold a newline).
pub fn credential_from_url(url: &[u8]) -> Option<GitCredential> {
    let proto_end = find(url, b"://")?;
    if proto_end == 0 {
        return None;
    }
    let cp = proto_end + 3;
    let rest = &url[cp..];
    let at = strchr(rest, b'@');
    let colon = strchr(rest, b':');
    let slash = rest
        .iter()
        .position(|b| b"/?#".contains(b))
        .unwrap_or(rest.len());
    let (username, password, host_start) = match at {
        None => (None, None, 0),
        Some(at) if slash <= at => (None, None, 0),
        Some(at) => match colon {
            Some(colon) if colon < at => (
                Some(url_decode_mem(&rest[..colon])),
                Some(url_decode_mem(&rest[colon + 1..at])),
                at + 1,
            ),
            _ => (Some(url_decode_mem(&rest[..at])), None, at + 1),
        },
    };
    let protocol = url[..proto_end].to_vec();
    let host = url_decode_mem(&rest[host_start..slash]);
    let mut p = slash;
    while p < rest.len() && rest[p] == b'/' {
        p += 1;
    }
    let path = (p < rest.len()).then(|| {
        let mut path = url_decode_mem(&rest[p..]);
        while path.len() > 1 && path.last() == Some(&b'/') {
            path.pop();
        }
        path
    });
    let has_newline = |c: &Option<Vec<u8>>| c.as_ref().is_some_and(|v| v.contains(&b'\n'));
    if has_newline(&username)
        || has_newline(&password)
        || protocol.contains(&b'\n')
        || host.contains(&b'\n')
        || has_newline(&path)
    {
        return None;
    }
    Some(GitCredential {
        protocol,
        host,
        path,
        username,
        password,
    })
}
