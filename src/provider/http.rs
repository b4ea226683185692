//! The shared HTTP layer every provider client uses: timeouts, retries with
//! jittered backoff on 429/5xx honouring `Retry-After` (idempotent calls only),
//! readable errors from JSON or HTML error bodies, and a command-log record
//! for every call. Credentials are sent as headers and never logged.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use super::{CallRecord, CallSink, ProviderError};
use crate::sanitize::sanitize;

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest single wait (also caps Retry-After).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(200),
            max_wait: Duration::from_secs(10),
        }
    }
}

/// A configured client for one provider. `Debug` never shows the credential.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    stream_client: reqwest::Client,
    /// Like `client`, but answers redirects instead of following them.
    no_redirect_client: reqwest::Client,
    provider: &'static str,
    calls: CallSink,
    retry: RetryPolicy,
    /// The credential header: its name and value.
    auth: Option<(&'static str, String)>,
    /// A 403 with a JSON message is a missing permission, not a refused credential (GitHub).
    forbidden_is_permission: bool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("retry", &self.retry)
            .field("auth", &self.auth.as_ref().map(|_| "••••"))
            .finish_non_exhaustive()
    }
}

/// A request to make. `Debug` shows neither the body nor header values.
#[derive(Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// JSON body.
    pub body: Option<serde_json::Value>,
    /// Safe to repeat (GET, or a PUT/DELETE, or protected by a lease).
    pub idempotent: bool,
    /// Extra headers (sent marked sensitive, never recorded).
    pub headers: Vec<(&'static str, String)>,
    /// A longer (or shorter) limit than the client's for this call (long polls).
    pub timeout: Option<Duration>,
    /// A redirect is answered to the caller instead of followed (GitHub's log
    /// URLs point at a blob host that must not see the token).
    pub keep_redirect: bool,
    /// Send no credential (a pre-signed URL).
    pub anonymous: bool,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &display_target(&self.url))
            .field("body", &self.body.as_ref().map(|_| "…"))
            .field("idempotent", &self.idempotent)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Request {
    /// A GET.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::GET,
            url: url.into(),
            body: None,
            idempotent: true,
            headers: Vec::new(),
            timeout: None,
            keep_redirect: false,
            anonymous: false,
        }
    }

    /// A DELETE (idempotent: deleting twice leaves the same state).
    pub fn delete(url: impl Into<String>) -> Request {
        Request {
            method: Method::DELETE,
            url: url.into(),
            body: None,
            idempotent: true,
            headers: Vec::new(),
            timeout: None,
            keep_redirect: false,
            anonymous: false,
        }
    }

    /// A POST with a JSON body (not retried unless marked idempotent).
    pub fn post(url: impl Into<String>, body: serde_json::Value) -> Request {
        Request {
            method: Method::POST,
            url: url.into(),
            body: Some(body),
            idempotent: false,
            headers: Vec::new(),
            timeout: None,
            keep_redirect: false,
            anonymous: false,
        }
    }

    /// Add a header to this request only (e.g. `fly-machine-lease-nonce`).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    /// Use this time limit for this call instead of the client's.
    pub fn timeout(mut self, limit: Duration) -> Request {
        self.timeout = Some(limit);
        self
    }

    /// Answer a redirect to the caller (read its `Location`) instead of following it.
    pub fn keep_redirect(mut self) -> Request {
        self.keep_redirect = true;
        self
    }

    /// Send it without the client's credential (a pre-signed URL on another host).
    pub fn anonymous(mut self) -> Request {
        self.anonymous = true;
        self
    }

    /// A PUT with a JSON body (idempotent: the same PUT twice leaves the same state).
    pub fn put(url: impl Into<String>, body: serde_json::Value) -> Request {
        Request {
            method: Method::PUT,
            idempotent: true,
            ..Request::post(url, body)
        }
    }

    /// Mark the request safe to repeat (a read sent as POST, or a lease-protected write).
    pub fn retryable(mut self) -> Request {
        self.idempotent = true;
        self
    }
}

