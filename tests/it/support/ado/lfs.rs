//! The Git LFS half of `FakeAdo`: the batch API and the `basic` transfer
//! (<https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md>), as
//! Azure Repos serves them under `…/_git/{repo}[.git]/info/lfs`. Requests get
//! here only past the same Entra gate as git's, so the helper's token is
//! needed for the batch and for every object.
//!
//! The actions carry no `header`: git-lfs must then authenticate the object
//! URLs itself, through git's credential helpers, as it does the batch.

use super::{FakeAdo, Reply, Shared, repo_dir, setup_git};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The media type of every LFS API request and JSON answer.
const MEDIA_TYPE: &str = "application/vnd.git-lfs+json";

/// How long an action's `href` is said to stay valid.
const EXPIRES_IN: u64 = 3600;

/// The SHA-256 of `content` in hex: its LFS object id.
pub fn oid(content: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, content);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl FakeAdo {
    /// Commits `files` (path, content) to `main` of `org/project/repo` as
    /// Git LFS pointers, with a `.gitattributes` sending them through LFS,
    /// and stores their objects on the server, as a push by git-lfs would.
    pub fn commit_lfs_files(&self, org: &str, project: &str, repo: &str, files: &[(&str, &[u8])]) {
        let bare = self.repo_path(org, project, repo);
        let work = tempfile::tempdir().expect("create a scratch work tree");
        let w = work.path();
        setup_git(
            w,
            &[
                "clone",
                "-q",
                bare.to_str().expect("temp paths are UTF-8"),
                ".",
            ],
        );
        let mut attributes = String::new();
        for (path, content) in files {
            let oid = oid(content);
            store(&bare, &oid, content);
            let pointer = format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {}\n",
                content.len()
            );
            let file = w.join(path);
            std::fs::create_dir_all(file.parent().expect("a file has a parent"))
                .expect("create the file's directory");
            std::fs::write(file, pointer).expect("write an LFS pointer");
            attributes.push_str(&format!("/{path} filter=lfs diff=lfs merge=lfs -text\n"));
        }
        std::fs::write(w.join(".gitattributes"), attributes).expect("write .gitattributes");
        setup_git(w, &["add", "-A"]);
        let ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"];
        setup_git(
            w,
            &[&ident[..], &["commit", "-q", "-m", "LFS files"]].concat(),
        );
        setup_git(w, &["push", "-q", "origin", "main"]);
    }

    /// The LFS object `oid` of `org/project/repo` as the server stores it.
    pub fn lfs_object(&self, org: &str, project: &str, repo: &str, oid: &str) -> Option<Vec<u8>> {
        let bare = self.repo_path(org, project, repo);
        std::fs::read(object_path(&bare, oid)).ok()
    }
}

/// Answers a request under `…/_git/{repo}[.git]/info/lfs/` that passed the
/// gate; `None` for any other path (git's own requests).
pub(super) fn serve(
    shared: &Shared,
    method: &str,
    url: &str,
    body: &[u8],
    header: &dyn Fn(&str) -> Option<String>,
) -> Option<Reply> {
    let path = url.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segs.len() < 6 || segs[4] != "info" || segs[5] != "lfs" {
        return None;
    }
    let repo = repo_dir(shared, &segs);
    Some(match (method, &segs[6..]) {
        ("POST", ["objects", "batch"]) => {
            let accepts = header("Accept").is_some_and(|a| a.contains(MEDIA_TYPE));
            if !accepts {
                return Some(message(406, &format!("Accept must be {MEDIA_TYPE}")));
            }
            // Hrefs are built from the URL the client used, so they hold
            // behind any public name: the fake itself is reached as
            // 127.0.0.1:PORT, a name without a port only through a TLS
            // front (support/tls.rs relays bytes and adds no header).
            let Some(host) = header("Host") else {
                return Some(message(400, "no Host header"));
            };
            let scheme = header("X-Forwarded-Proto")
                .unwrap_or_else(|| if host.contains(':') { "http" } else { "https" }.into());
            let objects_url = format!("{scheme}://{host}/{}/objects", segs[..6].join("/"));
            batch(&repo, &objects_url, body)
        }
        ("GET", ["objects", oid]) if is_oid(oid) => match std::fs::read(object_path(&repo, oid)) {
            Ok(content) => Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                body: content,
            },
            Err(_) => message(404, "Object does not exist"),
        },
        ("PUT", ["objects", oid]) if is_oid(oid) => {
            // The server's half of LFS's integrity: content must hash to its name.
            if self::oid(body) != *oid {
                return Some(message(422, "the content's SHA-256 is not the object id"));
            }
            store(&repo, oid, body);
            Reply {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
            }
        }
        // Locking (`locks/verify` before a push) and the rest: not served,
        // which git-lfs takes as "no locking API" and goes on.
        _ => message(404, "Not found"),
    })
}

