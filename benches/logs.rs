//! Log pipeline benchmarks (issue: fleet-scale logs). Run: `cargo bench --bench logs`.
//!
//! 1. Ingest (parse + sanitise + filter) of 1 M realistic lines from
//!    `../shared/tools/genlogs.py`, against `grep -F` on the same file in the same run.
//! 2. Render cost of the log panel with 100 k lines buffered and 200 services.
//! 3. Memory: 10 M lines through a 64 MiB budget.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::config::Config;
use shipdeck::keymap::Keymap;
use shipdeck::logs::LogBuffer;
use shipdeck::state::{Panel, State};
use shipdeck::ui::{self, theme::Theme};

const LINES: usize = 1_000_000;
const NEEDLE: &str = "timeout";

fn corpus() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-logs-1m.jsonl");
    if !path.exists() {
        // CARGO_TARGET_DIR may put the build elsewhere; the corpus still lives here.
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create target/");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/genlogs.py");
        let status = Command::new("python3")
            .arg(&script)
            .arg(LINES.to_string())
            .arg(&path)
            .args(["--format", "mixed"])
            .status()
            .expect("python3 runs ../shared/tools/genlogs.py");
        assert!(status.success(), "genlogs.py failed");
    }
    path
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn ingest(path: &Path) -> (f64, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut buf = LogBuffer::new(64 * 1024 * 1024);
    buf.set_filter_text(NEEDLE).unwrap();
    let started = Instant::now();
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        buf.push(line.unwrap());
    }
    (started.elapsed().as_secs_f64(), buf.visible_len())
}

/// Reading the file into one String per line and nothing else: the floor any ingest pays.
fn read_only(path: &Path) -> f64 {
    let file = std::fs::File::open(path).unwrap();
    let started = Instant::now();
    let mut n = 0usize;
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        n += line.unwrap().len();
    }
    std::hint::black_box(n);
    started.elapsed().as_secs_f64()
}

fn grep(path: &Path) -> (f64, usize) {
    let started = Instant::now();
    let out = Command::new("grep")
        .args(["-F", "-c", NEEDLE])
        .arg(path)
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    (
        secs,
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
    )
}

fn render_cost() -> f64 {
    // 200 services: 20 envs × 10 services, 100 k lines in the selected one.
    let mut text = String::new();
    for e in 0..20 {
        text.push_str(&format!(
            "[[env]]\nname = \"env{e}\"\nprovider = \"demo\"\n"
        ));
        for s in 0..10 {
            text.push_str(&format!("[[env.service]]\nname = \"svc{s}\"\n"));
        }
    }
    let cfg = Config::parse_str(&text, Path::new("bench.toml")).unwrap();
    let mut state = State::from_config(&cfg, false, Utc::now());
    state.buffers[0][0] = LogBuffer::new(64 * 1024 * 1024);
    let file = std::fs::File::open(corpus()).unwrap();
    for line in BufReader::new(file).lines().take(100_000) {
        state.buffers[0][0].push(line.unwrap());
    }
    state.focus = Panel::Logs;
    let (theme, keymap) = (Theme::default(), Keymap::default());
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    for _ in 0..20 {
        terminal
            .draw(|f| ui::draw(f, &state, &theme, &keymap))
            .unwrap();
    }
    let frames = 300;
    let started = Instant::now();
    for i in 0..frames {
        // Scroll a little each frame so nothing is cached between frames.
        state.logs.follow = i % 2 == 0;
        state.logs.offset = i % 50;
        terminal
            .draw(|f| ui::draw(f, &state, &theme, &keymap))
            .unwrap();
    }
    started.elapsed().as_secs_f64() * 1000.0 / frames as f64
}

fn memory() -> (u64, usize, u64, u64) {
    let budget = 64 * 1024 * 1024;
    let before = rss_kb();
    let mut buf = LogBuffer::new(budget);
    let file = std::fs::File::open(corpus()).unwrap();
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .take(100_000)
        .map(Result::unwrap)
        .collect();
    for i in 0..10_000_000 {
        buf.push(lines[i % lines.len()].clone());
    }
    (before, buf.bytes(), buf.evicted, rss_kb())
}

fn main() {
    let path = corpus();
    let size = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    // Warm the page cache for both.
    let _ = grep(&path);
    let (g_secs, g_hits) = grep(&path);
    let (s_secs, s_hits) = ingest(&path);
    let r_secs = read_only(&path);
    println!("corpus: {LINES} lines, {size:.0} MB");
    println!(
        "grep -F -c {NEEDLE}: {g_secs:.3} s ({:.0} MB/s), {g_hits} matches",
        size / g_secs
    );
    println!(
        "shipdeck ingest (parse + sanitise + filter): {s_secs:.3} s ({:.0} MB/s, {:.2} M lines/s), {s_hits} matches held",
        size / s_secs,
        LINES as f64 / s_secs / 1e6
    );
    println!("ratio shipdeck/grep throughput: {:.2}", g_secs / s_secs);
    println!(
        "(reading the lines alone, one String each: {r_secs:.3} s; ingest work on top: {:.3} s)",
        s_secs - r_secs
    );
    println!(
        "log panel frame, 100k lines buffered, 200 services, 200x50: {:.3} ms",
        render_cost()
    );
    let (before, bytes, evicted, after) = memory();
    println!(
        "10M lines through a 64 MiB budget: buffer {:.1} MiB, {evicted} evicted, RSS {:.0} -> {:.0} MiB",
        bytes as f64 / 1048576.0,
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
}
