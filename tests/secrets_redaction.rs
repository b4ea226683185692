//! Redaction end to end: a provider that echoes the secret value back in its
//! error body (real HTTP on loopback) must not get that value onto the screen,
//! into the command log or into the audit log.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use shipdeck::app::{Msg, update};
use shipdeck::config::Config;
use shipdeck::engine::{Actor, Engine};
use shipdeck::keymap::Keymap;
use shipdeck::paths::StatePaths;
use shipdeck::provider::demo::DemoProvider;
use shipdeck::provider::{CallSink, Provider};
use shipdeck::secrets::SecretValue;
use shipdeck::state::State;
use shipdeck::ui::{self, theme::Theme};

const VALUE: &str = "sk_live_51Hx9echoedBackByTheAPI";

/// A control plane that rejects every secret and quotes the body it got.
async fn echoing_server() -> String {
    let app = axum::Router::new().route(
        "/v1/envs/{env}/secrets",
        post(|body: String| async move {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({ "error": format!("invalid secrets payload: {body}") })),
            )
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_echoed_value_never_reaches_screen_command_log_or_audit() {
    let base = echoing_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = Config::demo().unwrap();
    let (calls_tx, mut calls_rx) = mpsc::unbounded_channel();
    let provider: Arc<dyn Provider> = Arc::new(DemoProvider::new(
        base,
        std::time::Duration::from_secs(5),
        CallSink::new(calls_tx),
        "tester".into(),
    ));
    let providers = config.envs.iter().map(|_| Some(provider.clone())).collect();
    let engine = Engine::new(
        Arc::new(config.clone()),
        providers,
        StatePaths::new(dir.path().to_path_buf()),
        Actor {
            user: "tester".into(),
            host: "ci".into(),
        },
        false,
    );

    let err = engine
        .secret_set(
            shipdeck::engine::secrets::SecretsAt::env("dev"),
            "STRIPE_SECRET_KEY",
            SecretValue::new(VALUE.into()),
            false,
            None,
        )
        .await
        .expect_err("the fake provider rejects the value");
    let message = err.to_string();
    assert!(message.contains("invalid secrets payload"), "{message}");
    assert!(message.contains("⟨redacted⟩"), "{message}");
    assert!(!message.contains(VALUE), "{message}");

    // The message goes through the UI like the real effect's would.
    let mut state = State::from_config(&config, false, Utc::now());
    let _ = update(
        &mut state,
        Msg::SecretChanged {
            env: "dev".into(),
            text: message,
            error: true,
        },
        &Keymap::default(),
    );
    while let Ok(call) = calls_rx.try_recv() {
        assert!(!format!("{call:?}").contains(VALUE));
        let _ = update(&mut state, Msg::Call(call), &Keymap::default());
    }
    let mut terminal = Terminal::new(TestBackend::new(220, 40)).unwrap();
    terminal
        .draw(|f| ui::draw(f, &state, &Theme::load("dark").unwrap(), &Keymap::default()))
        .unwrap();
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        screen.contains("invalid secrets payload"),
        "the error is shown"
    );
    assert!(
        !screen.contains("sk_live"),
        "the value never reaches the screen"
    );

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("secrets.set"), "{audit}");
    assert!(!audit.contains(VALUE), "{audit}");
}
