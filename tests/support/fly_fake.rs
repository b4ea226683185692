//! A fake Fly.io for tests: Machines API (machines, update, wait, leases,
//! secrets), the GraphQL envelope, and polled logs, speaking the real JSON
//! shapes. Every answer carries `fly-request-id`; every call must carry the
//! expected `Authorization`. Shared state lets tests script faults and read
//! back what happened (updates, lease events, request times).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A scripted misbehaviour for requests matching `method` and `path_contains`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only this method (None = any).
    pub method: Option<Method>,
    /// Substring of the path (and query) to match.
    pub path_contains: String,
    /// How many matching requests it affects.
    pub times: usize,
    /// What happens.
    pub kind: FaultKind,
}

/// What a fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status and JSON body, plus an optional Retry-After.
    Status(u16, Value, Option<u64>),
    /// An HTML 502 page from a proxy.
    Html502,
    /// A 200 with a broken JSON body.
    Malformed,
    /// Sleep before answering normally.
    Delay(Duration),
    /// A GraphQL `errors[]` answer on HTTP 200.
    GraphqlErrors(String),
}

/// One fake machine.
#[derive(Debug, Clone)]
pub struct FakeMachine {
    pub id: String,
    pub group: String,
    pub region: String,
    pub image: String,
    pub state: String,
    pub checks: Vec<(String, String, String)>,
    pub host_status: String,
    pub instance: u64,
    pub lease: Option<FakeLease>,
    /// After an update to this image, the checks go critical.
    pub critical_on: Option<String>,
    /// After an update, the machine is `starting` this long before `started`.
    pub starts_after: Option<Duration>,
    pub updated_at: String,
}

/// A lease on a fake machine.
#[derive(Debug, Clone)]
pub struct FakeLease {
    pub owner: String,
    pub nonce: String,
    /// Expiry in Unix milliseconds (the API reports seconds).
    pub expires_at_ms: i64,
}

/// One fake app.
#[derive(Debug, Clone, Default)]
pub struct FakeApp {
    pub machines: BTreeMap<String, FakeMachine>,
    /// GraphQL release nodes, newest first.
    pub releases: Vec<Value>,
    pub current_release: Option<String>,
    /// name → (digest, updated_at)
    pub secrets: BTreeMap<String, (String, String)>,
    pub secrets_version: u64,
    /// Log pages: `next_token` "tN" reads page N; the first poll reads page 0.
    pub log_pages: Vec<Vec<Value>>,
    pub org: String,
}

/// One machine update the fake applied.
#[derive(Debug, Clone)]
pub struct Update {
    pub app: String,
    pub machine: String,
    pub image: String,
    /// The `fly-machine-lease-nonce` header sent.
    pub nonce: Option<String>,
    pub min_secrets_version: Option<u64>,
}

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: Method,
    pub path: String,
    pub at: Instant,
    pub auth: Option<String>,
    pub nonce: Option<String>,
}

/// Requests per endpoint, the way a rate-limited API counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `GET /v1/apps/{app}/machines`.
    pub machine_lists: usize,
    /// `GET /v1/apps/{app}/machines/{id}`.
    pub machine_gets: usize,
    /// `POST /graphql`.
    pub graphql: usize,
    /// `GET /v1/apps/{app}/secrets`.
    pub secret_lists: usize,
    /// `GET /api/v1/apps/{app}/logs`.
    pub log_polls: usize,
    /// Anything else (updates, leases, waits, secret writes).
    pub other: usize,
}

impl Counts {
    fn add(&mut self, hit: &Hit) {
        let path = hit.path.split('?').next().unwrap_or(&hit.path);
        let get = hit.method == Method::GET;
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let slot = match parts.as_slice() {
            ["graphql"] => &mut self.graphql,
            ["api", "v1", "apps", _, "logs"] if get => &mut self.log_polls,
            ["v1", "apps", _, "machines"] if get => &mut self.machine_lists,
            ["v1", "apps", _, "machines", _] if get => &mut self.machine_gets,
            ["v1", "apps", _, "secrets"] if get => &mut self.secret_lists,
            _ => &mut self.other,
        };
        *slot += 1;
    }
}

