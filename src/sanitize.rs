//! Neutralise untrusted text before it reaches a terminal.
//!
//! Everything remote-controlled (log lines, health outputs, metric labels,
//! error messages) goes through [`sanitize`] before rendering. The result never
//! contains a control character (`char::is_control`), a bidi override or a
//! zero-width character: escape sequences are collapsed into one visible marker
//! such as `⟨CSI 2J⟩` or `⟨OSC 52⟩`, lone controls are shown in caret notation
//! (`^G`) and invisible formatting characters as `⟨U+202E⟩`.
//!
//! Tabs are expanded to the next multiple of 4 columns, where a column is one
//! output `char` counted from the start of the input (display width of wide
//! characters is not considered). `\n` and `\r` are shown as the two visible
//! characters `\n` / `\r`; the caller is expected to split lines first.

use std::fmt::Write as _;

/// Maximum number of parameter/intermediate/final chars shown in a CSI marker.
const CSI_SHOWN: usize = 16;
/// Maximum number of digits shown for an OSC number.
const OSC_DIGITS: usize = 8;

/// Make untrusted text safe to put on a terminal: never returns a control character.
///
/// Secret values shipdeck has handled are redacted first ([`crate::redact`]).
pub fn sanitize(input: &str) -> String {
    let redacted = crate::redact::apply(input);
    let input = redacted.as_ref();
    if is_clean(input) {
        return input.to_owned();
    }
    let mut out = Out {
        s: String::with_capacity(input.len() + 16),
        col: 0,
    };
    let mut i = 0;
    while let Some(c) = input.get(i..).and_then(|rest| rest.chars().next()) {
        i += c.len_utf8();
        match c {
            '\t' => {
                let n = 4 - out.col % 4;
                for _ in 0..n {
                    out.push(' ');
                }
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => i = escape(input, i, &mut out),
            '\u{9b}' => i = csi(input, i, &mut out),
            '\u{9d}' => i = string_seq(input, i, StrKind::Osc, &mut out),
            '\u{90}' => i = string_seq(input, i, StrKind::Dcs, &mut out),
            '\u{9f}' => i = string_seq(input, i, StrKind::Apc, &mut out),
            '\u{9e}' => i = string_seq(input, i, StrKind::Pm, &mut out),
            '\u{98}' => i = string_seq(input, i, StrKind::Sos, &mut out),
            '\u{7f}' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                // c < 0x20, so c + 0x40 is in '@'..='_'.
                out.push(char::from((c as u8) + 0x40));
            }
            c if c.is_control() || is_invisible(c) => out.codepoint(c),
            c => out.push(c),
        }
    }
    out.s
}

/// Same but from raw bytes (lossy UTF-8 decode first, invalid bytes -> U+FFFD).
pub fn sanitize_bytes(input: &[u8]) -> String {
    match String::from_utf8_lossy(input) {
        std::borrow::Cow::Borrowed(s) => sanitize(s),
        std::borrow::Cow::Owned(s) => {
            if is_clean(&s) {
                s
            } else {
                sanitize(&s)
            }
        }
    }
}

/// True when `s` contains no char that `sanitize` would rewrite (fast path check).
pub fn is_clean(s: &str) -> bool {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return true;
    }
    s.chars().all(|c| !(c.is_control() || is_invisible(c)))
}

/// Bidi controls (embeddings, overrides, isolates and the marks LRM, RLM,
/// ALM), zero-width characters and the Unicode line and paragraph
/// separators: each can spoof or break the line a person reads.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200B}'..='\u{200F}'
            | '\u{061C}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'
            | '\u{FEFF}'
    )
}

/// Output buffer that tracks the current column (in chars) for tab expansion.
struct Out {
    s: String,
    col: usize,
}

impl Out {
    fn push(&mut self, c: char) {
        self.s.push(c);
        self.col += 1;
    }

    fn push_str(&mut self, s: &str) {
        self.s.push_str(s);
        self.col += s.chars().count();
    }

