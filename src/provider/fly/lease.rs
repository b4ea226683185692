//! Machine leases: the lock a rolling update holds on each machine so it never
//! races a `fly deploy` or another shipdeck. A held lease is refreshed in the
//! background at half its TTL and released on every path (explicitly, or from
//! `Drop` when the future is cancelled).

use std::time::Duration;

use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::machines::{Machines, NONCE_HEADER};
use super::model::LeaseAnswer;
use crate::provider::ProviderError;
use crate::provider::http::{Request, readable_body};
use crate::sanitize::sanitize;

/// A lease we hold on one machine.
pub struct Lease {
    machines: Machines,
    id: String,
    nonce: String,
    /// Stops the refresher (dropping it stops it too).
    stop: Option<oneshot::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("machine", &self.id)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// Take the lease on machine `id` for `ttl` seconds. Not retried: a lost answer
    /// would make the retry collide with our own lease. Someone else's lease
    /// becomes [`ProviderError::Held`] naming the owner and expiry.
    pub async fn acquire(machines: &Machines, id: &str, ttl: u64) -> Result<Lease, ProviderError> {
        let url = machines.url(&format!("/machines/{id}/lease?ttl={ttl}"));
        let resp = machines.http().send(Request::post(url, json!({}))).await;
        let answer: LeaseAnswer = match resp {
            Ok(resp) => {
                let target = format!("lease of machine {id}");
                let bytes = resp.bytes().await.map_err(|e| ProviderError::Unreachable {
                    target: target.clone(),
                    reason: sanitize(&e.to_string()),
                })?;
                serde_json::from_slice(&bytes).map_err(|e| ProviderError::Decode {
                    target,
                    reason: sanitize(&e.to_string()),
                })?
            }
            Err(ProviderError::Status {
                status: 409,
                message,
                ..
            }) => return Err(held(machines, id, message).await),
            Err(e) => return Err(e),
        };
        let nonce = answer
            .data
            .and_then(|d| d.nonce)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ProviderError::Decode {
                target: format!("lease of machine {id}"),
                reason: "the lease answer has no nonce".into(),
            })?;
        let (stop, stopped) = oneshot::channel();
        let refresher = tokio::spawn(refresh_loop(
            machines.clone(),
            id.to_string(),
            nonce.clone(),
            ttl,
            stopped,
        ));
        Ok(Lease {
            machines: machines.clone(),
            id: id.to_string(),
            nonce,
            stop: Some(stop),
            refresher: Some(refresher),
        })
    }

    /// The nonce to send with writes to the machine.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Give the lease back (`DELETE …/lease` with the nonce), after the refresher has
    /// stopped: a refresh still in flight must not land after the release and re-take it.
    pub async fn release(mut self) -> Result<(), ProviderError> {
        self.stop.take();
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.await;
        }
        release_request(&self.machines, &self.id, &self.nonce).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.take();
        let Some(refresher) = self.refresher.take() else {
            return;
        };
        // Cancelled mid-rollout: still hand the lease back rather than let it run out.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (machines, id, nonce) =
                (self.machines.clone(), self.id.clone(), self.nonce.clone());
            handle.spawn(async move {
                let _ = refresher.await;
                let _ = release_request(&machines, &id, &nonce).await;
            });
        } else {
            refresher.abort();
        }
    }
}

async fn release_request(machines: &Machines, id: &str, nonce: &str) -> Result<(), ProviderError> {
    let url = machines.url(&format!("/machines/{id}/lease"));
    machines
        .http()
        .send(Request::delete(url).header(NONCE_HEADER, nonce))
        .await
        .map(|_| ())
}

async fn refresh_loop(
    machines: Machines,
    id: String,
    nonce: String,
    ttl: u64,
    mut stopped: oneshot::Receiver<()>,
) {
    let every = Duration::from_millis(ttl * 500).max(Duration::from_millis(500));
    loop {
        // Stop between refreshes, never in the middle of one.
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(every) => {}
        }
        let url = machines.url(&format!("/machines/{id}/lease?ttl={ttl}"));
        let req = Request::post(url, json!({})).header(NONCE_HEADER, nonce.as_str());
        // A failed refresh shows in the command log; the next write will fail clearly if it mattered.
        let _ = machines.http().send(req).await;
    }
}

/// Someone else holds the lease: read it to name the owner and expiry.
async fn held(machines: &Machines, id: &str, message: String) -> ProviderError {
    let url = machines.url(&format!("/machines/{id}/lease"));
    let current: Result<LeaseAnswer, _> = machines.http().json(Request::get(url)).await;
    let data = current.ok().and_then(|a| a.data);
    let owner = data
        .as_ref()
        .and_then(|d| d.owner.as_deref())
        .map(sanitize)
        .unwrap_or_else(|| format!("another client ({})", readable_body(message.as_bytes())));
    let until = data
        .and_then(|d| d.expires_at)
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "an unknown time".into());
    ProviderError::Held {
        what: format!("machine {id}"),
        owner,
        until,
    }
}