/// Everything the fake knows.
#[derive(Debug, Default)]
pub struct FakeState {
    pub apps: BTreeMap<String, FakeApp>,
    /// The `Authorization` value every call must carry.
    pub expected_auth: String,
    /// The viewer's e-mail (None: the token is a deploy token without a viewer).
    pub viewer: Option<String>,
    pub faults: Vec<Fault>,
    pub hits: Vec<Hit>,
    /// (app, machine, "acquire" | "refresh" | "release")
    pub lease_events: Vec<(String, String, String)>,
    /// Machine updates, in order.
    pub updates: Vec<Update>,
    /// Secret bulk posts seen.
    pub secret_posts: usize,
    /// Largest GraphQL page the fake serves (0 = no cap).
    pub graphql_page_max: usize,
}

/// A running fake.
pub struct FlyFake {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub state: Arc<Mutex<FakeState>>,
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl FlyFake {
    /// Start on 127.0.0.1:0, accepting `Authorization: {expected_auth}`.
    pub async fn start(expected_auth: &str) -> FlyFake {
        let state = Arc::new(Mutex::new(FakeState {
            expected_auth: expected_auth.to_string(),
            viewer: Some("dev@example.com".into()),
            ..FakeState::default()
        }));
        let app = Router::new()
            .route("/v1/apps/{app}/machines", get(list_machines))
            .route(
                "/v1/apps/{app}/machines/{id}",
                get(get_machine).post(update_machine),
            )
            .route("/v1/apps/{app}/machines/{id}/wait", get(wait_machine))
            .route(
                "/v1/apps/{app}/machines/{id}/lease",
                get(get_lease).post(acquire_lease).delete(release_lease),
            )
            .route(
                "/v1/apps/{app}/secrets",
                get(list_secrets).post(set_secrets),
            )
            .route("/graphql", post(graphql))
            .route("/api/v1/apps/{app}/logs", get(logs))
            .layer(middleware::from_fn_with_state(state.clone(), gate))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FlyFake {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// Lock the state.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    /// Add an app with `n` healthy machines of group `web` running `image`.
    pub fn add_app(&self, app: &str, n: usize, image: &str) {
        let mut st = self.state();
        let entry = st.apps.entry(app.to_string()).or_default();
        entry.org = "acme".into();
        for i in 0..n {
            let id = format!("{app}-m{}", i + 1);
            entry.machines.insert(
                id.clone(),
                FakeMachine {
                    id,
                    group: "web".into(),
                    region: "ams".into(),
                    image: image.to_string(),
                    state: "started".into(),
                    checks: vec![("http".into(), "passing".into(), "200 OK".into())],
                    host_status: "ok".into(),
                    instance: next_id(),
                    lease: None,
                    critical_on: None,
                    starts_after: None,
                    updated_at: now_rfc3339(),
                },
            );
        }
    }

    /// Change one machine of `app` (scripted leases, slow starts).
    pub fn machine(&self, app: &str, id: &str, change: impl FnOnce(&mut FakeMachine)) {
        let mut st = self.state();
        let machine = st
            .apps
            .get_mut(app)
            .and_then(|a| a.machines.get_mut(id))
            .unwrap_or_else(|| panic!("the fake has no machine {app}/{id}"));
        change(machine);
    }

    /// Script a fault.
    pub fn fault(
        &self,
        method: Option<Method>,
        path_contains: &str,
        times: usize,
        kind: FaultKind,
    ) {
        self.state().faults.push(Fault {
            method,
            path_contains: path_contains.to_string(),
            times,
            kind,
        });
    }

    /// Hits whose path contains `part` (and method, if given).
    pub fn hits(&self, method: Option<Method>, part: &str) -> Vec<Hit> {
        self.state()
            .hits
            .iter()
            .filter(|h| method.as_ref().is_none_or(|m| *m == h.method) && h.path.contains(part))
            .cloned()
            .collect()
    }

    /// Requests so far, per endpoint.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for hit in &self.state().hits {
            counts.add(hit);
        }
        counts
    }

    /// Image of every machine of `app`, by id.
    pub fn images(&self, app: &str) -> BTreeMap<String, String> {
        self.state().apps[app]
            .machines
            .values()
            .map(|m| (m.id.clone(), m.image.clone()))
            .collect()
    }
}

/// `registry.fly.io/app@sha256:…` for an image, as Fly would resolve it.
pub fn digest_for(image: &str) -> String {
    if let Some((_, d)) = image.split_once('@') {
        return d.to_string();
    }
    let hex: String = Sha256::digest(image.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The pinned form of an image.
pub fn pinned(image: &str) -> String {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    format!("{repo}@{}", digest_for(image))
}

fn image_ref(image: &str) -> Value {
    let repo_full = image.split('@').next().unwrap_or(image);
    let (repo_full, tag) = match repo_full.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (repo_full, None),
    };
    let (registry, repository) = match repo_full.split_once('/') {
        Some((reg, rest)) if reg.contains('.') => (reg, rest),
        _ => ("docker.io", repo_full),
    };
    json!({"registry": registry, "repository": repository, "tag": tag, "digest": digest_for(image)})
}

fn machine_json(m: &FakeMachine) -> Value {
    json!({
        "id": m.id,
        "name": format!("name-{}", m.id),
        "state": m.state,
        "region": m.region,
        "instance_id": format!("inst{}", m.instance),
        "private_ip": "fdaa::1",
        "host_status": m.host_status,
        "updated_at": m.updated_at,
        "image_ref": image_ref(&m.image),
        "config": {
            "image": m.image,
            "env": {"PORT": "8080"},
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            "metadata": {"fly_process_group": m.group, "fly_platform_version": "v2"},
            "services": [{"protocol": "tcp", "internal_port": 8080}],
        },
        "checks": m.checks.iter().map(|(n, s, o)| json!({"name": n, "status": s, "output": o})).collect::<Vec<_>>(),
        "events": [],
    })
}

fn err(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({"error": msg}))).into_response()
}

