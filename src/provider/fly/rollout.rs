//! The rolling update over the Machines API: one machine at a time, under a
//! lease, change only `config.image`, wait for `started`, then for passing
//! checks. Machines already on the image are skipped, so re-running a rollout
//! that stopped continues where it stopped.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::lease::Lease;
use super::machines::Machines;
use super::model::Machine;
use crate::provider::{Progress, ProviderError, UnitState};
use crate::sanitize::sanitize;

/// What to roll out.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The image to run; None keeps each machine's own image (a forced update).
    pub image: Option<String>,
    /// Update machines even when they already run the image (secrets pick-up).
    pub force: bool,
    /// Secrets version the machines must see (`min_secrets_version`).
    pub min_secrets_version: Option<u64>,
    /// Only machines of this process group.
    pub group: Option<String>,
    /// Per-machine limit for started + checks passing.
    pub wait_timeout: Duration,
    /// Lease TTL in seconds.
    pub lease_ttl: u64,
}

/// What a finished rollout did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Machines updated by this run.
    pub updated: usize,
    /// Machines in the rollout.
    pub total: usize,
    /// The digest the last machine resolved, if any.
    pub digest: Option<String>,
}

/// Run the rollout; stops at the first machine that fails, and before the
/// next machine once `progress` is cancelled. Each machine is reported as
/// it starts and ends.
pub async fn run(
    machines: &Machines,
    plan: &Plan,
    progress: &Progress,
) -> Result<Outcome, ProviderError> {
    let list = machines.list(plan.group.as_deref()).await?;
    let total = list.len();
    // Machines on the new image and healthy, counted as the rollout walks the list.
    let mut done = 0;
    let mut outcome = Outcome {
        updated: 0,
        total,
        digest: list.iter().find_map(|m| m.digest().map(str::to_string)),
    };
    for (i, machine) in list.iter().enumerate() {
        let index = i + 1;
        progress.stop_if_cancelled(done, total)?;
        let stop = |step: &str, e: ProviderError| {
            progress.report(
                &machine.id,
                index,
                total,
                UnitState::Failed,
                &format!("{step}: {e}"),
            );
            ProviderError::Rollout {
                machine: machine.id.clone(),
                step: step.to_string(),
                done,
                total,
                reason: Box::new(e),
            }
        };
        if !plan.force && plan.image.as_deref().is_some_and(|i| machine.runs(i)) {
            // Already on the image (an earlier, stopped run got here): resume past it only
            // once it is healthy, so a machine that failed its checks still stops the rollout.
            let unsettled =
                machine.state == "started" && machine.checks.iter().any(|c| c.status != "passing");
            if unsettled {
                let deadline = Instant::now() + plan.wait_timeout;
                wait_checks(machines, &machine.id, deadline, plan.wait_timeout)
                    .await
                    .map_err(|e| stop("health checks", e))?;
            }
            done += 1;
            progress.report(
                &machine.id,
                index,
                total,
                UnitState::Skipped,
                "already on the image",
            );
            continue;
        }
        progress.report(&machine.id, index, total, UnitState::Started, "updating");
        let lease = Lease::acquire(machines, &machine.id, plan.lease_ttl)
            .await
            .map_err(|e| stop("lease", e))?;
        let result = update_one(machines, &machine.id, plan, lease.nonce()).await;
        // The lease goes back whatever happened; a failed release only shows in the call log.
        let _ = lease.release().await;
        let updated = result.map_err(|(step, e)| stop(step, e))?;
        if let Some(d) = updated.digest() {
            outcome.digest = Some(d.to_string());
        }
        done += 1;
        outcome.updated += 1;
        progress.report(
            &machine.id,
            index,
            total,
            UnitState::Done,
            "started, checks passing",
        );
    }
    Ok(outcome)
}

/// Update one leased machine and wait for it; the error names the step.
async fn update_one(
    machines: &Machines,
    id: &str,
    plan: &Plan,
    nonce: &str,
) -> Result<Machine, (&'static str, ProviderError)> {
    let current = machines.get(id).await.map_err(|e| ("read", e))?;
    let mut config = current.config.clone();
    if let Some(image) = &plan.image {
        match config.as_object_mut() {
            Some(obj) => {
                obj.insert("image".into(), Value::String(image.clone()));
            }
            None => {
                return Err((
                    "read",
                    ProviderError::Decode {
                        target: format!("machine {id}"),
                        reason: "the machine has no config object".into(),
                    },
                ));
            }
        }
    }
    // A stopped (auto-stopped, suspended) machine takes the new config but stays down, as
    // flyctl does it: then there is nothing to start and no check to wait for.
    let stays_down = matches!(
        current.state.as_str(),
        "stopped" | "suspended" | "stopping" | "suspending"
    );
    let mut body = json!({ "config": config });
    if stays_down {
        body["skip_launch"] = json!(true);
    }
    if let Some(region) = &current.region {
        body["region"] = json!(region);
    }
    if let Some(v) = plan.min_secrets_version {
        body["min_secrets_version"] = json!(v);
    }
    let updated = machines
        .update(id, body, nonce)
        .await
        .map_err(|e| ("update", e))?;
    let deadline = Instant::now() + plan.wait_timeout;
    let instance = updated.instance_id.as_deref();
    if stays_down {
        machines
            .wait_for(id, "stopped", instance, deadline, plan.wait_timeout)
            .await
            .map_err(|e| ("wait for stopped", e))?;
        return machines.get(id).await.map_err(|e| ("read", e));
    }
    machines
        .wait_for(id, "started", instance, deadline, plan.wait_timeout)
        .await
        .map_err(|e| ("wait for started", e))?;
    wait_checks(machines, id, deadline, plan.wait_timeout)
        .await
        .map_err(|e| ("health checks", e))
}

/// Poll the machine until every check passes; a critical check fails at once.
async fn wait_checks(
    machines: &Machines,
    id: &str,
    deadline: Instant,
    limit: Duration,
) -> Result<Machine, ProviderError> {
    let mut pause = Duration::from_millis(100);
    loop {
        let m = machines.get(id).await?;
        if let Some(bad) = m.checks.iter().find(|c| c.status == "critical") {
            return Err(ProviderError::Remote {
                target: format!("machine {id}"),
                message: format!(
                    "check {} is critical: {}",
                    sanitize(&bad.name),
                    sanitize(bad.output.as_deref().unwrap_or("no output"))
                ),
            });
        }
        if m.checks.iter().all(|c| c.status == "passing") {
            return Ok(m);
        }
        if Instant::now() + pause > deadline {
            let waiting: Vec<String> = m
                .checks
                .iter()
                .filter(|c| c.status != "passing")
                .map(|c| format!("{} {}", sanitize(&c.name), sanitize(&c.status)))
                .collect();
            return Err(ProviderError::Timeout {
                target: format!("machine {id} checks ({})", waiting.join(", ")),
                after: limit,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
