//! See git-credential-entra work without an Azure account.
//!
//! Starts the same local fake Entra ID and fake Azure DevOps the integration
//! tests use (their code, shared, not copied), writes a throwaway config and
//! git environment in a temporary directory, then runs a real `git clone` and
//! `git push` through the helper, printing each step: the route chosen, the
//! token acquired, cached and reused, and `doctor`'s report. Everything lives
//! in the temporary directory (HOME, git's global config, the token cache),
//! which is removed at the end: nothing is left in your git config or cache.
//!
//! Run it with `cargo run --example demo` (or `--release`). It builds the
//! helper binary of the same profile first, so it works on a fresh checkout,
//! without disturbing the build cache: a `cargo build` after it has nothing
//! to do (tests/it/demo.rs checks both).
//! Exit status 0 when every step did what it should.

// The demo uses a few of the test support's fakes; the rest is the tests'.
#[path = "../tests/it/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use std::path::Path;
use std::time::Instant;

use support::{FakeAdo, FakeEntra, RunOutput, TestEnv};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
/// A made-up secret the fake Entra accepts; never printed.
const SECRET: &str = "demo~secret-known-only-to-the-fake-entra";

fn main() {
    match demo() {
        Ok(()) => println!("\nDemo passed: every step did what it should."),
        Err(e) => {
            eprintln!("\nDemo FAILED: {e}");
            std::process::exit(1);
        }
    }
}

fn step(n: u32, what: &str) {
    println!("\n== {n}. {what}");
}

/// Prints a command's output, indented.
fn show(out: &RunOutput) {
    for l in out.stdout.lines().chain(out.stderr.lines()) {
        println!("   | {l}");
    }
}

fn ok(what: &str, out: RunOutput) -> Result<RunOutput, String> {
    if out.status.success() {
        Ok(out)
    } else {
        show(&out);
        Err(format!("{what} failed ({})", out.status))
    }
}

fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond {
        println!("   ✓ {what}");
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn demo() -> Result<(), String> {
    build_helper()?;
    // The demo must not touch the real git config: compared before and after.
    let real_config = std::env::var_os("HOME").map(|h| Path::new(&h).join(".gitconfig"));
    let read_real = || real_config.as_ref().and_then(|p| std::fs::read(p).ok());
    let real_before = read_real();
    let bin = support::env::helper_bin();
    let mut env = TestEnv::new();
    let root = env.path().to_path_buf();
    println!(
        "Temporary directory (HOME, git config, token cache): {}",
        root.display()
    );

    step(
        1,
        "Start a fake Entra ID and a fake Azure DevOps on 127.0.0.1",
    );
    support::register_sensitive(SECRET);
    let entra = FakeEntra::start();
    entra.add_app(TENANT, CLIENT, SECRET);
    let srv = root.join("srv");
    std::fs::create_dir_all(&srv).map_err(|e| format!("create {}: {e}", srv.display()))?;
    let ado = FakeAdo::start(&srv, &entra.tenant_id(TENANT));
    let url = ado.create_repo("contoso", "demo", "app");
    ado.allow("contoso", CLIENT);
    println!("   Entra:        {}", entra.url());
    println!("   Azure DevOps: {} (repository {url})", ado.base_url());
    println!(
        "   Service principal {CLIENT} in tenant {TENANT} is a member of organization 'contoso'"
    );

    step(
        2,
        "Write the helper's config: one service principal, routed to organization 'contoso'",
    );
    env.set_env("DEMO_SECRET", SECRET);
    env.set_env("GIT_CREDENTIAL_ENTRA_CACHE", "file");
    let base = ado.base_url();
    let config = format!(
        r#"{{
  "identities": {{
    "ci": {{ "type": "service-principal", "tenant": "{TENANT}", "client_id": "{CLIENT}", "client_secret_env": "DEMO_SECRET" }}
  }},
  "routes": [ {{ "url": "{base}/contoso", "identity": "ci" }} ],
  "hosts": [ "{base}" ],
  "authority_host": "{authority}"
}}"#,
        authority = entra.url()
    );
    env.write_config(&config);
    for l in config.lines() {
        println!("   | {l}");
    }
    println!(
        "   (the secret comes from $DEMO_SECRET; the fake Azure DevOps host is a \"hosts\" entry)"
    );

    step(
        3,
        "git-credential-entra configure --host (writes git's config in the temporary HOME)",
    );
    let out = ok(
        "configure",
        env.run(env.helper().args(["configure", "--host", &base]), b""),
    )?;
    show(&out);

    step(
        4,
        "git-credential-entra identities (which identity serves the repository, and why)",
    );
    let out = ok("identities", env.run(env.helper().arg("identities"), b""))?;
    show(&out);

    step(
        5,
        "git clone: git asks the helper, which asks Entra for a token (trace: -v)",
    );
    env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "1");
    let out = ok(
        "git clone",
        env.run(env.git("git").args(["clone", &url, "app"]), b""),
    )?;
    show(&out);
    check(
        entra.token_requests().len() == 1,
        "one token request to Entra",
    )?;
    check(
        root.join("app/README.md").is_file(),
        "the repository was cloned",
    )?;

    step(
        6,
        "git-credential-entra cache list (the token is cached; never printed)",
    );
    env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "0");
    let out = ok(
        "cache list",
        env.run(env.helper().args(["cache", "list"]), b""),
    )?;
    show(&out);

    step(
        7,
        "git push: the cached token is reused, Entra is not asked again",
    );
    let work = root.join("app");
    std::fs::write(work.join("CHANGE.md"), "pushed by the demo\n")
        .map_err(|e| format!("write a file to commit: {e}"))?;
    env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "1");
    let git = |args: &[&str]| {
        let mut c = env.git("git");
        c.current_dir(&work).args(args);
        c
    };
    ok("git add", env.run(&mut git(&["add", "CHANGE.md"]), b""))?;
    let ident = ["-c", "user.name=Demo", "-c", "user.email=demo@example.com"];
    ok(
        "git commit",
        env.run(
            &mut git(&[&ident[..], &["commit", "-q", "-m", "demo change"]].concat()),
            b"",
        ),
    )?;
    let out = ok(
        "git push",
        env.run(&mut git(&["push", "origin", "HEAD"]), b""),
    )?;
    show(&out);
    check(
        entra.token_requests().len() == 1,
        "still one token request: the push used the cached token",
    )?;
    let pushed = ado
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path.ends_with("git-receive-pack") && r.status == 200);
    check(pushed, "Azure DevOps accepted the push")?;

    step(
        8,
        "git-credential-entra doctor (every step from git to Azure DevOps)",
    );
    env.set_env("GIT_CREDENTIAL_ENTRA_TRACE", "0");
    let out = ok("doctor", env.run(env.helper().args(["doctor", &url]), b""))?;
    show(&out);

    step(9, "Clean up");
    let helper_path = bin.display().to_string();
    drop(ado);
    drop(entra);
    drop(env);
    check(
        !root.exists(),
        "the temporary directory is gone (git config, cache, clone)",
    )?;
    check(
        read_real() == real_before,
        "your own ~/.gitconfig is unchanged",
    )?;
    println!("   (the helper binary stays where cargo built it: {helper_path})");
    Ok(())
}

/// Builds the helper binary of this example's profile (a no-op when it is
/// up to date): `cargo run --example` builds the library, not the binary.
/// Says so first, and lets cargo show its progress: a first build takes a
/// while. The nested cargo leaves the build cache as a plain `cargo build`
/// finds it (see `support::cargo`).
fn build_helper() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|p| p == "release");
    let mut args = vec!["build", "--bin", "git-credential-entra"];
    if release {
        args.push("--release");
    }
    println!(
        "Building the helper binary first (cargo {}; a few minutes the first time)…",
        args.join(" ")
    );
    let started = Instant::now();
    let status = support::cargo::command()
        .args(&args)
        .status()
        .map_err(|e| format!("run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo {} failed ({status})", args.join(" ")));
    }
    println!("   ✓ built in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
