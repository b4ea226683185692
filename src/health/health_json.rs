//! Parse health-endpoint responses into one normalised [`HealthReport`].
//!
//! Accepted shapes: the IETF `application/health+json` draft, minimal
//! `{"status":"ok","checks":{...}}` documents (string, object or array check
//! values), NestJS Terminus (`info`/`error`/`details`), Spring Boot Actuator
//! (`components`, nested, plus the older top-level `details`), `checks` given
//! as an array of `{name,status}` objects, a `services` map of names to
//! words (`{"services":{"database":"healthy"}}`), and Kubernetes `?verbose` text
//! (`[+]ping ok`). The HTTP status code is the verdict when it and the body
//! disagree; the disagreement is reported in [`HealthReport::mismatch`].
//!
//! Check names and outputs are returned verbatim (the caller sanitises them).
//! Checks from JSON objects come in the key order of `serde_json::Map`, which is
//! alphabetical unless serde_json's `preserve_order` feature is enabled.

use serde::Serialize;
use serde_json::{Map, Value};

/// Maximum nesting of check maps that is walked.
const MAX_DEPTH: usize = 16;
/// Maximum length (in chars) of JSON text shown as an observed value.
const MAX_OBSERVED: usize = 120;
/// Maximum length (in chars) of a parse-error reason.
const MAX_REASON: usize = 80;

/// Normalised status of one check or of the whole endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Healthy.
    Pass,
    /// Healthy with concerns (degraded).
    Warn,
    /// Unhealthy.
    Fail,
    /// Status missing or not understood.
    Unknown,
}

impl CheckStatus {
    fn word(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Unknown => "unknown",
        }
    }
}

/// One named check out of a health document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// Check name, e.g. `db`, `db/primary`, `cassandra:responseTime[node-1]`.
    pub name: String,
    /// Normalised status of this check.
    pub status: CheckStatus,
    /// Human text from `output`/`message`/`error`, if any.
    pub output: Option<String>,
    /// Observed value, e.g. `"12 ms"` from `observedValue`+`observedUnit` or `latency_ms`.
    pub observed: Option<String>,
}

/// Parsed result of one probe of a health endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// Overall verdict (the HTTP code wins over the body when they disagree).
    pub status: CheckStatus,
    /// What the body itself claimed, if a body status could be read.
    pub body_status: Option<CheckStatus>,
    /// Individual checks found in the body.
    pub checks: Vec<CheckReport>,
    /// Explanation when HTTP code and body disagree, e.g. `"HTTP 503 but body says pass"`.
    pub mismatch: Option<String>,
    /// `releaseId` (preferred) or `version` from the body.
    pub version: Option<String>,
    /// Why the body could not be (fully) understood.
    pub problem: Option<String>,
}

/// Map a status word (case-insensitive) to CheckStatus: pass/ok/up/healthy/UP -> Pass; warn/warning/degraded -> Warn; fail/error/down/unhealthy/critical/out_of_service/shutting_down -> Fail; else Unknown.
pub fn normalise_status(word: &str) -> CheckStatus {
    let w = word.trim();
    let is = |s: &str| w.eq_ignore_ascii_case(s);
    if is("pass") || is("ok") || is("up") || is("healthy") || is("passed") {
        CheckStatus::Pass
    } else if is("warn") || is("warning") || is("degraded") {
        CheckStatus::Warn
    } else if is("fail")
        || is("error")
        || is("down")
        || is("unhealthy")
        || is("critical")
        || is("out_of_service")
        || is("shutting_down")
        || is("failed")
    {
        CheckStatus::Fail
    } else {
        CheckStatus::Unknown
    }
}

