use super::*;

fn parse(bytes: &[u8]) -> Result<Request, ParseError> {
    read_request(bytes)
}

#[test]
fn parses_git_request_with_arrays_in_order() {
    let r = parse(
        b"capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=dev.azure.com\n\
          path=org/p/_git/r\nwwwauth[]=Bearer authorization_uri=x\nwwwauth[]=Basic realm=\"y\"\n\
          wwwauth[]=TFS-Federated\nunknown=1\n",
    )
    .expect("valid request");
    assert_eq!(r.capabilities, ["authtype", "state"]);
    assert!(r.offers_authtype());
    assert_eq!(r.protocol.as_deref(), Some("https"));
    assert_eq!(r.host.as_deref(), Some("dev.azure.com"));
    assert_eq!(r.path.as_deref(), Some("org/p/_git/r"));
    assert_eq!(r.wwwauth.len(), 3);
    assert_eq!(r.wwwauth[1], "Basic realm=\"y\"");
}

#[test]
fn splits_on_first_equals_and_tolerates_crlf() {
    let r = parse(b"protocol=https\r\nhost=dev.azure.com\r\npassword=a=b==\r\n").expect("ok");
    assert_eq!(r.host.as_deref(), Some("dev.azure.com"));
    assert_eq!(
        r.password.as_ref().map(|p| p.expose().as_str()),
        Some("a=b==")
    );
}

#[test]
fn blank_line_ends_the_list_and_nothing_after_is_read() {
    let r = parse(b"protocol=https\n\nhost=evil.example\nno equals here\n").expect("ok");
    assert_eq!(r.protocol.as_deref(), Some("https"));
    assert_eq!(r.host, None);
    let r = parse(b"\nprotocol=https\n").expect("ok");
    assert_eq!(r.protocol, None);
}

#[test]
fn eof_without_newline_is_fine() {
    let r = parse(b"protocol=https\nhost=dev.azure.com").expect("ok");
    assert_eq!(r.host.as_deref(), Some("dev.azure.com"));
}

#[test]
fn rejects_line_without_equals() {
    assert!(matches!(
        parse(b"protocol=https\nhost\n"),
        Err(ParseError::NoEquals { line: 2 })
    ));
}

#[test]
fn rejects_nul() {
    assert!(matches!(
        parse(b"protocol=https\nhost=dev\0.azure.com\n"),
        Err(ParseError::Nul { line: 2 })
    ));
}

#[test]
fn rejects_long_line_but_accepts_the_limit() {
    let mut ok = b"path=".to_vec();
    ok.extend(std::iter::repeat_n(b'a', MAX_LINE - 6));
    ok.push(b'\n');
    assert_eq!(ok.len(), MAX_LINE);
    assert!(parse(&ok).is_ok());
    let mut long = b"path=".to_vec();
    long.extend(std::iter::repeat_n(b'a', 70_000));
    long.push(b'\n');
    assert!(matches!(
        parse(&long),
        Err(ParseError::LineTooLong { line: 1 })
    ));
}

#[test]
fn rejects_oversized_input() {
    let line = format!("wwwauth[]={}\n", "x".repeat(1000));
    let big = line.repeat(2100);
    assert!(big.len() > 2 * 1024 * 1024 - 1);
    assert!(matches!(parse(big.as_bytes()), Err(ParseError::TooLarge)));
}

#[test]
fn rejects_invalid_utf8() {
    assert!(matches!(
        parse(b"host=\xff\n"),
        Err(ParseError::NotUtf8 { line: 1 })
    ));
}

#[test]
fn url_attribute_sets_parts() {
    let r = parse(b"url=https://contoso@dev.azure.com/contoso/p/_git/r\n").expect("ok");
    assert_eq!(r.protocol.as_deref(), Some("https"));
    assert_eq!(r.host.as_deref(), Some("dev.azure.com"));
    assert_eq!(r.username.as_deref(), Some("contoso"));
    assert_eq!(r.path.as_deref(), Some("contoso/p/_git/r"));
}

/// (url, protocol, host, path, username, password) as git's
/// `credential_from_url` yields them; checked against git 2.47.
#[test]
fn url_attribute_splits_like_git() {
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let rows: &[Row] = &[
        (
            "https://evil.example?@dev.azure.com/contoso",
            "https",
            "evil.example",
            Some("?@dev.azure.com/contoso"),
            None,
            None,
        ),
        (
            "https://evil.example#@dev.azure.com/x",
            "https",
            "evil.example",
            Some("#@dev.azure.com/x"),
            None,
            None,
        ),
        (
            "https://a@b@dev.azure.com/c",
            "https",
            "b@dev.azure.com",
            Some("c"),
            Some("a"),
            None,
        ),
        (
            "https://dev.azure.com%2f@evil/",
            "https",
            "evil",
            None,
            Some("dev.azure.com/"),
            None,
        ),
        (
            "https://%63ontoso@dev%2eazure.com/%63ontoso/p",
            "https",
            "dev.azure.com",
            Some("contoso/p"),
            Some("contoso"),
            None,
        ),
        // Before a first ':' git does not decode (it takes that for a scheme).
        (
            "https://u:p%41:x%42@h%2eh:44%33/p%2fa:b%2fc//",
            "https",
            "h%2eh:443",
            Some("p%2fa:b/c"),
            Some("u"),
            Some("p%41:xB"),
        ),
        ("https://h//%2f", "https", "h", Some("/"), None, None),
        ("https://h/a%00%4", "https", "h", Some("a%00%4"), None, None),
        ("https://@h/", "https", "h", None, Some(""), None),
        ("https://h?x=1", "https", "h", Some("?x=1"), None, None),
        ("HTTPS://", "HTTPS", "", None, None, None),
    ];
    for &(url, protocol, host, path, username, password) in rows {
        let r = parse(format!("url={url}\n").as_bytes()).expect(url);
        assert_eq!(r.protocol.as_deref(), Some(protocol), "{url}");
        assert_eq!(r.host.as_deref(), Some(host), "{url}");
        assert_eq!(r.path.as_deref(), path, "{url}");
        assert_eq!(r.username.as_deref(), username, "{url}");
        assert_eq!(
            r.password.as_ref().map(|p| p.expose().as_str()),
            password,
            "{url}"
        );
    }
}

