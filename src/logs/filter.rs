//! The log panel's `/` filter: a small query language matched against every
//! line of a log buffer.
//!
//! Terms are separated by whitespace and all of them must match (AND).
//! Double quotes group words with spaces (`"two words"`), `\"` is a literal
//! quote (inside or outside quotes); any other backslash is kept as typed.
//!
//! | term | meaning |
//! | --- | --- |
//! | `word`, `"two words"` | substring of the shown text or the raw line; smart case (an uppercase letter makes it case-sensitive) |
//! | `/regex/`, `"/a b/"` | regex searched in the shown text; smart case |
//! | `level:warn` | that level or worse; also `level=error`, `level!=debug`, `level>=warn`, `level>info`, `level<=info`, `level<info` |
//! | `key>=500` | field comparison with `=`, `!=`, `<`, `<=`, `>`, `>=`: numeric when both sides are numbers, otherwise exact text for `=`/`!=` and no match for `<`/`>` |
//! | `key~text` | case-insensitive substring of the field |
//! | `-term`, `!term` | negation of any term |
//!
//! A quoted term is always text, except a quoted `"/…/"`, which is a regex; so
//! `"level:warn"` searches for those characters and `"/api/v1"` for a path.
//! Keys are made of `[A-Za-z0-9_.@-]`. A line without a level never matches a
//! level term; a missing field never matches a field term except `!=`.
//!
//! Matching is built for buffers of millions of lines: text needles are
//! lowercased once at parse time and compared without allocating (an ASCII
//! fast path scans for the first byte in either case, then compares the
//! window ignoring ASCII case); cheap terms are evaluated first.

use crate::logs::parse::Level;
use regex::{Regex, RegexBuilder};
use std::ops::Range;

/// A parsed filter: all terms must match (AND).
#[derive(Debug, Clone)]
pub struct Query {
    /// Terms in the order they were typed (used by [`Query::describe`]).
    terms: Vec<Term>,
    /// Indexes into `terms`, cheapest first (used by [`Query::matches`]).
    order: Vec<usize>,
}

/// Why a query could not be parsed; the message names the bad term and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Human-readable explanation, naming the term and suggesting a fix.
    pub message: String,
    /// The offending term as it was typed.
    pub term: String,
}

/// What one line offers to the matcher. `text` is the line as displayed (message + key=value fields), `raw` the line as received.
pub struct Subject<'a> {
    /// The line's level, if it has one.
    pub level: Option<Level>,
    /// The line as displayed: message plus `key=value` fields.
    pub text: &'a str,
    /// The line as received.
    pub raw: &'a str,
    /// Field lookup by key; only called when [`Query::needs_fields`] is true.
    pub field: &'a dyn Fn(&str) -> Option<String>,
}

impl Query {
    /// Parse a query; empty or whitespace-only input gives an empty query that matches everything.
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        let terms = tokenize(input)?
            .iter()
            .map(parse_term)
            .collect::<Result<Vec<Term>, QueryError>>()?;
        let mut order: Vec<usize> = (0..terms.len()).collect();
        order.sort_by_key(|&i| terms.get(i).map_or(u8::MAX, Term::cost));
        Ok(Query { terms, order })
    }

    /// True when the query has no terms (it matches every line).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// True when a field term exists, so the caller must supply a real `field` lookup
    /// (otherwise a cheap `|_| None` is enough).
    pub fn needs_fields(&self) -> bool {
        self.terms
            .iter()
            .any(|t| matches!(t.kind, TermKind::Field { .. }))
    }

    /// Whether the line satisfies every term.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        self.order
            .iter()
            .all(|&i| self.terms.get(i).is_none_or(|t| t.matches(s)))
    }

    /// Byte ranges of `text` to highlight (text and regex terms), sorted, merged, on char boundaries.
    pub fn highlights(&self, text: &str) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for term in self.terms.iter().filter(|t| !t.negated) {
            match &term.kind {
                TermKind::Text(needle) => {
                    if needle.original.is_empty() {
                        continue;
                    }
                    let mut from = 0;
                    while let Some(r) = needle.find(text, from) {
                        if r.end <= r.start {
                            break;
                        }
                        from = r.end;
                        ranges.push(r);
                    }
                }
                TermKind::Regex { re, .. } => {
                    ranges.extend(
                        re.find_iter(text)
                            .filter(|m| !m.is_empty())
                            .map(|m| m.range()),
                    );
                }
                TermKind::Level { .. } | TermKind::Field { .. } => {}
            }
        }
        ranges.retain(|r| {
            r.start < r.end && text.is_char_boundary(r.start) && text.is_char_boundary(r.end)
        });
        ranges.sort_unstable_by_key(|r| (r.start, r.end));
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        merged
    }

    /// Normalised form shown in the panel title, e.g. `"timeout" level>=warn status>=500`.
    pub fn describe(&self) -> String {
        self.terms
            .iter()
            .map(Term::describe)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Comparison operator of level and field terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    fn holds<T: PartialOrd>(self, left: &T, right: &T) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

/// Operator as written after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Cmp(Cmp),
    Contains,
    /// `:`, only meaningful for `level` (means `>=`).
    Colon,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Cmp(c) => c.as_str(),
            Op::Contains => "~",
            Op::Colon => ":",
        }
    }
}