/// Parse a health response. `http_status` is the HTTP code; the HTTP code decides the overall status when it and the body disagree (2xx/3xx => Pass or Warn, 4xx/5xx => Fail), and `mismatch` explains the disagreement (e.g. "HTTP 503 but body says pass").
pub fn parse_health(http_status: u16, content_type: Option<&str>, body: &[u8]) -> HealthReport {
    let mut report = HealthReport {
        status: CheckStatus::Unknown,
        body_status: None,
        checks: Vec::new(),
        mismatch: None,
        version: None,
        problem: None,
    };
    let trimmed = trim_ascii_ws(strip_bom(body));
    if trimmed.is_empty() {
        report.problem = Some("body is not JSON: empty body".to_owned());
    } else {
        match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(map)) => parse_object(&map, &mut report),
            Ok(other) => {
                report.body_status = Some(CheckStatus::Unknown);
                report.problem = Some(format!(
                    "body is JSON {} but not an object",
                    json_kind(&other)
                ));
            }
            Err(e) => parse_text(trimmed, content_type, &e, &mut report),
        }
    }
    combine(http_status, &mut report);
    report
}

/// Decide the overall status from the HTTP code and the body status.
fn combine(http_status: u16, report: &mut HealthReport) {
    let body = report.body_status;
    let (status, disagrees) = match http_status {
        200..=399 => match body {
            Some(CheckStatus::Warn) => (CheckStatus::Warn, false),
            Some(CheckStatus::Fail) => (CheckStatus::Pass, true),
            _ => (CheckStatus::Pass, false),
        },
        400..=599 => match body {
            Some(CheckStatus::Pass | CheckStatus::Warn) => (CheckStatus::Fail, true),
            _ => (CheckStatus::Fail, false),
        },
        // Not a usable HTTP verdict: trust the body.
        _ => (body.unwrap_or(CheckStatus::Unknown), false),
    };
    report.status = status;
    if disagrees && let Some(b) = body {
        report.mismatch = Some(format!("HTTP {http_status} but body says {}", b.word()));
    }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

fn trim_ascii_ws(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    b.get(start..end).unwrap_or_default()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Truncate to at most `max` chars, appending `…` when cut.
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => {
            let mut t = s.get(..idx).unwrap_or_default().to_owned();
            t.push('…');
            t
        }
        None => s.to_owned(),
    }
}

/// Handle a non-JSON body: Kubernetes verbose output, a bare status word, or a problem.
fn parse_text(
    body: &[u8],
    content_type: Option<&str>,
    err: &serde_json::Error,
    report: &mut HealthReport,
) {
    let text = String::from_utf8_lossy(body);
    if parse_kubernetes(&text, report) {
        return;
    }
    let word_status = normalise_status(&text);
    if !text.contains('\n') && text.len() <= 32 && word_status != CheckStatus::Unknown {
        // e.g. Kubernetes non-verbose "ok".
        report.body_status = Some(word_status);
        return;
    }
    let looks_html = body.first() == Some(&b'<')
        || content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    let reason = if looks_html {
        match content_type {
            Some(ct) => format!("looks like HTML ({})", truncate_chars(ct, 40)),
            None => "looks like HTML".to_owned(),
        }
    } else {
        truncate_chars(&err.to_string(), MAX_REASON)
    };
    report.problem = Some(format!("body is not JSON: {reason}"));
}

/// Parse `[+]name ok` / `[-]name failed: reason` lines. Returns false if none found.
fn parse_kubernetes(text: &str, report: &mut HealthReport) -> bool {
    let mut summary = None;
    let mut any_fail = false;
    let mut checks = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (pass, rest) = if let Some(r) = line.strip_prefix("[+]") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("[-]") {
            (false, r)
        } else {
            if line.ends_with("check passed") {
                summary = Some(CheckStatus::Pass);
            } else if line.ends_with("check failed") {
                summary = Some(CheckStatus::Fail);
            }
            continue;
        };
        let (name, tail) = match rest.split_once(' ') {
            Some((n, t)) => (n, t.trim()),
            None => (rest, ""),
        };
        let output = if pass {
            None
        } else {
            let t = tail.strip_prefix("failed").unwrap_or(tail);
            let t = t.strip_prefix(':').unwrap_or(t).trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        any_fail |= !pass;
        checks.push(CheckReport {
            name: name.to_owned(),
            status: if pass {
                CheckStatus::Pass
            } else {
                CheckStatus::Fail
            },
            output,
            observed: None,
        });
    }
    if checks.is_empty() {
        return false;
    }
    report.body_status = Some(summary.unwrap_or(if any_fail {
        CheckStatus::Fail
    } else {
        CheckStatus::Pass
    }));
    report.checks = checks;
    true
}

