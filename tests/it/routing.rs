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
