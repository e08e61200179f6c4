//! What a person typing at the helper sees: unknown words, prompts, and
//! messages that must be true.

use crate::support::TestEnv;

#[test]
fn asking_for_auto_by_name_gets_the_real_reason() {
    let env = TestEnv::new();
    env.write_config(
        r#"{ "identities": { "ci": { "type": "service-principal", "tenant": "t", "client_id": "00001111-aaaa-2222-bbbb-3333cccc4444", "client_secret_env": "CI_SECRET" } } }"#,
    );
    for args in [
        ["cache", "list", "--identity", "auto"],
        ["cache", "clear", "--identity", "auto"],
        ["secret", "set", "--identity", "auto"],
    ] {
        let out = env.run(env.helper().args(args), b"not-a-secret\n");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("no identity named 'auto'") && out.stderr.contains("'auto'"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = env.run(
        env.helper().args(["cache", "list", "--identity", "auto"]),
        b"",
    );
    assert!(
        out.stderr.contains("identity 'auto': found no credentials"),
        "{}",
        out.stderr
    );
    let out = env.run(
        env.helper().args(["secret", "set", "--identity", "auto"]),
        b"x\n",
    );
    assert!(
        out.stderr.contains("built-in identity") && out.stderr.contains("client_secret_keyring"),
        "{}",
        out.stderr
    );
}