impl HttpClient {
    /// A client with a request timeout.
    pub fn new(provider: &'static str, timeout: Duration, calls: CallSink) -> HttpClient {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("shipdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        // Long-lived bodies (log tails): bound the connect, not the whole body.
        let stream_client = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("shipdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let no_redirect_client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("shipdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        HttpClient {
            client,
            stream_client,
            no_redirect_client,
            provider,
            calls,
            retry: RetryPolicy::default(),
            auth: None,
            forbidden_is_permission: false,
        }
    }

    /// Send this `Authorization` header value with every call.
    pub fn with_auth(mut self, header_value: String) -> HttpClient {
        self.auth = Some(("authorization", header_value));
        self
    }

    /// Send the credential in another header (Railway's `Project-Access-Token`).
    pub fn with_auth_header(mut self, name: &'static str, value: String) -> HttpClient {
        self.auth = Some((name, value));
        self
    }

    /// Read a 403 that carries a JSON message as a missing permission
    /// ([`ProviderError::Forbidden`]), as GitHub answers it; a 403 with a
    /// rate-limit header is a rate limit either way.
    pub fn with_permission_errors(mut self) -> HttpClient {
        self.forbidden_is_permission = true;
        self
    }

    /// Use another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> HttpClient {
        self.retry = retry;
        self
    }

