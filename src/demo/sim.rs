//! Simulated traffic of one demo service: request counters, a latency
//! histogram, health checks and a JSON/logfmt log stream, all driven by one
//! fleet-wide ticker. Behaviour follows the running release: the known-bad
//! build times out on storage and raises the error rate.

use chrono::Utc;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Histogram bucket bounds in seconds (Prometheus client defaults).
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Lines kept for a new log subscriber.
const BACKLOG: usize = 200;

/// The kind of service, which decides its health and log shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// A JSON API (IETF health+json, pino logs).
    Api,
    /// A web frontend (plain health JSON, logfmt logs).
    Web,
}

/// How the service behaves right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Serving normally.
    Good,
    /// Running the known-bad build.
    Bad,
    /// Instances restarting after a deploy.
    Starting,
}

#[derive(Debug, Default)]
struct Counters {
    by_status: BTreeMap<(&'static str, u16), u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One simulated service.
#[derive(Debug)]
pub struct ServiceSim {
    /// Env name.
    pub env: String,
    /// Service name.
    pub name: String,
    /// Kind.
    pub kind: ServiceKind,
    counters: Mutex<Counters>,
    backlog: Mutex<VecDeque<Arc<str>>>,
    logs: broadcast::Sender<Arc<str>>,
    seq: Mutex<u64>,
}

impl ServiceSim {
    /// A fresh service.
    pub fn new(env: &str, name: &str) -> ServiceSim {
        let kind = if name.contains("web") || name.contains("front") {
            ServiceKind::Web
        } else {
            ServiceKind::Api
        };
        let (logs, _) = broadcast::channel(1024);
        ServiceSim {
            env: env.to_string(),
            name: name.to_string(),
            kind,
            counters: Mutex::new(Counters::default()),
            backlog: Mutex::new(VecDeque::with_capacity(BACKLOG)),
            logs,
            seq: Mutex::new(0),
        }
    }

    /// Subscribe to live lines, after the backlog.
    pub fn subscribe(&self) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let backlog = self
            .backlog
            .lock()
            .map(|b| b.iter().cloned().collect())
            .unwrap_or_default();
        (backlog, self.logs.subscribe())
    }

    /// Advance the simulation by `dt` seconds at wall-clock phase `t`.
    pub fn tick(&self, dt: f64, t: f64, behaviour: Behaviour) {
        let phase = (t / 90.0 + self.name.len() as f64).sin();
        let base_rps = match self.kind {
            ServiceKind::Api => 40.0,
            ServiceKind::Web => 18.0,
        } * (1.0 + 0.35 * phase);
        let requests = poisson(base_rps * dt);
        let (err_p, slow) = match behaviour {
            Behaviour::Good => (0.0002, 1.0),
            Behaviour::Bad => (
                if self.kind == ServiceKind::Api {
                    0.07
                } else {
                    0.03
                },
                3.2,
            ),
            Behaviour::Starting => (0.02, 1.8),
        };
        if let Ok(mut c) = self.counters.lock() {
            for _ in 0..requests {
                let method = if fastrand::f64() < 0.75 {
                    "GET"
                } else {
                    "POST"
                };
                let status = if fastrand::f64() < err_p {
                    if fastrand::bool() { 500 } else { 503 }
                } else {
                    *pick(&[200, 200, 200, 200, 200, 200, 201, 204, 304, 404])
                };
                let median = match self.kind {
                    ServiceKind::Api => 0.035,
                    ServiceKind::Web => 0.055,
                } * slow;
                let latency = median * (0.55 * normal()).exp();
                *c.by_status.entry((method, status)).or_default() += 1;
                for (i, bound) in BUCKETS.iter().enumerate() {
                    if latency <= *bound {
                        c.buckets[i] += 1;
                    }
                }
                c.count += 1;
                c.sum += latency;
            }
        }
        let line_rate = match self.kind {
            ServiceKind::Api => 3.0,
            ServiceKind::Web => 1.5,
        } * (1.0 + 0.5 * phase);
        for _ in 0..poisson(line_rate * dt) {
            let line = self.log_line(behaviour);
            self.emit(line);
        }
    }

    fn emit(&self, line: String) {
        let line: Arc<str> = line.into();
        if let Ok(mut b) = self.backlog.lock() {
            if b.len() == BACKLOG {
                b.pop_front();
            }
            b.push_back(line.clone());
        }
        let _ = self.logs.send(line);
    }

    fn log_line(&self, behaviour: Behaviour) -> String {
        let seq = self.seq.lock().map(|mut s| {
            *s += 1;
            *s
        });
        let seq = seq.unwrap_or(0);
        let now = Utc::now();
        let r = fastrand::f64();
        let (level, msg, status) = match behaviour {
            Behaviour::Bad if r < 0.25 => (
                "error",
                "storage: PutObject eu-west-1: RequestTimeout after 5000ms",
                503,
            ),
            Behaviour::Starting if r < 0.3 => ("warn", "upstream not ready, retrying", 503),
            _ if r < 0.004 => ("error", "database connection reset by peer", 500),
            _ if r < 0.03 => (
                "warn",
                *pick(&[
                    "slow query: 812ms SELECT orders",
                    "retrying upstream call",
                    "cache miss storm",
                ]),
                200,
            ),
            _ if r < 0.1 => ("debug", "cache hit", 200),
            _ => (
                "info",
                "request completed",
                *pick(&[200, 200, 200, 201, 204, 304, 404]),
            ),
        };
        let path = *pick(&[
            "/api/v1/orders",
            "/api/v1/users",
            "/api/v1/search",
            "/api/v1/cart",
            "/checkout",
            "/api/v1/uploads",
        ]);
        let latency = 20.0 * (0.6 * normal()).exp();
        // Now and then a client sends a hostile User-Agent; the log carries it verbatim.
        let hostile = seq.is_multiple_of(401);
        match self.kind {
            ServiceKind::Api => {
                let lvl = match level {
                    "debug" => 20,
                    "info" => 30,
                    "warn" => 40,
                    _ => 50,
                };
                let mut v = serde_json::json!({
                    "level": lvl,
                    "time": now.timestamp_millis(),
                    "pid": 7,
                    "hostname": format!("{}-{}-7f9c", self.env, self.name),
                    "reqId": format!("{:016x}", fastrand::u64(..)),
                    "req": {"method": if r < 0.7 { "GET" } else { "POST" }, "url": path},
                    "res": {"statusCode": status},
                    "responseTime": (latency * 100.0).round() / 100.0,
                    "msg": msg,
                });
                if hostile {
                    v["level"] = 40.into();
                    v["msg"] = "suspicious user agent".into();
                    v["ua"] = "\u{1b}]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u{7}\u{1b}[2Jcurl/8.5".into();
                }
                v.to_string()
            }
            ServiceKind::Web => {
                let mut line = String::new();
                let _ = write!(
                    line,
                    "ts={} level={} msg=\"{}\" path={} status={} duration_ms={:.1}",
                    now.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    level,
                    if level == "info" {
                        "rendered page"
                    } else {
                        msg
                    },
                    path.replace("/api/v1", ""),
                    status,
                    latency * 1.6
                );
                if hostile {
                    line.push_str(" referer=\"\u{1b}]0;you have been pwned\u{7}\"");
                }
                line
            }
        }
    }

    /// Prometheus text exposition of the counters.
    pub fn metrics_text(&self) -> String {
        let Ok(c) = self.counters.lock() else {
            return String::new();
        };
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter\n",
        );
        for ((method, status), n) in &c.by_status {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                c.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            c.count
        );
        let _ = writeln!(out, "http_request_duration_seconds_sum {:.6}", c.sum);
        let _ = writeln!(out, "http_request_duration_seconds_count {}", c.count);
        out
    }

