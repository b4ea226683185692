//! Redaction of secret values that passed through shipdeck.
//!
//! Every value a person typed, generated or read from the keyring is
//! remembered here for the life of the process; any text on its way to the
//! screen, the command log or the audit log is passed through [`apply`], which
//! replaces each occurrence with [`MARK`]. [`crate::sanitize::sanitize`] calls
//! it first, so every external string shipdeck shows is covered. When nothing
//! has been remembered the cost is one atomic load.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, RwLock};

use crate::secrets::SecretValue;

/// What a redacted value is replaced with.
pub const MARK: &str = "⟨redacted⟩";

/// Values shorter than this are not redacted: they would match ordinary text.
pub const MIN_LEN: usize = 6;

/// Lines of a multi-line value (PEM keys) at least this long are redacted on their own,
/// because logs are split into lines before they are shown.
const MIN_LINE_LEN: usize = 12;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static NEEDLES: LazyLock<RwLock<Vec<SecretValue>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Remember a value so it is redacted from now on (also its lines and its JSON-escaped form).
pub fn remember(value: &SecretValue) {
    let text = value.expose();
    let mut forms: Vec<String> = Vec::new();
    if text.chars().count() >= MIN_LEN {
        forms.push(text.to_string());
    }
    if text.contains('\n') {
        forms.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| l.chars().count() >= MIN_LINE_LEN && !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    if let Ok(json) = serde_json::to_string(text) {
        let inner = &json[1..json.len() - 1];
        if inner != text && inner.chars().count() >= MIN_LEN {
            forms.push(inner.to_string());
        }
    }
    if forms.is_empty() {
        return;
    }
    let mut needles = NEEDLES.write().unwrap_or_else(|e| e.into_inner());
    for form in forms {
        if !needles.iter().any(|n| n.expose() == form) {
            needles.push(SecretValue::new(form));
        }
    }
    // Longest first, so a whole value is replaced before one of its lines.
    needles.sort_by_key(|n| std::cmp::Reverse(n.expose().len()));
    ACTIVE.store(true, Ordering::Release);
}

/// Whether any value is remembered.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// `text` with every remembered value replaced by [`MARK`].
pub fn apply(text: &str) -> Cow<'_, str> {
    if !active() || text.len() < MIN_LEN {
        return Cow::Borrowed(text);
    }
    let needles = NEEDLES.read().unwrap_or_else(|e| e.into_inner());
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for needle in needles.iter() {
        let n = needle.expose();
        if memchr::memmem::find(out.as_bytes(), n.as_bytes()).is_some() {
            out = Cow::Owned(out.replace(n, MARK));
        }
    }
    out
}

/// Redact every string inside a JSON value (audit records, `--json` output).
pub fn apply_json(value: &mut serde_json::Value) {
    if !active() {
        return;
    }
    match value {
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = apply(s) {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(apply_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(apply_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_values_and_their_lines_are_replaced() {
        remember(&SecretValue::new("s3cr3t-R0tated-Value".into()));
        let pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\nQ0l2dGhpcyBpcyBhIHRlc3Q=\n-----END KEY-----";
        remember(&SecretValue::new(pem.into()));
        assert_eq!(
            apply("error: value s3cr3t-R0tated-Value rejected"),
            format!("error: value {MARK} rejected")
        );
        assert_eq!(
            apply("line MIIBOgIBAAJBAKj34GkxFhD9"),
            format!("line {MARK}")
        );
        assert_eq!(apply("-----BEGIN KEY-----"), "-----BEGIN KEY-----");
        assert!(matches!(apply("nothing here at all"), Cow::Borrowed(_)));
        let mut json = serde_json::json!({"detail": ["x s3cr3t-R0tated-Value"]});
        apply_json(&mut json);
        assert_eq!(json["detail"][0], format!("x {MARK}"));
    }

    #[test]
    fn short_values_are_not_remembered() {
        remember(&SecretValue::new("abc".into()));
        assert_eq!(apply("abcabc abc"), "abcabc abc");
    }

    #[test]
    fn json_escaped_form_is_redacted() {
        remember(&SecretValue::new("quote\"inside-value".into()));
        assert_eq!(
            apply(r#"{"error":"bad quote\"inside-value"}"#),
            format!(r#"{{"error":"bad {MARK}"}}"#)
        );
    }
}
