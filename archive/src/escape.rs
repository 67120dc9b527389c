//! The one escaping of untrusted text for a terminal or a log, used by `ls`, `diff`, `why`,
//! every error message (`srbuild: error: …`) and `lab status`: a value read from an image, a
//! configuration or a guest can neither add lines of its own, nor send escape sequences to
//! the terminal, nor reorder what is shown with Unicode format characters (the bidi
//! overrides U+202A-202E and isolates U+2066-2069, the marks U+200E/U+200F, U+FEFF and the
//! rest of general category Cf), nor pass off U+FFFD or a line or paragraph separator as
//! text.
//!
//! Forms: `\n \t \r \a \b \v \f` for their C0 characters, `\ooo` (octal, as GNU `ls -b`)
//! for the other C0 characters and DEL, `\u{hex}` for everything else that is escaped.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` is shown escaped: control characters (Cc), format characters (Cf), line and
/// paragraph separators (Zl, Zp) and U+FFFD (which stands for bytes that are not UTF-8).
fn must_escape(c: char) -> bool {
    c == '\u{fffd}'
        || matches!(
            c.general_category(),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        // The C escapes GNU `ls -b` uses.
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0b' => out.push_str("\\v"),
        '\x0c' => out.push_str("\\f"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\{:03o}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// A name as `ls -b` prints it: a backslash is doubled, so every escape reads back to one
/// name, and every character [`must_escape`] names is escaped.
pub fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if must_escape(c) => escape_into(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// A message as one terminal line: the same characters are escaped as by [`escape_name`],
/// but a backslash stays as it is, so a message that quotes a value with `{:?}` reads as
/// written.
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            c if must_escape(c) => escape_into(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_use_the_ls_forms() {
        assert_eq!(
            escape_name("a\n\t\r\x07\x08\x0b\x0c\x1b[2J\x7f\\"),
            "a\\n\\t\\r\\a\\b\\v\\f\\033[2J\\177\\\\"
        );
        assert_eq!(escape_name("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
    }

    #[test]
    fn format_characters_are_escaped_as_controls_are() {
        // The bidi overrides, embeddings, isolates and marks, the zero-width ones, the BOM,
        // the soft hyphen, a tag character, the line and paragraph separators, U+FFFD.
        for c in [
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{200b}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{ad}',
            '\u{061c}',
            '\u{e0041}',
            '\u{2028}',
            '\u{2029}',
            '\u{fffd}',
        ] {
            let shown = escape_name(&format!("x{c}y"));
            assert_eq!(shown, format!("x\\u{{{:x}}}y", c as u32), "{c:?}");
            assert!(!one_line(&format!("{c}")).contains(c), "{c:?}");
        }
        // A name that would display as "txt.exe" ends in "exe.txt" once escaped.
        assert_eq!(escape_name("a\u{202e}txt.exe"), "a\\u{202e}txt.exe");
    }

    #[test]
    fn printable_text_passes() {
        for s in ["plain – ünïcode", "日本語", "emoji 🙂", "ﬁ ligature", "a b"] {
            assert_eq!(escape_name(s), s);
            assert_eq!(one_line(s), s);
        }
        assert_eq!(one_line("a\\b \"q\""), "a\\b \"q\"");
    }
}