/// Status from a JSON value: a word, a boolean, or Spring 1.x `{"code":"UP"}`.
fn status_of(v: &Value) -> Option<CheckStatus> {
    match v {
        Value::String(s) => Some(normalise_status(s)),
        Value::Bool(true) => Some(CheckStatus::Pass),
        Value::Bool(false) => Some(CheckStatus::Fail),
        Value::Object(o) => o.get("code").and_then(Value::as_str).map(normalise_status),
        _ => None,
    }
}

/// Scalar JSON rendered as text.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Any JSON rendered as short text.
fn any_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Array(_) | Value::Object(_) => Some(truncate_chars(&v.to_string(), MAX_OBSERVED)),
        _ => scalar_text(v),
    }
}

fn parse_object(map: &Map<String, Value>, report: &mut HealthReport) {
    match map.get("status").and_then(status_of) {
        Some(s) => report.body_status = Some(s),
        None => {
            report.body_status = Some(CheckStatus::Unknown);
            report.problem = Some(if map.contains_key("status") {
                "body has an unreadable \"status\" field".to_owned()
            } else {
                "body has no \"status\" field".to_owned()
            });
        }
    }
    report.version = ["releaseId", "version"]
        .iter()
        .find_map(|k| map.get(*k).and_then(scalar_text));

    let mut ctx = Ctx {
        checks: Vec::new(),
        too_deep: false,
    };
    if let Some(checks) = map.get("checks") {
        match checks {
            Value::Object(m) => ctx.map("", m, 0),
            Value::Array(a) => ctx.list(a),
            _ => {}
        }
    } else if let Some(Value::Object(c)) = map.get("components") {
        ctx.map("", c, 0);
    } else if let Some(Value::Object(svc)) = map.get("services") {
        // `{"status":"healthy","services":{"database":"healthy",…}}` (seed 001's shape).
        ctx.map("", svc, 0);
    } else if let Some(Value::Object(d)) = map.get("details") {
        // NestJS Terminus `details`, or Spring Boot 2.0/2.1 composite details.
        ctx.map("", d, 0);
    } else {
        // NestJS Terminus without `details`: merge info + error, no duplicates.
        let mut merged: Vec<(&String, &Value)> = Vec::new();
        for key in ["info", "error"] {
            if let Some(Value::Object(m)) = map.get(key) {
                for (k, v) in m {
                    match merged.iter_mut().find(|(mk, _)| *mk == k) {
                        Some(slot) => slot.1 = v,
                        None => merged.push((k, v)),
                    }
                }
            }
        }
        for (k, v) in merged {
            ctx.value(k.clone(), v, 1);
        }
    }
    report.checks = ctx.checks;
    if ctx.too_deep && report.problem.is_none() {
        report.problem = Some(format!(
            "checks nested deeper than {MAX_DEPTH} levels were skipped"
        ));
    }
}

/// Accumulator for the recursive check walk.
struct Ctx {
    checks: Vec<CheckReport>,
    too_deep: bool,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}/{key}")
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_))
}

impl Ctx {
    /// Walk a name -> check map.
    fn map(&mut self, prefix: &str, m: &Map<String, Value>, depth: usize) {
        if depth >= MAX_DEPTH {
            self.too_deep = true;
            return;
        }
        for (k, v) in m {
            self.value(join(prefix, k), v, depth + 1);
        }
    }

    /// `checks` given as an array of `{name, status, ...}` objects.
    fn list(&mut self, items: &[Value]) {
        for (i, item) in items.iter().enumerate() {
            let name = match item {
                Value::Object(o) => ["name", "component", "id", "componentId"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(scalar_text)),
                _ => None,
            }
            .unwrap_or_else(|| format!("check[{i}]"));
            self.value(name, item, 1);
        }
    }