    /// Emit `⟨U+XXXX⟩`.
    fn codepoint(&mut self, c: char) {
        let before = self.s.len();
        // Writing to a String cannot fail.
        let _ = write!(self.s, "⟨U+{:04X}⟩", c as u32);
        self.col += self.s.get(before..).map_or(0, |t| t.chars().count());
    }
}

/// Next char of `s` at byte offset `i` (which is always a char boundary here).
fn peek(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|rest| rest.chars().next())
}

/// Handle what follows an ESC at byte offset `i`; returns the new offset.
fn escape(s: &str, i: usize, out: &mut Out) -> usize {
    let Some(next) = peek(s, i) else {
        out.push_str("⟨ESC⟩");
        return i;
    };
    let j = i + next.len_utf8();
    match next {
        '[' => csi(s, j, out),
        ']' => string_seq(s, j, StrKind::Osc, out),
        'P' => string_seq(s, j, StrKind::Dcs, out),
        '_' => string_seq(s, j, StrKind::Apc, out),
        '^' => string_seq(s, j, StrKind::Pm, out),
        'X' => string_seq(s, j, StrKind::Sos, out),
        ' '..='~' => {
            // ESC intermediates(0x20-0x2F)* final(0x30-0x7E)
            let mut shown = String::new();
            shown.push(next);
            let mut j = j;
            if ('\u{20}'..='\u{2f}').contains(&next) {
                while let Some(c) = peek(s, j) {
                    if !('\u{20}'..='\u{7e}').contains(&c) {
                        break;
                    }
                    j += 1;
                    if shown.len() < CSI_SHOWN {
                        shown.push(c);
                    }
                    if c >= '\u{30}' {
                        break;
                    }
                }
            }
            out.push_str("⟨ESC ");
            out.push_str(&shown);
            out.push('⟩');
            j
        }
        _ => {
            // Not part of a sequence: show a bare marker and let the caller
            // handle `next` on its own.
            out.push_str("⟨ESC⟩");
            i
        }
    }
}

/// Parse a CSI body starting at byte offset `i` (after `ESC [` or U+009B).
fn csi(s: &str, mut i: usize, out: &mut Out) -> usize {
    let mut body = String::new();
    let mut body_len = 0usize;
    let mut final_byte = None;
    while let Some(c) = peek(s, i) {
        match c {
            '\u{30}'..='\u{3f}' | '\u{20}'..='\u{2f}' => {
                i += 1;
                if body_len < CSI_SHOWN {
                    body.push(c);
                }
                body_len += 1;
            }
            '\u{40}'..='\u{7e}' => {
                i += 1;
                final_byte = Some(c);
                break;
            }
            // Anything else aborts the sequence; it is handled by the caller.
            _ => break,
        }
    }
    out.push_str("⟨CSI");
    let complete = final_byte.is_some();
    let total = body_len + usize::from(complete);
    if total > 0 {
        out.push(' ');
    }
    if total > CSI_SHOWN {
        // Keep room for the ellipsis and the final byte.
        let keep = CSI_SHOWN - 2;
        let cut: String = body.chars().take(keep).collect();
        out.push_str(&cut);
        out.push('…');
    } else {
        out.push_str(&body);
        if !complete {
            out.push('…');
        }
    }
    if let Some(f) = final_byte {
        out.push(f);
    }
    out.push('⟩');
    i
}

/// Kinds of string-carrying escape sequences.
#[derive(Clone, Copy)]
enum StrKind {
    Osc,
    Dcs,
    Apc,
    Pm,
    Sos,
}

impl StrKind {
    fn label(self) -> &'static str {
        match self {
            StrKind::Osc => "OSC",
            StrKind::Dcs => "DCS",
            StrKind::Apc => "APC",
            StrKind::Pm => "PM",
            StrKind::Sos => "SOS",
        }
    }
}

