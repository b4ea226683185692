//! Prometheus / OpenMetrics text parsing and two-scrape traffic windows.
//!
//! [`parse`] reads the text exposition format 0.0.4 and OpenMetrics text into
//! flat [`Sample`]s. [`window`] compares two scrapes: request rate, 5xx error
//! rate and latency quantiles from histogram bucket deltas, using Prometheus's
//! counter-reset rule and its `histogram_quantile` interpolation
//! ([`histogram_quantile`]).

use serde::Serialize;
use std::collections::HashMap;

/// One sample: metric name, labels (sorted by name), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `http_requests_total` or `x_bucket`.
    pub name: String,
    /// Label pairs sorted by label name (stable for duplicate names).
    pub labels: Vec<(String, String)>,
    /// Sample value (may be NaN or ±Inf).
    pub value: f64,
}

impl Sample {
    /// Value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// All samples in exposition order.
    pub samples: Vec<Sample>,
}

/// Parse Prometheus text exposition format 0.0.4 and OpenMetrics text (ignore # HELP/# TYPE/# UNIT/# EOF lines, handle escaped label values \" \\ \n, +Inf/-Inf/NaN values, optional timestamps, exemplars after ` # ` in OpenMetrics). Bad lines are skipped and counted.
///
/// Parsing stops at `# EOF`. Blank lines and comments are not counted as skipped.
/// Quoted UTF-8 metric names (`{"my.metric",a="b"}`) are accepted.
pub fn parse(text: &str) -> (Scrape, usize) {
    let mut scrape = Scrape::default();
    let mut skipped = 0;
    for line in text.split('\n') {
        let line = line.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            if rest.trim_start_matches([' ', '\t']) == "EOF" {
                break;
            }
            continue;
        }
        match parse_sample(line) {
            Some(s) => scrape.samples.push(s),
            None => skipped += 1,
        }
    }
    (scrape, skipped)
}

/// Byte cursor over one line. All positions stay on char boundaries because
/// the cursor only stops at ASCII bytes or after whole chars.
struct Cur<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (colons only when `colon`).
    fn ident(&mut self, colon: bool) -> Option<&'a str> {
        let start = self.i;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_alphabetic()
                || b == b'_'
                || (colon && b == b':')
                || (self.i > start && b.is_ascii_digit());
            if !ok {
                break;
            }
            self.i += 1;
        }
        (self.i > start)
            .then(|| self.s.get(start..self.i))
            .flatten()
    }

    /// A double-quoted string with `\\`, `\"` and `\n` escapes; other escapes are kept literally.
    fn quoted(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let rest = self.s.get(self.i..)?;
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((off, c)) = chars.next() {
            match c {
                '"' => {
                    self.i += off + 1;
                    return Some(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => return None,
                },
                c => out.push(c),
            }
        }
        None
    }

    /// A run of non-whitespace.
    fn token(&mut self) -> Option<&'a str> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b == b' ' || b == b'\t' {
                break;
            }
            self.i += 1;
        }
        (self.i > start)
            .then(|| self.s.get(start..self.i))
            .flatten()
    }
}