    /// One check value: a status word, a boolean, an object, or an IETF array.
    fn value(&mut self, name: String, v: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return;
        }
        match v {
            Value::String(_) | Value::Bool(_) => self.checks.push(CheckReport {
                name,
                status: status_of(v).unwrap_or(CheckStatus::Unknown),
                output: None,
                observed: None,
            }),
            Value::Null | Value::Number(_) => self.checks.push(CheckReport {
                name,
                status: CheckStatus::Unknown,
                output: None,
                observed: scalar_text(v),
            }),
            Value::Array(items) => {
                let several = items.len() > 1;
                for (i, item) in items.iter().enumerate() {
                    let item_name = if several {
                        let id = match item {
                            Value::Object(o) => o.get("componentId").and_then(scalar_text),
                            _ => None,
                        }
                        .unwrap_or_else(|| i.to_string());
                        format!("{name}[{id}]")
                    } else {
                        name.clone()
                    };
                    match item {
                        Value::Object(o) => self.check_object(item_name, o, depth + 1),
                        _ => self.value(item_name, item, depth + 1),
                    }
                }
            }
            Value::Object(o) => self.object(name, o, depth),
        }
    }

    /// An object check value; may be a leaf check, a composite, or a plain nested map.
    fn object(&mut self, name: String, o: &Map<String, Value>, depth: usize) {
        if o.contains_key("status") {
            self.check_object(name, o, depth);
            return;
        }
        if o.values().any(is_container) {
            let before = self.checks.len();
            self.map(&name, o, depth);
            if self.checks.len() > before {
                return;
            }
        }
        self.push_object(name, o, CheckStatus::Unknown);
    }

    /// An object with check fields; recurses into Spring `components` / composite `details`.
    fn check_object(&mut self, name: String, o: &Map<String, Value>, depth: usize) {
        let status = o
            .get("status")
            .and_then(status_of)
            .unwrap_or(CheckStatus::Unknown);
        let nested = match (o.get("components"), o.get("details")) {
            (Some(Value::Object(c)), _) => Some(c),
            (_, Some(Value::Object(d)))
                if d.values()
                    .any(|v| matches!(v, Value::Object(x) if x.contains_key("status"))) =>
            {
                Some(d)
            }
            _ => None,
        };
        match nested {
            Some(children) => {
                self.push_object(name.clone(), o, status);
                self.map(&name, children, depth);
            }
            None => self.push_object(name, o, status),
        }
    }

    fn push_object(&mut self, name: String, o: &Map<String, Value>, status: CheckStatus) {
        let output = ["output", "message", "error", "reason", "description"]
            .iter()
            .find_map(|k| o.get(*k).and_then(any_text));
        let observed = observed(o);
        self.checks.push(CheckReport {
            name,
            status,
            output,
            observed,
        });
    }
}

