//! The GraphQL envelope (Fly's and Railway's APIs): POST `{query, variables}`, and an `errors[]` array is
//! an error even when the HTTP status is 200. Queries are reads and are
//! retried like GETs; mutations are not.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::provider::ProviderError;
use crate::provider::http::{HttpClient, Request, body_bytes, display_target};
use crate::sanitize::sanitize;

/// Whether an operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `query`: safe to repeat.
    Query,
    /// A `mutation`: sent once.
    Mutation,
}

/// Run one operation and decode its `data`.
pub async fn run<T: DeserializeOwned>(
    http: &HttpClient,
    url: &str,
    kind: Kind,
    query: &str,
    variables: Value,
) -> Result<T, ProviderError> {
    let target = display_target(url);
    let mut req = Request::post(url, json!({ "query": query, "variables": variables }));
    if kind == Kind::Query {
        req = req.retryable();
    }
    let resp = http.send(req).await?;
    let request_id = resp
        .headers()
        .get("fly-request-id")
        .or_else(|| resp.headers().get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .map(sanitize);
    let bytes = body_bytes(resp, &target, None).await?;
    let envelope: Value = serde_json::from_slice(&bytes).map_err(|e| ProviderError::Decode {
        target: target.clone(),
        reason: sanitize(&e.to_string()),
    })?;
    if let Some(message) = error_messages(&envelope) {
        let message = match request_id {
            Some(id) => format!("{message} (request id {id})"),
            None => message,
        };
        return Err(ProviderError::Remote { target, message });
    }
    let data = envelope.get("data").cloned().unwrap_or(Value::Null);
    if data.is_null() {
        return Err(ProviderError::Decode {
            target,
            reason: "the answer has neither data nor errors".into(),
        });
    }
    serde_json::from_value(data).map_err(|e| ProviderError::Decode {
        target,
        reason: sanitize(&e.to_string()),
    })
}

/// The `errors[].message` texts, sanitised, joined and shortened; None when there are none.
fn error_messages(envelope: &Value) -> Option<String> {
    let errors = envelope.get("errors")?.as_array()?;
    if errors.is_empty() {
        return None;
    }
    let joined = errors
        .iter()
        .map(|e| match e.get("message").and_then(Value::as_str) {
            Some(m) => sanitize(m),
            None => sanitize(&e.to_string()),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(shorten(&joined))
}

fn shorten(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_error_messages() {
        let v = json!({"data": null, "errors": [{"message": "Could not find App"}, {"message": "x\u{1b}[2J"}]});
        assert_eq!(
            error_messages(&v).as_deref(),
            Some("Could not find App; x⟨CSI 2J⟩")
        );
        assert_eq!(error_messages(&json!({"data": {}, "errors": []})), None);
    }
}
