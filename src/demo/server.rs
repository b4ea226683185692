//! The demo fleet's HTTP servers: one per service (`/health/ready`,
//! `/metrics`) and one control plane shaped like a PaaS API (releases,
//! instances, deploys, rollback, secrets, log streams).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::FleetState;
use super::sim::ServiceSim;

/// Router for one service's own endpoints.
pub fn service_router(fleet: Arc<FleetState>, sim: Arc<ServiceSim>) -> Router {
    Router::new()
        .route("/health/ready", get(health))
        .route("/metrics", get(metrics))
        .with_state((fleet, sim))
}

async fn health(State((fleet, sim)): State<(Arc<FleetState>, Arc<ServiceSim>)>) -> Response {
    let (behaviour, version) = fleet.behaviour(&sim.env, &sim.name);
    // The api checks its secrets at start (see `Store::config_problem`).
    let problem = (sim.name == super::store::BAD_SERVICE)
        .then(|| fleet.config_problem(&sim.env))
        .flatten();
    let (code, ctype, body) = sim.health(behaviour, &version, problem.as_deref());
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, ctype)],
        body,
    )
        .into_response()
}

async fn metrics(State((_, sim)): State<(Arc<FleetState>, Arc<ServiceSim>)>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        sim.metrics_text(),
    )
        .into_response()
}

/// Router for the control plane.
pub fn control_router(fleet: Arc<FleetState>) -> Router {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/envs/{env}/instances", get(instances))
        .route("/v1/envs/{env}/restart", post(restart))
        .route("/v1/envs/{env}/secrets", get(secrets).post(set_secrets))
        .route("/v1/envs/{env}/services/{service}/releases", get(releases))
        .route(
            "/v1/envs/{env}/services/{service}/instances",
            get(service_instances),
        )
        .route("/v1/envs/{env}/services/{service}/deploys", post(deploy))
        .route("/v1/envs/{env}/services/{service}/rollback", post(rollback))
        .route("/v1/envs/{env}/services/{service}/logs", get(logs))
        .with_state(fleet)
}

async fn whoami() -> Response {
    Json(serde_json::json!({"identity": "demo control plane (no credential needed)"}))
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"error": message.into()}))).into_response()
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn releases(
    State(fleet): State<Arc<FleetState>>,
    Path((env, service)): Path<(String, String)>,
    Query(q): Query<Limit>,
) -> Response {
    let store = fleet.store.lock().await;
    match store.releases(&env, &service, q.limit.unwrap_or(25).min(100)) {
        Ok(r) => Json(r).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn instances(State(fleet): State<Arc<FleetState>>, Path(env): Path<String>) -> Response {
    match fleet.instances(&env, None).await {
        Some(list) => Json(list).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no env named `{env}` in the demo fleet"),
        ),
    }
}

async fn service_instances(
    State(fleet): State<Arc<FleetState>>,
    Path((env, service)): Path<(String, String)>,
) -> Response {
    match fleet.instances(&env, Some(&service)).await {
        Some(list) => Json(list).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no service `{service}` in env `{env}` of the demo fleet"),
        ),
    }
}

async fn restart(State(fleet): State<Arc<FleetState>>, Path(env): Path<String>) -> Response {
    let mut store = fleet.store.lock().await;
    match store.restart(&env) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[derive(Deserialize)]
struct DeployBody {
    image: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    author: String,
}

async fn deploy(
    State(fleet): State<Arc<FleetState>>,
    Path((env, service)): Path<(String, String)>,
    Json(body): Json<DeployBody>,
) -> Response {
    if !body.image.contains('@') && !body.image.contains(':') {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "image must be a full reference (repo:tag or repo@sha256:…)",
        );
    }
    let mut store = fleet.store.lock().await;
    match store.deploy(&env, &service, &body.image, &body.author, &body.description) {
        Ok(r) => (StatusCode::CREATED, Json(r)).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[derive(Deserialize)]
struct RollbackBody {
    release_id: String,
    #[serde(default)]
    author: String,
}

async fn rollback(
    State(fleet): State<Arc<FleetState>>,
    Path((env, service)): Path<(String, String)>,
    Json(body): Json<RollbackBody>,
) -> Response {
    let mut store = fleet.store.lock().await;
    match store.rollback(&env, &service, &body.release_id, &body.author) {
        Ok(r) => (StatusCode::CREATED, Json(r)).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn secrets(State(fleet): State<Arc<FleetState>>, Path(env): Path<String>) -> Response {
    let store = fleet.store.lock().await;
    match store.secrets(&env) {
        Ok(s) => Json(serde_json::json!({ "secrets": s })).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[derive(Deserialize)]
struct SetSecretsBody {
    values: BTreeMap<String, Option<String>>,
    #[serde(default)]
    stage: bool,
}

async fn set_secrets(
    State(fleet): State<Arc<FleetState>>,
    Path(env): Path<String>,
    Json(body): Json<SetSecretsBody>,
) -> Response {
    if let Some(bad) = body
        .values
        .keys()
        .find(|k| k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid secret name `{bad}`: use A-Z, 0-9 and _"),
        );
    }
    let mut store = fleet.store.lock().await;
    match store.set_secrets(&env, body.values.into_iter().collect(), body.stage) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn logs(
    State(fleet): State<Arc<FleetState>>,
    Path((env, service)): Path<(String, String)>,
) -> Response {
    let Some(sim) = fleet.sim(&env, &service) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no service `{service}` in env `{env}`"),
        );
    };
    let (backlog, rx) = sim.subscribe();
    let head = futures::stream::iter(
        backlog
            .into_iter()
            .map(|l| Ok::<_, std::io::Error>(Bytes::from(format!("{l}\n")))),
    );
    let live = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) => return Some((Ok(Bytes::from(format!("{line}\n"))), rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures::StreamExt;
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(head.chain(live)),
    )
        .into_response()
}