    /// Send a request and decode a JSON answer.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: Request,
    ) -> Result<T, ProviderError> {
        let target = display_target(&req.url);
        let limit = req.timeout;
        let resp = self.send(req).await?;
        let bytes = body_bytes(resp, &target, limit).await?;
        serde_json::from_slice(&bytes).map_err(|e| ProviderError::Decode {
            target,
            reason: sanitize(&e.to_string()),
        })
    }

    /// Send a request, retrying where safe; returns the successful response.
    pub async fn send(&self, req: Request) -> Result<reqwest::Response, ProviderError> {
        let client = if req.keep_redirect {
            &self.no_redirect_client
        } else {
            &self.client
        };
        self.send_with(client, req).await
    }

    /// Like [`HttpClient::send`] for a long-lived body: no overall timeout.
    pub async fn send_stream(&self, req: Request) -> Result<reqwest::Response, ProviderError> {
        self.send_with(&self.stream_client, req).await
    }

    async fn send_with(
        &self,
        client: &reqwest::Client,
        mut req: Request,
    ) -> Result<reqwest::Response, ProviderError> {
        let result = self.attempts(client, &req).await;
        // Bodies can carry secret values: wipe our copy as soon as it has been sent.
        if let Some(body) = req.body.as_mut() {
            scrub(body);
        }
        result
    }

    async fn attempts(
        &self,
        client: &reqwest::Client,
        req: &Request,
    ) -> Result<reqwest::Response, ProviderError> {
        let target = display_target(&req.url);
        let attempts = if req.idempotent {
            self.retry.attempts.max(1)
        } else {
            1
        };
        let mut last_err = None;
        for attempt in 0..attempts {
            let started = Instant::now();
            let at = chrono::Utc::now();
            let mut builder = client.request(req.method.clone(), &req.url);
            if let Some((name, value)) = &self.auth
                && !req.anonymous
            {
                builder = builder.header(*name, sensitive(value));
            }
            for (name, value) in &req.headers {
                builder = builder.header(*name, sensitive(value));
            }
            if let Some(limit) = req.timeout {
                builder = builder.timeout(limit);
            }
            if let Some(body) = &req.body {
                builder = builder.json(body);
            }
            let result = builder.send().await;
            let duration = started.elapsed();
            let record = |status: Option<u16>, note: String| CallRecord {
                at,
                provider: self.provider.to_string(),
                method: req.method.to_string(),
                target: target.clone(),
                status,
                duration,
                note,
            };
            match result {
                Ok(resp)
                    if resp.status().is_success()
                        || (req.keep_redirect && resp.status().is_redirection()) =>
                {
                    self.calls
                        .record(record(Some(resp.status().as_u16()), String::new()));
                    return Ok(resp);
                }
                Ok(resp) => {
                    let status = resp.status();
                    let request_id = resp
                        .headers()
                        .get("fly-request-id")
                        .or_else(|| resp.headers().get("x-request-id"))
                        .and_then(|v| v.to_str().ok())
                        .map(|s| format!("request id {}", sanitize(s)))
                        .unwrap_or_default();
                    // Retry-After, else on a 429 the IETF draft's
                    // `Ratelimit-Reset` (seconds until the window resets, as
                    // Render sends it on every answer) or Railway's
                    // `X-RateLimit-Reset` (a Unix time is turned into a wait).
                    let header = |name: &str| {
                        resp.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .and_then(parse_retry_after)
                    };
                    // GitHub answers a spent primary limit with 403 (or 429) and
                    // `x-ratelimit-remaining: 0`, a secondary one with `retry-after`.
                    let spent = resp
                        .headers()
                        .get("x-ratelimit-remaining")
                        .is_some_and(|v| v.as_bytes() == b"0");
                    let limited = status == StatusCode::TOO_MANY_REQUESTS
                        || (status == StatusCode::FORBIDDEN
                            && (spent || resp.headers().contains_key("retry-after")));
                    let retry_after = header("retry-after").or_else(|| {
                        limited
                            .then(|| {
                                header("ratelimit-reset").or_else(|| header("x-ratelimit-reset"))
                            })
                            .flatten()
                    });
                    // An error page is only read far enough to quote it.
                    let body = crate::http_body::read_capped(resp, ERROR_BODY_CAP)
                        .await
                        .map(|c| c.bytes)
                        .unwrap_or_default();
                    let err = if limited {
                        ProviderError::RateLimited {
                            target: target.clone(),
                            retry_after,
                        }
                    } else {
                        self.status_error(&target, status, &body, retry_after, &request_id)
                    };
                    self.calls.record(record(Some(status.as_u16()), request_id));
                    let retryable = limited || status.is_server_error();
                    // A server asking for a longer pause than we would wait is
                    // not asked again and again: the caller hears when to retry.
                    let too_long = retry_after.is_some_and(|w| w > self.retry.max_wait);
                    if !retryable || too_long || attempt + 1 == attempts {
                        return Err(err);
                    }
                    tokio::time::sleep(self.backoff(attempt, retry_after)).await;
                    last_err = Some(err);
                }
                Err(e) => {
                    let err = if e.is_timeout() {
                        ProviderError::Timeout {
                            target: target.clone(),
                            after: duration,
                        }
                    } else {
                        ProviderError::Unreachable {
                            target: target.clone(),
                            reason: error_chain(&e),
                        }
                    };
                    self.calls.record(record(None, err.to_string()));
                    if attempt + 1 == attempts {
                        return Err(err);
                    }
                    tokio::time::sleep(self.backoff(attempt, None)).await;
                    last_err = Some(err);
                }
            }
        }
        Err(last_err.unwrap_or(ProviderError::Unreachable {
            target,
            reason: "no attempt made".into(),
        }))
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.retry.max_wait);
        }
        let exp = self.retry.base.saturating_mul(1 << attempt.min(10));
        let jitter = exp.mul_f64(fastrand::f64() * 0.5);
        (exp + jitter).min(self.retry.max_wait)
    }

    fn status_error(
        &self,
        target: &str,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
        request_id: &str,
    ) -> ProviderError {
        match status.as_u16() {
            // A proxy's HTML page (Cloudflare's "Access denied") is not the
            // platform judging the credential: quote it instead.
            403 if looks_like_html(body) => ProviderError::Status {
                target: target.to_string(),
                status: 403,
                message: readable_body(body),
            },
            403 if self.forbidden_is_permission && !body.is_empty() => ProviderError::Forbidden {
                provider: self.provider.to_string(),
                target: target.to_string(),
                message: readable_body(body),
            },
            401 | 403 => ProviderError::Auth {
                provider: self.provider.to_string(),
                status: status.as_u16(),
            },
            404 => ProviderError::NotFound {
                what: target.to_string(),
            },
            429 => ProviderError::RateLimited {
                target: target.to_string(),
                retry_after,
            },
            code => {
                let mut message = readable_body(body);
                if !request_id.is_empty() {
                    message = format!("{message} ({request_id})");
                }
                ProviderError::Status {
                    target: target.to_string(),
                    status: code,
                    message,
                }
            }
        }
    }
}

