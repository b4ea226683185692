//! One workflow run, from dispatch to its end: `POST …/dispatches` asking
//! for the run's id (`return_run_details`), or, when the server answers 204
//! without it, the run found by `event=workflow_dispatch`, `created>=`, the
//! branch and the actor; then its jobs followed live (each job is a unit of
//! the deploy's progress), approvals waited on and named, and a cancel sent
//! when the plan is aborted or the run outlives `wait_timeout`. A failed run
//! brings back the failing job's last log lines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::model::{
    DeploymentStatus, DispatchDetails, Job, JobList, PendingDeployment, Run, RunList,
};
use super::{GithubProvider, run_label, versioned};
use crate::provider::http::{Request, query_escape as escape};
use crate::provider::{Progress, ProviderError, UnitState};
use crate::sanitize::sanitize;

/// Log lines of a failed job quoted in the error.
const TAIL: usize = 20;

/// How many times the run list is read for a run GitHub did not name.
const FIND_TRIES: usize = 15;

/// Dispatch `workflow` with `inputs`; the id of the run it started.
pub async fn dispatch(
    gh: &GithubProvider,
    workflow: &str,
    inputs: &BTreeMap<String, String>,
    since: DateTime<Utc>,
) -> Result<u64, ProviderError> {
    let http = gh.http().await?;
    let url = gh.repo_url(&format!(
        "/actions/workflows/{}/dispatches",
        escape(workflow)
    ));
    let body = json!({
        "ref": gh.settings.git_ref,
        "inputs": inputs,
        "return_run_details": true,
    });
    let what = format!("{} {workflow}", gh.settings.repo);
    // The runs there already, so a run found later (when GitHub does not name it) is ours.
    let lookup = runs_url(gh, workflow, since).await;
    let no_workflow = || ProviderError::Invalid {
        target: what.clone(),
        message: format!(
            "GitHub knows no workflow `{workflow}` in {} (or the token cannot see it); check `workflow` and the token's Actions permission",
            gh.settings.repo
        ),
    };
    let known: HashSet<u64> = match gh.fetch::<RunList>(lookup.clone()).await {
        Ok(list) => list.workflow_runs.iter().map(|r| r.id).collect(),
        Err(ProviderError::NotFound { .. }) => return Err(no_workflow()),
        Err(e) => return Err(e),
    };
    let mut sent = http.send(versioned(Request::post(url.clone(), body))).await;
    // An older server (GitHub Enterprise) rejects the key: dispatch without it.
    if let Err(ProviderError::Status {
        status: 422,
        message,
        ..
    }) = &sent
        && message.contains("return_run_details")
    {
        let plain = json!({ "ref": gh.settings.git_ref, "inputs": inputs });
        sent = http.send(versioned(Request::post(url, plain))).await;
    }
    let resp = match sent {
        Ok(resp) => resp,
        // Nothing ran: a bad ref, an undeclared input, no dispatch trigger.
        Err(ProviderError::Status {
            status: 422,
            message,
            ..
        }) => {
            return Err(ProviderError::Invalid {
                target: what,
                message: format!(
                    "GitHub refused the dispatch: {message}; check `ref` and `inputs` in [env.github] against the workflow's `on: workflow_dispatch` inputs"
                ),
            });
        }
        Err(ProviderError::NotFound { .. }) => return Err(no_workflow()),
        Err(e) => return Err(e),
    };
    if resp.status().as_u16() != 204 {
        let bytes = crate::provider::http::body_bytes(resp, &what, None).await?;
        if let Ok(details) = serde_json::from_slice::<DispatchDetails>(&bytes) {
            return Ok(details.workflow_run_id);
        }
    }
    find_dispatched(gh, &lookup, &known, workflow, since).await
}

/// The list of this branch's `workflow_dispatch` runs of `workflow` created
/// since `since`, by this token's user where it has one.
async fn runs_url(gh: &GithubProvider, workflow: &str, since: DateTime<Utc>) -> String {
    let mut url = gh.repo_url(&format!(
        "/actions/workflows/{}/runs?event=workflow_dispatch&branch={}&created={}&per_page=20",
        escape(workflow),
        escape(&gh.settings.git_ref),
        escape(&format!(
            ">={}",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        )),
    ));
    if let Some(login) = gh.login().await {
        url.push_str(&format!("&actor={}", escape(&login)));
    }
    url
}

