//! One Fly log entry as one line for the log pipeline. When the app itself
//! logged JSON or logfmt (pino, zap, logrus, slog…) inside Fly's `message`,
//! the app's own line goes on, so its level, message and fields are what the
//! panel shows; Fly's machine and region are added as `fly_instance` and
//! `fly_region`, and Fly's level and time only where the app gave none.
//! Anything else is wrapped in a JSON line with Fly's `timestamp`, `level`,
//! `instance`, `region` and `message`. Lines stay raw: the pipeline
//! sanitises before anything reaches a terminal.

use serde_json::json;

use super::model::{LogAttributes, LogEntry};
use crate::logs::parse_structured;

/// The line for one entry.
pub fn line(entry: &LogEntry) -> String {
    let a = &entry.attributes;
    let message = a.message.as_deref().unwrap_or("");
    // The same cap as every other log source: one runaway line cannot eat the buffer.
    let message = match message.char_indices().nth(crate::logs::source::MAX_LINE) {
        Some((cut, _)) => &message[..cut],
        None => message,
    };
    app_line(a, message.trim()).unwrap_or_else(|| wrapped(a, message))
}

/// Fly's fields around a message that is not a structured line of its own.
fn wrapped(a: &LogAttributes, message: &str) -> String {
    json!({
        "timestamp": a.timestamp,
        "level": a.level,
        "instance": a.instance,
        "region": a.region,
        "message": message,
    })
    .to_string()
}

/// The app's own line with Fly's fields added, when the app logged JSON or logfmt.
fn app_line(a: &LogAttributes, message: &str) -> Option<String> {
    let app = parse_structured(message)?;
    let mut extra: Vec<(&str, &str)> = Vec::with_capacity(4);
    extra.extend(a.instance.as_deref().map(|i| ("fly_instance", i)));
    extra.extend(a.region.as_deref().map(|r| ("fly_region", r)));
    if app.level.is_none() {
        extra.extend(a.level.as_deref().map(|l| ("level", l)));
    }
    if app.time.is_none() {
        extra.extend(a.timestamp.as_deref().map(|t| ("timestamp", t)));
    }
    let json = message.starts_with('{');
    let out = if json {
        json_with(message, &extra)
    } else {
        logfmt_with(message, &extra)
    };
    // Keep the additions only when the app's reading survives them untouched.
    let kept = out.and_then(|out| {
        let again = parse_structured(&out)?;
        let same = again.msg == app.msg
            && app.level.is_none_or(|l| again.level == Some(l))
            && app
                .time
                .is_none_or(|t| again.time.as_deref() == Some(t.as_str()));
        same.then_some(out)
    });
    Some(kept.unwrap_or_else(|| message.to_string()))
}

/// `{…}` with `"key":"value"` pairs appended before the closing brace.
fn json_with(object: &str, extra: &[(&str, &str)]) -> Option<String> {
    let body = object.strip_suffix('}')?;
    let mut out = String::with_capacity(object.len() + 32 * extra.len());
    out.push_str(body);
    let mut empty = body[1..].trim().is_empty();
    for (k, v) in extra {
        if !empty {
            out.push(',');
        }
        empty = false;
        out.push_str(&serde_json::to_string(k).ok()?);
        out.push(':');
        out.push_str(&serde_json::to_string(v).ok()?);
    }
    out.push('}');
    Some(out)
}

