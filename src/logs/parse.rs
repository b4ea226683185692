//! Parse one log line into a [`LogRecord`]: JSON, logfmt, or plain text.
//!
//! JSON objects are read with a streaming serde visitor, so [`LogRecord::fields`]
//! keep the key order of the line itself (independent of serde_json's
//! `preserve_order` feature). Nested objects are flattened with dots
//! (`req.method`), arrays are kept as compact JSON text.
//!
//! Recognised keys (first occurrence wins, later aliases stay as fields):
//! message `msg`/`message`; level `level`/`severity`/`lvl`/`log.level`;
//! time `time`/`ts`/`timestamp`/`@timestamp`. Numeric times are treated as
//! epoch seconds, milliseconds, microseconds or nanoseconds depending on
//! magnitude and rendered as RFC 3339 UTC with milliseconds; numbers that would
//! land before 1971 or after 9999 are not treated as times and stay fields.

use serde::Serialize;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Log severity, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected but handled.
    Warn,
    /// A failed operation.
    Error,
    /// The process cannot continue.
    Fatal,
}

/// Level words accepted by [`Level::from_word`] (compared case-insensitively).
const LEVEL_WORDS: &[(&str, Level)] = &[
    ("info", Level::Info),
    ("error", Level::Error),
    ("warn", Level::Warn),
    ("debug", Level::Debug),
    ("warning", Level::Warn),
    ("trace", Level::Trace),
    ("fatal", Level::Fatal),
    ("err", Level::Error),
    ("information", Level::Info),
    ("panic", Level::Fatal),
    ("critical", Level::Fatal),
    ("crit", Level::Fatal),
    ("notice", Level::Info),
    ("verbose", Level::Trace),
    ("dpanic", Level::Error),
    ("alert", Level::Fatal),
    ("emerg", Level::Fatal),
    ("emergency", Level::Fatal),
];

impl Level {
    /// Case-insensitive: trace, debug, info/information, warn/warning, error/err, fatal/panic/critical/crit
    /// (also notice -> Info, verbose -> Trace, dpanic -> Error, alert/emerg/emergency -> Fatal).
    pub fn from_word(s: &str) -> Option<Level> {
        if s.len() > 11 {
            return None;
        }
        LEVEL_WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(s))
            .map(|&(_, l)| l)
    }

    /// pino/bunyan numbers: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
    /// (values in between round down; below 10, 100 and above, or NaN give None).
    pub fn from_number(n: f64) -> Option<Level> {
        if !(10.0..100.0).contains(&n) {
            return None;
        }
        Some(if n >= 60.0 {
            Level::Fatal
        } else if n >= 50.0 {
            Level::Error
        } else if n >= 40.0 {
            Level::Warn
        } else if n >= 30.0 {
            Level::Info
        } else if n >= 20.0 {
            Level::Debug
        } else {
            Level::Trace
        })
    }

    /// Lowercase name, e.g. `"warn"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// A parsed log line; `raw` is kept verbatim for copy/export.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The line exactly as given.
    pub raw: String,
    /// Severity, if recognised.
    pub level: Option<Level>,
    /// Time as found (string), or an epoch number rendered as `2026-11-25T09:18:06.123Z`.
    pub time: Option<String>,
    /// Message; the whole line for plain text, empty when a structured line has none.
    pub msg: String,
    /// Remaining fields in line order; nested objects flattened with dots (`req.method`).
    pub fields: Vec<(String, String)>,
}