/// Go `ParseFloat`-compatible enough for exposition values.
fn parse_float(t: &str) -> Option<f64> {
    t.parse::<f64>().ok()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let mut c = Cur { s: line, i: 0 };
    let mut name = c.ident(true).map(str::to_owned);
    let mut labels = Vec::new();
    if c.eat(b'{') {
        loop {
            c.skip_ws();
            if c.eat(b'}') {
                break;
            }
            let key = if c.peek() == Some(b'"') {
                c.quoted()?
            } else {
                c.ident(false)?.to_owned()
            };
            c.skip_ws();
            if c.eat(b'=') {
                c.skip_ws();
                let value = c.quoted()?;
                labels.push((key, value));
            } else if name.is_none() && labels.is_empty() {
                // Quoted UTF-8 metric name inside the braces.
                name = Some(key);
            } else {
                return None;
            }
            c.skip_ws();
            if c.eat(b',') {
                continue;
            }
            if c.eat(b'}') {
                break;
            }
            return None;
        }
    }
    let name = name.filter(|n| !n.is_empty())?;
    if !c.skip_ws() {
        return None;
    }
    let value = parse_float(c.token()?)?;
    c.skip_ws();
    match c.peek() {
        None | Some(b'#') => {}
        Some(_) => {
            // Optional timestamp (int ms, or float seconds in OpenMetrics).
            parse_float(c.token()?)?;
            c.skip_ws();
            // Anything after the timestamp must be an exemplar.
            if !matches!(c.peek(), None | Some(b'#')) {
                return None;
            }
        }
    }
    labels.sort_by(|a: &(String, String), b| a.0.cmp(&b.0));
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Names to read from a scrape (configurable per env).
#[derive(Debug, Clone)]
pub struct MetricNames {
    /// Request counter name; default `http_requests_total`.
    pub requests_total: String,
    /// Status-code label; default `status` (`code` is used when a series lacks it).
    pub status_label: String,
    /// Histogram base name; default `http_request_duration_seconds` (`_bucket` is appended).
    pub duration_histogram: String,
}

impl Default for MetricNames {
    /// `http_requests_total`, `status`, `http_request_duration_seconds`.
    fn default() -> Self {
        MetricNames {
            requests_total: "http_requests_total".to_owned(),
            status_label: "status".to_owned(),
            duration_histogram: "http_request_duration_seconds".to_owned(),
        }
    }
}

/// A quantile estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantile {
    /// Estimated value in seconds (the histogram's unit).
    pub seconds: f64,
    /// True when it fell into the +Inf bucket and was clamped to the top finite bound ("≥").
    pub clipped: bool,
}

/// What two scrapes say about traffic in between.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Elapsed time between the scrapes, as given.
    pub seconds: f64,
    /// Requests per second (0 when `seconds` is not positive).
    pub request_rate: f64,
    /// Fraction of requests with a 5xx status; None = no traffic.
    pub error_rate: Option<f64>,
    /// Median latency over the window.
    pub p50: Option<Quantile>,
    /// 95th percentile latency over the window.
    pub p95: Option<Quantile>,
    /// 99th percentile latency over the window.
    pub p99: Option<Quantile>,
    /// A counter went backwards (process restart).
    pub reset: bool,
}

/// Identity of a series for matching across scrapes. With `by_le`, the `le`
/// label is compared as a number so `"1"` and `"1.0"` are the same bucket.
type SeriesKey<'a> = (Vec<(&'a str, &'a str)>, Option<u64>);

fn series_key(s: &Sample, by_le: bool) -> Option<SeriesKey<'_>> {
    let mut le = None;
    let mut labels = Vec::with_capacity(s.labels.len());
    for (k, v) in &s.labels {
        if by_le && k == "le" {
            let bound = parse_float(v.trim())?;
            if bound.is_nan() {
                return None;
            }
            // Normalise -0.0 to 0.0 so both spellings match.
            le = Some((bound + 0.0).to_bits());
        } else {
            labels.push((k.as_str(), v.as_str()));
        }
    }
    if by_le && le.is_none() {
        return None;
    }
    Some((labels, le))
}

/// Per-series increases of one counter between two scrapes, with the series'
/// `le` bound when `by_le`.
///
/// Series present only in `cur` count from zero (they were created lazily in
/// between) unless `prev` has no series of that metric at all (no baseline), in
/// which case they are skipped. Non-finite values are ignored.
fn increases<'a>(
    prev: &'a Scrape,
    cur: &'a Scrape,
    name: &str,
    by_le: bool,
    reset: &mut bool,
) -> Vec<(&'a Sample, f64)> {
    let before: HashMap<SeriesKey<'a>, f64> = prev
        .samples
        .iter()
        .filter(|s| s.name == name && s.value.is_finite())
        .filter_map(|s| Some((series_key(s, by_le)?, s.value)))
        .collect();
    let baseline = !before.is_empty();
    let mut out = Vec::new();
    for s in cur.samples.iter().filter(|s| s.name == name) {
        if !s.value.is_finite() {
            continue;
        }
        let Some(key) = series_key(s, by_le) else {
            continue;
        };
        let inc = match before.get(&key) {
            Some(&p) if s.value >= p => s.value - p,
            Some(_) => {
                *reset = true;
                s.value
            }
            None if baseline => s.value,
            None => continue,
        };
        out.push((s, inc));
    }
    out
}