    /// The health document and HTTP status for the current behaviour.
    /// `config_problem` is why the app rejects its secrets (a failing `config` check).
    pub fn health(
        &self,
        behaviour: Behaviour,
        version: &str,
        config_problem: Option<&str>,
    ) -> (u16, &'static str, String) {
        let ms = |base: f64| ((base * (0.3 * normal()).exp()) * 10.0).round() / 10.0;
        let time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match self.kind {
            ServiceKind::Api => {
                let (storage_status, storage_out, overall, code) = match behaviour {
                    Behaviour::Good => ("pass", None, "pass", 200),
                    Behaviour::Bad => (
                        "fail",
                        Some("s3: PutObject eu-west-1: RequestTimeout after 5000ms"),
                        "fail",
                        503,
                    ),
                    Behaviour::Starting => {
                        ("warn", Some("connection pool warming up"), "fail", 503)
                    }
                };
                let mut storage = serde_json::json!({"componentType": "component", "observedValue": ms(if behaviour == Behaviour::Bad { 5000.0 } else { 24.0 }), "observedUnit": "ms", "status": storage_status, "time": time});
                if let Some(o) = storage_out {
                    storage["output"] = o.into();
                }
                let mut doc = serde_json::json!({
                    "status": overall,
                    "version": version,
                    "serviceId": format!("{}-{}", self.env, self.name),
                    "checks": {
                        "database:responseTime": [{"componentType": "datastore", "observedValue": ms(3.0), "observedUnit": "ms", "status": "pass", "time": time}],
                        "redis:responseTime": [{"componentType": "datastore", "observedValue": ms(0.8), "observedUnit": "ms", "status": "pass", "time": time}],
                        "storage:responseTime": [storage],
                    }
                });
                let mut code = code;
                if let Some(problem) = config_problem.filter(|_| behaviour != Behaviour::Starting) {
                    doc["status"] = "fail".into();
                    doc["checks"]["config:valid"] = serde_json::json!([{"componentType": "component", "status": "fail", "output": problem, "time": time}]);
                    code = 503;
                }
                (code, "application/health+json", doc.to_string())
            }
            ServiceKind::Web => {
                let (api, overall, code) = match behaviour {
                    Behaviour::Good => ("ok", "ok", 200),
                    Behaviour::Bad => ("degraded", "warn", 200),
                    Behaviour::Starting => ("fail", "error", 503),
                };
                let doc = serde_json::json!({"status": overall, "version": version, "checks": {"api": api, "render": "ok", "cdn": "ok"}});
                (code, "application/json", doc.to_string())
            }
        }
    }
}

