//! Text that a server wrote, made safe to put in a message on a terminal.
//!
//! Anything an authority, a proxy in between or a metadata endpoint says
//! (error descriptions, correlation ids) passes through [`sanitize`] before
//! it is printed or traced: escape sequences could rewrite the terminal and
//! line breaks could forge extra messages.

/// The most of a server's text worth showing in one message.
pub const MAX_SERVER_TEXT: usize = 400;

/// `text` with control characters (ESC, BEL, CR, LF, C1 codes…) and
/// bidirectional overrides turned into spaces, runs of white space made one
/// space, and cut to [`MAX_SERVER_TEXT`] characters.
pub fn sanitize(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let words = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    match words.char_indices().nth(MAX_SERVER_TEXT) {
        Some((cut, _)) => format!("{}…", &words[..cut]),
        None => words,
    }
}

/// Server `text` made safe to show ([`sanitize`]) with every value of
/// `hidden` (what we sent it: a secret, an assertion, a job token) replaced
/// by `<name>`. The match is made on the sanitized text and ignores the
/// spaces sanitizing may have put inside a value, so a server cannot get a
/// secret printed by splitting it with a control character or a line break;
/// a value cut off by the length limit is hidden too.
pub fn sanitize_hiding(text: &str, hidden: &[(&str, &str)]) -> String {
    let mut out = sanitize(text);
    for (name, value) in hidden {
        out = hide(&out, value, &format!("<{name}>"));
    }
    out
}

/// The shortest tail of a cut-off text that is taken for the start of a
/// hidden value: shorter ones are too likely to be ordinary words.
const MIN_CUT_MATCH: usize = 6;

/// `text` (sanitized) with each occurrence of `value`, spaces inside it
/// ignored, replaced by `label`.
fn hide(text: &str, value: &str, label: &str) -> String {
    let wanted: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
    if wanted.is_empty() {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        match occurrence(&chars[i..], &wanted) {
            Some(len) => {
                out.push_str(label);
                i += len;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// How many chars of `text`'s start spell `wanted` with spaces between
/// them; or, at a cut (`…` or the end), at least [`MIN_CUT_MATCH`] of its
/// first chars.
fn occurrence(text: &[char], wanted: &[char]) -> Option<usize> {
    let (mut t, mut w) = (0, 0);
    while w < wanted.len() {
        match text.get(t) {
            Some(&c) if c == wanted[w] => {
                t += 1;
                w += 1;
            }
            Some(' ') if w > 0 => t += 1,
            Some('…') | None if w >= MIN_CUT_MATCH.min(wanted.len()) => return Some(t),
            _ => return None,
        }
    }
    Some(t)
}

/// `text` with control characters and bidirectional overrides written as
/// escapes (`\u{1b}`), for text of the user's own (a key in their config
/// file) that a message must show exactly yet must not let rewrite the
/// terminal.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A line for stderr or a trace, formatted, with [`escape_controls`]
/// applied to all of it: whatever it quotes (a URL or host git sent, a
/// variable's value, a server's text) cannot move the cursor, retitle the
/// terminal or forge a second line. Every line the program writes to stderr
/// passes through here, so no caller has to remember.
pub fn inert(args: std::fmt::Arguments) -> String {
    match args.as_str() {
        Some(fixed) => escape_controls(fixed),
        None => escape_controls(&args.to_string()),
    }
}

// These reorder what the terminal shows, so "abc" could display as "cba".
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_survive() {
        let hostile = "AADSTS1: bad\x1b]0;owned\x07 \x1b[2Jthing\r\nfake: line\u{9b}31m\u{202e}txt";
        let clean = sanitize(hostile);
        assert!(
            !clean.chars().any(|c| c.is_control() || is_bidi_control(c)),
            "{clean:?}"
        );
        assert_eq!(clean, "AADSTS1: bad ]0;owned [2Jthing fake: line 31m txt");
        assert_eq!(sanitize("a  \x1b b"), "a b");
        assert_eq!(sanitize("plain text, unchanged"), "plain text, unchanged");
        assert_eq!(sanitize("\r\n\t"), "");
    }

    #[test]
    fn escaping_keeps_text_visible_but_inert() {
        assert_eq!(
            escape_controls("a\x1b[31mb\u{202e}c"),
            "a\\u{1b}[31mb\\u{202e}c"
        );
        assert_eq!(escape_controls("plain é"), "plain é");
    }

    #[test]
    fn whole_lines_are_made_inert() {
        let url = "https://dev.azure.com/c\x1b]0;owned\x07/p\r\nfake: line";
        assert_eq!(
            inert(format_args!("route for {url} chosen")),
            "route for https://dev.azure.com/c\\u{1b}]0;owned\\u{7}/p\\u{d}\\u{a}fake: line chosen"
        );
        assert_eq!(inert(format_args!("plain")), "plain");
    }

    #[test]
    fn hidden_values_are_found_however_the_server_splits_them() {
        let secret = "Xq8~not-a-real-secret";
        let hidden = [("client_secret", secret), ("client_id", "app-1")];
        for echoed in [
            format!("bad {secret} for app-1"),
            "bad Xq8~not\x1b-a-real\r\n-secret for app-1".to_string(),
            "bad X q8~not\u{202e}-a-real-secret\tfor app-1".to_string(),
        ] {
            assert_eq!(
                sanitize_hiding(&echoed, &hidden),
                "bad <client_secret> for <client_id>",
                "{echoed:?}"
            );
        }
        // Cut by the length limit: the start of the secret is hidden too.
        let long = format!("{}{secret}", "x ".repeat(MAX_SERVER_TEXT / 2 - 5));
        let shown = sanitize_hiding(&long, &hidden);
        assert!(shown.ends_with("<client_secret>…"), "{shown}");
        assert!(!shown.contains("Xq8~no"), "{shown}");
        // Ordinary text and a lone space-separated word stay.
        assert_eq!(sanitize_hiding("a Xq8 b", &hidden), "a Xq8 b");
        assert_eq!(sanitize_hiding("plain", &[("x", "")]), "plain");
    }

    #[test]
    fn long_text_is_cut() {
        let clean = sanitize(&"é".repeat(10 * MAX_SERVER_TEXT));
        assert_eq!(clean.chars().count(), MAX_SERVER_TEXT + 1);
        assert!(clean.ends_with('…'));
        assert_eq!(
            sanitize(&"a".repeat(MAX_SERVER_TEXT)).chars().count(),
            MAX_SERVER_TEXT
        );
    }
}
