//! A per-service log buffer with a byte budget, and a filter that covers the
//! whole buffer (not only the visible lines) and is kept up to date as lines
//! arrive and leave.

use std::collections::VecDeque;

use super::filter::{Query, QueryError, Subject};
use super::parse::{Level, parse_line};
use crate::sanitize::sanitize;

/// One buffered line, borrowed from its buffer. Ingest keeps the raw line
/// and a cheaply scanned level; the display form is parsed and sanitised
/// only when the line is drawn, so ingest stays fast and work at render
/// time is proportional to visible lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogEntry<'a> {
    /// Position in this buffer's history (monotonic).
    pub seq: u64,
    /// Severity, when the line says.
    pub level: Option<Level>,
    /// The line as received, for copy and export (never drawn as is).
    pub raw: &'a str,
}

/// What the log panel draws for one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Display {
    /// Time as shown (`09:18:06.123`), when the line has one.
    pub time: Option<String>,
    /// Sanitised text: message then `key=value` fields. Never holds a control character.
    pub text: String,
}

impl LogEntry<'_> {
    /// Parse, render and sanitise the line for drawing.
    pub fn display(&self) -> Display {
        let record = parse_line(self.raw);
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

/// Where one held line lives: its level and its bytes in the arena.
#[derive(Debug, Clone, Copy)]
struct Slot {
    level: Option<Level>,
    /// Byte position in the buffer's history (monotonic across chunks).
    pos: u64,
    len: u32,
}

/// A block of consecutive lines' bytes. Lines never span chunks, and a
/// chunk is freed whole once its last line is evicted: eviction touches no
/// per-line allocation.
#[derive(Debug, Clone)]
struct Chunk {
    /// Byte position of `text[0]` in the buffer's history.
    start: u64,
    text: String,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.start + self.text.len() as u64
    }
}

/// Largest arena chunk; small budgets get smaller chunks (1/16 of the budget).
const CHUNK_MAX: usize = 256 * 1024;

/// A bounded buffer of one source's lines.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    slots: VecDeque<Slot>,
    chunks: VecDeque<Chunk>,
    /// Sequence number of `slots[0]`.
    first_seq: u64,
    chunk_size: usize,
    bytes: usize,
    budget: usize,
    filter: Option<Query>,
    matches: VecDeque<u64>,
    /// The last chunk freed by eviction, reused by the next one (its pages
    /// are already mapped; a full buffer allocates nothing).
    spare: Option<String>,
    /// Lines dropped to stay within the budget.
    pub evicted: u64,
}

impl LogBuffer {
    /// An empty buffer holding at most `budget` bytes.
    pub fn new(budget: usize) -> LogBuffer {
        let budget = budget.max(4096);
        LogBuffer {
            slots: VecDeque::new(),
            chunks: VecDeque::new(),
            first_seq: 0,
            chunk_size: (budget / 16).clamp(256, CHUNK_MAX),
            bytes: 0,
            budget,
            filter: None,
            matches: VecDeque::new(),
            spare: None,
            evicted: 0,
        }
    }

    /// Add one raw line.
    pub fn push(&mut self, raw: String) {
        let seq = self.first_seq + self.slots.len() as u64;
        let level = quick_level(&raw);
        let entry = LogEntry {
            seq,
            level,
            raw: &raw,
        };
        if self.filter.as_ref().is_some_and(|q| matches(&entry, q)) {
            self.matches.push_back(seq);
        }
        let pos = self.append(&raw);
        self.slots.push_back(Slot {
            level,
            pos,
            len: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        });
        self.bytes += SLOT_COST;
        self.evict();
    }

    /// Copy `raw` into the arena; returns its position.
    fn append(&mut self, raw: &str) -> u64 {
        if let Some(chunk) = self.chunks.back_mut()
            && chunk.text.capacity() - chunk.text.len() >= raw.len()
        {
            let pos = chunk.end();
            chunk.text.push_str(raw);
            return pos;
        }
        let start = self.chunks.back().map_or(0, Chunk::end);
        let mut text = match self.spare.take() {
            Some(mut text) if text.capacity() >= raw.len() => {
                text.clear();
                text
            }
            _ => String::with_capacity(self.chunk_size.max(raw.len())),
        };
        text.push_str(raw);
        self.bytes += text.capacity();
        self.chunks.push_back(Chunk { start, text });
        start
    }

    /// Drop the oldest lines (and the chunks they leave empty) until within budget.
    fn evict(&mut self) {
        // One chunk of the budget is kept for the spare, so lines, chunks
        // and the spare together never exceed it.
        while self.bytes + self.chunk_size > self.budget && self.slots.len() > 1 {
            self.slots.pop_front();
            self.bytes -= SLOT_COST;
            self.evicted += 1;
            if self.matches.front() == Some(&self.first_seq) {
                self.matches.pop_front();
            }
            self.first_seq += 1;
            let oldest = self.slots.front().map(|s| s.pos);
            while self.chunks.len() > 1
                && oldest.is_some_and(|p| self.chunks.front().is_some_and(|c| p >= c.end()))
            {
                if let Some(c) = self.chunks.pop_front() {
                    self.bytes -= c.text.capacity();
                    // Keep one ordinary chunk for reuse; an outsized one is freed.
                    if c.text.capacity() <= self.chunk_size {
                        self.spare = Some(c.text);
                    }
                }
            }
        }
    }