fn pick<T>(items: &[T]) -> &T {
    &items[fastrand::usize(..items.len())]
}

/// A standard normal sample (Box–Muller).
fn normal() -> f64 {
    let u1 = fastrand::f64().max(1e-12);
    let u2 = fastrand::f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A Poisson sample (Knuth; fine for the small means used here).
fn poisson(mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p = fastrand::f64();
    while p > limit && k < 10_000 {
        k += 1;
        p *= fastrand::f64();
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_build_raises_errors_and_fails_storage() {
        let sim = ServiceSim::new("staging", "api");
        for i in 0..400 {
            sim.tick(0.25, i as f64, Behaviour::Bad);
        }
        let text = sim.metrics_text();
        assert!(
            text.contains("status=\"500\"") || text.contains("status=\"503\""),
            "{text}"
        );
        assert!(text.contains("le=\"+Inf\""));
        let (code, ctype, body) = sim.health(Behaviour::Bad, "v44", None);
        assert_eq!((code, ctype), (503, "application/health+json"));
        assert!(body.contains("RequestTimeout"));
        let (code, _, _) = sim.health(Behaviour::Good, "v41", None);
        assert_eq!(code, 200);
    }

    #[test]
    fn logs_reach_subscribers_with_backlog() {
        let sim = ServiceSim::new("dev", "web");
        for i in 0..100 {
            sim.tick(0.5, i as f64, Behaviour::Good);
        }
        let (backlog, _rx) = sim.subscribe();
        assert!(!backlog.is_empty());
        assert!(backlog[0].starts_with("ts="));
    }
}