/// Swallow an OSC/DCS/APC/PM/SOS payload starting at byte offset `i`, up to
/// BEL, `ESC \` or U+009C. Another ESC cancels the string and is left for the
/// caller. Only the leading number of an OSC is shown.
fn string_seq(s: &str, mut i: usize, kind: StrKind, out: &mut Out) -> usize {
    let mut number = String::new();
    let mut in_number = matches!(kind, StrKind::Osc);
    let mut terminated = false;
    while let Some(c) = peek(s, i) {
        match c {
            '\u{07}' | '\u{9c}' => {
                i += c.len_utf8();
                terminated = true;
                break;
            }
            '\u{1b}' => {
                terminated = true;
                if peek(s, i + 1) == Some('\\') {
                    i += 2;
                }
                break;
            }
            _ => {
                i += c.len_utf8();
                if in_number {
                    if c.is_ascii_digit() {
                        if number.len() < OSC_DIGITS {
                            number.push(c);
                        }
                    } else {
                        in_number = false;
                    }
                }
            }
        }
    }
    out.push('⟨');
    out.push_str(kind.label());
    if !number.is_empty() {
        out.push(' ');
        out.push_str(&number);
    }
    if !terminated {
        out.push('…');
    }
    out.push('⟩');
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn assert_safe(s: &str) {
        assert!(!s.chars().any(|c| c.is_control()), "control char in {s:?}");
        assert!(!s.chars().any(is_invisible), "invisible char in {s:?}");
    }

    #[test]
    fn osc52_clipboard_write() {
        assert_eq!(sanitize("\x1b]52;c;aGk=\x07"), "⟨OSC 52⟩");
        assert_eq!(sanitize("a\x1b]52;c;aGk=\x07b"), "a⟨OSC 52⟩b");
    }

    #[test]
    fn osc0_title_hides_payload() {
        let s = sanitize("\x1b]0;pwned\x07");
        assert_eq!(s, "⟨OSC 0⟩");
        assert!(!s.contains("pwned"));
    }

    #[test]
    fn osc_with_st_and_c1() {
        assert_eq!(sanitize("\x1b]8;;http://x\x1b\\link"), "⟨OSC 8⟩link");
        assert_eq!(sanitize("\u{9d}2;t\u{9c}ok"), "⟨OSC 2⟩ok");
        assert_eq!(sanitize("\x1b]title\x07"), "⟨OSC⟩");
    }

    #[test]
    fn dcs_decrqss() {
        assert_eq!(sanitize("\x1bP$q m\x1b\\"), "⟨DCS⟩");
        assert_eq!(sanitize("\u{90}x\u{9c}"), "⟨DCS⟩");
        assert_eq!(sanitize("\x1b_a\x07\x1b^b\x07\x1bXc\x07"), "⟨APC⟩⟨PM⟩⟨SOS⟩");
    }

    #[test]
    fn csi_clear_screen() {
        assert_eq!(sanitize("\x1b[2J"), "⟨CSI 2J⟩");
        assert_eq!(sanitize("\x1b[m"), "⟨CSI m⟩");
        assert_eq!(sanitize("\x1b[?1049h"), "⟨CSI ?1049h⟩");
    }

    #[test]
    fn csi_eight_bit() {
        assert_eq!(sanitize("\u{9b}31m"), "⟨CSI 31m⟩");
        assert_eq!(sanitize("\u{9b}31mred"), "⟨CSI 31m⟩red");
    }

    #[test]
    fn csi_long_params_capped() {
        let s = sanitize(&format!("\x1b[{}m", "1;".repeat(100)));
        assert_eq!(s.chars().count(), "⟨CSI ⟩".chars().count() + CSI_SHOWN);
        assert!(s.ends_with("…m⟩"));
    }

    #[test]
    fn csi_unterminated_or_aborted() {
        assert_eq!(sanitize("\x1b[12"), "⟨CSI 12…⟩");
        assert_eq!(sanitize("\x1b["), "⟨CSI…⟩");
        assert_eq!(sanitize("\x1b[1\x07x"), "⟨CSI 1…⟩^Gx");
    }

    #[test]
    fn carriage_return_visible() {
        assert_eq!(sanitize("\r"), "\\r");
        assert_eq!(sanitize("FAIL\rPASS"), "FAIL\\rPASS");
        assert_eq!(sanitize("a\nb"), "a\\nb");
    }

    #[test]
    fn bidi_and_zero_width() {
        assert_eq!(sanitize("\u{202E}"), "⟨U+202E⟩");
        assert_eq!(sanitize("a\u{200B}b\u{FEFF}"), "a⟨U+200B⟩b⟨U+FEFF⟩");
        assert_eq!(sanitize("\u{2066}\u{2069}"), "⟨U+2066⟩⟨U+2069⟩");
        // The bidi marks and the line and paragraph separators.
        assert_eq!(
            sanitize("a\u{200E}b\u{200F}c\u{061C}d"),
            "a⟨U+200E⟩b⟨U+200F⟩c⟨U+061C⟩d"
        );
        assert_eq!(sanitize("one\u{2028}two\u{2029}"), "one⟨U+2028⟩two⟨U+2029⟩");
    }

    #[test]
    fn bel_and_c0_caret() {
        assert_eq!(sanitize("\x07"), "^G");
        assert_eq!(sanitize("\0\x08\x7f"), "^@^H^?");
        assert_eq!(sanitize("\x1f"), "^_");
    }

    #[test]
    fn c1_nel() {
        assert_eq!(sanitize("a\u{85}b"), "a⟨U+0085⟩b");
        assert_eq!(sanitize("\u{9c}"), "⟨U+009C⟩");
    }

    #[test]
    fn tab_expansion() {
        assert_eq!(sanitize("\tx"), "    x");
        assert_eq!(sanitize("ab\tc"), "ab  c");
        assert_eq!(sanitize("abcd\te"), "abcd    e");
        assert_eq!(sanitize("a\t\tb"), "a       b");
    }

    #[test]
    fn unterminated_osc() {
        assert_eq!(sanitize("\x1b]0;title that never ends"), "⟨OSC 0…⟩");
        assert_eq!(sanitize("\x1bPpayload"), "⟨DCS…⟩");
    }

    #[test]
    fn esc_cancels_string() {
        assert_eq!(sanitize("\x1b]0;x\x1b[2J"), "⟨OSC 0⟩⟨CSI 2J⟩");
    }

    #[test]
    fn other_escapes() {
        assert_eq!(sanitize("\x1b7"), "⟨ESC 7⟩");
        assert_eq!(sanitize("\x1b(B"), "⟨ESC (B⟩");
        assert_eq!(sanitize("\x1b"), "⟨ESC⟩");
        assert_eq!(sanitize("\x1b\x1b[A"), "⟨ESC⟩⟨CSI A⟩");
        assert_eq!(sanitize("\x1bé"), "⟨ESC⟩é");
    }

    #[test]
    fn plain_text_unchanged() {
        for s in ["", "hello world", "héllo ✓ 日本語 ⟨x⟩", "status>=500"] {
            assert!(is_clean(s));
            assert_eq!(sanitize(s), s);
        }
        assert!(!is_clean("a\tb"));
        assert!(!is_clean("\u{202E}"));
    }

    #[test]
    fn bytes_lossy() {
        assert_eq!(sanitize_bytes(b"ok"), "ok");
        assert_eq!(sanitize_bytes(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(sanitize_bytes(b"\x9b31m"), "\u{FFFD}31m");
        assert_eq!(sanitize_bytes(b"\xff\x1b[2J"), "\u{FFFD}⟨CSI 2J⟩");
    }

    proptest! {
        #[test]
        fn never_control_chars(s in any::<String>()) {
            let out = sanitize(&s);
            assert_safe(&out);
            prop_assert!(is_clean(&out));
        }

        #[test]
        fn never_control_chars_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let out = sanitize_bytes(&b);
            assert_safe(&out);
            prop_assert!(is_clean(&out));
        }

        #[test]
        fn escape_heavy_strings(s in "[\\x00-\\x20\\x1b\\[\\]P_^X\\\\0-9;a-z\\x07\\u{80}-\\u{9f}\\u{202a}-\\u{202e}]{0,64}") {
            let out = sanitize(&s);
            assert_safe(&out);
            prop_assert!(is_clean(&out));
        }

        #[test]
        fn clean_is_identity(s in "[ -~é✓日]{0,64}") {
            prop_assert!(is_clean(&s));
            prop_assert_eq!(sanitize(&s), s);
        }
    }
}
