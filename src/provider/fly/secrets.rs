//! App secrets through the Machines API: names and digests only (Fly never
//! returns values), and one bulk call to set and unset.

use serde_json::{Map, Value, json};

use super::machines::Machines;
use super::model::{SecretsList, SecretsUpdate};
use super::releases::parse_time;
use crate::domain::SecretMeta;
use crate::provider::ProviderError;
use crate::provider::http::Request;
use crate::sanitize::sanitize;
use crate::secrets::SecretValue;

/// Secret names, digests and last change.
pub async fn list(machines: &Machines) -> Result<Vec<SecretMeta>, ProviderError> {
    let body: SecretsList = machines
        .http()
        .json(Request::get(machines.url("/secrets")))
        .await?;
    Ok(body
        .secrets
        .into_iter()
        .map(|s| SecretMeta {
            name: sanitize(&s.name),
            digest: s.digest.as_deref().map(sanitize),
            updated_at: s
                .updated_at
                .as_deref()
                .or(s.created_at.as_deref())
                .and_then(parse_time),
            staged: false,
            write_only: false,
        })
        .collect())
}

/// Set (Some) and unset (None) in one call; returns the app's new secrets version.
///
/// Not retried, although the same body sent twice leaves the same values: a
/// retry would mean keeping the values in memory between attempts, and a 5xx
/// may already have applied the change, so the caller sees the error and
/// re-runs the whole (idempotent) set instead.
pub async fn set(
    machines: &Machines,
    values: &[(String, Option<SecretValue>)],
) -> Result<Option<u64>, ProviderError> {
    let map: Map<String, Value> = values
        .iter()
        .map(|(name, value)| {
            let v = value
                .as_ref()
                .map_or(Value::Null, |v| Value::String(v.expose().to_string()));
            (name.clone(), v)
        })
        .collect();
    // The body moves into the request, which `send` consumes and drops after the one attempt.
    let req = Request::post(machines.url("/secrets"), json!({ "values": map }));
    let answer: SecretsUpdate = machines.http().json(req).await?;
    Ok(answer.version)
}