/// The run a dispatch started, when GitHub did not say which: the oldest
/// run in `lookup` that was not there before the dispatch (`known`).
async fn find_dispatched(
    gh: &GithubProvider,
    lookup: &str,
    known: &HashSet<u64>,
    workflow: &str,
    since: DateTime<Utc>,
) -> Result<u64, ProviderError> {
    let login = gh.login().await;
    let url = lookup.to_string();
    for _ in 0..FIND_TRIES {
        let list: RunList = gh.fetch(url.clone()).await?;
        if let Some(run) = list
            .workflow_runs
            .iter()
            .filter(|r| !known.contains(&r.id))
            .filter(|r| r.created_at >= since && r.event == "workflow_dispatch")
            .filter(|r| login.is_none() || r.actor.as_ref().map(|a| &a.login) == login.as_ref())
            .min_by_key(|r| (r.created_at, r.id))
        {
            return Ok(run.id);
        }
        tokio::time::sleep(
            gh.settings
                .poll_interval
                .min(std::time::Duration::from_secs(2)),
        )
        .await;
    }
    Err(ProviderError::Remote {
        target: format!("{} {workflow}", gh.settings.repo),
        message: "GitHub accepted the dispatch but no run of it appeared; look at the workflow's runs on github.com before trying again".into(),
    })
}

/// How one job stands, for the progress report.
fn job_state(job: &Job) -> Option<(UnitState, String)> {
    let step = job.current_step().map(|s| sanitize(&s.name));
    let took = job
        .duration()
        .map(|d| format!(" in {}s", d.num_seconds().max(0)))
        .unwrap_or_default();
    Some(match (job.status.as_str(), job.conclusion.as_deref()) {
        ("completed", Some("success")) => (UnitState::Done, format!("passed{took}")),
        ("completed", Some("skipped")) => (UnitState::Skipped, "skipped".into()),
        ("completed", Some("cancelled")) => (UnitState::Failed, "cancelled".into()),
        ("completed", other) => (
            UnitState::Failed,
            match step {
                Some(s) => format!("{} at step `{s}`", other.unwrap_or("failed")),
                None => other.unwrap_or("failed").to_string(),
            },
        ),
        ("in_progress", _) => {
            let total = job.steps.len();
            match job.steps.iter().find(|s| s.status == "in_progress") {
                Some(s) => (
                    UnitState::Started,
                    format!("step {}/{total}: {}", s.number, sanitize(&s.name)),
                ),
                None => (UnitState::Started, "running".into()),
            }
        }
        ("waiting", _) => (UnitState::Started, "waiting for approval".into()),
        _ => return None,
    })
}

/// Follow run `id` to its end: Ok when it succeeded; cancelled on abort or
/// after `wait_timeout`.
pub async fn follow(
    gh: &GithubProvider,
    id: u64,
    progress: &Progress,
    before: &HashSet<u64>,
) -> Result<Run, ProviderError> {
    let started = Instant::now();
    let mut reported: HashMap<String, (UnitState, String)> = HashMap::new();
    let mut waiting_note = String::new();
    let mut cancel_sent: Option<&'static str> = None;
    loop {
        let run: Run = gh
            .fetch(gh.repo_url(&format!("/actions/runs/{id}")))
            .await?;
        let jobs: JobList = gh
            .fetch(gh.repo_url(&format!("/actions/runs/{id}/jobs?per_page=100")))
            .await?;
        let total = jobs.jobs.len();
        for (i, job) in jobs.jobs.iter().enumerate() {
            let Some(now) = job_state(job) else { continue };
            if reported.get(&job.name) != Some(&now) {
                progress.report(&sanitize(&job.name), i + 1, total, now.0, &now.1);
                reported.insert(job.name.clone(), now);
            }
        }
        if run.completed() {
            return conclude(gh, run, &jobs.jobs, cancel_sent, before).await;
        }
        if run.status.as_deref() == Some("waiting") {
            let note = waiting_for(gh, id).await.unwrap_or_default();
            if !note.is_empty() && note != waiting_note {
                progress.report("approval", total + 1, total + 1, UnitState::Started, &note);
                waiting_note = note;
            }
        }
        if cancel_sent.is_none() {
            let why = if progress.cancelled() {
                Some("aborted")
            } else if started.elapsed() > gh.settings.wait_timeout {
                Some("timed out")
            } else {
                None
            };
            if let Some(why) = why {
                cancel(gh, id).await?;
                cancel_sent = Some(why);
            }
        }
        tokio::time::sleep(gh.settings.poll_interval).await;
    }
}

