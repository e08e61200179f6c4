//! Azure Arc's challenge: the agent answers the first request with 401 and
//! `WWW-Authenticate: Basic realm=<key file>`; reading that file proves the
//! caller may use the machine's identity, and its contents go back as
//! `Authorization: Basic <contents>`.
//!
//! The realm comes from whatever answered on the endpoint, so it is trusted
//! only as far as the agent's own rules go: a `.key` file of at most 4096
//! bytes, directly in the platform's token directory, a regular file (not a
//! link to one elsewhere). Anything else could make us read and send any file
//! this user can read.

use std::path::{Component, Path, PathBuf};

use crate::sys::env::Env;
use crate::sys::files::{Links, open_regular, read_at_most};
use crate::sys::secret::Secret;

/// The largest key file the agent writes.
pub const MAX_KEY_BYTES: u64 = 4096;

/// The platform's token directory. Debug builds (the integration tests)
/// accept an override, `GIT_CREDENTIAL_ENTRA_TEST_ARC_TOKEN_DIR`, because the
/// real directory belongs to root; release builds do not compile it in, so a
/// user's environment can never widen what the realm may name.
pub fn token_dir(env: &Env) -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(dir) = env.dir("GIT_CREDENTIAL_ENTRA_TEST_ARC_TOKEN_DIR") {
        return dir;
    }
    platform_token_dir(env)
}

#[cfg(windows)]
fn platform_token_dir(env: &Env) -> PathBuf {
    env.dir("ProgramData")
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join(r"AzureConnectedMachineAgent\Tokens")
}

#[cfg(not(windows))]
fn platform_token_dir(_env: &Env) -> PathBuf {
    PathBuf::from("/var/opt/azcmagent/tokens")
}

/// Whether the Arc agent is installed (its `himds` service binary exists).
/// A stat of one fixed path: cheap enough for resolution, and no network.
pub fn agent_present(env: &Env) -> bool {
    agent_binary(env).is_some_and(|p| p.is_file())
}

#[cfg(windows)]
fn agent_binary(env: &Env) -> Option<PathBuf> {
    Some(
        env.dir("ProgramFiles")
            .unwrap_or_else(|| PathBuf::from(r"C:\Program Files"))
            .join(r"AzureConnectedMachineAgent\himds.exe"),
    )
}

#[cfg(not(windows))]
fn agent_binary(_env: &Env) -> Option<PathBuf> {
    cfg!(target_os = "linux").then(|| PathBuf::from("/opt/azcmagent/bin/himds"))
}

/// The key file named by a `WWW-Authenticate` value, when the value is a
/// Basic challenge whose realm is a `.key` file directly in `dir`. Pure: the
/// file itself is checked by [`read_key`].
pub fn key_path(challenge: &str, dir: &Path) -> Result<PathBuf, String> {
    let challenge = challenge.trim();
    let scheme_end = challenge.find(char::is_whitespace).unwrap_or(0);
    if !challenge[..scheme_end].eq_ignore_ascii_case("basic") {
        return Err("its challenge is not a Basic challenge naming a key file".into());
    }
    let params = challenge[scheme_end..].trim_start();
    let realm = params
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("realm="))
        .map(|_| params[6..].trim())
        .ok_or("its challenge names no realm (key file)")?;
    let realm = realm
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(realm);
    let path = PathBuf::from(realm);
    let shown = crate::sys::text::sanitize(realm);
    let plain = path.components().all(|c| {
        matches!(
            c,
            Component::Normal(_) | Component::RootDir | Component::Prefix(_)
        )
    });
    if !path.is_absolute() || !plain || path.parent() != Some(dir) {
        return Err(format!(
            "the key file it names ({shown}) is not in the agent's token directory {}",
            dir.display()
        ));
    }
    if path.extension().is_none_or(|e| e != "key") {
        return Err(format!("the file it names ({shown}) is not a .key file"));
    }
    Ok(path)
}

