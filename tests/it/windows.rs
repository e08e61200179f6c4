//! The Windows binary, black-box, under Wine: the `.exe` cross-built for
//! `x86_64-pc-windows-gnu` runs against the same fake Entra and fake Azure
//! DevOps as the unix tests, with Wine's Credential Manager, `%APPDATA%`,
//! `%LOCALAPPDATA%` and file locks.
//!
//! Ignored by default (it needs Wine and the `.exe`); CI runs it with
//! `cargo test --test it windows -- --ignored`, naming the `.exe` in
//! `GIT_CREDENTIAL_ENTRA_WINDOWS_EXE` (with the `bcryptprimitives.dll` shim
//! beside it on Wine 8, see `scripts/wine/`). `WINEPREFIX` may name a booted
//! prefix; otherwise one is made for the run. Without Wine or the `.exe`
//! these tests fail, saying what is missing: they never pass untested.
//!
//! The tests share one Wine prefix (one profile: one `%APPDATA%`, one
//! Credential Manager), so they take turns. The developer tools' Windows
//! path (`pwsh.exe`, `powershell.exe`, `azd.exe`) is tested in `tools`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

mod tools;

use crate::support::env::isolated;
use crate::support::terminal::{Screen, on_a_terminal_as};
use crate::support::{
    FakeAdo, FakeEntra, RunOutput, TestEnv, assert_no_leak, random_guid, register_sensitive,
};

const EXE_VAR: &str = "GIT_CREDENTIAL_ENTRA_WINDOWS_EXE";
const TENANT: &str = "contoso.onmicrosoft.com";
const SECRET: &str = "Wn~not-a-real-secret-for-the-windows-tests";
/// Credential Manager's cap on a blob, in bytes.
const CRED_MANAGER_MAX: usize = 2560;

/// The Wine prefix and the Windows profile's folders, as host paths.
struct Wine {
    exe: PathBuf,
    prefix: PathBuf,
    /// `%APPDATA%`.
    appdata: PathBuf,
    /// `%LOCALAPPDATA%`.
    local_appdata: PathBuf,
    /// Holds a prefix made for this run.
    _made: Option<tempfile::TempDir>,
    /// The host HOME Wine runs with (menus, desktop links of a prefix it
    /// boots go there), not the real one.
    home: tempfile::TempDir,
}

