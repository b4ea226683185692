//! A per-service log buffer with a byte budget, and a filter that covers the
//! whole buffer (not only the visible lines) and is kept up to date as lines
//! arrive and leave.

use std::collections::VecDeque;

use super::filter::{Query, QueryError, Subject};
use super::parse::{Level, parse_line};
use crate::sanitize::sanitize;

/// One buffered line. Ingest keeps the raw line and a cheaply scanned level;
/// the display form is parsed and sanitised only when the line is drawn, so
/// ingest stays fast and work at render time is proportional to visible lines.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Position in this buffer's history (monotonic).
    pub seq: u64,
    /// Severity, when the line says.
    pub level: Option<Level>,
    /// The line as received, for copy and export (never drawn as is).
    pub raw: String,
}

/// What the log panel draws for one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Display {
    /// Time as shown (`09:18:06.123`), when the line has one.
    pub time: Option<String>,
    /// Sanitised text: message then `key=value` fields. Never holds a control character.
    pub text: String,
}

impl LogEntry {
    /// Parse, render and sanitise the line for drawing.
    pub fn display(&self) -> Display {
        let record = parse_line(&self.raw);
        let mut text = String::with_capacity(record.msg.len() + 16 * record.fields.len());
        text.push_str(&record.msg);
        for (k, v) in &record.fields {
            if matches!(
                k.as_str(),
                "level" | "time" | "ts" | "msg" | "message" | "pid" | "hostname" | "v"
            ) {
                continue;
            }
            text.push(' ');
            text.push_str(k);
            text.push('=');
            text.push_str(v);
        }
        Display {
            time: record.time.as_deref().map(short_time),
            text: sanitize(&text),
        }
    }

    fn cost(&self) -> usize {
        self.raw.capacity() + 48
    }
}

/// `2026-11-25T09:18:06.123Z` → `09:18:06.123`; other shapes are sanitised as-is.
fn short_time(t: &str) -> String {
    match t.find('T') {
        Some(i) if t.len() >= i + 9 => {
            let rest = &t[i + 1..];
            let end = rest.find(['Z', '+']).unwrap_or(rest.len()).min(12);
            sanitize(rest.get(..end).unwrap_or(rest))
        }
        _ => sanitize(t),
    }
}

/// The level of a line without parsing it: `"level":30`, `"level":"warn"`,
/// `level=warn`, `"severity":"ERROR"`, or a leading `ERROR`/`[warn]` word.
pub fn quick_level(raw: &str) -> Option<Level> {
    static LEVEL: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"level"));
    // pino and zap put the level first: `{"level":30,…` / `{"level":"info",…`.
    if let Some(value) = raw.strip_prefix("{\"level\":") {
        return level_word(value);
    }
    let bytes = raw.as_bytes();
    for at in LEVEL.find_iter(bytes) {
        // `"level":` (JSON) or `level=` (logfmt), not `loglevel_x` or a message word.
        let after = &raw[at + 5..];
        let value = if let Some(v) = after.strip_prefix("\":") {
            v
        } else if let Some(v) = after.strip_prefix('=') {
            v
        } else {
            continue;
        };
        return level_word(value);
    }
    if let Some(at) = memchr::memmem::find(bytes, b"\"severity\":") {
        return level_word(&raw[at + 11..]);
    }
    if let Some(at) = memchr::memmem::find(bytes, b"\"PRIORITY\":\"") {
        // journald: syslog priority 0-7.
        return raw[at + 12..].bytes().next().map(|d| match d {
            b'0'..=b'2' => Level::Fatal,
            b'3' => Level::Error,
            b'4' => Level::Warn,
            b'5' | b'6' => Level::Info,
            _ => Level::Debug,
        });
    }
    let first = raw
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == ':')
        .next()
        .unwrap_or("");
    Level::from_word(first.trim_matches(['[', ']']))
}

fn level_word(value: &str) -> Option<Level> {
    let rest = value.trim_start_matches([' ', '"']);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .unwrap_or(rest.len());
    let word = &rest[..end];
    match word.parse::<f64>() {
        Ok(n) => Level::from_number(n),
        Err(_) => Level::from_word(word),
    }
}

