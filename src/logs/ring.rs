//! A per-service log buffer with a byte budget, and a filter that covers the
//! whole buffer (not only the visible lines) and is kept up to date as lines
//! arrive and leave.

use std::collections::VecDeque;

use super::parse::{Level, parse_line};
use crate::sanitize::sanitize;

/// One buffered line, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Position in this buffer's history (monotonic).
    pub seq: u64,
    /// Severity, when the line says.
    pub level: Option<Level>,
    /// Time as shown (`09:18:06.123`), when the line has one.
    pub time: Option<String>,
    /// Sanitised text: message then `key=value` fields. Never holds a control character.
    pub text: String,
    /// The line as received, for copy and export (never drawn).
    pub raw: String,
}

impl LogEntry {
    /// Parse, render and sanitise one raw line.
    pub fn from_raw(seq: u64, raw: String) -> LogEntry {
        let record = parse_line(&raw);
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
        LogEntry {
            seq,
            level: record.level,
            time: record.time.as_deref().map(short_time),
            text: sanitize(&text),
            raw,
        }
    }

    fn cost(&self) -> usize {
        self.text.len() + self.raw.len() + self.time.as_ref().map_or(0, String::len) + 64
    }
}

/// `2026-11-25T09:18:06.123Z` → `09:18:06.123`; other shapes are sanitised as-is.
fn short_time(t: &str) -> String {
    match t.find('T') {
        Some(i) if t.len() >= i + 9 => {
            let rest = &t[i + 1..];
            let end = rest.find(['Z', '+']).unwrap_or(rest.len()).min(12);
            sanitize(&rest[..end.min(rest.len())])
        }
        _ => sanitize(t),
    }
}

/// A bounded buffer of one source's lines.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    entries: VecDeque<LogEntry>,
    bytes: usize,
    budget: usize,
    next_seq: u64,
    filter: Option<String>,
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
        let entry = LogEntry::from_raw(self.next_seq, raw);
        self.next_seq += 1;
        if self.filter.as_deref().is_some_and(|f| matches(&entry, f)) {
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

    /// Set or clear the filter (case-insensitive substring of the shown text); rescans the whole buffer.
    pub fn set_filter(&mut self, filter: Option<String>) {
        let filter = filter.map(|f| f.to_lowercase()).filter(|f| !f.is_empty());
        self.matches = match &filter {
            Some(f) => self
                .entries
                .iter()
                .filter(|e| matches(e, f))
                .map(|e| e.seq)
                .collect(),
            None => VecDeque::new(),
        };
        self.filter = filter;
    }

    /// The active filter.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
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

fn matches(entry: &LogEntry, lowered_filter: &str) -> bool {
    contains_ignore_case(&entry.text, lowered_filter)
        || entry.level.is_some_and(|l| l.as_str() == lowered_filter)
}

fn contains_ignore_case(haystack: &str, lowered_needle: &str) -> bool {
    if haystack.is_ascii() && lowered_needle.is_ascii() {
        let h = haystack.as_bytes();
        let n = lowered_needle.as_bytes();
        if n.len() > h.len() {
            return false;
        }
        return h
            .windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    haystack.to_lowercase().contains(lowered_needle)
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
        buf.set_filter(Some("ERROR".into()));
        let held_errors = buf.iter().filter(|e| e.level == Some(Level::Error)).count();
        assert_eq!(buf.visible_len(), held_errors);
        assert!(held_errors >= 1);
        buf.push(r#"{"level":"error","msg":"late"}"#.into());
        assert_eq!(buf.visible_len(), held_errors + 1);
        assert_eq!(buf.visible(buf.visible_len() - 1).unwrap().text, "late");
        buf.set_filter(None);
        assert_eq!(buf.visible_len(), buf.len());
    }

    #[test]
    fn hostile_lines_are_stored_without_control_characters() {
        let raw = "{\"msg\":\"x\",\"ua\":\"\\u001b]52;c;aGk=\\u0007\\u001b[2J\"}".to_string();
        let e = LogEntry::from_raw(0, raw.clone());
        assert!(!e.text.chars().any(char::is_control), "{:?}", e.text);
        assert_eq!(e.raw, raw);
    }
}