/// Compare two scrapes `elapsed_secs` apart.
pub fn window(prev: &Scrape, cur: &Scrape, elapsed_secs: f64, names: &MetricNames) -> Window {
    let mut reset = false;

    let mut total = 0.0;
    let mut errors = 0.0;
    for (s, inc) in increases(prev, cur, &names.requests_total, false, &mut reset) {
        total += inc;
        let status = s.label(&names.status_label).or_else(|| s.label("code"));
        if status.is_some_and(|v| v.starts_with('5')) {
            errors += inc;
        }
    }

    let bucket_name = format!("{}_bucket", names.duration_histogram);
    let mut buckets: Vec<(f64, f64)> = increases(prev, cur, &bucket_name, true, &mut reset)
        .into_iter()
        .filter_map(|(s, inc)| {
            let le = parse_float(s.label("le")?.trim())?;
            (!le.is_nan()).then_some((le, inc))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum across other labels per `le`.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (le, n) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += n,
            _ => merged.push((le, n)),
        }
    }

    let rate_ok = elapsed_secs.is_finite() && elapsed_secs > 0.0;
    Window {
        seconds: elapsed_secs,
        request_rate: if rate_ok { total / elapsed_secs } else { 0.0 },
        error_rate: (total > 0.0).then(|| errors / total),
        p50: histogram_quantile(0.5, &merged),
        p95: histogram_quantile(0.95, &merged),
        p99: histogram_quantile(0.99, &merged),
        reset,
    }
}