/// "waiting for approval by alice, team release (environment production)".
async fn waiting_for(gh: &GithubProvider, id: u64) -> Result<String, ProviderError> {
    let pending: Vec<PendingDeployment> = gh
        .fetch(gh.repo_url(&format!("/actions/runs/{id}/pending_deployments")))
        .await?;
    let mut who: Vec<String> = pending
        .iter()
        .flat_map(|p| p.reviewers.iter().map(|r| sanitize(&r.label())))
        .collect();
    who.dedup();
    let envs: Vec<String> = pending
        .iter()
        .filter_map(|p| p.environment.name.as_deref().map(sanitize))
        .collect();
    if envs.is_empty() {
        return Ok(String::new());
    }
    Ok(format!(
        "waiting for approval by {} (environment {}): v in shipdeck, `shipdeck approve {}`, or on github.com",
        if who.is_empty() {
            "a reviewer".to_string()
        } else {
            who.join(", ")
        },
        envs.join(", "),
        gh.settings.env
    ))
}

/// Ask GitHub to cancel run `id` (a run that already ended is fine).
async fn cancel(gh: &GithubProvider, id: u64) -> Result<(), ProviderError> {
    let http = gh.http().await?;
    let url = gh.repo_url(&format!("/actions/runs/{id}/cancel"));
    match http.send(versioned(Request::post(url, json!({})))).await {
        Ok(_) | Err(ProviderError::Status { status: 409, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The run ended: success, or an error that says what happened and whether
/// anything changed (a deployment to the environment was recorded).
async fn conclude(
    gh: &GithubProvider,
    run: Run,
    jobs: &[Job],
    cancel_sent: Option<&'static str>,
    before: &HashSet<u64>,
) -> Result<Run, ProviderError> {
    let conclusion = run.conclusion.clone().unwrap_or_default();
    if conclusion == "success" {
        return Ok(run);
    }
    let started = jobs
        .iter()
        .filter(|j| j.started_at.is_some() && j.conclusion.as_deref() != Some("skipped"))
        .count();
    let changed = deployed_since(gh, before).await?;
    match (conclusion.as_str(), cancel_sent) {
        ("cancelled", Some("aborted")) => {
            return Err(ProviderError::Cancelled {
                done: if changed { started.max(1) } else { 0 },
                total: jobs.len(),
            });
        }
        ("cancelled", Some(_)) => {
            return Err(ProviderError::Timeout {
                target: run_label(&run),
                after: gh.settings.wait_timeout,
            });
        }
        _ => {}
    }
    let failed = jobs.iter().find(|j| {
        matches!(
            j.conclusion.as_deref(),
            Some("failure" | "timed_out" | "cancelled")
        )
    });
    let mut detail = match failed.and_then(job_state) {
        Some((_, what)) => format!(
            "job `{}` {what}",
            sanitize(failed.map_or("", |j| j.name.as_str()))
        ),
        None => format!("it ended {}", sanitize(&conclusion)),
    };
    if let Some(job) = failed
        && let Ok(tail) = super::logs::job_log_tail(gh, job.id, TAIL).await
        && !tail.is_empty()
    {
        detail.push_str(":\n");
        detail.push_str(&tail.join("\n"));
    }
    if changed {
        Err(ProviderError::Remote {
            target: run_label(&run),
            message: format!(
                "the run ended {} after recording a deployment: {detail}",
                sanitize(&conclusion)
            ),
        })
    } else {
        Err(ProviderError::Rejected {
            what: run_label(&run),
            status: sanitize(&conclusion),
            detail: Some(detail),
        })
    }
}

/// Whether a deployment to the environment made since the dispatch (not
/// among `before`) got as far as deploying (a status `in_progress` or
/// `success`); one that only waited for a reviewer and was rejected changed
/// nothing.
async fn deployed_since(gh: &GithubProvider, before: &HashSet<u64>) -> Result<bool, ProviderError> {
    let recent: Vec<u64> = gh
        .deployments(None, 20)
        .await?
        .into_iter()
        .map(|d| d.id)
        .filter(|id| !before.contains(id))
        .collect();
    for id in recent {
        let statuses: Vec<DeploymentStatus> = gh
            .fetch(gh.repo_url(&format!("/deployments/{id}/statuses?per_page=100")))
            .await?;
        if statuses
            .iter()
            .any(|s| matches!(s.state.as_str(), "in_progress" | "success"))
        {
            return Ok(true);
        }
    }
    Ok(false)
}