#[test]
fn url_attribute_starts_a_new_request() {
    let r = parse(
        b"capability[]=authtype\nwwwauth[]=Bearer x\nusername=ann\npath=old\n\
          url=https://dev.azure.com/contoso\nusername=bob\n",
    )
    .expect("ok");
    assert!(
        !r.offers_authtype(),
        "git's credential_clear drops capabilities"
    );
    assert!(r.wwwauth.is_empty());
    assert_eq!(r.path.as_deref(), Some("contoso"));
    assert_eq!(
        r.username.as_deref(),
        Some("bob"),
        "later lines still apply"
    );
}

#[test]
fn url_attribute_that_git_cannot_parse_is_refused_without_echo() {
    for (input, problem) in [
        ("url=dev.azure.com/contoso\n", "has no scheme"),
        ("url=://s3cr3t@dev.azure.com/\n", "has no scheme"),
        ("url=https://u:s3cr3t@h/a%0ab\n", "newline in its path"),
        ("url=https://u:s3cr3t%0a@h/\n", "newline in its password"),
        ("url=https://s3cr3t@h/%ff\n", "path that is not UTF-8"),
    ] {
        let err = parse(format!("protocol=https\n{input}").as_bytes()).expect_err(input);
        assert!(matches!(err, ParseError::BadUrl { line: 2, .. }), "{input}");
        let text = err.to_string();
        assert!(text.contains(problem), "{input}: {text}");
        assert!(!text.contains("s3cr3t"), "{input}: {text}");
    }
}

#[test]
fn locator_quotes_values_and_never_shows_secrets() {
    let r = parse(b"url=https://ann:s3cr3t@dev.azure.com/a\x1b]b\ncredential=t0k3n\n").expect("ok");
    assert_eq!(
        r.locator().to_string(),
        r#"protocol="https" host="dev.azure.com" path="a\u{1b}]b" username="ann""#
    );
}

#[test]
fn errors_never_contain_values() {
    let err = parse(b"password=s3cr3t\0\n").expect_err("NUL");
    assert!(!err.to_string().contains("s3cr3t"));
}

#[test]
fn formats_bearer_answer_exactly() {
    let token = Secret::new("eyJ.a.b".to_string());
    let out = format_response(&Response::Bearer {
        token: &token,
        expiry: 1700000000,
    })
    .expect("ok");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "capability[]=authtype\nauthtype=Bearer\ncredential=eyJ.a.b\nephemeral=1\npassword_expiry_utc=1700000000\n"
    );
}

#[test]
fn formats_basic_answer_exactly() {
    let token = Secret::new("eyJ.a.b".to_string());
    let out = format_response(&Response::Basic {
        username: "app",
        password: &token,
        expiry: 5,
    })
    .expect("ok");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "username=app\npassword=eyJ.a.b\npassword_expiry_utc=5\n"
    );
    assert_eq!(format_response(&Response::Quit).expect("ok"), b"quit=1\n");
}

#[test]
fn refuses_unsafe_values_and_writes_nothing() {
    for bad in ["a\nb", "a\rb", "a\0b"] {
        let token = Secret::new(bad.to_string());
        assert!(
            format_response(&Response::Bearer {
                token: &token,
                expiry: 1
            })
            .is_err()
        );
        let mut out = Vec::new();
        assert!(
            write_response(
                &mut out,
                &Response::Basic {
                    username: "u",
                    password: &token,
                    expiry: 1
                }
            )
            .is_err()
        );
        assert!(out.is_empty());
    }
    let token = Secret::new("t".to_string());
    for user in ["", "a:b"] {
        assert!(
            format_response(&Response::Basic {
                username: user,
                password: &token,
                expiry: 1
            })
            .is_err()
        );
    }
}

#[test]
fn a_formatted_request_reads_back_equal() {
    let request = parse(
        b"capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n\
username=ann\npassword=p=w\ncredential=c\nwwwauth[]=Bearer a\nwwwauth[]=Basic b\n\n",
    )
    .expect("parse");
    let bytes = request.format().expect("format");
    assert_eq!(
        bytes,
        b"capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n\
username=ann\npassword=p=w\ncredential=c\nwwwauth[]=Bearer a\nwwwauth[]=Basic b\n\n"
    );
    assert_eq!(parse(&bytes).expect("reparse"), request);
}

#[test]
fn formatting_a_request_refuses_a_carriage_return_inside_a_value() {
    // A reader strips only a trailing CR, so one inside a value reads fine...
    let request = parse(b"protocol=https\nhost=a\rb\n").expect("parse");
    assert_eq!(request.host.as_deref(), Some("a\rb"));
    // ...but a value ending in one would not read back, so no CR is ever written.
    let err = request.format().expect_err("CR inside a value");
    assert_eq!(err.0, "host");
}