#[derive(Debug, Clone)]
struct Term {
    negated: bool,
    kind: TermKind,
}

#[derive(Debug, Clone)]
enum TermKind {
    Text(Needle),
    Regex { pattern: String, re: Regex },
    Level { cmp: Cmp, level: Level },
    Field { key: String, test: FieldTest },
}

#[derive(Debug, Clone)]
enum FieldTest {
    Cmp {
        cmp: Cmp,
        value: String,
        number: Option<f64>,
    },
    Contains(Needle),
}

impl Term {
    /// Rough evaluation cost, to run cheap terms first.
    fn cost(&self) -> u8 {
        match self.kind {
            TermKind::Level { .. } => 0,
            TermKind::Text(_) => 1,
            TermKind::Regex { .. } => 2,
            TermKind::Field { .. } => 3,
        }
    }

    fn matches(&self, s: &Subject<'_>) -> bool {
        let hit = match &self.kind {
            TermKind::Text(needle) => {
                needle.is_in(s.text) || (!same_str(s.text, s.raw) && needle.is_in(s.raw))
            }
            TermKind::Regex { re, .. } => re.is_match(s.text),
            TermKind::Level { cmp, level } => s.level.is_some_and(|l| cmp.holds(&l, level)),
            TermKind::Field { key, test } => match (s.field)(key) {
                None => matches!(test, FieldTest::Cmp { cmp: Cmp::Ne, .. }),
                Some(found) => test.matches(&found),
            },
        };
        hit != self.negated
    }

    fn describe(&self) -> String {
        let body = match &self.kind {
            TermKind::Text(needle) => quote(&needle.original),
            TermKind::Regex { pattern, .. } => {
                let slashed = format!("/{pattern}/");
                if slashed.chars().any(char::is_whitespace) {
                    quote(&slashed)
                } else {
                    escape_quotes(&slashed)
                }
            }
            TermKind::Level { cmp, level } => format!("level{}{}", cmp.as_str(), level.as_str()),
            TermKind::Field { key, test } => {
                let (op, value) = match test {
                    FieldTest::Cmp { cmp, value, .. } => (cmp.as_str(), value.as_str()),
                    FieldTest::Contains(needle) => ("~", needle.original.as_str()),
                };
                let needs_quotes = value.is_empty() || value.chars().any(char::is_whitespace);
                let value = if needs_quotes {
                    quote(value)
                } else {
                    escape_quotes(value)
                };
                format!("{key}{op}{value}")
            }
        };
        if self.negated {
            format!("-{body}")
        } else {
            body
        }
    }
}

impl FieldTest {
    fn matches(&self, found: &str) -> bool {
        match self {
            FieldTest::Contains(needle) => needle.is_in(found),
            FieldTest::Cmp { cmp, value, number } => {
                if let Some(want) = number
                    && let Some(have) = parse_number(found)
                {
                    return cmp.holds(&have, want);
                }
                match cmp {
                    Cmp::Eq => found == value,
                    Cmp::Ne => found != value,
                    Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge => false,
                }
            }
        }
    }
}

/// A finite number, or None (so `nan`/`inf` compare as text).
fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Same slice (pointer and length), checked without reading the bytes.
fn same_str(a: &str, b: &str) -> bool {
    std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()
}

fn escape_quotes(s: &str) -> String {
    s.replace('"', "\\\"")
}

fn quote(s: &str) -> String {
    format!("\"{}\"", escape_quotes(s))
}

/// A text needle, prepared once so that searching never allocates.
#[derive(Debug, Clone)]
struct Needle {
    /// As typed (for `describe`).
    original: String,
    search: Search,
}

#[derive(Debug, Clone)]
enum Search {
    /// Byte-exact (case-sensitive, or nothing that has case in ASCII).
    Exact(String),
    /// ASCII needle compared ignoring ASCII case, through the regex engine's
    /// SIMD literal prefilter over the needle's case variants (a first-byte
    /// scan stops on every `t` of a JSON log; this does not).
    AsciiFold(regex::bytes::Regex, usize),
    /// Needle lowercased char by char; `non_ascii` when some char is not ASCII
    /// (then an all-ASCII haystack cannot match).
    Fold { chars: Vec<char>, non_ascii: bool },
}

