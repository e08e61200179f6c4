//! The smart-HTTP half of `FakeAdo`: an authorized git request is handed to
//! the real `git http-backend`, run as a CGI.

use super::{Reply, Shared};
use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `git http-backend` as a CGI for an authorized request.
pub(super) fn cgi(
    shared: &Shared,
    principal: &str,
    method: &str,
    url: &str,
    body: &[u8],
    header: &dyn Fn(&str) -> Option<String>,
) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", method)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", principal)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("HOME", &shared.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (var, name) in [
        ("CONTENT_TYPE", "Content-Type"),
        ("HTTP_CONTENT_ENCODING", "Content-Encoding"),
        ("GIT_PROTOCOL", "Git-Protocol"),
    ] {
        if let Some(v) = header(name) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd.spawn().expect("spawn git http-backend");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = body.to_vec();
    // Feed stdin on its own thread: the backend may write output before it has read all input.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // wait_with_output drains stdout and stderr together, so neither pipe can fill up and block.
    let out = child.wait_with_output().expect("wait for git http-backend");
    let _ = writer.join();
    let reply = parse_cgi(&out.stdout);
    if reply.status >= 400 {
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "git http-backend {method} {url} -> {}:\n{err}",
            reply.status
        );
    }
    reply
}

/// Splits CGI output into `Status`, other headers, and the body at the first blank line.
fn parse_cgi(out: &[u8]) -> Reply {
    let (mut status, mut headers, mut start) = (200, Vec::new(), 0);
    while let Some(nl) = out[start..].iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&out[start..start + nl]);
        let line = line.trim_end_matches('\r');
        start += nl + 1;
        if line.is_empty() {
            let body = out[start..].to_vec();
            return Reply {
                status,
                headers,
                body,
            };
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            let code = v.split_whitespace().next().and_then(|c| c.parse().ok());
            status = code.unwrap_or(500);
        } else {
            headers.push((k.to_owned(), v.to_owned()));
        }
    }
    // No blank line: the backend died before finishing its headers.
    Reply {
        status: 502,
        headers: Vec::new(),
        body: out.to_vec(),
    }
}