/// Auth check, request log, fly-request-id, scripted faults.
async fn gate(State(st): State<Arc<Mutex<FakeState>>>, req: Request, next: Next) -> Response {
    let path = match req.uri().query() {
        Some(q) => format!("{}?{q}", req.uri().path()),
        None => req.uri().path().to_string(),
    };
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let nonce = req
        .headers()
        .get("fly-machine-lease-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (authorized, fault) = {
        let mut s = st.lock().unwrap();
        s.hits.push(Hit {
            method: req.method().clone(),
            path: path.clone(),
            at: Instant::now(),
            auth: auth.clone(),
            nonce,
        });
        let authorized = auth.as_deref() == Some(s.expected_auth.as_str());
        let mut fault = None;
        if authorized {
            for f in s.faults.iter_mut() {
                if f.times > 0
                    && f.method.as_ref().is_none_or(|m| m == req.method())
                    && path.contains(&f.path_contains)
                {
                    f.times -= 1;
                    fault = Some(f.kind.clone());
                    break;
                }
            }
        }
        (authorized, fault)
    };
    let request_id = format!("01FAKE{:08}", next_id());
    let mut resp = if !authorized {
        err(StatusCode::UNAUTHORIZED, "unauthorized")
    } else {
        match fault {
            None => next.run(req).await,
            Some(FaultKind::Delay(d)) => {
                tokio::time::sleep(d).await;
                next.run(req).await
            }
            Some(FaultKind::Status(code, body, retry_after)) => {
                let mut r = (StatusCode::from_u16(code).unwrap(), Json(body)).into_response();
                if let Some(s) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, s.to_string().parse().unwrap());
                }
                r
            }
            Some(FaultKind::Html502) => Response::builder()
                .status(502)
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from(
                    "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1>\n<p>fly-proxy</p></body></html>",
                ))
                .unwrap(),
            Some(FaultKind::Malformed) => Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"id\": \"m1\", \"state\": "))
                .unwrap(),
            Some(FaultKind::GraphqlErrors(msg)) => Json(json!({
                "data": null,
                "errors": [{"message": msg, "path": ["app"], "extensions": {"code": "NOT_FOUND"}}],
            }))
            .into_response(),
        }
    };
    resp.headers_mut()
        .insert("fly-request-id", request_id.parse().unwrap());
    resp
}

type St = State<Arc<Mutex<FakeState>>>;