impl LogRecord {
    /// Look up a field (msg/level/time are fields too) for filters like `status>=500`.
    pub fn field(&self, key: &str) -> Option<&str> {
        let found = || {
            self.fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        match key {
            "msg" => Some(&self.msg),
            "level" => self.level.map(|l| l.as_str()).or_else(found),
            "time" => self.time.as_deref().or_else(found),
            "message" => found().or(Some(&self.msg)),
            _ => found(),
        }
    }
}

/// Parse one line: JSON object (pino: level number, time ms, msg; zap: level word, ts float secs, msg; logrus: level, time, msg; bunyan: level number, time, msg, v/name/hostname/pid; also "message"/"@timestamp"/"severity"), else logfmt (key=value with "quoted values" containing spaces and \" escapes; a line counts as logfmt only if it has at least 2 key=value pairs and a msg/message/level key), else plain (level guessed from a leading word like ERROR/WARN/INFO or `[error]`, msg = whole line).
pub fn parse_line(line: &str) -> LogRecord {
    if let Some(rec) = parse_structured(line) {
        return rec;
    }
    LogRecord {
        raw: line.to_owned(),
        level: guess_level(line),
        time: None,
        msg: line.to_owned(),
        fields: Vec::new(),
    }
}

/// The JSON or logfmt reading of a line, as [`parse_line`] makes it; None
/// when the line is neither (and would be read as plain text).
pub fn parse_structured(line: &str) -> Option<LogRecord> {
    let first = line.bytes().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'{')
        && let Some(rec) = parse_json(line)
    {
        return Some(rec);
    }
    if line.as_bytes().contains(&b'=') {
        return parse_logfmt(line);
    }
    None
}

// ---------------------------------------------------------------------------
// Shared record building

/// Which well-known slot a key fills.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Msg,
    Level,
    Priority,
    Time,
    Other,
}

/// syslog priority → level: 0-2 fatal, 3 error, 4 warn, 5-6 info, 7 debug.
fn syslog_level(priority: f64) -> Level {
    match priority as i64 {
        i64::MIN..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    }
}

fn slot_of(key: &str) -> Slot {
    match key {
        "msg" | "message" | "MESSAGE" => Slot::Msg,
        "level" | "severity" | "lvl" | "log.level" => Slot::Level,
        // journald (`journalctl -o json`): syslog priority 0-7, as a string.
        "PRIORITY" => Slot::Priority,
        "time" | "ts" | "timestamp" | "@timestamp" | "__REALTIME_TIMESTAMP" => Slot::Time,
        _ => Slot::Other,
    }
}

#[derive(Default)]
struct Builder {
    level: Option<Level>,
    time: Option<String>,
    msg: Option<String>,
    fields: Vec<(String, String)>,
}

impl Builder {
    fn finish(mut self, raw: &str) -> LogRecord {
        if self.level.is_none() {
            // ECS style `{"log":{"level":"info"}}` is flattened to `log.level`.
            if let Some(pos) = self
                .fields
                .iter()
                .position(|(k, v)| k == "log.level" && Level::from_word(v).is_some())
            {
                let (_, v) = self.fields.remove(pos);
                self.level = Level::from_word(&v);
            }
        }
        LogRecord {
            raw: raw.to_owned(),
            level: self.level,
            time: self.time,
            msg: self.msg.unwrap_or_default(),
            fields: self.fields,
        }
    }
}

fn level_from_text(s: &str) -> Option<Level> {
    Level::from_word(s).or_else(|| s.trim().parse::<f64>().ok().and_then(Level::from_number))
}

/// Epoch number (s, ms, µs or ns by magnitude) to `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn epoch_to_rfc3339(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let ax = x.abs();
    let ms = if ax >= 1e17 {
        x / 1e6
    } else if ax >= 1e14 {
        x / 1e3
    } else if ax >= 1e11 {
        x
    } else {
        x * 1e3
    };
    let ms = ms.round();
    // 1971-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999Z
    if !(31_536_000_000.0..=253_402_300_799_999.0).contains(&ms) {
        return None;
    }
    // In range, so the cast is exact and positive.
    let ms = ms as i64;
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    ))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year,
    // then split into 400-year cycles of 146097 days.
    let z = days + 719_468;
    let cycle = z.div_euclid(146_097);
    let day_of_cycle = z.rem_euclid(146_097);
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Time from a text value: numeric text is rendered from epoch, anything else kept as found.
fn time_from_text(s: Cow<'_, str>) -> String {
    match s.trim().parse::<f64>().ok().and_then(epoch_to_rfc3339) {
        Some(t) => t,
        None => s.into_owned(),
    }
}