impl Needle {
    /// `smart_case`: an uppercase letter makes the needle case-sensitive;
    /// otherwise it is always case-insensitive.
    fn new(original: &str, smart_case: bool) -> Needle {
        let case_sensitive = smart_case && original.chars().any(char::is_uppercase);
        let search = if case_sensitive || !has_case(original) {
            Search::Exact(original.to_owned())
        } else if original.is_ascii() {
            match regex::bytes::RegexBuilder::new(&regex::escape(original))
                .case_insensitive(true)
                .unicode(false)
                .build()
            {
                Ok(re) => Search::AsciiFold(re, original.len()),
                // Only a needle too large for the engine lands here.
                Err(_) => Search::Fold {
                    chars: original.chars().map(|c| c.to_ascii_lowercase()).collect(),
                    non_ascii: false,
                },
            }
        } else {
            let chars: Vec<char> = original.chars().flat_map(char::to_lowercase).collect();
            let non_ascii = chars.iter().any(|c| !c.is_ascii());
            Search::Fold { chars, non_ascii }
        };
        Needle {
            original: original.to_owned(),
            search,
        }
    }

    fn is_in(&self, hay: &str) -> bool {
        match &self.search {
            // Membership needs no match bounds: the regex engine can stop at the first hit.
            Search::AsciiFold(re, len) => *len == 0 || re.is_match(hay.as_bytes()),
            _ => self.find(hay, 0).is_some(),
        }
    }

    /// First occurrence starting at byte `from` or later.
    fn find(&self, hay: &str, from: usize) -> Option<Range<usize>> {
        let rest = hay.get(from..)?;
        match &self.search {
            Search::Exact(n) => rest.find(n.as_str()).map(|i| from + i..from + i + n.len()),
            Search::AsciiFold(re, len) => {
                if *len == 0 {
                    return Some(from..from);
                }
                re.find_at(hay.as_bytes(), from).map(|m| m.start()..m.end())
            }
            Search::Fold { chars, non_ascii } => {
                if chars.is_empty() {
                    return Some(from..from);
                }
                if *non_ascii && rest.is_ascii() {
                    return None;
                }
                fold_find(hay, chars, from)
            }
        }
    }
}

/// First match of the lowercased `needle` (non-empty) in `hay` at or after
/// byte `from`, comparing `hay` char by char through `char::to_lowercase`.
/// Candidate starts are found with a byte scan: an ASCII first char can only
/// start at that byte in either case or at a non-ASCII char (e.g. the Kelvin
/// sign lowercases to `k`); a non-ASCII first char only at a non-ASCII char.
fn fold_find(hay: &str, needle: &[char], from: usize) -> Option<Range<usize>> {
    let &first = needle.first()?;
    let bytes = hay.as_bytes();
    let (lower, upper) = if first.is_ascii() {
        let b = first as u8;
        (b, b.to_ascii_uppercase())
    } else {
        (0x80, 0x80)
    };
    let mut i = from;
    while i < bytes.len() {
        let at = i + bytes
            .get(i..)?
            .iter()
            .position(|&b| b >= 0x80 || b == lower || b == upper)?;
        let ch = hay.get(at..)?.chars().next()?;
        if ch.to_lowercase().next() == Some(first)
            && let Some(end) = fold_match_at(hay, at, needle)
        {
            return Some(at..end);
        }
        i = at + ch.len_utf8();
    }
    None
}

/// Whether lowercasing could change `s` or a haystack could differ in case from it:
/// false only for pure ASCII without letters (digits, punctuation).
fn has_case(s: &str) -> bool {
    !s.is_ascii() || s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// If the lowercased chars of `hay` starting at byte `start` begin with
/// `needle`, the byte offset where the match ends (end of the last char used).
fn fold_match_at(hay: &str, start: usize, needle: &[char]) -> Option<usize> {
    let mut k = 0;
    for (off, ch) in hay.get(start..)?.char_indices() {
        for lc in ch.to_lowercase() {
            match needle.get(k) {
                Some(&want) if want == lc => k += 1,
                Some(_) => return None,
                None => break,
            }
        }
        if k == needle.len() {
            return Some(start + off + ch.len_utf8());
        }
    }
    None
}

/// One whitespace-separated term after quote processing.
struct Token<'a> {
    /// The term as typed (for error messages).
    raw: &'a str,
    /// The term with quotes removed and `\"` unescaped.
    text: String,
    /// Bytes of `text` before the first quoted part (`text.len()` when none).
    unquoted_prefix: usize,
    /// Whether any part was quoted.
    quoted: bool,
}

fn tokenize(input: &str) -> Result<Vec<Token<'_>>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    loop {
        while let Some(&(_, c)) = chars.peek()
            && c.is_whitespace()
        {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut text = String::new();
        let mut in_quotes = false;
        let mut first_quote: Option<usize> = None;
        let mut end = input.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() && !in_quotes {
                end = i;
                break;
            }
            chars.next();
            if c == '\\' && chars.peek().is_some_and(|&(_, n)| n == '"') {
                chars.next();
                text.push('"');
            } else if c == '"' {
                first_quote.get_or_insert(text.len());
                in_quotes = !in_quotes;
            } else {
                text.push(c);
            }
        }
        let raw = input.get(start..end).unwrap_or(input);
        if in_quotes {
            return Err(QueryError {
                message: format!(
                    "unterminated quote in `{raw}`: add a closing \" (write \\\" for a literal quote)"
                ),
                term: raw.to_owned(),
            });
        }
        tokens.push(Token {
            raw,
            unquoted_prefix: first_quote.unwrap_or(text.len()),
            quoted: first_quote.is_some(),
            text,
        });
    }
    Ok(tokens)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-')
}

