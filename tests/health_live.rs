//! A loopback service whose health changes mid-test: the real pollers feed
//! `update`, and the Health panel shows the change within one probe interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::app::effects::Runner;
use shipdeck::app::{Msg, update};
use shipdeck::config::Config;
use shipdeck::domain::Health;
use shipdeck::engine::{Actor, Engine};
use shipdeck::keymap::Keymap;
use shipdeck::paths::StatePaths;
use shipdeck::state::{Panel, State};
use shipdeck::ui::{self, theme::Theme};
use tokio::sync::mpsc;

const INTERVAL_MS: u64 = 250;

async fn serve(healthy: Arc<AtomicBool>) -> String {
    let app = Router::new().route(
        "/health/ready",
        get(move || {
            let healthy = healthy.clone();
            async move {
                if healthy.load(Ordering::SeqCst) {
                    (StatusCode::OK, r#"{"status":"ok","info":{"database":{"status":"up"}},"error":{},"details":{"database":{"status":"up"}}}"#)
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        r#"{"status":"error","info":{},"error":{"database":{"status":"down","message":"connect ECONNREFUSED 10.0.0.5:5432"}},"details":{"database":{"status":"down","message":"connect ECONNREFUSED 10.0.0.5:5432"}}}"#,
                    )
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/health/ready")
}

/// Feed messages into `update` until `done` holds or the deadline passes.
async fn pump(
    state: &mut State,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    deadline: Duration,
    done: impl Fn(&State) -> bool,
) -> bool {
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            update(state, msg, &Keymap::default());
        }
        if done(state) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn health_panel_reflects_a_change_within_one_interval() {
    let healthy = Arc::new(AtomicBool::new(true));
    let url = serve(healthy.clone()).await;
    let text = format!(
        "[ui]\nhealth_interval = \"{INTERVAL_MS}ms\"\n\n[[env]]\nname = \"live\"\nprovider = \"vps\"\n\n[[env.service]]\nname = \"api\"\nhealth_url = \"{url}\"\n"
    );
    let cfg = Arc::new(Config::parse_str(&text, std::path::Path::new("live.toml")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        cfg.clone(),
        vec![None],
        StatePaths::new(dir.path().into()),
        Actor::current(),
        true,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(engine, tx);
    runner.start();
    let mut state = State::from_config(&cfg, true, Utc::now());
    state.focus = Panel::Health;

    let health = |s: &State| s.envs[0].services[0].health;
    assert!(
        pump(&mut state, &mut rx, Duration::from_secs(5), |s| health(s)
            == Health::Healthy)
        .await,
        "first probe"
    );

    healthy.store(false, Ordering::SeqCst);
    let flipped = Instant::now();
    let seen = pump(&mut state, &mut rx, Duration::from_secs(5), |s| {
        health(s) == Health::Degraded
    })
    .await;
    let took = flipped.elapsed();
    assert!(seen, "the change was never seen");
    // One interval, plus the probe's own round trip and scheduling slack.
    assert!(
        took <= Duration::from_millis(INTERVAL_MS + 250),
        "seen after {took:?}, interval {INTERVAL_MS} ms"
    );

    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal
        .draw(|f| ui::draw(f, &state, &Theme::default(), &Keymap::default()))
        .unwrap();
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(screen.contains("Degraded"), "{screen}");
    assert!(
        screen.contains("ECONNREFUSED"),
        "the failure reason is shown: {screen}"
    );
}

#[tokio::test]
async fn a_file_log_source_is_followed_across_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "{\"level\":\"info\",\"msg\":\"old line\"}\n").unwrap();
    let text = format!(
        "[[env]]\nname = \"vps\"\nprovider = \"vps\"\n\n[[env.service]]\nname = \"api\"\nlogs = {{ file = \"{}\" }}\n",
        log.display()
    );
    let cfg = Arc::new(Config::parse_str(&text, std::path::Path::new("vps.toml")).unwrap());
    let engine = Engine::new(
        cfg.clone(),
        vec![None],
        StatePaths::new(dir.path().into()),
        Actor::current(),
        true,
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(engine, tx);
    runner.start();
    let mut state = State::from_config(&cfg, true, Utc::now());
    let has = |s: &State, needle: &str| {
        s.buffer()
            .is_some_and(|b| b.iter().any(|e| e.raw.contains(needle)))
    };
    assert!(
        pump(&mut state, &mut rx, Duration::from_secs(5), |s| has(
            s, "old line"
        ))
        .await,
        "backlog"
    );
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"{\"level\":\"error\",\"msg\":\"appended\"}\n")
        .unwrap();
    assert!(
        pump(&mut state, &mut rx, Duration::from_secs(5), |s| has(
            s, "appended"
        ))
        .await,
        "appended line"
    );
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    std::fs::write(&log, "{\"level\":\"info\",\"msg\":\"after rotation\"}\n").unwrap();
    assert!(
        pump(&mut state, &mut rx, Duration::from_secs(5), |s| has(
            s,
            "after rotation"
        ))
        .await,
        "rotated file followed"
    );
}