// ---------------------------------------------------------------------------
// JSON

/// A scalar JSON value, or a marker that an object was flattened into fields.
enum Scalar<'de> {
    Str(Cow<'de, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
    Json(String),
    Flattened,
}

impl Scalar<'_> {
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::U64(n) => Some(n as f64),
            Scalar::I64(n) => Some(n as f64),
            Scalar::F64(n) => Some(n),
            _ => None,
        }
    }

    fn render(self) -> String {
        match self {
            Scalar::Str(s) => s.into_owned(),
            Scalar::U64(n) => n.to_string(),
            Scalar::I64(n) => n.to_string(),
            Scalar::F64(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => "null".to_owned(),
            Scalar::Json(s) => s,
            Scalar::Flattened => String::new(),
        }
    }
}

/// A JSON object key, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Reads one value; objects are flattened into `out` under `prefix`.
struct FieldSeed<'b> {
    prefix: &'b str,
    out: &'b mut Vec<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Scalar<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::I64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::F64(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
        let v = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Scalar::Json(v.to_string()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        let mut any = false;
        while let Some(Key(k)) = map.next_key()? {
            any = true;
            let full = format!("{}.{}", self.prefix, k);
            let v = map.next_value_seed(FieldSeed {
                prefix: &full,
                out: &mut *self.out,
            })?;
            if !matches!(v, Scalar::Flattened) {
                self.out.push((full, v.render()));
            }
        }
        Ok(if any {
            Scalar::Flattened
        } else {
            Scalar::Json("{}".to_owned())
        })
    }
}

/// Reads the top-level object into a [`Builder`].
struct TopSeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        while let Some(Key(k)) = map.next_key()? {
            let v = map.next_value_seed(FieldSeed {
                prefix: &k,
                out: &mut b.fields,
            })?;
            if matches!(v, Scalar::Flattened) {
                continue;
            }
            let v = match slot_of(&k) {
                Slot::Msg if b.msg.is_none() => {
                    b.msg = Some(v.render());
                    continue;
                }
                Slot::Level if b.level.is_none() => {
                    let level = match &v {
                        Scalar::Str(s) => level_from_text(s),
                        other => other.as_f64().and_then(Level::from_number),
                    };
                    if level.is_some() {
                        b.level = level;
                        continue;
                    }
                    v
                }
                Slot::Priority if b.level.is_none() => match v.as_f64().or_else(|| match &v {
                    Scalar::Str(s) => s.parse().ok(),
                    _ => None,
                }) {
                    Some(p) => {
                        b.level = Some(syslog_level(p));
                        continue;
                    }
                    None => v,
                },
                Slot::Time if b.time.is_none() => match v {
                    // journald sends microseconds since the epoch as a string.
                    Scalar::Str(s) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => {
                        b.time = s
                            .parse::<f64>()
                            .ok()
                            .and_then(epoch_to_rfc3339)
                            .or_else(|| Some(time_from_text(s)));
                        continue;
                    }
                    Scalar::Str(s) => {
                        b.time = Some(time_from_text(s));
                        continue;
                    }
                    other => match other.as_f64().and_then(epoch_to_rfc3339) {
                        Some(t) => {
                            b.time = Some(t);
                            continue;
                        }
                        None => other,
                    },
                },
                _ => v,
            };
            b.fields.push((k.into_owned(), v.render()));
        }
        Ok(())
    }
}

fn parse_json(line: &str) -> Option<LogRecord> {
    let mut b = Builder {
        fields: Vec::with_capacity(8),
        ..Builder::default()
    };
    let mut de = serde_json::Deserializer::from_str(line);
    TopSeed(&mut b).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(b.finish(line))
}

// ---------------------------------------------------------------------------
// logfmt

