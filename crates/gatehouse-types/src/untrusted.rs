//! Values taken from a request, on their way to a log line, an audit record or a hook.
//!
//! Whoever sends a request chooses its values, and a log is read by people and by programs. So a
//! value that has not been validated is shown bounded and with its control characters escaped:
//!
//! - bounded ([CWE-770](https://cwe.mitre.org/data/definitions/770.html)): a 60 KB `client_id`
//!   costs [`MAX_CHARS`] characters of log and database, not 60 KB per request;
//! - escaped ([CWE-117](https://cwe.mitre.org/data/definitions/117.html)): a newline cannot forge
//!   a log line, an escape sequence cannot repaint a terminal, and a bidirectional override cannot
//!   make a line read differently from what it holds.

use std::fmt;

/// The most characters of an untrusted value that are kept (a client id URL, a user name).
pub const MAX_CHARS: usize = 256;

/// Shows an untrusted value bounded and escaped (see the module documentation). `Display` and
/// [`Untrusted::to_string`] give the same text.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, c) in self.0.chars().enumerate() {
            if shown == MAX_CHARS {
                return write!(f, "…[{} bytes]", self.0.len());
            }
            if needs_escape(c) {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Whether `value` is shown unchanged by [`Untrusted`]: short enough, no character to escape.
pub fn is_log_safe(value: &str) -> bool {
    // Printable ASCII needs no escape, and then bytes are characters: one pass over the bytes
    // for what nearly every value is.
    if value.len() <= MAX_CHARS && value.bytes().all(|b| matches!(b, 0x20..=0x7e)) {
        return true;
    }
    value.chars().count() <= MAX_CHARS && !value.chars().any(needs_escape)
}

/// [`Untrusted`] as an owned string, allocated only when the value changes.
pub fn log_safe(value: &str) -> std::borrow::Cow<'_, str> {
    if is_log_safe(value) {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(Untrusted(value).to_string())
    }
}

/// Control characters (C0, DEL, C1), and the Unicode formatting characters that reorder or hide
/// text: bidirectional embeddings, overrides and isolates (the "Trojan Source" characters), and
/// the line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwe_117_control_characters_cannot_forge_a_log_line() {
        assert_eq!(
            Untrusted("a\nkind=signed_in subject=admin").to_string(),
            "a\\u{a}kind=signed_in subject=admin"
        );
        assert_eq!(Untrusted("\u{1b}[31mred").to_string(), "\\u{1b}[31mred");
        assert_eq!(
            Untrusted("x\u{202e}txt.exe").to_string(),
            "x\\u{202e}txt.exe"
        );
        assert_eq!(Untrusted("tab\there\r").to_string(), "tab\\u{9}here\\u{d}");
        assert_eq!(
            Untrusted("zoë ✓").to_string(),
            "zoë ✓",
            "text is kept as it is"
        );
    }

    #[test]
    fn cwe_770_long_values_are_bounded() {
        let long = "x".repeat(60_000);
        let shown = Untrusted(&long).to_string();
        assert!(shown.starts_with(&"x".repeat(MAX_CHARS)));
        assert!(shown.ends_with("…[60000 bytes]"), "{}", &shown[MAX_CHARS..]);
        assert!(shown.len() < MAX_CHARS + 20);
        let exact = "y".repeat(MAX_CHARS);
        assert_eq!(Untrusted(&exact).to_string(), exact);
        assert!(is_log_safe(&exact));
        assert!(!is_log_safe(&long));
    }

    #[test]
    fn log_safe_borrows_what_needs_no_change() {
        assert!(matches!(
            log_safe("client-1"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(log_safe("a\nb"), "a\\u{a}b");
    }

    proptest::proptest! {
        #[test]
        fn shown_values_are_one_bounded_line(value in "\\PC*|[\\x00-\\x7f]{0,600}") {
            let shown = Untrusted(&value).to_string();
            proptest::prop_assert!(!shown.chars().any(needs_escape));
            proptest::prop_assert!(shown.chars().count() <= MAX_CHARS * 12 + 40);
            proptest::prop_assert!(is_log_safe(&shown) || shown.chars().count() > MAX_CHARS);
        }
    }
}