/// A logfmt line with ` key=value` pairs appended (quoted where needed).
fn logfmt_with(line: &str, extra: &[(&str, &str)]) -> Option<String> {
    let mut out = line.to_string();
    for (k, v) in extra {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        let plain = !v.is_empty()
            && v.chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '=' | '\\'));
        if plain {
            out.push_str(v);
        } else {
            out.push('"');
            for c in v.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{Level, LogBuffer, parse_line};

    fn entry(level: &str, message: &str) -> LogEntry {
        serde_json::from_value(json!({"attributes": {
            "timestamp": "2026-12-01T10:00:00.250Z", "level": level,
            "instance": "3d8d9e1b2c4e87", "region": "ams", "message": message,
        }}))
        .unwrap()
    }

    #[test]
    fn an_app_json_line_keeps_its_own_level_and_message() {
        let app = r#"{"level":"debug","time":1764583200123,"msg":"cache stats","hits":42}"#;
        let rec = parse_line(&line(&entry("info", app)));
        assert_eq!(rec.level, Some(Level::Debug), "the app's level, not Fly's");
        assert_eq!(rec.msg, "cache stats");
        assert_eq!(rec.time.as_deref(), Some("2025-12-01T10:00:00.123Z"));
        assert_eq!(rec.field("hits"), Some("42"));
        assert_eq!(rec.field("fly_instance"), Some("3d8d9e1b2c4e87"));
        assert_eq!(rec.field("fly_region"), Some("ams"));
        // pino's numeric levels too, with spaces around the object.
        let pino = "  {\"level\":50,\"msg\":\"db down\"}\n";
        let rec = parse_line(&line(&entry("info", pino)));
        assert_eq!(
            (rec.level, rec.msg.as_str()),
            (Some(Level::Error), "db down")
        );
    }

    #[test]
    fn fly_fills_in_only_what_the_app_left_out() {
        let rec = parse_line(&line(&entry("warn", r#"{"msg":"no level here"}"#)));
        assert_eq!(
            rec.level,
            Some(Level::Warn),
            "Fly's level where the app has none"
        );
        assert_eq!(rec.time.as_deref(), Some("2026-12-01T10:00:00.250Z"));
        assert_eq!(rec.msg, "no level here");
        let rec = parse_line(&line(&entry("info", "{}")));
        assert_eq!(rec.level, Some(Level::Info));
        assert_eq!(rec.field("fly_instance"), Some("3d8d9e1b2c4e87"));
    }

    #[test]
    fn an_app_logfmt_line_keeps_its_own_level_and_message() {
        let app = r#"time=2026-12-01T09:59:59Z level=warn msg="slow query" ms=812"#;
        let out = line(&entry("info", app));
        assert!(out.starts_with(app), "{out}");
        let rec = parse_line(&out);
        assert_eq!(rec.level, Some(Level::Warn));
        assert_eq!(rec.msg, "slow query");
        assert_eq!(rec.time.as_deref(), Some("2026-12-01T09:59:59Z"));
        assert_eq!(rec.field("ms"), Some("812"));
        assert_eq!(rec.field("fly_region"), Some("ams"));
        // Awkward values are quoted so the line stays logfmt.
        let odd = logfmt_with("level=info msg=x", &[("fly_region", "a \"b\"\\c")]).unwrap();
        assert_eq!(parse_line(&odd).field("fly_region"), Some("a \"b\"\\c"));
    }

    #[test]
    fn plain_text_keeps_flys_level_and_fields() {
        for message in [
            "GET /health 200 in 3ms",
            "[info] listening on 8080",
            "a=b only one pair",
        ] {
            let rec = parse_line(&line(&entry("error", message)));
            assert_eq!(rec.level, Some(Level::Error), "{message}");
            assert_eq!(rec.msg, message);
            assert_eq!(rec.field("instance"), Some("3d8d9e1b2c4e87"));
            assert_eq!(rec.field("region"), Some("ams"));
        }
        // A broken JSON object is plain text too.
        let rec = parse_line(&line(&entry("warn", r#"{"level":"debug","msg":"cut"#)));
        assert_eq!(rec.level, Some(Level::Warn));
    }

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        let cases = [
            // An app JSON line with escapes encoded in its strings.
            r#"{"level":"error","msg":"boom \u001b]52;c;ZXZpbA==\u0007 \u001b[2J"}"#.to_string(),
            // Raw ESC bytes in a logfmt line and in plain text.
            "level=error msg=\"boom \x1b]52;c;ZXZpbA==\x07 \x1b[2J\"".to_string(),
            "boom \x1b]52;c;ZXZpbA==\x07 \x1b[2J".to_string(),
        ];
        for message in cases {
            let mut buf = LogBuffer::new(1 << 16);
            buf.push(line(&entry("error", &message)));
            let shown = buf.iter().next().unwrap().display();
            assert!(!shown.text.chars().any(char::is_control), "{shown:?}");
            assert!(shown.text.contains("⟨OSC 52⟩"), "{shown:?}");
            assert!(shown.text.starts_with("boom"), "{shown:?}");
        }
    }
}
