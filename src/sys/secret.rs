//! `Secret<T>`: a value (token, client secret, assertion) that cannot be printed by accident.
//!
//! It has no `Display`, its `Debug` prints `***`, and the only way to the value is
//! [`Secret::expose`], which marks each place a secret crosses a boundary
//! (an HTTP form, the protocol answer, the cache).

use std::fmt;

/// A value that must never reach a log, a trace, an error message or a panic.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a sensitive value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself; call only where it must leave the program.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Secret<String> {
    /// A secret read from a file or stdin: one trailing newline (LF or CRLF)
    /// is not part of it.
    pub fn from_text(mut text: String) -> Self {
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Secret(text)
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn from_text_trims_one_newline() {
        assert_eq!(Secret::from_text("a\n".into()).expose(), "a");
        assert_eq!(Secret::from_text("a\r\n".into()).expose(), "a");
        assert_eq!(Secret::from_text("a\n\n".into()).expose(), "a\n");
        assert_eq!(Secret::from_text("a".into()).expose(), "a");
    }
}
