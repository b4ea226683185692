//! Logs by polling `GET /v1/logs?ownerId=…&resource=srv-…&direction=forward`
//! with a time cursor: each poll starts at the newest line already seen (or
//! at `nextStartTime` while Render says more wait), lines seen at that
//! instant are dropped by id; pacing is the shared loop's
//! ([`crate::provider::poll`]). Each entry becomes
//! one JSON line (`timestamp`, `level`, `instance`, `message`) for the log
//! pipeline, which sanitises before anything reaches a terminal.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::model::{LogEntry, LogsPage};
use crate::provider::LogStream;
use crate::provider::http::query_escape as escape;
use crate::provider::http::{HttpClient, Request};
use crate::provider::poll::{Page, poll as poll_pages};

/// Lines asked for per poll.
const LIMIT: usize = 100;
/// How far back the first poll reaches.
const BACKLOG: chrono::Duration = chrono::Duration::minutes(5);

struct State {
    http: HttpClient,
    url: String,
    owner: String,
    resource: String,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    seen: HashSet<String>,
}

/// A never-ending stream of log lines for one Render service.
pub fn poll(http: HttpClient, url: String, owner: String, resource: String) -> LogStream {
    let state = State {
        http,
        url,
        owner,
        resource,
        start: Utc::now() - BACKLOG,
        end: None,
        seen: HashSet::new(),
    };
    poll_pages(state, |mut st| async move {
        let mut url = format!(
            "{}?ownerId={}&resource={}&direction=forward&limit={LIMIT}&startTime={}",
            st.url,
            escape(&st.owner),
            escape(&st.resource),
            escape(&st.start.to_rfc3339_opts(SecondsFormat::Micros, true)),
        );
        if let Some(end) = st.end.take() {
            url.push_str("&endTime=");
            url.push_str(&escape(&end.to_rfc3339_opts(SecondsFormat::Micros, true)));
        }
        let result = st.http.json::<LogsPage>(Request::get(url)).await;
        let page = result.map(|page| take(&mut st, page));
        (st, page)
    })
}

/// The lines of a page not handed out before; the cursor moves to its newest.
fn take(st: &mut State, page: LogsPage) -> Page {
    let lines: Vec<String> = page
        .logs
        .iter()
        .filter(|e| e.id.is_empty() || !st.seen.contains(&e.id))
        .map(line)
        .collect();
    if let Some(newest) = page.logs.iter().map(|e| e.timestamp).max()
        && newest > st.start
    {
        // Ids at older instants can no longer come back.
        st.seen.clear();
        st.start = newest;
    }
    for e in &page.logs {
        if e.timestamp == st.start && !e.id.is_empty() {
            st.seen.insert(e.id.clone());
        }
    }
    let more = page.has_more && page.next_start_time.is_some();
    if more && let Some(next) = page.next_start_time {
        st.start = st.start.max(next);
        st.end = page.next_end_time;
    }
    Page {
        busy: !lines.is_empty(),
        lines,
        more,
    }
}

/// One entry as a JSON line with Render's fields.
fn line(entry: &LogEntry) -> String {
    let message = match entry
        .message
        .char_indices()
        .nth(crate::logs::source::MAX_LINE)
    {
        Some((cut, _)) => &entry.message[..cut],
        None => &entry.message,
    };
    // The app's own structured line keeps its level, message and fields.
    if crate::logs::parse_structured(message.trim()).is_some() {
        return message.trim().to_string();
    }
    json!({
        "timestamp": entry.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        "level": entry.label("level"),
        "instance": entry.label("instance"),
        "message": message,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_becomes_one_json_line() {
        let e: LogEntry = serde_json::from_value(json!({
            "id": "l1", "timestamp": "2026-11-30T10:00:00Z", "message": "GET / 200",
            "labels": [{"name": "level", "value": "info"}, {"name": "instance", "value": "srv-1-abc"}]
        }))
        .unwrap();
        let l: serde_json::Value = serde_json::from_str(&line(&e)).unwrap();
        assert_eq!(l["level"], "info");
        assert_eq!(l["instance"], "srv-1-abc");
        assert_eq!(l["message"], "GET / 200");
    }
}
