//! Text from requests and policies, made safe to put in a message line.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt::Write as _;

/// `text` with every control character written as an escape (`\n`, `\u{1b}`): a deny message
/// is one line per problem, and an image name with a newline in it must not forge a line.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            // Writing to a String cannot fail.
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_other_text_kept() {
        assert_eq!(escape_controls("icr.io/app:1"), "icr.io/app:1");
        assert_eq!(escape_controls("a\nDeny \"x\""), "a\\nDeny \"x\"");
        assert_eq!(
            escape_controls("\r\t\u{1b}[31m\u{85}é"),
            "\\r\\t\\u{1b}[31m\\u{85}é"
        );
    }
}