async fn list_machines(
    State(st): St,
    Path(app): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = st.lock().unwrap();
    let Some(a) = s.apps.get(&app) else {
        return err(StatusCode::NOT_FOUND, "app not found");
    };
    let group = q.get("metadata.fly_process_group");
    let list: Vec<Value> = a
        .machines
        .values()
        .filter(|m| group.is_none_or(|g| *g == m.group))
        .map(machine_json)
        .collect();
    Json(list).into_response()
}

async fn get_machine(State(st): St, Path((app, id)): Path<(String, String)>) -> Response {
    let s = st.lock().unwrap();
    match s.apps.get(&app).and_then(|a| a.machines.get(&id)) {
        Some(m) => Json(machine_json(m)).into_response(),
        None => err(StatusCode::NOT_FOUND, "machine not found"),
    }
}

async fn update_machine(
    State(st): St,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return err(StatusCode::BAD_REQUEST, "invalid json");
    };
    let nonce = headers
        .get("fly-machine-lease-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut s = st.lock().unwrap();
    let Some(m) = s.apps.get_mut(&app).and_then(|a| a.machines.get_mut(&id)) else {
        return err(StatusCode::NOT_FOUND, "machine not found");
    };
    if let Some(lease) = &m.lease
        && nonce.as_deref() != Some(lease.nonce.as_str())
    {
        return err(StatusCode::CONFLICT, "lease nonce mismatch");
    }
    let Some(image) = body["config"]["image"].as_str() else {
        return err(StatusCode::BAD_REQUEST, "config.image is required");
    };
    // The whole config must come back, not just the image.
    if body["config"]["guest"].is_null()
        || body["config"]["metadata"]["fly_process_group"].is_null()
    {
        return err(
            StatusCode::BAD_REQUEST,
            "partial config would reset the machine",
        );
    }
    m.image = image.to_string();
    m.instance = next_id();
    if body["skip_launch"].as_bool() == Some(true) {
        m.state = "stopped".into();
    } else if let Some(delay) = m.starts_after {
        m.state = "starting".into();
        let (st2, app2, id2) = (st.clone(), app.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(m) = st2
                .lock()
                .unwrap()
                .apps
                .get_mut(&app2)
                .and_then(|a| a.machines.get_mut(&id2))
            {
                m.state = "started".into();
            }
        });
    } else {
        m.state = "started".into();
    }
    m.updated_at = now_rfc3339();
    let critical = m.critical_on.as_deref() == Some(image);
    m.checks = vec![if critical {
        (
            "http".into(),
            "critical".into(),
            "GET /healthz: 500 Internal Server Error".into(),
        )
    } else {
        ("http".into(), "passing".into(), "200 OK".into())
    }];
    let out = machine_json(m);
    let min = body["min_secrets_version"].as_u64();
    s.updates.push(Update {
        app: app.clone(),
        machine: id.clone(),
        image: image.to_string(),
        nonce,
        min_secrets_version: min,
    });
    Json(out).into_response()
}