/// `observedValue` (+ `observedUnit`), or a latency field in milliseconds.
fn observed(o: &Map<String, Value>) -> Option<String> {
    if let Some(v) = o.get("observedValue").and_then(any_text) {
        return Some(match o.get("observedUnit").and_then(scalar_text) {
            Some(unit) if !unit.is_empty() => format!("{v} {unit}"),
            _ => v,
        });
    }
    for key in [
        "latency_ms",
        "latencyMs",
        "responseTime",
        "response_time_ms",
        "duration_ms",
    ] {
        if let Some(v) = o.get(key).and_then(scalar_text) {
            return Some(format!("{v} ms"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(r: &HealthReport) -> Vec<&str> {
        r.checks.iter().map(|c| c.name.as_str()).collect()
    }

    fn check<'a>(r: &'a HealthReport, name: &str) -> &'a CheckReport {
        r.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {:?}", names(r)))
    }

    #[test]
    fn a_services_map_is_one_row_per_service() {
        let body = br#"{"status":"healthy","timestamp":"2026-12-02T04:00:00Z","services":{
            "database":"healthy","openai":"unhealthy","stripe":"healthy"},
            "version":"1.4.2","environment":"production"}"#;
        let r = parse_health(503, Some("application/json"), body);
        let rows: Vec<(&str, &str)> = r
            .checks
            .iter()
            .map(|c| (c.name.as_str(), c.status.word()))
            .collect();
        assert_eq!(
            rows,
            [("database", "pass"), ("openai", "fail"), ("stripe", "pass")],
            "{r:?}"
        );
        assert_eq!(r.version.as_deref(), Some("1.4.2"));
    }

    #[test]
    fn normalise_words() {
        assert_eq!(normalise_status("UP"), CheckStatus::Pass);
        assert_eq!(normalise_status("Healthy"), CheckStatus::Pass);
        assert_eq!(normalise_status("ok"), CheckStatus::Pass);
        assert_eq!(normalise_status("degraded"), CheckStatus::Warn);
        assert_eq!(normalise_status("WARNING"), CheckStatus::Warn);
        assert_eq!(normalise_status("OUT_OF_SERVICE"), CheckStatus::Fail);
        assert_eq!(normalise_status("shutting_down"), CheckStatus::Fail);
        assert_eq!(normalise_status("critical"), CheckStatus::Fail);
        assert_eq!(normalise_status("UNKNOWN"), CheckStatus::Unknown);
        assert_eq!(normalise_status(""), CheckStatus::Unknown);
    }

    #[test]
    fn ietf_health_json() {
        let body = br#"{"status":"warn","version":"1","releaseId":"1.2.2",
            "checks":{
              "cassandra:responseTime":[{"componentId":"db1","componentType":"datastore",
                 "observedValue":250,"observedUnit":"ms","status":"pass","time":"2018-01-17T03:36:48Z"}],
              "cpu:utilization":[
                 {"componentId":"6fd416e0","observedValue":85,"observedUnit":"percent","status":"warn","output":"hot"},
                 {"componentId":"4b2a3c1d","observedValue":30,"observedUnit":"percent","status":"pass"}]
            }}"#;
        let r = parse_health(200, Some("application/health+json"), body);
        assert_eq!(r.status, CheckStatus::Warn);
        assert_eq!(r.body_status, Some(CheckStatus::Warn));
        assert_eq!(r.version.as_deref(), Some("1.2.2"));
        assert_eq!(r.mismatch, None);
        assert_eq!(r.problem, None);
        assert_eq!(r.checks.len(), 3);
        let c = check(&r, "cassandra:responseTime");
        assert_eq!(c.status, CheckStatus::Pass);
        assert_eq!(c.observed.as_deref(), Some("250 ms"));
        let c = check(&r, "cpu:utilization[6fd416e0]");
        assert_eq!(c.status, CheckStatus::Warn);
        assert_eq!(c.output.as_deref(), Some("hot"));
        assert_eq!(c.observed.as_deref(), Some("85 percent"));
        assert_eq!(
            check(&r, "cpu:utilization[4b2a3c1d]").status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn plain_string_checks() {
        let r = parse_health(
            200,
            None,
            br#"{"status":"ok","checks":{"db":"ok","redis":"fail"}}"#,
        );
        assert_eq!(r.status, CheckStatus::Pass);
        assert_eq!(check(&r, "db").status, CheckStatus::Pass);
        assert_eq!(check(&r, "redis").status, CheckStatus::Fail);
        assert_eq!(r.version, None);
    }

    #[test]
    fn object_checks_with_latency() {
        let body = br#"{"status":"degraded","version":"2026.11.1","checks":{
            "db":{"status":"ok","latency_ms":12},
            "queue":{"status":"error","error":"timeout after 5s"},
            "cache":{"status":"warn","message":"hit ratio low"}}}"#;
        let r = parse_health(200, Some("application/json"), body);
        assert_eq!(r.status, CheckStatus::Warn);
        assert_eq!(r.version.as_deref(), Some("2026.11.1"));
        assert_eq!(check(&r, "db").observed.as_deref(), Some("12 ms"));
        assert_eq!(
            check(&r, "queue").output.as_deref(),
            Some("timeout after 5s")
        );
        assert_eq!(check(&r, "cache").status, CheckStatus::Warn);
    }

    #[test]
    fn nestjs_terminus_details() {
        let body = br#"{"status":"error",
            "info":{"database":{"status":"up"}},
            "error":{"redis":{"status":"down","message":"Could not connect"}},
            "details":{"database":{"status":"up"},"redis":{"status":"down","message":"Could not connect"}}}"#;
        let r = parse_health(503, None, body);
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(r.body_status, Some(CheckStatus::Fail));
        assert_eq!(r.mismatch, None);
        assert_eq!(r.checks.len(), 2);
        assert_eq!(check(&r, "database").status, CheckStatus::Pass);
        let redis = check(&r, "redis");
        assert_eq!(redis.status, CheckStatus::Fail);
        assert_eq!(redis.output.as_deref(), Some("Could not connect"));
    }

    #[test]
    fn nestjs_terminus_info_error_merge() {
        let body = br#"{"status":"shutting_down",
            "info":{"database":{"status":"up"},"redis":{"status":"up"}},
            "error":{"redis":{"status":"down","message":"gone"}}}"#;
        let r = parse_health(503, None, body);
        assert_eq!(r.body_status, Some(CheckStatus::Fail));
        assert_eq!(r.checks.len(), 2);
        assert_eq!(check(&r, "redis").status, CheckStatus::Fail);
        assert_eq!(check(&r, "database").status, CheckStatus::Pass);
    }

    #[test]
    fn spring_actuator_nested() {
        let body = br#"{"status":"DOWN","components":{
            "db":{"status":"DOWN","components":{
                "primary":{"status":"UP","details":{"database":"PostgreSQL","validationQuery":"isValid()"}},
                "replica":{"status":"DOWN","details":{"error":"java.net.ConnectException"}}}},
            "diskSpace":{"status":"UP","details":{"total":100,"free":50,"threshold":10}},
            "ping":{"status":"UP"}}}"#;
        let r = parse_health(503, None, body);
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(r.body_status, Some(CheckStatus::Fail));
        assert_eq!(check(&r, "db").status, CheckStatus::Fail);
        assert_eq!(check(&r, "db/primary").status, CheckStatus::Pass);
        assert_eq!(check(&r, "db/replica").status, CheckStatus::Fail);
        assert_eq!(check(&r, "diskSpace").status, CheckStatus::Pass);
        assert_eq!(check(&r, "ping").status, CheckStatus::Pass);
        assert_eq!(r.checks.len(), 5);
    }

    #[test]
    fn spring_boot_2_details() {
        let body =
            br#"{"status":"UP","details":{"db":{"status":"UP","details":{"database":"H2"}}}}"#;
        let r = parse_health(200, None, body);
        assert_eq!(names(&r), vec!["db"]);
        assert_eq!(r.status, CheckStatus::Pass);
    }

    #[test]
    fn checks_array() {
        let body = br#"{"status":"pass","checks":[
            {"name":"db","status":"pass","latency_ms":3},
            {"name":"s3","status":"fail","output":"403"},
            {"status":"ok"}]}"#;
        let r = parse_health(200, None, body);
        assert_eq!(names(&r), vec!["db", "s3", "check[2]"]);
        assert_eq!(check(&r, "s3").output.as_deref(), Some("403"));
        assert_eq!(check(&r, "db").observed.as_deref(), Some("3 ms"));
    }

    #[test]
    fn http_fail_body_pass_mismatch() {
        let r = parse_health(503, None, br#"{"status":"pass"}"#);
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(r.body_status, Some(CheckStatus::Pass));
        assert_eq!(r.mismatch.as_deref(), Some("HTTP 503 but body says pass"));
    }

    #[test]
    fn http_ok_body_fail_mismatch() {
        let r = parse_health(200, None, br#"{"status":"DOWN"}"#);
        assert_eq!(r.status, CheckStatus::Pass);
        assert_eq!(r.body_status, Some(CheckStatus::Fail));
        assert_eq!(r.mismatch.as_deref(), Some("HTTP 200 but body says fail"));
    }

    #[test]
    fn odd_http_code_trusts_body() {
        let r = parse_health(0, None, br#"{"status":"warn"}"#);
        assert_eq!(r.status, CheckStatus::Warn);
        assert_eq!(r.mismatch, None);
    }

    #[test]
    fn empty_and_garbage_bodies() {
        let r = parse_health(200, None, b"");
        assert_eq!(r.status, CheckStatus::Pass);
        assert_eq!(r.body_status, None);
        assert_eq!(r.problem.as_deref(), Some("body is not JSON: empty body"));

        let r = parse_health(
            502,
            Some("text/html"),
            b"<html><body>Bad Gateway</body></html>",
        );
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(
            r.problem.as_deref(),
            Some("body is not JSON: looks like HTML (text/html)")
        );

        let r = parse_health(200, None, b"\xff\xfe\x00garbage\x9b{");
        assert_eq!(r.status, CheckStatus::Pass);
        assert!(
            r.problem
                .as_deref()
                .is_some_and(|p| p.starts_with("body is not JSON: "))
        );
        assert!(r.checks.is_empty());
    }

    #[test]
    fn json_not_object_or_no_status() {
        let r = parse_health(200, None, b"[1,2]");
        assert_eq!(r.body_status, Some(CheckStatus::Unknown));
        assert_eq!(r.status, CheckStatus::Pass);
        assert!(r.problem.is_some());

        let r = parse_health(500, None, br#"{"healthy":true}"#);
        assert_eq!(r.body_status, Some(CheckStatus::Unknown));
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(r.mismatch, None);
        assert_eq!(r.problem.as_deref(), Some("body has no \"status\" field"));
    }

    #[test]
    fn kubernetes_verbose_text() {
        let body = b"[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]poststarthook/start-kube-apiserver-admission-initializer ok\nreadyz check failed\n";
        let r = parse_health(500, Some("text/plain; charset=utf-8"), body);
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(r.body_status, Some(CheckStatus::Fail));
        assert_eq!(r.problem, None);
        assert_eq!(r.checks.len(), 4);
        let etcd = check(&r, "etcd");
        assert_eq!(etcd.status, CheckStatus::Fail);
        assert_eq!(etcd.output.as_deref(), Some("reason withheld"));
        assert_eq!(check(&r, "ping").status, CheckStatus::Pass);
        assert_eq!(
            check(
                &r,
                "poststarthook/start-kube-apiserver-admission-initializer"
            )
            .status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn kubernetes_plain_ok() {
        let r = parse_health(200, Some("text/plain"), b"ok");
        assert_eq!(r.status, CheckStatus::Pass);
        assert_eq!(r.body_status, Some(CheckStatus::Pass));
        assert_eq!(r.problem, None);
    }

    #[test]
    fn deep_nesting_is_capped() {
        let mut body = String::from(r#"{"status":"UP","components":"#);
        for _ in 0..40 {
            body.push_str(r#"{"a":{"status":"UP","components":"#);
        }
        body.push_str("{}");
        for _ in 0..40 {
            body.push_str("}}");
        }
        body.push('}');
        let r = parse_health(200, None, body.as_bytes());
        assert_eq!(r.body_status, Some(CheckStatus::Pass));
        assert!(r.checks.len() <= MAX_DEPTH);
        assert!(r.problem.is_some());

        // Beyond serde_json's own recursion limit: an error, never a stack overflow.
        let deep = "[".repeat(100_000);
        let r = parse_health(200, None, deep.as_bytes());
        assert!(r.problem.is_some());
    }

    #[test]
    fn serializes_lowercase() {
        let r = parse_health(200, None, br#"{"status":"ok"}"#);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""status":"pass""#));
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(code in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let r = parse_health(code, Some("application/json"), &body);
            if (400..600).contains(&code) {
                prop_assert_eq!(r.status, CheckStatus::Fail);
            }
        }

        #[test]
        fn never_panics_on_jsonish(code in 100u16..600, body in r#"[\{\}\[\]":,a-z0-9 \\]{0,200}"#) {
            let _ = parse_health(code, None, body.as_bytes());
        }

        #[test]
        fn never_panics_on_structured(
            code in 100u16..600,
            status in "(ok|UP|down|warn|x|)",
            key in "[a-z:/]{0,8}",
            inner in "(\"ok\"|\\[\\{\"status\":\"fail\"\\}\\]|\\{\"status\":\"up\",\"components\":\\{\\}\\}|1|null|\\[\\])",
        ) {
            let body = format!(r#"{{"status":"{status}","checks":{{"{key}":{inner}}},"details":{{"{key}":{inner}}}}}"#);
            let r = parse_health(code, None, body.as_bytes());
            prop_assert!(r.checks.len() <= 2);
        }
    }
}