/// One `key=value` (or bare `key`) token; `value` is raw (quotes stripped, escapes not yet undone).
struct Pair<'a> {
    key: &'a str,
    value: Option<&'a str>,
    escaped: bool,
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Tokenise logfmt; None when the line is not well-formed logfmt.
fn logfmt_pairs(line: &str) -> Option<Vec<Pair<'_>>> {
    let b = line.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut i = 0;
    let mut pairs = Vec::new();
    // All cut points below are ASCII bytes or the end, hence char boundaries.
    loop {
        while at(i).is_some_and(|c| is_space(c) || c == b'\r' || c == b'\n') {
            i += 1;
        }
        if at(i).is_none() {
            break;
        }
        let start = i;
        while at(i).is_some_and(|c| !is_space(c) && c != b'=' && c != b'"') {
            i += 1;
        }
        let key = line.get(start..i)?;
        if key.is_empty() || at(i) == Some(b'"') {
            return None;
        }
        if at(i) != Some(b'=') {
            pairs.push(Pair {
                key,
                value: None,
                escaped: false,
            });
            continue;
        }
        i += 1;
        if at(i) == Some(b'"') {
            i += 1;
            let vstart = i;
            let mut escaped = false;
            loop {
                match at(i)? {
                    b'\\' => {
                        escaped = true;
                        i += 2;
                    }
                    b'"' => break,
                    _ => i += 1,
                }
            }
            let value = line.get(vstart..i)?;
            i += 1;
            if at(i).is_some_and(|c| !is_space(c)) {
                return None;
            }
            pairs.push(Pair {
                key,
                value: Some(value),
                escaped,
            });
        } else {
            let vstart = i;
            while at(i).is_some_and(|c| !is_space(c)) {
                i += 1;
            }
            pairs.push(Pair {
                key,
                value: Some(line.get(vstart..i)?),
                escaped: false,
            });
        }
    }
    Some(pairs)
}

/// Undo `\"`, `\\`, `\n`, `\t`, `\r` escapes; other escapes are kept literally.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn parse_logfmt(line: &str) -> Option<LogRecord> {
    let pairs = logfmt_pairs(line)?;
    let with_value = pairs.iter().filter(|p| p.value.is_some()).count();
    let has_key = pairs
        .iter()
        .any(|p| p.value.is_some() && matches!(p.key, "msg" | "message" | "level" | "lvl"));
    if with_value < 2 || !has_key {
        return None;
    }
    let mut b = Builder {
        fields: Vec::with_capacity(pairs.len()),
        ..Builder::default()
    };
    for p in pairs {
        let value: Cow<'_, str> = match p.value {
            Some(v) if p.escaped => Cow::Owned(unescape(v)),
            Some(v) => Cow::Borrowed(v),
            None => Cow::Borrowed(""),
        };
        match slot_of(p.key) {
            Slot::Msg if b.msg.is_none() && p.value.is_some() => {
                b.msg = Some(value.into_owned());
                continue;
            }
            Slot::Level if b.level.is_none() => {
                if let Some(l) = level_from_text(&value) {
                    b.level = Some(l);
                    continue;
                }
            }
            Slot::Time if b.time.is_none() && p.value.is_some() => {
                b.time = Some(time_from_text(value));
                continue;
            }
            _ => {}
        }
        b.fields.push((p.key.to_owned(), value.into_owned()));
    }
    Some(b.finish(line))
}

// ---------------------------------------------------------------------------
// plain text

/// Guess a level from the first few words: the first word in any case
/// (`ERROR`, `Error:`, `[error]`), later words (up to the 4th) only when
/// upper-case or bracketed (`2026-11-25 09:18:06 WARN ...`), or a klog/glog
/// prefix like `E1125`.
fn guess_level(line: &str) -> Option<Level> {
    for (idx, tok) in line.split_ascii_whitespace().take(4).enumerate() {
        let bracketed = tok.starts_with(['[', '<', '(']);
        let word = tok.trim_matches(|c: char| {
            matches!(c, '[' | ']' | '<' | '>' | '(' | ')' | ':' | '|' | ',' | ';')
        });
        let upper = !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase());
        if (idx == 0 || bracketed || upper)
            && let Some(l) = Level::from_word(word)
        {
            return Some(l);
        }
        if idx == 0
            && let Some(l) = klog_level(tok)
        {
            return Some(l);
        }
    }
    None
}

