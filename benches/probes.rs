//! Fleet-scale probing and input latency. Run: `cargo bench --bench probes`.
//!
//! 1. 500 health endpoints on loopback probed at 1 Hz by shipdeck's pollers:
//!    CPU of the probing process as % of one core. The endpoints are served by
//!    a child process (this binary re-run in server mode), so only shipdeck's
//!    own work is counted.
//! 2. Keystroke → frame latency while 10 k log lines/s are ingested: each key
//!    goes through `update` and a full 200×50 draw; p50/p99 over 500 keys.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::app::effects::Runner;
use shipdeck::app::{Msg, update};
use shipdeck::config::Config;
use shipdeck::engine::{Actor, Engine};
use shipdeck::keymap::Keymap;
use shipdeck::paths::StatePaths;
use shipdeck::state::{Panel, State};
use shipdeck::ui::{self, theme::Theme};

const ENDPOINTS: usize = 500;
const WINDOW: Duration = Duration::from_secs(20);

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

async fn serve() {
    use axum::routing::get;
    let body = r#"{"status":"pass","checks":{"database:responseTime":[{"status":"pass","observedValue":2.1,"observedUnit":"ms"}],"redis:responseTime":[{"status":"pass","observedValue":0.4,"observedUnit":"ms"}]}}"#;
    let app = axum::Router::new().route(
        "/health/{n}",
        get(move || async move { ([("content-type", "application/health+json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

async fn probe_cpu() -> f64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("PROBES_BENCH_SERVER", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut addr = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let addr = addr.trim().to_string();
    let mut text = String::from("[ui]\nhealth_interval = \"1s\"\n");
    for e in 0..ENDPOINTS / 10 {
        text.push_str(&format!("[[env]]\nname = \"env{e}\"\nprovider = \"vps\"\n"));
        for s in 0..10 {
            text.push_str(&format!(
                "[[env.service]]\nname = \"svc{s}\"\nhealth_url = \"http://{addr}/health/{}\"\n",
                e * 10 + s
            ));
        }
    }
    let cfg = Arc::new(Config::parse_str(&text, std::path::Path::new("bench.toml")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        cfg.clone(),
        vec![None; cfg.envs.len()],
        StatePaths::new(dir.path().into()),
        Actor::current(),
        true,
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = Runner::new(engine, tx);
    runner.start();
    let mut state = State::from_config(&cfg, true, Utc::now());
    let keymap = Keymap::default();
    // Warm up (connections, first probes), then measure a window.
    let warm = Instant::now() + Duration::from_secs(3);
    let mut probes = 0usize;
    let mut cpu0 = 0.0;
    let mut started = None;
    loop {
        let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        else {
            continue;
        };
        let is_probe = matches!(msg, Msg::Health { .. });
        update(&mut state, msg, &keymap);
        if started.is_none() && Instant::now() >= warm {
            cpu0 = cpu_seconds();
            started = Some(Instant::now());
        }
        if let Some(t) = started {
            probes += usize::from(is_probe);
            if t.elapsed() >= WINDOW {
                break;
            }
        }
    }
    let cpu = cpu_seconds() - cpu0;
    drop(runner);
    let _ = child.kill();
    let _ = child.wait();
    let secs = started.map_or(1.0, |t| t.elapsed().as_secs_f64());
    println!(
        "{ENDPOINTS} endpoints at 1 Hz: {probes} probes in {secs:.1} s ({:.0}/s), shipdeck CPU {:.2} s = {:.1}% of one core",
        probes as f64 / secs,
        cpu,
        100.0 * cpu / secs
    );
    100.0 * cpu / secs
}

fn key_latency() {
    let cfg = Config::demo().unwrap();
    let mut state = State::from_config(&cfg, false, Utc::now());
    state.focus = Panel::Logs;
    let (theme, keymap) = (Theme::default(), Keymap::default());
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let line = r#"{"level":30,"time":1764000000000,"pid":7,"hostname":"api-7f9c","reqId":"0f3a","req":{"method":"GET","url":"/api/v1/orders"},"res":{"statusCode":200},"responseTime":12.3,"msg":"request completed"}"#;
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut sent = 0usize;
    let mut keys = 0usize;
    while keys < 500 {
        // Ingest at 10 k lines/s of wall time.
        let due = (started.elapsed().as_secs_f64() * 10_000.0) as usize;
        if due > sent {
            let lines = vec![line.to_string(); due - sent];
            sent = due;
            update(
                &mut state,
                Msg::LogLines {
                    env: 0,
                    svc: 0,
                    lines,
                },
                &keymap,
            );
        }
        if started.elapsed() >= Duration::from_millis(20 * keys as u64) {
            let code = if keys.is_multiple_of(2) {
                KeyCode::Char('k')
            } else {
                KeyCode::Char('j')
            };
            let t = Instant::now();
            update(
                &mut state,
                Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
                &keymap,
            );
            terminal
                .draw(|f| ui::draw(f, &state, &theme, &keymap))
                .unwrap();
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            keys += 1;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "keystroke -> frame while ingesting 10k lines/s ({sent} lines): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p(0.5),
        p(0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if std::env::var_os("PROBES_BENCH_SERVER").is_some() {
        rt.block_on(serve());
        return;
    }
    rt.block_on(probe_cpu());
    key_latency();
}
