//! Workflow logs: GitHub has no live log feed, so the log panel of a
//! GitHub-deployed service shows the deploy workflow's latest run, job by
//! job as each one ends (`GET …/actions/jobs/{id}/logs`, which redirects to
//! a short-lived blob URL that is fetched without the token). Reads are at
//! least [`MIN_GAP`] apart, whatever the shared poll loop's pace, to spare
//! the API's hourly limit. Each line becomes one JSON line (`timestamp`,
//! `level`, `message` prefixed with the job); the pipeline sanitises it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use super::model::{JobList, RunList};
use super::{GithubProvider, versioned};
use crate::provider::LogStream;
use crate::provider::ProviderError;
use crate::provider::http::{HttpClient, Request, body_bytes, query_escape as escape};
use crate::provider::poll::{Page, poll as poll_pages};
use crate::sanitize::sanitize;

/// Shortest pause between two reads of the run list.
pub const MIN_GAP: Duration = Duration::from_secs(15);

/// Lines kept of one job's log in the panel.
const JOB_LINES: usize = 300;

/// The text of job `job`'s log: the API answers with a redirect to a blob
/// URL, fetched without the credential.
async fn job_log(http: &HttpClient, repo_url: &str, job: u64) -> Result<String, ProviderError> {
    let url = format!("{repo_url}/actions/jobs/{job}/logs");
    let resp = http
        .send(versioned(Request::get(url.clone())).keep_redirect())
        .await?;
    let resp = if resp.status().is_redirection() {
        let Some(location) = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
        else {
            return Err(ProviderError::Decode {
                target: url,
                reason: "a redirect without a Location".into(),
            });
        };
        http.send(Request::get(location).anonymous()).await?
    } else {
        resp
    };
    let bytes = body_bytes(resp, &url, None).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One log line split into GitHub's timestamp and its text.
fn split_line(line: &str) -> (Option<&str>, &str) {
    // A log starts with a byte-order mark.
    let line = line.trim_start_matches('\u{feff}');
    match line.split_once(' ') {
        Some((ts, rest)) if ts.len() >= 20 && ts.ends_with('Z') && ts.as_bytes()[4] == b'-' => {
            (Some(ts), rest)
        }
        _ => (None, line),
    }
}

/// The last `n` lines of job `job`'s log, without timestamps, sanitised.
pub async fn job_log_tail(
    gh: &GithubProvider,
    job: u64,
    n: usize,
) -> Result<Vec<String>, ProviderError> {
    let http = gh.http().await?;
    let text = job_log(http, &gh.repo_url(""), job).await?;
    Ok(failing_part(&text, n))
}

/// The part of a job's log that tells why it failed: from the failing
/// step's `##[group]Run …` to its `##[error]` line, at most `n` lines, with
/// the group markers dropped; without an error line, the last `n` lines.
fn failing_part(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| split_line(l).1)
        .filter(|l| !l.trim().is_empty() && *l != "##[endgroup]")
        .collect();
    let end = lines
        .iter()
        .rposition(|l| l.starts_with("##[error]"))
        .map_or(lines.len(), |i| i + 1);
    let start = lines[..end]
        .iter()
        .rposition(|l| l.starts_with("##[group]Run "))
        .unwrap_or(0)
        .max(end.saturating_sub(n));
    lines[start..end]
        .iter()
        .map(|l| sanitize(l.strip_prefix("##[group]").unwrap_or(l)))
        .collect()
}

struct State {
    http: HttpClient,
    repo_url: String,
    workflow: String,
    gap: Duration,
    last: Option<Instant>,
    run: Option<u64>,
    done: HashSet<u64>,
}

/// A never-ending stream of the deploy workflow's latest run's job logs.
pub fn poll(http: HttpClient, repo_url: String, workflow: String, interval: Duration) -> LogStream {
    let state = State {
        http,
        repo_url,
        workflow,
        gap: interval.max(MIN_GAP),
        last: None,
        run: None,
        done: HashSet::new(),
    };
    poll_pages(state, |mut st| async move {
        if st.last.is_some_and(|t| t.elapsed() < st.gap) {
            return (st, Ok(Page::default()));
        }
        st.last = Some(Instant::now());
        let page = read(&mut st).await;
        (st, page)
    })
}