/// A bounded buffer of one source's lines.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    entries: VecDeque<LogEntry>,
    bytes: usize,
    budget: usize,
    next_seq: u64,
    filter: Option<Query>,
    matches: VecDeque<u64>,
    /// Lines dropped to stay within the budget.
    pub evicted: u64,
}

impl LogBuffer {
    /// An empty buffer holding at most `budget` bytes.
    pub fn new(budget: usize) -> LogBuffer {
        LogBuffer {
            entries: VecDeque::new(),
            bytes: 0,
            budget: budget.max(4096),
            next_seq: 0,
            filter: None,
            matches: VecDeque::new(),
            evicted: 0,
        }
    }

    /// Add one raw line.
    pub fn push(&mut self, raw: String) {
        let entry = LogEntry {
            seq: self.next_seq,
            level: quick_level(&raw),
            raw,
        };
        self.next_seq += 1;
        if self.filter.as_ref().is_some_and(|q| matches(&entry, q)) {
            self.matches.push_back(entry.seq);
        }
        self.bytes += entry.cost();
        self.entries.push_back(entry);
        while self.bytes > self.budget && self.entries.len() > 1 {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.cost();
                self.evicted += 1;
                if self.matches.front() == Some(&old.seq) {
                    self.matches.pop_front();
                }
            }
        }
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no line is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held (approximate, counted against the budget).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Set or clear the filter; rescans the whole buffer, not only the visible lines.
    pub fn set_filter(&mut self, filter: Option<Query>) {
        let filter = filter.filter(|q| !q.is_empty());
        self.matches = match &filter {
            Some(q) => self
                .entries
                .iter()
                .filter(|e| matches(e, q))
                .map(|e| e.seq)
                .collect(),
            None => VecDeque::new(),
        };
        self.filter = filter;
    }

    /// Parse `text` as a filter query and apply it (empty text clears the filter).
    pub fn set_filter_text(&mut self, text: &str) -> Result<(), QueryError> {
        let query = Query::parse(text)?;
        self.set_filter(Some(query));
        Ok(())
    }

    /// The active filter.
    pub fn filter(&self) -> Option<&Query> {
        self.filter.as_ref()
    }

    /// With `context` lines around each match (like `grep -C`), the visible
    /// rows that end `offset` rows above the bottom, at most `height` of them,
    /// oldest first. `None` rows are the `--` separators between groups.
    /// Work is proportional to `height`, not to the buffer.
    pub fn context_rows(
        &self,
        context: usize,
        offset: usize,
        height: usize,
    ) -> Vec<Option<&LogEntry>> {
        let Some(first) = self.entries.front().map(|e| e.seq) else {
            return Vec::new();
        };
        let last = first + self.entries.len() as u64 - 1;
        let mut rows: Vec<Option<u64>> = Vec::with_capacity(height + offset + 1);
        let mut next_above: Option<u64> = None;
        for &m in self.matches.iter().rev() {
            if rows.len() >= height + offset {
                break;
            }
            let lo = m.saturating_sub(context as u64).max(first);
            let hi = (m + context as u64).min(last);
            let hi = match next_above {
                Some(above) if hi >= above => above - 1,
                Some(_) => {
                    rows.push(None);
                    hi
                }
                None => hi,
            };
            if hi >= lo {
                for seq in (lo..=hi).rev() {
                    rows.push(Some(seq));
                }
            }
            next_above = Some(lo);
        }
        rows.into_iter()
            .skip(offset)
            .take(height)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|r| r.and_then(|seq| self.get_seq(seq)))
            .collect()
    }

    /// Lines visible under the current filter.
    pub fn visible_len(&self) -> usize {
        if self.filter.is_some() {
            self.matches.len()
        } else {
            self.entries.len()
        }
    }

    /// The `n`th visible line (0 = oldest).
    pub fn visible(&self, n: usize) -> Option<&LogEntry> {
        if self.filter.is_some() {
            let seq = *self.matches.get(n)?;
            self.get_seq(seq)
        } else {
            self.entries.get(n)
        }
    }

    fn get_seq(&self, seq: u64) -> Option<&LogEntry> {
        let first = self.entries.front()?.seq;
        self.entries
            .get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }

    /// Every held line, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }
}