/// histogram_quantile over cumulative (le, count) buckets, sorted by le, including +Inf — same linear interpolation as Prometheus (first bucket lower bound 0 when its upper bound > 0; quantile in +Inf bucket returns the top finite bound, clipped=true; missing +Inf bucket => None; fewer than 2 buckets => None; total 0 => None; non-monotonic counts are made monotonic like Prometheus does).
///
/// Also returns None when `q` is NaN or outside `0..=1` (Prometheus would give NaN/±Inf).
/// Input is re-sorted defensively, duplicate bounds are merged, NaN and `-Inf`-bound
/// entries dropped, negative counts treated as 0.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<Quantile> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, n)| !le.is_nan() && *le != f64::NEG_INFINITY && !n.is_nan())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (le, n) in b {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += n,
            _ => merged.push((le, n)),
        }
    }
    let b = merged;
    let &(top, _) = b.last()?;
    if top != f64::INFINITY || b.len() < 2 {
        return None;
    }
    // Force monotonic cumulative counts (running max; negative counts act as 0).
    let mut counts: Vec<f64> = Vec::with_capacity(b.len());
    let mut max = 0.0f64;
    for &(_, n) in &b {
        max = max.max(n);
        counts.push(max);
    }
    let total = *counts.last()?;
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let rank = q * total;
    let last = b.len() - 1;
    let idx = counts
        .get(..last)
        .and_then(|finite| finite.iter().position(|&c| c >= rank))
        .unwrap_or(last);
    if idx == last {
        let (bound, _) = *b.get(last - 1)?;
        return Some(Quantile {
            seconds: bound,
            clipped: true,
        });
    }
    let (upper, _) = *b.get(idx)?;
    if idx == 0 && upper <= 0.0 {
        return Some(Quantile {
            seconds: upper,
            clipped: false,
        });
    }
    let (lower, below) = if idx == 0 {
        (0.0, 0.0)
    } else {
        (b.get(idx - 1)?.0, *counts.get(idx - 1)?)
    };
    let in_bucket = counts.get(idx)? - below;
    let seconds = if in_bucket > 0.0 {
        lower + (upper - lower) * ((rank - below) / in_bucket)
    } else {
        lower
    };
    Some(Quantile {
        seconds,
        clipped: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(line: &str) -> Sample {
        let (s, skipped) = parse(line);
        assert_eq!(skipped, 0, "line skipped: {line:?}");
        assert_eq!(s.samples.len(), 1);
        s.samples.into_iter().next().unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn parses_doc_sample() {
        let text = "\
# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000
http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem=\"division by zero\"} +Inf -3982045
";
        let (s, skipped) = parse(text);
        assert_eq!(skipped, 0);
        assert_eq!(s.samples.len(), 5);
        assert_eq!(s.samples[0].name, "http_requests_total");
        assert_eq!(
            s.samples[0].labels,
            vec![
                ("code".to_owned(), "200".to_owned()),
                ("method".to_owned(), "post".to_owned())
            ]
        );
        assert_eq!(s.samples[1].value, 3.0);
        let ms = &s.samples[2];
        assert_eq!(ms.label("path"), Some("C:\\DIR\\FILE.TXT"));
        assert_eq!(ms.label("error"), Some("Cannot find file:\n\"FILE.TXT\""));
        assert_eq!(ms.value, 1.458255915e9);
        assert_eq!(s.samples[3].value, 12.47);
        assert_eq!(s.samples[4].value, f64::INFINITY);
    }

    #[test]
    fn special_values() {
        assert!(one("x NaN").value.is_nan());
        assert_eq!(one("x -Inf").value, f64::NEG_INFINITY);
        assert_eq!(one("x +Inf").value, f64::INFINITY);
        assert_eq!(one("x{le=\"+Inf\"} 4").label("le"), Some("+Inf"));
    }

    #[test]
    fn trailing_comma_whitespace_and_utf8_name() {
        let s = one("  x{ a = \"1\" , b=\"2\", }\t5  ");
        assert_eq!(s.labels.len(), 2);
        let s = one("{\"my.metric\",zone=\"é\"} 1");
        assert_eq!(s.name, "my.metric");
        assert_eq!(s.label("zone"), Some("é"));
    }

    #[test]
    fn bad_lines_counted() {
        let text = "good 1\nbad\nx{a=\"unterminated} 1\nx{a=1} 2\nx 1 2 3\nx{} 7\n x notanumber\n";
        let (s, skipped) = parse(text);
        assert_eq!(s.samples.len(), 2);
        assert_eq!(skipped, 5);
    }

    #[test]
    fn openmetrics_eof_unit_and_exemplars() {
        let text = "\
# TYPE foo histogram
# UNIT foo seconds
foo_bucket{le=\"0.01\"} 0
foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067
foo_bucket{le=\"1.0\"} 11 1520879607.789 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879602.029
foo_bucket{le=\"+Inf\"} 17
# EOF
after_eof 1
";
        let (s, skipped) = parse(text);
        assert_eq!(skipped, 0);
        assert_eq!(s.samples.len(), 4);
        assert_eq!(s.samples[1].value, 8.0);
        assert_eq!(s.samples[2].value, 11.0);
    }

    #[test]
    fn quantile_interpolation() {
        // 100 observations: 10 <= 0.1, 50 <= 0.25, 90 <= 0.5, 100 <= 1.
        let b = [
            (0.1, 10.0),
            (0.25, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        // p50: rank 50 -> bucket le=0.25 exactly full -> 0.1 + 0.15 * (40/40) = 0.25
        let q = histogram_quantile(0.5, &b).unwrap();
        assert!(close(q.seconds, 0.25) && !q.clipped);
        // p95: rank 95 -> bucket le=1, 0.5 + 0.5 * (5/10) = 0.75
        let q = histogram_quantile(0.95, &b).unwrap();
        assert!(close(q.seconds, 0.75), "{q:?}");
        // p5: rank 5 in first bucket, lower bound 0: 0.1 * 5/10 = 0.05
        assert!(close(histogram_quantile(0.05, &b).unwrap().seconds, 0.05));
        // p30: rank 30 -> 0.1 + 0.15 * (20/40) = 0.175
        assert!(close(histogram_quantile(0.3, &b).unwrap().seconds, 0.175));
    }

    #[test]
    fn quantile_clipped_in_inf_bucket() {
        // Doc example: total 144320, cum(le=1)=133988 < p95 rank 137104.
        let b = [
            (0.05, 24054.0),
            (0.1, 33444.0),
            (0.2, 100392.0),
            (0.5, 129389.0),
            (1.0, 133988.0),
            (f64::INFINITY, 144320.0),
        ];
        let q = histogram_quantile(0.95, &b).unwrap();
        assert_eq!(
            q,
            Quantile {
                seconds: 1.0,
                clipped: true
            }
        );
        assert!(!histogram_quantile(0.5, &b).unwrap().clipped);
    }

    #[test]
    fn quantile_edge_cases() {
        assert_eq!(histogram_quantile(0.5, &[(0.1, 1.0), (1.0, 2.0)]), None);
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 5.0)]), None);
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(histogram_quantile(0.5, &[]), None);
        assert_eq!(
            histogram_quantile(f64::NAN, &[(0.1, 1.0), (f64::INFINITY, 1.0)]),
            None
        );
        assert_eq!(
            histogram_quantile(1.5, &[(0.1, 1.0), (f64::INFINITY, 1.0)]),
            None
        );
        // Non-monotonic: le=0.5 count 3 < le=0.1 count 5 -> treated as 5.
        let q = histogram_quantile(0.5, &[(0.1, 5.0), (0.5, 3.0), (f64::INFINITY, 10.0)]).unwrap();
        assert!(close(q.seconds, 0.1), "{q:?}");
        // Negative first bound returns the bound itself.
        let q = histogram_quantile(0.1, &[(-1.0, 5.0), (f64::INFINITY, 10.0)]).unwrap();
        assert_eq!(q.seconds, -1.0);
        // Unsorted input is sorted.
        let q = histogram_quantile(0.5, &[(f64::INFINITY, 10.0), (1.0, 10.0)]).unwrap();
        assert!(close(q.seconds, 0.5));
    }

    fn scrape(text: &str) -> Scrape {
        let (s, skipped) = parse(text);
        assert_eq!(skipped, 0);
        s
    }

    #[test]
    fn window_rates_and_latency() {
        let prev = scrape(
            "http_requests_total{status=\"200\",path=\"/\"} 100\n\
             http_requests_total{status=\"500\",path=\"/\"} 10\n\
             http_request_duration_seconds_bucket{path=\"/\",le=\"0.1\"} 50\n\
             http_request_duration_seconds_bucket{path=\"/\",le=\"1\"} 100\n\
             http_request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 110\n",
        );
        let cur = scrape(
            "http_requests_total{status=\"200\",path=\"/\"} 170\n\
             http_requests_total{status=\"500\",path=\"/\"} 20\n\
             http_requests_total{status=\"503\",path=\"/x\"} 10\n\
             http_request_duration_seconds_bucket{path=\"/\",le=\"0.1\"} 90\n\
             http_request_duration_seconds_bucket{path=\"/\",le=\"1.0\"} 190\n\
             http_request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 200\n",
        );
        let w = window(&prev, &cur, 10.0, &MetricNames::default());
        // increases: 70 + 10 + 10 (new series) = 90
        assert!(close(w.request_rate, 9.0), "{w:?}");
        assert!(close(w.error_rate.unwrap(), 20.0 / 90.0));
        assert!(!w.reset);
        // bucket deltas: 0.1 -> 40, 1 -> 90, +Inf -> 90 (label "1" vs "1.0" parsed as f64)
        // p50: rank 45 -> 0.1 + 0.9 * (5/50) = 0.19
        assert!(close(w.p50.unwrap().seconds, 0.19), "{w:?}");
        assert!(!w.p99.unwrap().clipped);
    }

    #[test]
    fn window_counter_reset() {
        let prev = scrape(
            "http_requests_total{code=\"200\"} 1000\nhttp_requests_total{code=\"502\"} 50\n",
        );
        let cur =
            scrape("http_requests_total{code=\"200\"} 30\nhttp_requests_total{code=\"502\"} 70\n");
        let w = window(&prev, &cur, 5.0, &MetricNames::default());
        assert!(w.reset);
        // reset series counts its current value: 30 + 20
        assert!(close(w.request_rate, 10.0));
        assert!(close(w.error_rate.unwrap(), 0.4));
    }

    #[test]
    fn window_no_traffic() {
        let s = scrape("http_requests_total{status=\"200\"} 5\n");
        let w = window(&s, &s, 15.0, &MetricNames::default());
        assert_eq!(w.error_rate, None);
        assert_eq!(w.request_rate, 0.0);
        assert_eq!(w.p50, None);
        let w = window(
            &Scrape::default(),
            &Scrape::default(),
            0.0,
            &MetricNames::default(),
        );
        assert_eq!(w.request_rate, 0.0);
        assert_eq!(w.error_rate, None);
    }

    #[test]
    fn window_no_baseline_skips_new_series() {
        let cur = scrape("http_requests_total{status=\"500\"} 5\n");
        let w = window(&Scrape::default(), &cur, 10.0, &MetricNames::default());
        assert_eq!(w.error_rate, None);
    }

    #[test]
    fn window_clipped_p95_and_missing_inf() {
        let prev = scrape("lat_bucket{le=\"0.5\"} 0\nlat_bucket{le=\"+Inf\"} 0\n");
        let cur = scrape("lat_bucket{le=\"0.5\"} 90\nlat_bucket{le=\"+Inf\"} 100\n");
        let names = MetricNames {
            duration_histogram: "lat".to_owned(),
            ..MetricNames::default()
        };
        let w = window(&prev, &cur, 1.0, &names);
        assert_eq!(
            w.p95,
            Some(Quantile {
                seconds: 0.5,
                clipped: true
            })
        );
        assert!(!w.p50.unwrap().clipped);

        let cur = scrape("lat_bucket{le=\"0.5\"} 90\n");
        let w = window(&prev, &cur, 1.0, &names);
        assert_eq!(w.p95, None);
    }

    #[test]
    fn window_serializes() {
        let w = window(
            &Scrape::default(),
            &Scrape::default(),
            1.0,
            &MetricNames::default(),
        );
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.contains("\"error_rate\":null"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = parse(&s);
        }

        #[test]
        fn parse_never_panics_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&String::from_utf8_lossy(&b));
        }

        #[test]
        fn parse_never_panics_metricish(s in r#"([a-z_{}="\\,# +\-.0-9eInfNa\n\t]|é){0,200}"#) {
            let (scrape, _) = parse(&s);
            let _ = window(&scrape, &scrape, 1.0, &MetricNames::default());
        }

        #[test]
        fn quantile_never_panics(q in any::<f64>(), b in proptest::collection::vec((any::<f64>(), any::<f64>()), 0..12)) {
            if let Some(r) = histogram_quantile(q, &b) {
                prop_assert!(!r.seconds.is_nan());
            }
        }

        #[test]
        fn quantile_within_bounds(
            counts in proptest::collection::vec(0u32..1000, 1..8),
            q in 0.0f64..=1.0,
        ) {
            let mut cum = 0.0;
            let mut b: Vec<(f64, f64)> = counts.iter().enumerate().map(|(i, &c)| {
                cum += f64::from(c);
                ((i + 1) as f64, cum)
            }).collect();
            b.push((f64::INFINITY, cum));
            if let Some(r) = histogram_quantile(q, &b) {
                prop_assert!(r.seconds >= 0.0 && r.seconds <= counts.len() as f64);
            }
        }
    }
}