async fn wait_machine(
    State(st): St,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let want = q.get("state").cloned().unwrap_or_else(|| "started".into());
    let timeout: u64 = q.get("timeout").and_then(|t| t.parse().ok()).unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        {
            let s = st.lock().unwrap();
            let Some(m) = s.apps.get(&app).and_then(|a| a.machines.get(&id)) else {
                return err(StatusCode::NOT_FOUND, "machine not found");
            };
            if m.state == want {
                return Json(json!({"ok": true})).into_response();
            }
        }
        if Instant::now() >= deadline {
            return err(StatusCode::REQUEST_TIMEOUT, "deadline_exceeded");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lease_json(l: &FakeLease, with_nonce: bool) -> Value {
    let mut data =
        json!({"owner": l.owner, "expires_at": l.expires_at_ms / 1000, "version": "01LEASE"});
    if with_nonce {
        data["nonce"] = json!(l.nonce);
    }
    json!({"status": "success", "data": data})
}

async fn get_lease(State(st): St, Path((app, id)): Path<(String, String)>) -> Response {
    let s = st.lock().unwrap();
    match s.apps.get(&app).and_then(|a| a.machines.get(&id)) {
        Some(m) => match &m.lease {
            Some(l) => Json(lease_json(l, false)).into_response(),
            None => err(StatusCode::NOT_FOUND, "no active leases"),
        },
        None => err(StatusCode::NOT_FOUND, "machine not found"),
    }
}

async fn acquire_lease(
    State(st): St,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let ttl: i64 = q.get("ttl").and_then(|t| t.parse().ok()).unwrap_or(30);
    let nonce = headers
        .get("fly-machine-lease-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut s = st.lock().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let Some(m) = s.apps.get_mut(&app).and_then(|a| a.machines.get_mut(&id)) else {
        return err(StatusCode::NOT_FOUND, "machine not found");
    };
    let event;
    match &mut m.lease {
        Some(l) if l.expires_at_ms > now => {
            if nonce.as_deref() == Some(l.nonce.as_str()) {
                l.expires_at_ms = now + ttl * 1000;
                event = "refresh";
            } else {
                let msg = format!(
                    "lease currently held by {}, expires at {}",
                    l.owner,
                    l.expires_at_ms / 1000
                );
                return err(StatusCode::CONFLICT, &msg);
            }
        }
        _ => {
            m.lease = Some(FakeLease {
                owner: "dev@example.com".into(),
                nonce: format!("nonce{}", next_id()),
                expires_at_ms: now + ttl * 1000,
            });
            event = "acquire";
        }
    }
    let body = lease_json(m.lease.as_ref().unwrap(), true);
    s.lease_events.push((app, id, event.into()));
    Json(body).into_response()
}

async fn release_lease(
    State(st): St,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let nonce = headers
        .get("fly-machine-lease-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut s = st.lock().unwrap();
    let Some(m) = s.apps.get_mut(&app).and_then(|a| a.machines.get_mut(&id)) else {
        return err(StatusCode::NOT_FOUND, "machine not found");
    };
    match &m.lease {
        Some(l) if nonce.as_deref() == Some(l.nonce.as_str()) => {
            m.lease = None;
            s.lease_events.push((app, id, "release".into()));
            Json(json!({"status": "success"})).into_response()
        }
        Some(_) => err(StatusCode::CONFLICT, "lease nonce mismatch"),
        None => Json(json!({"status": "success"})).into_response(),
    }
}

async fn list_secrets(State(st): St, Path(app): Path<String>) -> Response {
    let s = st.lock().unwrap();
    let Some(a) = s.apps.get(&app) else {
        return err(StatusCode::NOT_FOUND, "app not found");
    };
    let list: Vec<Value> = a
        .secrets
        .iter()
        .map(|(n, (d, t))| json!({"name": n, "digest": d, "created_at": t, "updated_at": t}))
        .collect();
    Json(json!({"secrets": list})).into_response()
}

async fn set_secrets(State(st): St, Path(app): Path<String>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return err(StatusCode::BAD_REQUEST, "invalid json");
    };
    let mut s = st.lock().unwrap();
    s.secret_posts += 1;
    let Some(a) = s.apps.get_mut(&app) else {
        return err(StatusCode::NOT_FOUND, "app not found");
    };
    let Some(values) = body["values"].as_object() else {
        return err(StatusCode::BAD_REQUEST, "values is required");
    };
    for (name, v) in values {
        match v.as_str() {
            Some(v) => {
                let d: String = Sha256::digest(v.as_bytes())
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                a.secrets.insert(name.clone(), (d, now_rfc3339()));
            }
            None => {
                a.secrets.remove(name);
            }
        }
    }
    a.secrets_version += 1;
    let version = a.secrets_version;
    Json(json!({"secrets": [], "version": version})).into_response()
}

async fn graphql(State(st): St, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return err(StatusCode::BAD_REQUEST, "invalid json");
    };
    let query = body["query"].as_str().unwrap_or_default().to_string();
    let vars = &body["variables"];
    let s = st.lock().unwrap();
    if query.contains("viewer") {
        return match &s.viewer {
            Some(email) => Json(json!({"data": {"viewer": {"email": email}}})).into_response(),
            None => Json(json!({"data": null, "errors": [{"message": "You must be authenticated to view this."}]}))
                .into_response(),
        };
    }
    let app_name = vars["appName"].as_str().unwrap_or_default();
    let Some(app) = s.apps.get(app_name) else {
        return Json(json!({"data": {"app": null}, "errors": [{"message": format!("Could not find App \"{app_name}\"")}]}))
            .into_response();
    };
    if query.contains("releasesUnprocessed") {
        let mut first = vars["limit"].as_u64().unwrap_or(25) as usize;
        if s.graphql_page_max > 0 {
            first = first.min(s.graphql_page_max);
        }
        // Cursors are opaque base64 offsets, like Relay connections hand out.
        let start: usize = vars["cursor"]
            .as_str()
            .and_then(|c| (0..=app.releases.len()).find(|n| cursor(*n) == c))
            .unwrap_or(0);
        let end = (start + first).min(app.releases.len());
        let nodes = app.releases[start.min(end)..end].to_vec();
        let current = app
            .current_release
            .as_ref()
            .and_then(|id| app.releases.iter().find(|r| r["id"] == *id))
            .cloned();
        return Json(json!({"data": {"app": {
            "currentReleaseUnprocessed": current,
            "releasesUnprocessed": {
                "nodes": nodes,
                "pageInfo": {"hasNextPage": end < app.releases.len(), "endCursor": cursor(end)},
            },
        }}}))
        .into_response();
    }
    if query.contains("organization") {
        return Json(
            json!({"data": {"app": {"name": app_name, "organization": {"slug": app.org}}}}),
        )
        .into_response();
    }
    Json(json!({"data": null, "errors": [{"message": "unknown query"}]})).into_response()
}

/// The opaque Relay cursor after `offset` nodes.
fn cursor(offset: usize) -> String {
    base64(format!("arrayconnection:{offset}").as_bytes())
}

async fn logs(
    State(st): St,
    Path(app): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = st.lock().unwrap();
    let Some(a) = s.apps.get(&app) else {
        return err(StatusCode::NOT_FOUND, "app not found");
    };
    let page: usize = q
        .get("next_token")
        .and_then(|t| t.strip_prefix('t'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let data = a.log_pages.get(page).cloned().unwrap_or_default();
    let next_token = if data.is_empty() {
        format!("t{page}")
    } else {
        format!("t{}", page + 1)
    };
    Json(json!({"data": data, "meta": {"next_token": next_token}})).into_response()
}

/// A log entry as Fly's logs API returns it.
pub fn log_entry(instance: &str, level: &str, message: &str) -> Value {
    json!({
        "id": format!("log{}", next_id()),
        "type": "logs",
        "attributes": {
            "timestamp": now_rfc3339(),
            "message": message,
            "level": level,
            "instance": instance,
            "region": "ams",
            "meta": {"event": {"provider": "app"}},
        },
    })
}

/// Standard base64 (with padding), as Fly's GraphQL node ids and cursors use it.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Fly's opaque GraphQL id of release `version`: base64 of `Release-N`
/// (`UmVsZWFzZS0x` for v1), never the version itself.
pub fn release_id(version: u64) -> String {
    base64(format!("Release-{version}").as_bytes())
}

/// The image flyctl pushes for a build: `registry.fly.io/APP:deployment-<ULID>`,
/// a ULID-like tag derived from `n` so tests stay reproducible.
pub fn deployment_image(app: &str, n: u64) -> String {
    const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let hash = Sha256::digest(format!("{app}/{n}").as_bytes());
    let tail: String = hash
        .iter()
        .take(16)
        .map(|b| CROCKFORD[(*b & 31) as usize] as char)
        .collect();
    // The ULID's time part: 01J… for deploys made in 2024-2026.
    format!(
        "registry.fly.io/{app}:deployment-01JD{:06}{tail}",
        n % 1_000_000
    )
}

/// A GraphQL release node as `releasesUnprocessed` returns it (opaque id, `version` number).
pub fn release_node(version: u64, image: &str, status: &str) -> Value {
    json!({
        "id": release_id(version),
        "version": version,
        "description": format!("Deploy image {image}"),
        "reason": "deploy",
        "status": status,
        "imageRef": image,
        "stable": status == "complete",
        "inProgress": status == "running",
        "user": {"id": base64(b"User-1"), "email": "dev@example.com", "name": "Dev"},
        "createdAt": format!("2026-11-{:02}T10:00:00Z", version.clamp(1, 28)),
    })
}

/// A listener that accepts connections and drops them at once (connection reset).
pub async fn resetting_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            drop(sock);
        }
    });
    format!("http://{addr}")
}