/// `POST objects/batch`: an action per object to transfer, or its error.
fn batch(repo: &Path, objects_url: &str, body: &[u8]) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return message(422, "the batch request is not JSON");
    };
    let operation = request["operation"].as_str().unwrap_or_default();
    if operation != "download" && operation != "upload" {
        return message(422, "operation must be download or upload");
    }
    let transfers = request["transfers"].as_array();
    if transfers.is_some_and(|t| !t.iter().any(|t| t == "basic")) {
        return message(422, "only the basic transfer is served");
    }
    let Some(objects) = request["objects"].as_array() else {
        return message(422, "no objects");
    };
    let answers: Vec<Value> = objects
        .iter()
        .map(|o| object_answer(repo, objects_url, operation, o))
        .collect();
    let answer = json!({ "transfer": "basic", "objects": answers, "hash_algo": "sha256" });
    json(200, &answer)
}

/// The batch answer for one requested object: its action, none (an upload
/// the server already has), or its error (a download it does not have).
fn object_answer(repo: &Path, objects_url: &str, operation: &str, object: &Value) -> Value {
    let (oid, size) = (object["oid"].as_str().unwrap_or_default(), &object["size"]);
    let error = |code: u16, message: &str| json!({ "oid": oid, "size": size, "error": { "code": code, "message": message } });
    if !is_oid(oid) || !size.is_u64() {
        return error(422, "invalid object");
    }
    let stored = std::fs::metadata(object_path(repo, oid))
        .ok()
        .map(|m| m.len());
    match (stored == size.as_u64(), operation) {
        (false, "download") => error(404, "Object does not exist"),
        (true, "upload") => json!({ "oid": oid, "size": size }),
        _ => {
            let href = format!("{objects_url}/{oid}");
            let action = json!({ "href": href, "expires_in": EXPIRES_IN });
            json!({ "oid": oid, "size": size, "actions": { operation: action } })
        }
    }
}

/// Whether `s` is an object id: 64 lowercase hex digits (and so no path trick).
fn is_oid(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where the bare repository `repo` keeps object `oid`, as git-lfs lays out `.git/lfs`.
fn object_path(repo: &Path, oid: &str) -> PathBuf {
    let (a, b) = (oid.get(0..2).unwrap_or("xx"), oid.get(2..4).unwrap_or("xx"));
    repo.join("lfs/objects").join(a).join(b).join(oid)
}

/// Stores object `oid` of `repo`, whole or not at all (transfers run in parallel).
fn store(repo: &Path, oid: &str, content: &[u8]) {
    let path = object_path(repo, oid);
    let dir = path.parent().expect("an object path has a parent");
    std::fs::create_dir_all(dir).expect("create the LFS object directory");
    let tmp = tempfile::NamedTempFile::new_in(dir).expect("create a temporary object");
    std::fs::write(tmp.path(), content).expect("write the object");
    tmp.persist(&path).expect("move the object into place");
}

/// A JSON answer in the LFS media type.
fn json(status: u16, value: &Value) -> Reply {
    Reply {
        status,
        headers: vec![(
            "Content-Type".into(),
            format!("{MEDIA_TYPE}; charset=utf-8"),
        )],
        body: value.to_string().into_bytes(),
    }
}

/// An LFS error answer: `{"message": …}`.
fn message(status: u16, text: &str) -> Reply {
    json(status, &json!({ "message": text }))
}

// In the test crate only (the demo and the bench include the fakes too).
#[cfg(all(test, unix))]
mod tests;