/// klog/glog header `Lmmdd` (e.g. `I0102`, `E1125`).
fn klog_level(tok: &str) -> Option<Level> {
    let b = tok.as_bytes();
    if b.len() < 5 || !b.get(1..5)?.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match b.first()? {
        b'I' => Some(Level::Info),
        b'W' => Some(Level::Warn),
        b'E' => Some(Level::Error),
        b'F' => Some(Level::Fatal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f<'a>(r: &'a LogRecord, k: &str) -> Option<&'a str> {
        r.field(k)
    }

    #[test]
    fn pino_line() {
        let line = r#"{"level":30,"time":1795598286123,"pid":4242,"hostname":"api-1","req":{"method":"GET","url":"/health","headers":{"x-id":"a"}},"msg":"request completed","status":200}"#;
        let r = parse_line(line);
        assert_eq!(r.raw, line);
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.time.as_deref(), Some("2026-11-25T09:18:06.123Z"));
        assert_eq!(r.msg, "request completed");
        let keys: Vec<&str> = r.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "pid",
                "hostname",
                "req.method",
                "req.url",
                "req.headers.x-id",
                "status"
            ]
        );
        assert_eq!(f(&r, "req.method"), Some("GET"));
        assert_eq!(f(&r, "status"), Some("200"));
    }

    #[test]
    fn zap_line() {
        let line = r#"{"level":"error","ts":1795598286.123456,"caller":"server/main.go:42","msg":"dial failed","error":"connection refused","attempt":3,"latency":0.25,"tags":["a","b"],"ok":false,"x":null}"#;
        let r = parse_line(line);
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.time.as_deref(), Some("2026-11-25T09:18:06.123Z"));
        assert_eq!(r.msg, "dial failed");
        assert_eq!(f(&r, "caller"), Some("server/main.go:42"));
        assert_eq!(f(&r, "latency"), Some("0.25"));
        assert_eq!(f(&r, "tags"), Some(r#"["a","b"]"#));
        assert_eq!(f(&r, "ok"), Some("false"));
        assert_eq!(f(&r, "x"), Some("null"));
    }

    #[test]
    fn logrus_line() {
        let line = r#"{"level":"warning","msg":"disk almost full","time":"2026-11-25T09:18:06+01:00","free_pct":4}"#;
        let r = parse_line(line);
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.time.as_deref(), Some("2026-11-25T09:18:06+01:00"));
        assert_eq!(r.msg, "disk almost full");
        assert_eq!(r.fields, vec![("free_pct".to_owned(), "4".to_owned())]);
    }

    #[test]
    fn bunyan_line() {
        let line = r#"{"name":"myapp","hostname":"box","pid":123,"level":50,"msg":"boom \"quoted\" \u00e9","time":"2026-11-25T09:18:06.123Z","v":0}"#;
        let r = parse_line(line);
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.time.as_deref(), Some("2026-11-25T09:18:06.123Z"));
        assert_eq!(r.msg, "boom \"quoted\" é");
        assert_eq!(f(&r, "name"), Some("myapp"));
        assert_eq!(f(&r, "v"), Some("0"));
        assert_eq!(f(&r, "pid"), Some("123"));
    }

    #[test]
    fn gcp_ecs_style() {
        let r = parse_line(
            r#"{"severity":"CRITICAL","message":"oops","@timestamp":"2026-01-01T00:00:00Z","msg":"second"}"#,
        );
        assert_eq!(r.level, Some(Level::Fatal));
        assert_eq!(r.msg, "oops");
        assert_eq!(r.time.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(f(&r, "msg"), Some("oops"));
        assert_eq!(r.fields, vec![("msg".to_owned(), "second".to_owned())]);

        let r = parse_line(r#"{"log":{"level":"warn"},"message":"m"}"#);
        assert_eq!(r.level, Some(Level::Warn));
        assert!(r.fields.is_empty());
    }

    #[test]
    fn unknown_level_kept_as_field() {
        let j = parse_line(
            r#"{"__REALTIME_TIMESTAMP":"1795598286123456","PRIORITY":"3","_SYSTEMD_UNIT":"api.service","MESSAGE":"db down"}"#,
        );
        assert_eq!(j.msg, "db down");
        assert_eq!(j.level, Some(Level::Error));
        assert!(
            j.time.as_deref().unwrap_or("").starts_with("2026-"),
            "{:?}",
            j.time
        );
        let r = parse_line(r#"{"level":"chatty","msg":"x","time":12}"#);
        assert_eq!(r.level, None);
        assert_eq!(f(&r, "level"), Some("chatty"));
        // 12 s after the epoch is not a plausible log time.
        assert_eq!(r.time, None);
        assert_eq!(f(&r, "time"), Some("12"));
    }

    #[test]
    fn logfmt_line() {
        let line = r#"time=2026-11-25T09:18:06Z level=info msg="user logged in \"bob\"" user=bob dur=12ms  status=200 flag"#;
        let r = parse_line(line);
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.time.as_deref(), Some("2026-11-25T09:18:06Z"));
        assert_eq!(r.msg, "user logged in \"bob\"");
        assert_eq!(f(&r, "user"), Some("bob"));
        assert_eq!(f(&r, "status"), Some("200"));
        assert_eq!(f(&r, "flag"), Some(""));
        assert_eq!(r.fields.len(), 4);
    }

    #[test]
    fn logfmt_numeric_ts_and_requirements() {
        let r = parse_line("ts=1795598286.123 lvl=warn msg=hi");
        assert_eq!(r.time.as_deref(), Some("2026-11-25T09:18:06.123Z"));
        assert_eq!(r.level, Some(Level::Warn));
        // Only one pair: plain.
        let r = parse_line("msg=hello");
        assert_eq!(r.msg, "msg=hello");
        // Two pairs but no msg/level key: plain.
        let r = parse_line("ERROR query a=1 b=2");
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.msg, "ERROR query a=1 b=2");
        assert!(r.fields.is_empty());
        // Unterminated quote: plain.
        let r = parse_line(r#"level=info msg="oops"#);
        assert!(r.fields.is_empty());
        assert_eq!(r.msg, r#"level=info msg="oops"#);
    }

    #[test]
    fn plain_levels() {
        let r = parse_line("ERROR something broke");
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.msg, "ERROR something broke");
        assert_eq!(r.raw, "ERROR something broke");
        assert_eq!(parse_line("[error] x").level, Some(Level::Error));
        assert_eq!(parse_line("Warning: y").level, Some(Level::Warn));
        assert_eq!(
            parse_line("2026-11-25 09:18:06,123 INFO [main] started").level,
            Some(Level::Info)
        );
        assert_eq!(
            parse_line("E1125 09:18:06.123456 1 reflector.go:1] x").level,
            Some(Level::Error)
        );
        assert_eq!(parse_line("the info you wanted").level, None);
        assert_eq!(parse_line("").level, None);
        assert_eq!(parse_line("").msg, "");
    }

    #[test]
    fn json_array_and_invalid_json_fall_back() {
        let r = parse_line(r#"["level","error"]"#);
        assert_eq!(r.msg, r#"["level","error"]"#);
        assert!(r.fields.is_empty());
        let r = parse_line(r#"{"level":"error","msg":"trunc"#);
        assert_eq!(r.msg, r#"{"level":"error","msg":"trunc"#);
        assert_eq!(r.level, None);
        let r = parse_line(r#"{"level":"info"} trailing"#);
        assert_eq!(r.fields.len(), 0);
        assert_eq!(r.msg, r#"{"level":"info"} trailing"#);
    }

    #[test]
    fn field_lookup() {
        let r = parse_line(r#"{"level":"error","msg":"m","status":503,"time":"t"}"#);
        assert_eq!(r.field("status"), Some("503"));
        assert_eq!(r.field("level"), Some("error"));
        assert_eq!(r.field("msg"), Some("m"));
        assert_eq!(r.field("message"), Some("m"));
        assert_eq!(r.field("time"), Some("t"));
        assert_eq!(r.field("nope"), None);
        let n: f64 = r
            .field("status")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!(n >= 500.0);
    }

    #[test]
    fn level_helpers() {
        assert_eq!(Level::from_word("WARNING"), Some(Level::Warn));
        assert_eq!(Level::from_word("Information"), Some(Level::Info));
        assert_eq!(Level::from_word("crit"), Some(Level::Fatal));
        assert_eq!(Level::from_word("ERR"), Some(Level::Error));
        assert_eq!(Level::from_word("nope"), None);
        assert_eq!(Level::from_number(10.0), Some(Level::Trace));
        assert_eq!(Level::from_number(35.0), Some(Level::Info));
        assert_eq!(Level::from_number(60.0), Some(Level::Fatal));
        assert_eq!(Level::from_number(5.0), None);
        assert_eq!(Level::from_number(f64::NAN), None);
        assert!(Level::Trace < Level::Fatal);
        assert_eq!(Level::Warn.as_str(), "warn");
        assert_eq!(serde_json::to_string(&Level::Error).unwrap(), "\"error\"");
    }

    #[test]
    fn epoch_rendering() {
        assert_eq!(
            epoch_to_rfc3339(951_868_799.0).as_deref(),
            Some("2000-02-29T23:59:59.000Z")
        );
        assert_eq!(
            epoch_to_rfc3339(1_795_598_286_123.0).as_deref(),
            Some("2026-11-25T09:18:06.123Z")
        );
        assert_eq!(
            epoch_to_rfc3339(1_795_598_286_123_000_000.0).as_deref(),
            Some("2026-11-25T09:18:06.123Z")
        );
        assert_eq!(
            epoch_to_rfc3339(95_617_584_000_001.0).as_deref(),
            Some("5000-01-01T00:00:00.001Z")
        );
        assert_eq!(epoch_to_rfc3339(-5.0), None);
        assert_eq!(epoch_to_rfc3339(f64::INFINITY), None);
        assert_eq!(epoch_to_rfc3339(1e30), None);
        // Every day from 1971 to 2100 round-trips month/day sanity.
        let mut prev = civil_from_days(364);
        for d in 365..47_482 {
            let cur = civil_from_days(d);
            assert!(cur > prev, "{d}: {cur:?} !> {prev:?}");
            assert!((1..=12).contains(&cur.1) && (1..=31).contains(&cur.2));
            prev = cur;
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn deep_json_does_not_overflow() {
        let deep = format!("{}1{}", r#"{"a":"#.repeat(126), "}".repeat(126));
        let r = parse_line(&deep);
        assert_eq!(r.fields.len(), 1);
        let deeper = format!("{}1{}", r#"{"a":"#.repeat(5000), "}".repeat(5000));
        let r = parse_line(&deeper);
        assert!(r.fields.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_str(s in any::<String>()) {
            let r = parse_line(&s);
            prop_assert_eq!(&r.raw, &s);
        }

        #[test]
        fn never_panics_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let s = String::from_utf8_lossy(&b);
            let _ = parse_line(&s);
        }

        #[test]
        fn never_panics_jsonish(s in r#"[\{\}\[\]":,=a-z0-9 \\\.é-]{0,120}"#) {
            let r = parse_line(&s);
            let _ = r.field("msg");
            let _ = r.field("level");
        }

        #[test]
        fn never_panics_logfmtish(s in r#"([a-z]{1,3}=("[a-z \\"é]*"?|[a-z0-9é]*) ?){0,6}"#) {
            let _ = parse_line(&s);
        }

        #[test]
        fn epoch_never_panics(x in any::<f64>()) {
            let _ = epoch_to_rfc3339(x);
        }
    }
}