    fn entry(&self, index: usize) -> Option<LogEntry<'_>> {
        let slot = self.slots.get(index)?;
        let at = self
            .chunks
            .partition_point(|c| c.start <= slot.pos)
            .checked_sub(1)?;
        let chunk = self.chunks.get(at)?;
        let from = usize::try_from(slot.pos - chunk.start).ok()?;
        Some(LogEntry {
            seq: self.first_seq + index as u64,
            level: slot.level,
            raw: chunk.text.get(from..from + slot.len as usize)?,
        })
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no line is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes held (arena chunks, the spare chunk and per-line bookkeeping),
    /// never more than the budget.
    pub fn bytes(&self) -> usize {
        self.bytes + self.spare.as_ref().map_or(0, String::capacity)
    }

    /// Set or clear the filter; rescans the whole buffer, not only the visible lines.
    pub fn set_filter(&mut self, filter: Option<Query>) {
        let filter = filter.filter(|q| !q.is_empty());
        self.matches = match &filter {
            Some(q) => self
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
    ) -> Vec<Option<LogEntry<'_>>> {
        if self.slots.is_empty() {
            return Vec::new();
        }
        let first = self.first_seq;
        let last = first + self.slots.len() as u64 - 1;
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
            self.slots.len()
        }
    }

    /// The `n`th visible line (0 = oldest).
    pub fn visible(&self, n: usize) -> Option<LogEntry<'_>> {
        if self.filter.is_some() {
            let seq = *self.matches.get(n)?;
            self.get_seq(seq)
        } else {
            self.entry(n)
        }
    }

    fn get_seq(&self, seq: u64) -> Option<LogEntry<'_>> {
        self.entry(usize::try_from(seq.checked_sub(self.first_seq)?).ok()?)
    }

    /// Every held line, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = LogEntry<'_>> {
        (0..self.slots.len()).filter_map(|i| self.entry(i))
    }
}

/// Bookkeeping per held line, counted against the budget.
const SLOT_COST: usize = std::mem::size_of::<Slot>() + 8;

fn matches(entry: &LogEntry<'_>, query: &Query) -> bool {
    // The filter sees what the panel shows: a remembered secret is already
    // replaced, so searching for it cannot tell which lines held it. (Borrowed,
    // so free, while no secret is remembered.)
    let shown = crate::redact::apply(entry.raw);
    let parsed = std::cell::OnceCell::new();
    let field = |key: &str| -> Option<String> {
        let record = parsed.get_or_init(|| parse_line(&shown));
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
        text: &shown,
        raw: "",
        field,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_cannot_find_a_redacted_secret() {
        let secret = format!("sk_live_{:016x}", fastrand::u64(..));
        crate::redact::remember(&crate::secrets::SecretValue::new(secret.clone()));
        let mut buf = LogBuffer::new(1 << 20);
        buf.push(format!(
            r#"{{"level":"info","msg":"charging with {secret}"}}"#
        ));
        buf.push(r#"{"level":"info","msg":"nothing to see"}"#.to_string());
        buf.set_filter_text(&secret).unwrap();
        assert_eq!(buf.visible_len(), 0, "searching the value tells nothing");
        buf.set_filter_text("charging").unwrap();
        assert_eq!(buf.visible_len(), 1, "the rest of the line still matches");
    }

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
        let mut buf = LogBuffer::new(1 << 16);
        buf.push(raw.clone());
        let e = buf.visible(0).unwrap();
        let shown = e.display().text;
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(e.raw, raw);
    }

    proptest::proptest! {
        /// The arena hands back exactly the newest lines pushed, in order,
        /// within the budget, whatever their sizes (longer than a chunk,
        /// empty, multi-byte) and however many chunks were freed.
        #[test]
        fn arena_keeps_the_newest_lines_exactly(
            lines in proptest::collection::vec("[a-zé€ 0-9{}\":]{0,700}", 1..300),
            budget in 4096usize..20_000,
        ) {
            let mut buf = LogBuffer::new(budget);
            for (n, line) in lines.iter().enumerate() {
                buf.push(line.clone());
                let held: Vec<&str> = buf.iter().map(|e| e.raw).collect();
                proptest::prop_assert!(!held.is_empty());
                let expected = &lines[n + 1 - held.len()..=n];
                proptest::prop_assert_eq!(held.as_slice(), expected);
                proptest::prop_assert!(buf.bytes() <= budget || held.len() == 1);
                let seqs: Vec<u64> = buf.iter().map(|e| e.seq).collect();
                proptest::prop_assert_eq!(seqs[0] + held.len() as u64 - 1, n as u64);
                proptest::prop_assert_eq!(buf.evicted as usize, n + 1 - held.len());
            }
        }
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
