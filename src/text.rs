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
