//! Lines for the person at the terminal: prompts, progress, notices. They
//! go to the stream given (stderr in the binary, a buffer in tests), never
//! to stdout, which belongs to git; every line is made inert first.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;

/// Messages for the person at the terminal (stderr): never git's stdout.
pub struct Prompt<'a> {
    out: RefCell<&'a mut dyn Write>,
}

impl<'a> Prompt<'a> {
    /// Prompts written to `out` (stderr in the binary, a buffer in tests).
    pub fn new(out: &'a mut dyn Write) -> Prompt<'a> {
        Prompt {
            out: RefCell::new(out),
        }
    }

    /// One line, prefixed with the program's name.
    pub fn say(&self, args: fmt::Arguments) {
        // A prompt that cannot be shown must not fail the request.
        let line = crate::sys::text::inert(args);
        let _ = writeln!(self.out.borrow_mut(), "git-credential-entra: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_go_to_their_writer() {
        let mut buf = Vec::new();
        Prompt::new(&mut buf).say(format_args!("waiting"));
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            "git-credential-entra: waiting\n"
        );
    }
}