/// Overwrite every string in a JSON value with zeros before it is freed.
fn scrub(value: &mut serde_json::Value) {
    use zeroize::Zeroize;
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

/// Largest answer a provider call reads (history pages, machine lists).
pub const BODY_CAP: usize = 16 * 1024 * 1024;

/// Largest part of an error answer read, to quote it.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// Read an answer body up to [`BODY_CAP`]; a body cut off by the time limit
/// is a timeout, one that goes on past the cap is refused.
pub async fn body_bytes(
    resp: reqwest::Response,
    target: &str,
    limit: Option<Duration>,
) -> Result<bytes::Bytes, ProviderError> {
    let capped = crate::http_body::read_capped(resp, BODY_CAP).await;
    if let Ok(c) = &capped
        && c.cut
    {
        return Err(ProviderError::Decode {
            target: target.to_string(),
            reason: format!(
                "the answer is larger than {} MiB; shipdeck stopped reading it",
                BODY_CAP / (1024 * 1024)
            ),
        });
    }
    capped.map(|c| bytes::Bytes::from(c.bytes)).map_err(|e| {
        if e.is_timeout() {
            ProviderError::Timeout {
                target: target.to_string(),
                after: limit.unwrap_or_default(),
            }
        } else {
            ProviderError::Unreachable {
                target: target.to_string(),
                reason: error_chain(&e),
            }
        }
    })
}

/// A header value marked sensitive (kept out of HTTP/2 tables and debug output);
/// a value that is not a valid header becomes an empty one rather than a panic.
fn sensitive(value: &str) -> reqwest::header::HeaderValue {
    let mut v = reqwest::header::HeaderValue::from_str(value)
        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

fn looks_like_html(body: &[u8]) -> bool {
    String::from_utf8_lossy(&body[..body.len().min(512)])
        .trim_start()
        .starts_with('<')
}

/// Turn an error body (JSON `{error|message}`, an HTML proxy page, or text) into one short, safe line.
pub fn readable_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) {
        for key in ["error", "message", "detail", "errors"] {
            if let Some(v) = value.get(key) {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return shorten(&sanitize(&s));
            }
        }
    }
    if trimmed.starts_with('<') {
        let title = trimmed.find("<title>").and_then(|i| {
            trimmed[i + 7..]
                .find("</title>")
                .map(|j| &trimmed[i + 7..i + 7 + j])
        });
        return match title {
            Some(t) => format!("an HTML error page: {}", shorten(&sanitize(t.trim()))),
            None => "an HTML error page (a proxy or load balancer answered)".into(),
        };
    }
    if trimmed.is_empty() {
        "empty body".into()
    } else {
        shorten(&sanitize(trimmed))
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// Retry-After as seconds (HTTP dates are rare from APIs; they fall back to backoff).
/// A reset written as a Unix time (some APIs do) becomes the wait until then.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let n = value.trim().parse::<u64>().ok()?;
    if n > 1_000_000_000 {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        return Some(Duration::from_secs(n.saturating_sub(now)));
    }
    Some(Duration::from_secs(n))
}

/// Percent-encode a path segment or query value (ids, names, cursors):
/// everything but unreserved characters.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL without its query string (queries can carry cursors or tokens).
pub fn display_target(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    sanitize(no_query)
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    sanitize(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_one_readable_line() {
        assert_eq!(
            readable_body(br#"{"error":"app not found"}"#),
            "app not found"
        );
        assert_eq!(
            readable_body(b"<html><head><title>502 Bad Gateway</title></head></html>"),
            "an HTML error page: 502 Bad Gateway"
        );
        assert_eq!(readable_body(b"boom \x1b[2J"), "boom ⟨CSI 2J⟩");
        assert_eq!(
            display_target("http://h/v1/logs?next_token=abc"),
            "http://h/v1/logs"
        );
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let soon = (chrono::Utc::now().timestamp() + 5).to_string();
        assert!(parse_retry_after(&soon).unwrap() <= Duration::from_secs(5));
    }

    #[test]
    fn sent_bodies_are_scrubbed_and_debug_hides_them() {
        let mut body =
            serde_json::json!({"values": {"KEY": "hunter22", "GONE": null}, "list": ["x"]});
        let req = Request::post("http://h/v1/apps/a/secrets?x=1", body.clone())
            .header("fly-machine-lease-nonce", "n0nce");
        let shown = format!("{req:?}");
        assert!(!shown.contains("hunter22") && !shown.contains("n0nce") && !shown.contains("x=1"));
        scrub(&mut body);
        assert_eq!(body["values"]["KEY"], "");
        assert_eq!(body["list"][0], "");
        let client = HttpClient::new("t", Duration::from_secs(1), CallSink::discard())
            .with_auth("Bearer tok3n".into());
        assert!(!format!("{client:?}").contains("tok3n"));
    }
}