/// The key file's contents: it must be a regular file (a symlink is not
/// followed) of at most [`MAX_KEY_BYTES`].
pub fn read_key(path: &Path) -> Result<Secret<String>, String> {
    let shown = path.display();
    let denied = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            format!(
                "cannot read the key file {shown}: {e}. Fix: add this user to the himds group (sudo usermod -aG himds $USER) and sign in again; on Windows run as an administrator or a member of \"Hybrid agent extension applications\""
            )
        } else {
            format!("cannot read the key file {shown}: {e}")
        }
    };
    let (file, meta) = open_regular(path, Links::Refuse).map_err(denied)?;
    if meta.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key file {shown} is larger than {MAX_KEY_BYTES} bytes"
        ));
    }
    let bytes = read_at_most(file, MAX_KEY_BYTES).map_err(denied)?;
    let text = String::from_utf8(bytes).map_err(|_| format!("the key file {shown} is not text"))?;
    let key = text.trim();
    // It travels in a header: a line break or control character would end it.
    if key.is_empty() || key.chars().any(char::is_control) {
        return Err(format!("the key file {shown} does not hold a key"));
    }
    Ok(Secret::new(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/var/opt/azcmagent/tokens";

    #[test]
    fn the_realm_must_be_a_key_file_in_the_token_directory() {
        let dir = crate::abs(DIR);
        let dir = Path::new(&dir);
        let d = dir.display();
        let sep = std::path::MAIN_SEPARATOR;
        for ok in [
            format!("Basic realm={d}{sep}abc.key"),
            format!("basic realm=\"{d}{sep}0f1e.key\""),
            format!("  Basic   Realm={d}{sep}x.key "),
        ] {
            let p = key_path(&ok, dir).expect(&ok);
            assert_eq!(p.parent(), Some(dir), "{ok}");
        }
        let shadow = crate::abs("/etc/shadow.key");
        for (bad, why) in [
            (format!("Basic realm={shadow}"), "not in"),
            (
                format!("Basic realm={d}{sep}..{sep}..{sep}..{sep}etc{sep}x.key"),
                "not in",
            ),
            (format!("Basic realm={d}{sep}sub{sep}x.key"), "not in"),
            (
                "Basic realm=var/opt/azcmagent/tokens/x.key".into(),
                "not in",
            ),
            (format!("Basic realm={d}"), "not in"),
            (format!("Basic realm={d}{sep}x.pem"), "not a .key"),
            (format!("Basic realm={d}{sep}x"), "not a .key"),
            (format!("Basic realm={d}{sep}x.key.txt"), "not a .key"),
            (format!("Bearer realm={d}{sep}x.key"), "not a Basic"),
            ("Basic".into(), "not a Basic"),
            ("Basic charset=UTF-8".into(), "no realm"),
            (String::new(), "not a Basic"),
        ] {
            let e = key_path(&bad, dir).expect_err(&bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn the_key_file_must_be_small_regular_and_text() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ok = tmp.path().join("ok.key");
        std::fs::write(&ok, "secret-key-contents\n").expect("write");
        assert_eq!(read_key(&ok).expect("ok").expose(), "secret-key-contents");

        let exact = tmp.path().join("exact.key");
        std::fs::write(&exact, "k".repeat(MAX_KEY_BYTES as usize)).expect("write");
        assert!(read_key(&exact).is_ok());
        let big = tmp.path().join("big.key");
        std::fs::write(&big, "k".repeat(MAX_KEY_BYTES as usize + 1)).expect("write");
        assert!(
            read_key(&big)
                .expect_err("big")
                .contains("larger than 4096")
        );

        let sub = tmp.path().join("dir.key");
        std::fs::create_dir(&sub).expect("mkdir");
        assert!(
            read_key(&sub)
                .expect_err("dir")
                .contains("not a regular file")
        );

        #[cfg(unix)]
        {
            let link = tmp.path().join("link.key");
            std::os::unix::fs::symlink(&ok, &link).expect("symlink");
            assert!(
                read_key(&link)
                    .expect_err("link")
                    .contains("symbolic link, which is not followed")
            );
        }
        let broken = tmp.path().join("two-lines.key");
        std::fs::write(&broken, "a\nb").expect("write");
        assert!(
            read_key(&broken)
                .expect_err("lf")
                .contains("does not hold a key")
        );
        assert!(read_key(&tmp.path().join("missing.key")).is_err());
    }

    #[test]
    fn the_directory_override_exists_only_in_debug_builds() {
        let arc = crate::abs("/tmp/arc");
        let env = Env::from_pairs([("GIT_CREDENTIAL_ENTRA_TEST_ARC_TOKEN_DIR", arc.as_str())]);
        let expected = if cfg!(debug_assertions) {
            PathBuf::from(&arc)
        } else {
            platform_token_dir(&env)
        };
        assert_eq!(token_dir(&env), expected);
        #[cfg(target_os = "linux")]
        assert_eq!(token_dir(&Env::default()), PathBuf::from(DIR));
    }
}
