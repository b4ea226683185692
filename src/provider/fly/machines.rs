//! Machines API calls for one app: list, get, update, wait.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::model::Machine;
use crate::provider::ProviderError;
use crate::provider::http::{HttpClient, Request};

/// Header carrying the lease nonce on writes to a leased machine.
pub const NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// The Fly proxy cuts waits at 60 s, so longer waits loop.
const MAX_WAIT_SECS: u64 = 60;

/// Machines API of one app.
#[derive(Debug, Clone)]
pub struct Machines {
    http: HttpClient,
    base: String,
    app: String,
    timeout: Duration,
}

impl Machines {
    /// The Machines API at `api_url` for `app`; `timeout` is the client's per-call limit.
    pub fn new(http: HttpClient, api_url: &str, app: &str, timeout: Duration) -> Machines {
        Machines {
            http,
            base: format!("{}/v1/apps/{}", api_url.trim_end_matches('/'), app),
            app: app.to_string(),
            timeout,
        }
    }

    /// The app name.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The HTTP client (for leases).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `{api}/v1/apps/{app}` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Machines of the app (of one process group when given), destroyed ones left out,
    /// ordered by process group then id.
    pub async fn list(&self, group: Option<&str>) -> Result<Vec<Machine>, ProviderError> {
        let url = match group {
            Some(g) => self.url(&format!(
                "/machines?metadata.fly_process_group={}",
                query_escape(g)
            )),
            None => self.url("/machines"),
        };
        let mut machines: Vec<Machine> = self.http.json(Request::get(url)).await?;
        machines.retain(|m| {
            !matches!(m.state.as_str(), "destroyed" | "destroying")
                && group.is_none_or(|g| m.process_group() == Some(g))
        });
        machines.sort_by(|a, b| {
            (a.process_group(), a.id.as_str()).cmp(&(b.process_group(), b.id.as_str()))
        });
        Ok(machines)
    }

    /// One machine.
    pub async fn get(&self, id: &str) -> Result<Machine, ProviderError> {
        self.http
            .json(Request::get(self.url(&format!("/machines/{id}"))))
            .await
    }

    /// Send a whole update body under a lease (retried: the lease makes a repeat harmless).
    pub async fn update(
        &self,
        id: &str,
        body: Value,
        nonce: &str,
    ) -> Result<Machine, ProviderError> {
        let req = Request::post(self.url(&format!("/machines/{id}")), body)
            .header(NONCE_HEADER, nonce)
            .retryable();
        self.http.json(req).await
    }

    /// Wait until the machine's instance reaches `state` (`started`, or `stopped` for a
    /// machine updated without launching), looping past the 60 s cap; a 408 from the
    /// wait endpoint means "not yet". Gives up at `deadline`.
    pub async fn wait_for(
        &self,
        id: &str,
        state: &str,
        instance_id: Option<&str>,
        deadline: Instant,
        limit: Duration,
    ) -> Result<(), ProviderError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProviderError::Timeout {
                    target: format!("machine {id} (waiting for {state})"),
                    after: limit,
                });
            }
            let secs = left.as_secs().clamp(1, MAX_WAIT_SECS);
            let mut url = self.url(&format!("/machines/{id}/wait?state={state}&timeout={secs}"));
            if let Some(instance) = instance_id {
                url.push_str(&format!("&instance_id={}", query_escape(instance)));
            }
            let req = Request::get(url).timeout(Duration::from_secs(secs) + self.timeout);
            match self.http.send(req).await {
                Ok(_) => return Ok(()),
                Err(ProviderError::Status { status: 408, .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

pub use crate::provider::http::query_escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_query_values() {
        assert_eq!(query_escape("web"), "web");
        assert_eq!(query_escape("a b&c"), "a%20b%26c");
    }
}