static WINE: OnceLock<Wine> = OnceLock::new();
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn wine() -> &'static Wine {
    WINE.get_or_init(|| {
        let exe = std::env::var_os(EXE_VAR).map(PathBuf::from).unwrap_or_else(|| {
            panic!(
                "{EXE_VAR} is not set: build the Windows binary (cargo build --target x86_64-pc-windows-gnu) and set {EXE_VAR} to the .exe (see .ci/run)"
            )
        });
        assert!(exe.is_file(), "{EXE_VAR}={} is not a file", exe.display());
        let (prefix, made) = match std::env::var_os("WINEPREFIX") {
            Some(p) => (PathBuf::from(p), None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("gce-wine-")
                    .tempdir()
                    .expect("a temporary Wine prefix");
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let home = tempfile::Builder::new()
            .prefix("gce-wine-home-")
            .tempdir()
            .expect("a temporary HOME for Wine");
        let out = wine_command(&prefix, home.path(), Path::new("cmd.exe"))
            .args(["/c", "echo", "%APPDATA%;%LOCALAPPDATA%"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run wine (is it installed?): {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let (appdata, local) = text
            .trim()
            .split_once(';')
            .unwrap_or_else(|| {
                panic!(
                    "Wine does not work here (wine cmd.exe did not print the profile's folders; {}): {text:?} {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        Wine {
            appdata: host_path(&prefix, appdata),
            local_appdata: host_path(&prefix, local),
            exe,
            prefix,
            _made: made,
            home,
        }
    })
}

/// `C:\users\u\AppData\Roaming` → `$WINEPREFIX/drive_c/users/u/AppData/Roaming`.
fn host_path(prefix: &Path, windows: &str) -> PathBuf {
    let rest = windows
        .strip_prefix("C:\\")
        .unwrap_or_else(|| panic!("not on drive C: {windows:?}"));
    rest.split('\\')
        .fold(prefix.join("drive_c"), |p, part| p.join(part))
}

/// A host path as Wine's programs see it: `/x/y` → `Z:\x\y`.
fn windows_path(host: &Path) -> String {
    format!("Z:{}", host.display().to_string().replace('/', "\\"))
}

/// `wine program` in the prefix, with `home` as HOME and nothing else
/// inherited from the host but what Wine itself needs.
fn wine_command(prefix: &Path, home: &Path, program: &Path) -> Command {
    let mut cmd = isolated("wine", home);
    cmd.arg(program);
    for k in ["USER", "LOGNAME"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        // A managed identity must never reach the real IMDS.
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
    cmd
}

/// Fake services, and the Windows profile configured for them.
struct Win {
    entra: FakeEntra,
    ado: FakeAdo,
    env: TestEnv,
    repo_url: String,
    /// The tenant of identities `ps` and `dev` (the developer tools): one of
    /// their own, so their Credential Manager items from other tests are not hits.
    tool_tenant: String,
    _turn: MutexGuard<'static, ()>,
}

impl Win {
    fn new() -> Win {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let wine = wine();
        register_sensitive(SECRET);
        let entra = FakeEntra::start();
        // A client id of its own: Credential Manager items outlive a test.
        let client = random_guid();
        entra.add_app(TENANT, &client, SECRET);
        let env = TestEnv::new();
        let srv = env.path().join("srv");
        std::fs::create_dir_all(&srv).expect("create srv");
        let ado = FakeAdo::start(&srv, &entra.tenant_id(TENANT));
        let repo_url = ado.create_repo("contoso", "proj", "repo");
        ado.allow("contoso", &client);
        let tool_tenant = random_guid();
        // The default config location: %APPDATA%\git-credential-entra\config.json.
        let dir = wine.appdata.join("git-credential-entra");
        std::fs::create_dir_all(&dir).expect("create the config folder under %APPDATA%");
        std::fs::write(
            dir.join("config.json"),
            format!(
                r#"{{
  "identities": {{
    "ci": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{client}", "client_secret_env": "CI_SECRET" }},
    "kr": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{client}", "client_secret_keyring": true }},
    "sf": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{client}", "client_secret_file": "{secret_file}" }},
    "ps": {{ "type": "azure-powershell", "tenant": "{tool_tenant}" }},
    "dev": {{ "type": "azure-developer-cli", "tenant": "{tool_tenant}" }}
  }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "ci" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "{authority}"
}}"#,
                base = ado.base_url(),
                authority = entra.url(),
                secret_file = windows_path(&env.path().join("secret.txt")).replace('\\', "\\\\"),
            ),
        )
        .expect("write config.json");
        // A clean %LOCALAPPDATA% cache for this test.
        let _ = std::fs::remove_dir_all(wine.local_appdata.join("git-credential-entra"));
        Win {
            entra,
            ado,
            env,
            repo_url,
            tool_tenant,
            _turn: turn,
        }
    }

    fn helper_command(&self, args: &[&str]) -> Command {
        let wine = wine();
        let mut cmd = wine_command(&wine.prefix, wine.home.path(), &wine.exe);
        cmd.args(args).env("CI_SECRET", SECRET);
        cmd
    }

    /// Runs the `.exe` with `args` and `stdin`.
    fn helper(&self, args: &[&str], stdin: &str) -> RunOutput {
        self.run(&mut self.helper_command(args), stdin)
    }

    /// Runs `cmd` (a [`Win::helper_command`], perhaps with more set) with `stdin`.
    fn run(&self, cmd: &mut Command, stdin: &str) -> RunOutput {
        let out = self.env.run(cmd, stdin.as_bytes());
        assert!(
            !out.stderr.contains("bcryptprimitives") && !out.stderr.contains("ProcessPrng"),
            "the .exe did not start under Wine (put the scripts/wine shim beside it): {}",
            out.stderr
        );
        out
    }

    /// The request git sends for the test repository.
    fn request(&self) -> String {
        format!(
            "protocol=http\nhost={}\npath=contoso/proj/_git/repo\n",
            self.ado.host()
        )
    }

    fn bearer_request(&self) -> String {
        format!("capability[]=authtype\n{}", self.request())
    }

    fn token_requests(&self) -> usize {
        self.entra.token_requests().len()
    }

    /// `%LOCALAPPDATA%\git-credential-entra`.
    fn cache_dir(&self) -> PathBuf {
        wine().local_appdata.join("git-credential-entra")
    }

    /// Whether fake Azure DevOps lets `authorization` fetch the repository.
    fn ado_accepts(&self, authorization: &str) -> bool {
        let url = url::Url::parse(&self.repo_url).expect("the repository URL");
        let mut stream = TcpStream::connect(self.ado.host()).expect("connect to fake ADO");
        write!(
            stream,
            "GET {}/info/refs?service=git-upload-pack HTTP/1.0\r\nHost: {}\r\nAuthorization: {authorization}\r\n\r\n",
            url.path(),
            self.ado.host()
        )
        .expect("send");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
    }
}

fn field(answer: &str, key: &str) -> Option<String> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Whether a `cache list` row is for identity `ci` (`kr` shares its app, so
/// its row may read `ci,kr`).
fn names_ci(row: &str) -> bool {
    row.split_whitespace()
        .next()
        .is_some_and(|ids| ids.split(',').any(|id| id == "ci"))
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Token files in the file store under `%LOCALAPPDATA%`.
fn token_files(w: &Win) -> Vec<PathBuf> {
    std::fs::read_dir(w.cache_dir().join("tokens"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn get_answers_basic_and_bearer_from_credential_manager() {
    let w = Win::new();
    let first = w.helper(&["get", "-vv"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    assert!(
        first.stderr.contains("credential-manager"),
        "the default store on Windows is Credential Manager: {}",
        first.stderr
    );
    let user = field(&first.stdout, "username").expect("a username");
    let token = field(&first.stdout, "password").expect("a password");
    assert!(
        w.ado_accepts(&basic(&user, &token)),
        "ADO accepts the token"
    );
    assert!(
        !w.ado_accepts(&basic(&user, "not-a-token")),
        "ADO checks tokens"
    );
    assert_eq!(w.token_requests(), 1);

    // A git that offers authtype gets Bearer, from the Credential Manager cache.
    let second = w.helper(&["get"], &w.bearer_request());
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(field(&second.stdout, "authtype").as_deref(), Some("Bearer"));
    assert_eq!(field(&second.stdout, "credential"), Some(token.clone()));
    assert_eq!(w.token_requests(), 1, "the second get was a cache hit");
    assert!(w.ado_accepts(&format!("Bearer {token}")));

    // Held in Credential Manager, not in a file; the locks are under %LOCALAPPDATA%.
    assert!(token_files(&w).is_empty(), "{:?}", token_files(&w));
    let locks = std::fs::read_dir(w.cache_dir().join("locks"))
        .expect("lock files under %LOCALAPPDATA%\\git-credential-entra\\locks")
        .count();
    assert!(locks >= 1);
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn erase_cache_list_and_cache_clear() {
    let w = Win::new();
    let token = field(&w.helper(&["get"], &w.request()).stdout, "password").expect("a token");
    let list = w.helper(&["cache", "list"], "");
    assert!(list.status.success(), "{}", list.stderr);
    assert_no_leak("cache list", &list.stdout);
    assert!(
        list.stdout
            .lines()
            .any(|l| names_ci(l) && l.contains("credential-manager") && l.contains("fresh")),
        "{}",
        list.stdout
    );

    let rejected = format!("{}username=x\npassword={token}\n", w.request());
    let erase = w.helper(&["erase"], &rejected);
    assert!(erase.status.success(), "{}", erase.stderr);
    let fresh = field(&w.helper(&["get"], &w.request()).stdout, "password").expect("a token");
    assert_eq!(w.token_requests(), 2, "the rejected token was erased");
    assert_ne!(fresh, token);

    let clear = w.helper(&["cache", "clear"], "");
    assert!(clear.stdout.contains("removed"), "{}", clear.stdout);
    let list = w.helper(&["cache", "list"], "");
    assert!(
        list.stdout
            .lines()
            .any(|l| names_ci(l) && l.contains("not cached")),
        "{}",
        list.stdout
    );
    w.helper(&["get"], &w.request());
    assert_eq!(w.token_requests(), 3, "cleared");
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn a_token_over_the_credential_manager_limit_is_cached_in_a_file_under_localappdata() {
    let w = Win::new();
    w.entra.set_token_padding(CRED_MANAGER_MAX + 500);
    let first = w.helper(&["get"], &w.request());
    assert!(first.status.success(), "{}", first.stderr);
    let token = field(&first.stdout, "password").expect("a token");
    assert!(token.len() > CRED_MANAGER_MAX, "{}", token.len());
    assert!(w.ado_accepts(&basic("x", &token)));
    assert!(
        first.stderr.contains("refused a token"),
        "the spill is said once: {}",
        first.stderr
    );
    let files = token_files(&w);
    assert_eq!(files.len(), 1, "{files:?}");
    let second = w.helper(&["get"], &w.request());
    assert_eq!(field(&second.stdout, "password"), Some(token));
    assert_eq!(w.token_requests(), 1, "a hit from the file store");
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn concurrent_gets_make_one_token_request() {
    let w = Win::new();
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut c = w
                .helper_command(&["get"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn wine");
            c.stdin
                .take()
                .expect("stdin")
                .write_all(w.request().as_bytes())
                .expect("write the request");
            c
        })
        .collect();
    let mut tokens = Vec::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_no_leak("stderr of a concurrent get", &err);
        assert!(out.status.success(), "{err}");
        tokens.push(field(&String::from_utf8_lossy(&out.stdout), "password").expect("a token"));
    }
    assert_eq!(w.token_requests(), 1, "one request for six gets");
    assert!(tokens.windows(2).all(|p| p[0] == p[1]));
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn secret_set_and_delete_in_credential_manager() {
    let w = Win::new();
    let set = w.helper(
        &["secret", "set", "--identity", "kr"],
        &format!("{SECRET}\n"),
    );
    assert!(set.status.success(), "{}", set.stderr);
    assert!(set.stderr.contains("credential-manager"), "{}", set.stderr);
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert!(w.entra.token_requests()[0].secret_ok, "the stored secret");

    let del = w.helper(&["secret", "delete", "--identity", "kr"], "");
    assert!(del.status.success(), "{}", del.stderr);
    w.helper(&["cache", "clear"], "");
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("secret set --identity kr"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn secret_set_at_a_console_does_not_echo() {
    let w = Win::new();
    // On a terminal Wine gives the program a console.
    let mut screen = Screen::spawn(on_a_terminal_as(
        w.helper_command(&[]),
        "HELPER secret set --identity kr",
    ));
    let prompt = screen.wait_for(|s| s.contains("paste the secret"));
    assert!(prompt.is_some(), "no prompt: {}", screen.shown());
    screen.type_in(format!("{SECRET}\r").as_bytes());
    let (status, shown) = screen.finish();
    assert!(status.success(), "{shown}");
    assert!(!shown.contains(SECRET), "the console echoed the secret");
    assert!(shown.contains("stored the secret"), "{shown}");
    let out = w.helper(&["get", "--identity", "kr"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert!(w.entra.token_requests()[0].secret_ok, "the typed secret");
    w.helper(&["secret", "delete", "--identity", "kr"], "");
}

#[test]
#[ignore = "needs Wine and the Windows .exe; CI runs it (see .ci/run)"]
fn a_secret_file_everyone_may_read_is_refused() {
    let w = Win::new();
    let file = w.env.path().join("secret.txt");
    std::fs::write(&file, format!("{SECRET}\n")).expect("write the secret file");
    w.env.planted(&file);
    // Wine derives the file's ACL from its unix mode: 644 grants Everyone read.
    crate::support::chmod(&file, 0o644);
    let out = w.helper(&["get", "--identity", "sf"], &w.request());
    assert_eq!(out.stdout, "quit=1\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("readable or writable by Everyone") && out.stderr.contains("icacls"),
        "{}",
        out.stderr
    );
    assert_eq!(w.token_requests(), 0, "nothing was sent");
    crate::support::chmod(&file, 0o600);
    let out = w.helper(&["get", "--identity", "sf"], &w.request());
    assert!(out.status.success(), "{}", out.stderr);
    assert!(w.entra.token_requests()[0].secret_ok);
}