/// The operator at the start of `s`, and its length in bytes.
fn operator_at(s: &str) -> Option<(Op, usize)> {
    const OPS: &[(&str, Op)] = &[
        (">=", Op::Cmp(Cmp::Ge)),
        ("<=", Op::Cmp(Cmp::Le)),
        ("!=", Op::Cmp(Cmp::Ne)),
        (">", Op::Cmp(Cmp::Gt)),
        ("<", Op::Cmp(Cmp::Lt)),
        ("=", Op::Cmp(Cmp::Eq)),
        ("~", Op::Contains),
        (":", Op::Colon),
    ];
    OPS.iter()
        .find(|(sym, _)| s.starts_with(sym))
        .map(|&(sym, op)| (op, sym.len()))
}

const LEVEL_HELP: &str = "trace, debug, info, warn (warning), error (err), fatal (panic, critical)";

fn parse_term(tok: &Token<'_>) -> Result<Term, QueryError> {
    let err = |message: String| QueryError {
        message,
        term: tok.raw.to_owned(),
    };
    let mut text = tok.text.as_str();
    let mut prefix = tok.unquoted_prefix;
    let mut negated = false;
    if prefix > 0
        && let Some(rest) = text.strip_prefix(['-', '!'])
    {
        if rest.is_empty() && !tok.quoted {
            return Err(err(format!(
                "`{}` needs a term after it, e.g. -debug; to search for \"{}\" itself, quote it",
                tok.raw, tok.raw
            )));
        }
        negated = true;
        text = rest;
        prefix -= 1;
    }
    let starts_quoted = tok.quoted && prefix == 0;

    if text.starts_with('/') {
        if let Some(pattern) = text.get(1..).and_then(|t| t.strip_suffix('/')) {
            return Ok(Term {
                negated,
                kind: compile_regex(pattern, tok.raw)?,
            });
        }
        if !starts_quoted {
            return Err(err(format!(
                "unterminated regex `{}`: end it with / (e.g. {text}/); a regex with spaces must be quoted, \
                 e.g. \"/a b/\"; to search for text starting with /, quote it: \"{text}\"",
                tok.raw
            )));
        }
    }

    if !starts_quoted {
        let key_len = text.bytes().take_while(|&b| is_key_byte(b)).count();
        let key = text.get(..key_len).unwrap_or("");
        let is_level = key.eq_ignore_ascii_case("level");
        if key_len > 0
            && key_len < prefix
            && let Some((op, op_len)) = text.get(key_len..).and_then(operator_at)
            && (is_level || op != Op::Colon)
        {
            let value = text.get(key_len + op_len..).unwrap_or("");
            if value.is_empty() && !tok.quoted {
                return Err(err(format!(
                    "`{}` has no value after `{}`: write e.g. {}",
                    tok.raw,
                    op.as_str(),
                    if is_level {
                        format!("level{}warn", op.as_str())
                    } else {
                        format!("{key}{}500", op.as_str())
                    }
                )));
            }
            let kind = if is_level {
                level_term(op, value, tok.raw)?
            } else {
                let test = match op {
                    Op::Cmp(cmp) => FieldTest::Cmp {
                        cmp,
                        value: value.to_owned(),
                        number: parse_number(value),
                    },
                    Op::Contains | Op::Colon => FieldTest::Contains(Needle::new(value, false)),
                };
                TermKind::Field {
                    key: key.to_owned(),
                    test,
                }
            };
            return Ok(Term { negated, kind });
        }
    }

    Ok(Term {
        negated,
        kind: TermKind::Text(Needle::new(text, true)),
    })
}

fn level_term(op: Op, value: &str, raw: &str) -> Result<TermKind, QueryError> {
    let cmp = match op {
        Op::Cmp(cmp) => cmp,
        Op::Colon => Cmp::Ge,
        Op::Contains => {
            return Err(QueryError {
                message: format!(
                    "`{raw}`: level does not support `~`; use level:warn (that level or worse), \
                     level=error, level!=debug, level>=warn or level<info"
                ),
                term: raw.to_owned(),
            });
        }
    };
    let Some(level) = Level::from_word(value) else {
        return Err(QueryError {
            message: format!("unknown level `{value}` in `{raw}`: valid levels are {LEVEL_HELP}"),
            term: raw.to_owned(),
        });
    };
    Ok(TermKind::Level { cmp, level })
}