async fn read(st: &mut State) -> Result<Page, ProviderError> {
    let url = format!(
        "{}/actions/workflows/{}/runs?per_page=1",
        st.repo_url,
        escape(&st.workflow)
    );
    let runs: RunList = st.http.json(versioned(Request::get(url))).await?;
    let Some(run) = runs.workflow_runs.into_iter().next() else {
        return Ok(Page::default());
    };
    let mut lines = Vec::new();
    if st.run != Some(run.id) {
        st.run = Some(run.id);
        st.done.clear();
        lines.push(
            json!({
                "timestamp": run.created_at.to_rfc3339(),
                "level": "info",
                "message": format!(
                    "workflow {} run #{} by {} ({}): {}",
                    st.workflow,
                    run.run_number,
                    run.actor.as_ref().map_or("?", |a| a.login.as_str()),
                    run.status.as_deref().unwrap_or("?"),
                    run.html_url
                ),
            })
            .to_string(),
        );
    }
    let jobs: JobList = st
        .http
        .json(versioned(Request::get(format!(
            "{}/actions/runs/{}/jobs?per_page=100",
            st.repo_url, run.id
        ))))
        .await?;
    for job in jobs.jobs.iter().filter(|j| j.status == "completed") {
        if !st.done.insert(job.id) || job.conclusion.as_deref() == Some("skipped") {
            continue;
        }
        let text = job_log(&st.http, &st.repo_url, job.id).await?;
        let all: Vec<&str> = text.lines().collect();
        for line in &all[all.len().saturating_sub(JOB_LINES)..] {
            let (ts, body) = split_line(line);
            let level = if body.starts_with("##[error]") {
                "error"
            } else if body.starts_with("##[warning]") {
                "warn"
            } else {
                "info"
            };
            let mut entry = json!({
                "level": level,
                "message": format!("[{}] {body}", job.name),
            });
            if let Some(ts) = ts {
                entry["timestamp"] = json!(ts);
            }
            lines.push(entry.to_string());
        }
    }
    Ok(Page {
        busy: !lines.is_empty(),
        lines,
        more: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_steps_part_of_a_log_is_kept() {
        let log = "\u{feff}2026-12-02T05:00:00.0000000Z ##[group]Runner Image\n\
2026-12-02T05:00:00.0000000Z Image: ubuntu-24.04\n\
2026-12-02T05:00:00.0000000Z ##[endgroup]\n\
2026-12-02T05:00:01.0000000Z ##[group]Run ./smoke.sh\n\
2026-12-02T05:00:01.0000000Z shell: /usr/bin/bash -e {0}\n\
2026-12-02T05:00:01.0000000Z ##[endgroup]\n\
2026-12-02T05:00:02.0000000Z curl: (22) 503\n\
2026-12-02T05:00:02.0000000Z ##[error]Process completed with exit code 1.\n\
2026-12-02T05:00:03.0000000Z Cleaning up orphan processes\n";
        assert_eq!(
            failing_part(log, 20),
            [
                "Run ./smoke.sh",
                "shell: /usr/bin/bash -e {0}",
                "curl: (22) 503",
                "##[error]Process completed with exit code 1."
            ]
        );
        assert_eq!(failing_part(log, 2).len(), 2);
        assert_eq!(failing_part("a\nb\nc", 2), ["b", "c"]);
    }

    #[test]
    fn github_log_lines_split_into_time_and_text() {
        assert_eq!(
            split_line("2026-12-02T05:00:01.1234567Z ##[error]Process completed with exit code 1."),
            (
                Some("2026-12-02T05:00:01.1234567Z"),
                "##[error]Process completed with exit code 1."
            )
        );
        assert_eq!(split_line("plain text"), (None, "plain text"));
        assert_eq!(
            split_line("\u{feff}2026-12-02T05:00:00.0000000Z Set up job").1,
            "Set up job"
        );
    }
}
