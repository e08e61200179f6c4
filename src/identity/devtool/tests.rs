use super::*;

const TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln";

#[test]
fn tokens_are_checked_clamped_and_never_quoted() {
    let now = 1_900_000_000;
    let t = token(TOKEN, now + 3600, now).expect("a token");
    assert_eq!(
        (t.token.expose().as_str(), t.expires_on, t.obtained),
        (TOKEN, now + 3600, now)
    );
    assert_eq!(
        token(TOKEN, now + 10 * 86_400, now)
            .expect("token")
            .expires_on,
        now + 86_400
    );
    for (value, exp, problem) in [(TOKEN, now, "expired"), ("a b", now + 60, "characters")] {
        let e = token(value, exp, now).expect_err(problem);
        assert!(e.contains(problem) && !e.contains(TOKEN), "{e}");
    }
}

#[test]
fn entras_refusal_is_read_from_a_tools_stderr() {
    let login = || "tool login".to_string();
    assert!(refusal("ERROR: not logged in\n", "s", login).is_none());
    let again = refusal("Error: AADSTS50076: MFA is required.\n", "s", login);
    assert!(
        matches!(&again, Some(Failure::SignInAgain { code: 50076, login, .. }) if login == "tool login"),
        "{again:?}"
    );
    let refused = refusal("AADSTS90002: Tenant 'x' not found.\n", "s", login);
    assert!(
        matches!(&refused, Some(Failure::Refused { .. })),
        "{refused:?}"
    );
}