/// Smart case for regexes: uppercase letters count unless they are part of an
/// escape (`\W`, `\P{Lu}`, `\x{1F}`) or a group name (`(?P<Name>`).
fn regex_has_uppercase(pattern: &str) -> bool {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
                if chars.peek() == Some(&'{') {
                    for skipped in chars.by_ref() {
                        if skipped == '}' {
                            break;
                        }
                    }
                }
            }
            '(' if chars.peek() == Some(&'?') => {
                chars.next();
                if chars.peek() == Some(&'P') {
                    chars.next();
                }
                if chars.peek() == Some(&'<') {
                    for skipped in chars.by_ref() {
                        if skipped == '>' {
                            break;
                        }
                    }
                }
            }
            c if c.is_uppercase() => return true,
            _ => {}
        }
    }
    false
}

fn compile_regex(pattern: &str, raw: &str) -> Result<TermKind, QueryError> {
    let re = RegexBuilder::new(pattern)
        .case_insensitive(!regex_has_uppercase(pattern))
        .build()
        .map_err(|e| {
            let shown = e.to_string();
            let first = shown.lines().next().unwrap_or("").trim();
            let detail = shown
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error:"))
                .map(str::trim);
            let reason = match detail {
                Some(d) if !d.is_empty() => format!("{first} {d}"),
                _ => first.to_owned(),
            };
            QueryError {
                message: format!(
                    "invalid regex `{raw}`: {reason}; fix the pattern, or escape special characters with \\ \
                     to match them literally"
                ),
                term: raw.to_owned(),
            }
        })?;
    Ok(TermKind::Regex {
        pattern: pattern.to_owned(),
        re,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn no_fields(_: &str) -> Option<String> {
        None
    }

    fn fields_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key: &str| owned.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn q(input: &str) -> Query {
        Query::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn hit(query: &str, level: Option<Level>, text: &str) -> bool {
        q(query).matches(&Subject {
            level,
            text,
            raw: text,
            field: &no_fields,
        })
    }

    fn hit_fields(query: &str, pairs: &[(&str, &str)]) -> bool {
        let lookup = fields_from(pairs);
        let query = q(query);
        assert!(query.needs_fields());
        query.matches(&Subject {
            level: None,
            text: "",
            raw: "",
            field: &lookup,
        })
    }

    fn err(input: &str) -> QueryError {
        match Query::parse(input) {
            Ok(parsed) => panic!("{input:?} should fail, got {}", parsed.describe()),
            Err(e) => e,
        }
    }

    #[test]
    fn empty_query_matches_everything() {
        for input in ["", "   ", "\t\n "] {
            let query = q(input);
            assert!(query.is_empty());
            assert!(!query.needs_fields());
            assert_eq!(query.describe(), "");
            assert!(hit(input, None, "anything"));
            assert!(query.highlights("anything").is_empty());
        }
    }

    #[test]
    fn word_is_case_insensitive_substring() {
        assert!(hit("timeout", None, "upstream TimeOut after 30s"));
        assert!(hit("timeout", None, "TIMEOUT"));
        assert!(!hit("timeout", None, "time out"));
        assert!(hit("500", None, "status=500"));
        assert!(!q("timeout").is_empty());
        assert!(!q("timeout").needs_fields());
    }

    #[test]
    fn word_matches_text_or_raw() {
        let query = q("trace_id");
        let matches_with = |text: &str, raw: &str| {
            query.matches(&Subject {
                level: None,
                text,
                raw,
                field: &no_fields,
            })
        };
        assert!(matches_with(
            "request done",
            r#"{"msg":"request done","trace_id":"x"}"#
        ));
        assert!(matches_with("request done trace_id=x", "{}"));
        assert!(!matches_with("request done", "{}"));
    }

    #[test]
    fn smart_case_for_words() {
        assert!(hit("Timeout", None, "Timeout reached"));
        assert!(!hit("Timeout", None, "timeout reached"));
        assert!(hit("timeout", None, "Timeout reached"));
    }

    #[test]
    fn non_ascii_words_fold_case() {
        assert!(hit("émoi", None, "grand ÉMOI ici"));
        assert!(hit("straße", None, "STRAßE 5"));
        assert!(!hit("Émoi", None, "grand émoi"));
        assert!(!hit("ü", None, "plain ascii line"));
        assert!(hit("ü", None, "Ünïcode"));
        // The Kelvin sign lowercases to an ASCII `k`.
        assert!(hit("kö", None, "x \u{212A}Öln"));
        assert_eq!(q("kö").highlights("a \u{212A}Ö kö"), vec![2..7, 8..11]);
    }

    #[test]
    fn quoted_words_and_escapes() {
        assert!(hit(
            "\"connection reset\"",
            None,
            "error: Connection reset by peer"
        ));
        assert!(!hit("\"connection reset\"", None, "connection was reset"));
        assert!(hit(r#""say \"hi\"""#, None, r#"they say "hi" twice"#));
        assert!(hit(r#"a\"b"#, None, r#"x a"b y"#));
        assert_eq!(q(r#""say \"hi\"""#).describe(), r#""say \"hi\"""#);
        // A quoted term is always text.
        assert!(hit("\"level:warn\"", None, "config level:warn set"));
        assert!(!q("\"status>=500\"").needs_fields());
        assert!(hit("\"/api/v1\"", None, "GET /api/v1/orders"));
        // Quotes in the middle of a term.
        assert!(hit("con\"nection re\"set", None, "connection reset"));
    }

    #[test]
    fn regex_term() {
        assert!(hit("/time(out|d-out)/", None, "Timeout while connecting"));
        assert!(hit(r"/\d{3}ms/", None, "took 250ms"));
        assert!(!hit(r"/\d{3}ms/", None, "took 25ms"));
        assert!(hit(
            "\"/connection reset/\"",
            None,
            "connection reset by peer"
        ));
        assert!(hit("/api/v1/", None, "GET /api/v1/orders"));
        let query = q("\"/a b/\"");
        assert_eq!(query.describe(), "\"/a b/\"");
        assert!(!query.needs_fields());
    }

    #[test]
    fn regex_smart_case() {
        assert!(hit("/error/", None, "ERROR here"));
        assert!(!hit("/Error/", None, "ERROR here"));
        assert!(hit("/Error/", None, "Error here"));
        // Uppercase escapes do not make the regex case-sensitive.
        assert!(hit(r"/a\Sc/", None, "ABC"));
        assert!(hit(r"/\p{L}x/", None, "éX"));
        assert!(hit(r"/(?P<Word>abc)/", None, "ABC"));
    }

    #[test]
    fn negation() {
        assert!(!hit("-healthz", None, "GET /healthz 200"));
        assert!(hit("-healthz", None, "GET /orders 200"));
        assert!(!hit("!healthz", None, "GET /healthz 200"));
        assert!(!hit("-/health.?z/", None, "GET /healthz 200"));
        assert!(hit("-\"two words\"", None, "one word"));
        assert!(!hit("-level:warn", Some(Level::Error), "x"));
        assert!(hit("-level:warn", Some(Level::Info), "x"));
        assert!(hit("-level:warn", None, "x"));
        assert!(!hit_fields("-status>=500", &[("status", "503")]));
        assert!(hit_fields("-status>=500", &[("status", "200")]));
        assert!(hit_fields("-status>=500", &[]));
        assert_eq!(q("!healthz").describe(), "-\"healthz\"");
        // A quoted dash is literal text.
        assert!(hit("\"-v\"", None, "run -v"));
        assert!(!hit("\"-v\"", None, "run v"));
    }

    #[test]
    fn bare_negation_is_an_error() {
        let e = err("foo -");
        assert_eq!(e.term, "-");
        assert!(e.message.contains("needs a term"), "{}", e.message);
        assert!(err("!").message.contains("quote it"));
    }

    #[test]
    fn and_of_several_terms() {
        let query = q("timeout level>=warn /db-\\d+/ -retry");
        let line = |level, text| {
            query.matches(&Subject {
                level,
                text,
                raw: text,
                field: &no_fields,
            })
        };
        assert!(line(Some(Level::Error), "timeout talking to db-3"));
        assert!(!line(Some(Level::Info), "timeout talking to db-3"));
        assert!(!line(Some(Level::Error), "timeout talking to cache"));
        assert!(!line(Some(Level::Error), "timeout talking to db-3, retry"));
        assert!(!line(Some(Level::Error), "slow db-3"));
    }

    #[test]
    fn level_comparisons() {
        assert!(hit("level:warn", Some(Level::Warn), ""));
        assert!(hit("level:warn", Some(Level::Fatal), ""));
        assert!(!hit("level:warn", Some(Level::Info), ""));
        assert!(hit("level=error", Some(Level::Error), ""));
        assert!(!hit("level=error", Some(Level::Fatal), ""));
        assert!(hit("level>=warn", Some(Level::Warn), ""));
        assert!(hit("level>warn", Some(Level::Error), ""));
        assert!(!hit("level>warn", Some(Level::Warn), ""));
        assert!(hit("level<info", Some(Level::Debug), ""));
        assert!(!hit("level<info", Some(Level::Info), ""));
        assert!(hit("level<=info", Some(Level::Info), ""));
        assert!(hit("level!=debug", Some(Level::Info), ""));
        assert!(!hit("level!=debug", Some(Level::Debug), ""));
        assert!(hit("LEVEL:WARNING", Some(Level::Warn), ""));
        assert!(hit("level:err", Some(Level::Error), ""));
        assert!(!q("level:warn").needs_fields());
    }

    #[test]
    fn lines_without_level_never_match_level_terms() {
        for query in ["level:trace", "level=info", "level<fatal", "level!=error"] {
            assert!(!hit(query, None, "level=info in text"), "{query}");
        }
    }

    #[test]
    fn unknown_level_lists_valid_words() {
        let e = err("level:loud");
        assert_eq!(e.term, "level:loud");
        for word in ["trace", "debug", "info", "warn", "error", "fatal", "loud"] {
            assert!(
                e.message.contains(word),
                "{word} missing from {}",
                e.message
            );
        }
        assert!(err("level~warn").message.contains("level>=warn"));
    }

    #[test]
    fn numeric_field_comparison() {
        assert!(hit_fields("status>=500", &[("status", "503")]));
        assert!(hit_fields("status>=500", &[("status", "500")]));
        assert!(!hit_fields("status>=500", &[("status", "404")]));
        assert!(hit_fields("status>500", &[("status", "500.5")]));
        assert!(hit_fields("latency<0.25", &[("latency", "0.1")]));
        assert!(hit_fields("latency<=0.1", &[("latency", " 0.1 ")]));
        assert!(hit_fields("status=500", &[("status", "500.0")]));
        assert!(hit_fields(
            "res.statusCode>=500",
            &[("res.statusCode", "502")]
        ));
        // Numerically 1000 > 900 even though "1000" < "900" as text.
        assert!(hit_fields("bytes>900", &[("bytes", "1000")]));
    }

    #[test]
    fn string_field_comparison() {
        assert!(hit_fields("method=POST", &[("method", "POST")]));
        assert!(!hit_fields("method=POST", &[("method", "post")]));
        assert!(hit_fields("method!=GET", &[("method", "POST")]));
        assert!(!hit_fields("method!=POST", &[("method", "POST")]));
        assert!(hit_fields(
            "path~/api/v1/orders",
            &[("path", "/API/v1/orders/42")]
        ));
        assert!(!hit_fields("path~/api/v2", &[("path", "/api/v1/orders")]));
        assert!(hit_fields("user~ÉMILE", &[("user", "émile")]));
        assert!(hit_fields("status~50", &[("status", "503")]));
        // `<`/`>` on non-numbers never match.
        assert!(!hit_fields("method>A", &[("method", "POST")]));
        assert!(!hit_fields("status>=500", &[("status", "oops")]));
        assert!(!hit_fields("x<=inf", &[("x", "inf")]));
        assert!(hit_fields("x=nan", &[("x", "nan")]));
        assert!(hit_fields("msg=\"two words\"", &[("msg", "two words")]));
        assert!(hit_fields("msg=\"\"", &[("msg", "")]));
        assert!(hit_fields(
            "@timestamp~2024",
            &[("@timestamp", "2024-01-01")]
        ));
        assert!(hit_fields("x-request-id=abc", &[("x-request-id", "abc")]));
    }

    #[test]
    fn missing_field() {
        assert!(hit_fields("status!=500", &[]));
        assert!(hit_fields("status!=500", &[("status", "200")]));
        assert!(!hit_fields("status!=500", &[("status", "500")]));
        for query in ["status=500", "status>=500", "status<500", "status~5"] {
            assert!(!hit_fields(query, &[]), "{query}");
        }
    }

    #[test]
    fn missing_value_is_an_error() {
        for input in ["status>=", "status=", "path~", "level:", "a!="] {
            let e = err(input);
            assert_eq!(e.term, input);
            assert!(e.message.contains("no value"), "{}", e.message);
        }
    }

    #[test]
    fn colon_is_text_for_other_keys() {
        let query = q("host:80");
        assert!(!query.needs_fields());
        assert!(hit("host:80", None, "connect host:8080"));
        assert!(hit("10.0.0.1:8080", None, "dial 10.0.0.1:8080"));
        assert!(hit("https://x.io", None, "GET https://x.io/a"));
    }

    #[test]
    fn bad_regex_names_the_term() {
        let e = err("ok /a(b/ other");
        assert_eq!(e.term, "/a(b/");
        assert!(e.message.contains("/a(b/"), "{}", e.message);
        assert!(e.message.contains("regex parse error"), "{}", e.message);
        assert!(e.message.contains("unclosed group"), "{}", e.message);
        assert!(!e.message.contains('\n'), "{}", e.message);
        assert_eq!(e.to_string(), e.message);
    }

    #[test]
    fn unterminated_quote_and_regex() {
        let e = err("ok \"two words");
        assert_eq!(e.term, "\"two words");
        assert!(e.message.contains("unterminated quote"), "{}", e.message);
        let e = err("ok /api/v1/orders");
        assert_eq!(e.term, "/api/v1/orders");
        assert!(e.message.contains("unterminated regex"), "{}", e.message);
        assert!(e.message.contains("quote"), "{}", e.message);
        let e = err("/a b/");
        assert_eq!(e.term, "/a");
        assert!(err("/").message.contains("unterminated regex"));
    }

    #[test]
    fn describe_is_normalised_and_reparses() {
        let query = q(
            "  timeout   level:warning status>=500 -\"x y\" path~/api msg=\"a b\" \"/a b/\" !/x\\\"y/  ",
        );
        let shown = query.describe();
        assert_eq!(
            shown,
            r#""timeout" level>=warn status>=500 -"x y" path~/api msg="a b" "/a b/" -/x\"y/"#
        );
        assert_eq!(q(&shown).describe(), shown);
        assert_eq!(
            q("timeout level:warn status>=500").describe(),
            r#""timeout" level>=warn status>=500"#
        );
    }

    #[test]
    fn highlights_merge_and_sort() {
        let query = q("abc bcd /cde?/");
        assert_eq!(query.highlights("xxabcdexx abc"), vec![2..7, 10..13]);
        // Adjacent and repeated matches merge.
        assert_eq!(q("ab").highlights("ababxab"), vec![0..4, 5..7]);
        // Negated, level and field terms do not highlight.
        assert!(q("-ab level:warn a=b").highlights("ab a=b").is_empty());
        // Empty regex matches and empty quotes add nothing.
        assert!(q("// \"\"").highlights("abc").is_empty());
    }

    #[test]
    fn highlights_on_char_boundaries() {
        let text = "héllo wörld ÉMOI — ok";
        for input in ["émoi", "ö", "/w.r/", "/./", "ok", "l", "—"] {
            let ranges = q(input).highlights(text);
            assert!(!ranges.is_empty(), "{input}");
            for r in &ranges {
                assert!(text.get(r.clone()).is_some(), "{input}: {r:?}");
            }
        }
        let ranges = q("émoi").highlights(text);
        assert_eq!(text.get(ranges[0].clone()), Some("ÉMOI"));
        let ranges = q("/w.r/").highlights(text);
        assert_eq!(text.get(ranges[0].clone()), Some("wör"));
    }

    #[test]
    fn ascii_fold_edges() {
        let find = |needle: &str, hay: &str, from: usize| Needle::new(needle, true).find(hay, from);
        assert_eq!(find("abc", "xAbC", 0), Some(1..4));
        assert_eq!(find("abc", "xAbC", 2), None);
        assert_eq!(find("aab", "aaab", 0), Some(1..4));
        assert_eq!(find("abc", "ab", 0), None);
        assert_eq!(find("timeout", "upstream TIMEOUT after", 3), Some(9..16));
        assert_eq!(find("abc", "abc", 4), None);
    }

    fn queryish() -> impl Strategy<Value = String> {
        let term = prop_oneof![
            "[a-zA-Zé0-9]{0,6}",
            "[-!]?/[a-zA-Z.*+?()|\\[\\]\\\\dws{}0-9]{0,8}/",
            "[-!]?level(:|=|!=|<|<=|>|>=|~)(warn|info|error|Fatal|x)?",
            "[-!]?[a-z.@_-]{1,4}(>=|<=|!=|=|~|<|>)[0-9a-zé.\"-]{0,4}",
            "\"[^\"]{0,6}\"",
            "[-!\"\\\\/ ]{1,3}",
            any::<String>(),
        ];
        prop::collection::vec(term, 0..5).prop_map(|v| v.join(" "))
    }

    fn check_all(query: &Query, text: &str, level: Option<Level>) {
        let lookup = |k: &str| (k.len() <= 3).then(|| text.chars().rev().collect::<String>());
        let _ = query.matches(&Subject {
            level,
            text,
            raw: text,
            field: &lookup,
        });
        let _ = query.matches(&Subject {
            level,
            text,
            raw: "raw",
            field: &no_fields,
        });
        let ranges = query.highlights(text);
        let mut prev_end = None;
        for r in &ranges {
            assert!(r.start < r.end);
            assert!(text.get(r.clone()).is_some());
            if let Some(end) = prev_end {
                assert!(r.start > end, "{ranges:?}");
            }
            prev_end = Some(r.end);
        }
        let _ = query.describe();
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Query::parse(&input);
        }

        #[test]
        fn parse_queryish_never_panics(input in queryish()) {
            if let Ok(query) = Query::parse(&input) {
                let _ = query.describe();
            }
        }

        #[test]
        fn matching_never_panics(input in queryish(), text in any::<String>(), lvl in 0usize..7) {
            let levels = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];
            if let Ok(query) = Query::parse(&input) {
                check_all(&query, &text, levels.get(lvl).copied());
            }
        }

        #[test]
        fn word_matches_like_lowercase_contains(needle in "[a-zA-Z0-9 ]{1,4}", text in "[a-zA-Zé0-9 ]{0,20}") {
            let query = q(&quote(&needle));
            let expected = if needle.chars().any(char::is_uppercase) {
                text.contains(&needle)
            } else {
                text.to_ascii_lowercase().contains(&needle)
            };
            prop_assert_eq!(query.matches(&Subject { level: None, text: &text, raw: &text, field: &no_fields }), expected);
        }
    }
}
