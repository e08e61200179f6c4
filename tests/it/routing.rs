//! Which identity a request goes to, and what the helper says when the
//! request cannot tell: paths with `.`/`..` segments, no organization.

use crate::world::{World, field};

#[test]
fn dot_segments_never_pick_a_route() {
    let w = World::new();
    let host = w.ado.host();
    for path in [
        "contoso/../other/_git/repo",
        "./contoso/proj/_git/repo",
        "other/%2e%2E/contoso/proj/_git/repo",
    ] {
        let out = w.helper(
            &["get"],
            &format!("protocol=http\nhost={host}\nusername=contoso\npath={path}\n"),
        );
        assert_eq!(out.status.code(), Some(1), "{path}: {}", out.stderr);
        assert_eq!(out.stdout, "quit=1\n", "{path}");
        assert!(
            out.stderr.contains("'.' or '..' segment")
                && out.stderr.contains(&format!(
                    "git remote set-url origin {}/ORG/PROJECT/_git/REPO",
                    w.ado.base_url()
                )),
            "{path}: {}",
            out.stderr
        );
    }
    assert_eq!(w.token_requests(), 0);

    // Naming the identity makes the path irrelevant.
    let out = w.helper(
        &["get", "--identity", "ci"],
        &format!("protocol=http\nhost={host}\npath=contoso/../other\n"),
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(field(&out.stdout, "password").is_some());
}

#[test]
fn a_route_with_dot_segments_is_a_config_error() {
    let w = World::new();
    w.env.write_config(&format!(
        r#"{{ "hosts": ["{base}"], "routes": [ {{ "url": "{base}/other/../contoso", "identity": "auto" }} ] }}"#,
        base = w.ado.base_url()
    ));
    let out = w.helper(&["get"], &w.request());
    assert_eq!(out.stdout, "", "the host list is in the broken file");
    assert!(
        out.stderr.contains("routes[0].url") && out.stderr.contains("'..' segment"),
        "{}",
        out.stderr
    );
    let out = w.helper(
        &["get"],
        "protocol=https\nhost=dev.azure.com\npath=contoso\n",
    );
    assert_eq!(out.stdout, "quit=1\n", "Azure DevOps itself is still ours");
}

#[test]
fn the_fixes_named_for_a_missing_organization_work_with_real_git() {
    let w = World::new();
    // Our helper alone, without useHttpPath: git drops the path.
    let bin = env!("CARGO_BIN_EXE_git-credential-entra");
    std::fs::write(
        w.env.path().join("home/.gitconfig"),
        format!("[credential]\n\thelper =\n\thelper = {bin}\n"),
    )
    .expect("write gitconfig");
    let fill = |url: &str| {
        w.env.run(
            w.env.git("git").args(["credential", "fill"]),
            format!("url={url}\n").as_bytes(),
        )
    };
    let repo = format!("{}/contoso/proj/_git/repo", w.ado.base_url());
    let out = fill(&repo);
    assert!(!out.status.success(), "{}", out.stdout);
    let message = out
        .stderr
        .lines()
        .find(|l| l.contains("did not say which Azure DevOps organization"))
        .unwrap_or_else(|| panic!("no message: {}", out.stderr));

    let remote = message
        .rsplit(' ')
        .next()
        .expect("the message ends with a URL")
        .replace("ORG", "contoso")
        .replace("PROJECT", "proj")
        .replace("REPO", "repo");
    let out = fill(&remote);
    assert!(
        out.status.success() && field(&out.stdout, "password").is_some(),
        "{remote}: {}",
        out.stderr
    );

    let command = message
        .split('`')
        .nth(1)
        .expect("the message quotes a command");
    let args: Vec<&str> = command.split(' ').collect();
    assert_eq!(args[0], "git", "{command}");
    w.env.git_ok("git", &args[1..]);
    let out = fill(&repo);
    assert!(
        out.status.success() && field(&out.stdout, "password").is_some(),
        "after `{command}`: {}",
        out.stderr
    );
}