fn matches(entry: &LogEntry, query: &Query) -> bool {
    let parsed = std::cell::OnceCell::new();
    let field = |key: &str| -> Option<String> {
        let record = parsed.get_or_init(|| parse_line(&entry.raw));
        record.field(key).map(str::to_string)
    };
    let no_fields = |_: &str| -> Option<String> { None };
    let field: &dyn Fn(&str) -> Option<String> = if query.needs_fields() {
        &field
    } else {
        &no_fields
    };
    // Ingest keeps only the raw line: it is the text, so it is scanned once.
    query.matches(&Subject {
        level: entry.level,
        text: &entry.raw,
        raw: "",
        field,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_evicts_oldest_and_filter_spans_the_whole_buffer() {
        let mut buf = LogBuffer::new(10_000);
        for i in 0..500 {
            let level = if i % 50 == 0 { "error" } else { "info" };
            buf.push(format!(r#"{{"level":"{level}","msg":"request {i}"}}"#));
        }
        assert!(buf.bytes() <= 10_000);
        assert!(buf.evicted > 0);
        buf.set_filter_text("level=error").unwrap();
        let held_errors = buf.iter().filter(|e| e.level == Some(Level::Error)).count();
        assert_eq!(buf.visible_len(), held_errors);
        assert!(held_errors >= 1);
        buf.push(r#"{"level":"error","msg":"late"}"#.into());
        assert_eq!(buf.visible_len(), held_errors + 1);
        assert_eq!(
            buf.visible(buf.visible_len() - 1).unwrap().display().text,
            "late"
        );
        buf.set_filter(None);
        assert_eq!(buf.visible_len(), buf.len());
        assert!(buf.set_filter_text("/(unclosed/").is_err());
    }

    #[test]
    fn field_filters_and_context_rows() {
        let mut buf = LogBuffer::new(1 << 20);
        for i in 0..20 {
            let status = if i == 5 || i == 6 || i == 15 {
                503
            } else {
                200
            };
            buf.push(format!(
                r#"{{"level":"info","msg":"req {i}","status":{status}}}"#
            ));
        }
        buf.set_filter_text("status>=500").unwrap();
        assert_eq!(buf.visible_len(), 3);
        let rows = buf.context_rows(1, 0, 100);
        let shown: Vec<String> = rows
            .iter()
            .map(|r| r.map_or("--".into(), |e| e.display().text))
            .collect();
        assert_eq!(
            shown
                .iter()
                .map(|s| s.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>(),
            [
                "req 4", "req 5", "req 6", "req 7", "--", "req 14", "req 15", "req 16"
            ]
        );
        assert_eq!(
            buf.context_rows(1, 0, 3).len(),
            3,
            "only the rows that fit are built"
        );
    }

    #[test]
    fn hostile_lines_are_stored_without_control_characters() {
        let raw = "{\"msg\":\"x\",\"ua\":\"\\u001b]52;c;aGk=\\u0007\\u001b[2J\"}".to_string();
        let e = LogEntry {
            seq: 0,
            level: quick_level(&raw),
            raw: raw.clone(),
        };
        let shown = e.display().text;
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(e.raw, raw);
    }

    #[test]
    fn quick_level_reads_common_shapes() {
        assert_eq!(quick_level(r#"{"level":50,"msg":"x"}"#), Some(Level::Error));
        assert_eq!(
            quick_level(r#"{"level":"warn","msg":"x"}"#),
            Some(Level::Warn)
        );
        assert_eq!(quick_level("ts=1 level=info msg=x"), Some(Level::Info));
        assert_eq!(quick_level("ERROR: disk full"), Some(Level::Error));
        assert_eq!(quick_level("[warn] slow"), Some(Level::Warn));
        assert_eq!(quick_level("hello world"), None);
        assert_eq!(
            quick_level(r#"{"PRIORITY":"4","MESSAGE":"x"}"#),
            Some(Level::Warn)
        );
    }
}
