//! Crash safety and concurrency with the real binary: SIGKILL at every step
//! boundary of a promotion, then resume or roll back from the journal; two
//! processes promoting the same env at once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A demo config with fast gates: dev (v45, good) promotes to production
/// (v41) in two stages, api then web.
const CONFIG: &str = r#"
[ui]
request_timeout = "3s"

[[env]]
name = "dev"
provider = "demo"
promote_to = "production"

[[env.service]]
name = "api"

[[env.service]]
name = "web"

[[env]]
name = "production"
provider = "demo"
protected = true

[env.gates]
max_error_rate = 0.05
max_p95 = "2s"
interval = "300ms"
samples = 2
failure_budget = 2
timeout = "20s"
stabilize = "1s"

[env.rollout]
stages = [["api"], ["web"]]

[[env.service]]
name = "api"

[[env.service]]
name = "web"
"#;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shipdeck")
}

fn shipdeck(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["--config", dir.join("shipdeck.toml").to_str().unwrap()])
        .args(args)
        .env("SHIPDECK_STATE_DIR", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir)
        .stdin(Stdio::null());
    cmd
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shipdeck.toml"), CONFIG).unwrap();
    dir
}

/// What each service of production runs: `api=IMAGE web=IMAGE`.
fn production_image(dir: &Path) -> String {
    let mut out = Vec::new();
    for svc in ["api", "web"] {
        let run = shipdeck(
            dir,
            &[
                "releases",
                "production",
                "--service",
                svc,
                "--json",
                "--limit",
                "1",
            ],
        )
        .output()
        .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        out.push(format!("{svc}={}", image(&v[0]["artifact"])));
    }
    out.join(" ")
}

/// `repo:tag@digest` of an artifact in `--json` output.
fn image(artifact: &serde_json::Value) -> String {
    format!(
        "{}:{}@{}",
        artifact["repository"].as_str().unwrap(),
        artifact["tag"].as_str().unwrap(),
        artifact["digest"].as_str().unwrap()
    )
}

fn promote(dir: &Path) -> Child {
    shipdeck(
        dir,
        &[
            "promote",
            "dev",
            "production",
            "--confirm",
            "production",
            "--json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

fn audit_lines(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("state/audit.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("torn audit line {l:?}: {e}")))
        .collect()
}

#[test]
fn sigkill_at_every_step_boundary_then_resume_or_rollback_reaches_a_consistent_state() {
    let probe = setup();
    let before = production_image(probe.path());
    // Learn the steps and the promoted image from one full run.
    let out = promote(probe.path()).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let steps = first["plan"]["steps"].as_array().unwrap().len();
    let units = first["plan"]["units"].as_array().unwrap();
    assert_eq!(units.len(), 2, "api and web deploy apart: {first}");
    let promoted = units
        .iter()
        .map(|u| {
            format!(
                "{}={}",
                u["services"][0].as_str().unwrap(),
                image(&u["artifact"])
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    assert_ne!(before, promoted);

    for boundary in 0..steps - 1 {
        let dir = setup();
        let mut child = promote(dir.path());
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut plan_id = String::new();
        let started = Instant::now();
        for line in stdout.lines() {
            let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            if event["event"] == "started" {
                plan_id = event["plan"]["id"].as_str().unwrap().to_string();
            }
            if event["event"] == "step_finished" && event["index"] == boundary {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "step {boundary} never finished"
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();

        // The next start finds the interrupted plan.
        let list = shipdeck(dir.path(), &["resume"]).output().unwrap();
        let listed = String::from_utf8_lossy(&list.stdout).contains(&plan_id);
        if !listed && boundary == steps - 2 {
            // Only the last step (releasing the lock) was left: the plan may
            // have finished between its event and the kill. Then it must have
            // finished cleanly: promoted, lock released, nothing to resume.
            assert!(
                String::from_utf8_lossy(&list.stdout).contains("no interrupted plan"),
                "step {boundary}: neither interrupted nor finished"
            );
            assert_eq!(production_image(dir.path()), promoted);
            assert!(!dir.path().join("state/locks/production.lock").exists());
            continue;
        }
        assert!(listed, "step {boundary}: interrupted plan not listed");

        // Either choice deploys to protected production: not without its name typed back.
        let refused = shipdeck(dir.path(), &["resume", plan_id.as_str()])
            .output()
            .unwrap();
        assert!(
            !refused.status.success()
                && String::from_utf8_lossy(&refused.stderr).contains("--confirm production"),
            "step {boundary}: resume without --confirm must be refused\n{}",
            String::from_utf8_lossy(&refused.stderr)
        );

        let rollback = boundary % 2 == 1;
        let mut args = vec!["resume", plan_id.as_str(), "--confirm", "production"];
        if rollback {
            args.push("--rollback");
        }
        let out = shipdeck(dir.path(), &args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let now = production_image(dir.path());
        if rollback {
            assert_eq!(
                now, before,
                "step {boundary}: rollback returns production to what it ran\n{text}"
            );
        } else {
            assert!(
                out.status.success(),
                "step {boundary}: resume must complete\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                now, promoted,
                "step {boundary}: resume completes the promotion\n{text}"
            );
        }
        let again = shipdeck(dir.path(), &["resume"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("no interrupted plan"),
            "step {boundary}: the plan is finished now"
        );
        // Every audit line parses (no torn or lost lines): started, then the resume's start and result.
        let audit = audit_lines(dir.path());
        assert!(audit.len() >= 3, "step {boundary}: {audit:?}");
        assert_eq!(audit[0]["result"], "started");
        // The lock was released.
        assert!(
            !dir.path().join("state/locks/production.lock").exists(),
            "step {boundary}: lock left behind"
        );
    }
}

#[test]
fn two_processes_promoting_the_same_env_exactly_one_proceeds() {
    let dir = setup();
    let a = promote(dir.path());
    let b = promote(dir.path());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    let ok = codes.iter().filter(|c| **c == Some(0)).count();
    assert_eq!(
        ok,
        1,
        "exactly one promotion proceeds: {codes:?}\n{}\n{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    let loser = if a.status.success() { &b } else { &a };
    let text = String::from_utf8_lossy(&loser.stdout);
    assert!(
        text.contains("is locked by") && text.contains("pid"),
        "the loser shows who holds the lock: {text}\n{}",
        String::from_utf8_lossy(&loser.stderr)
    );
}

#[test]
fn sigkill_in_the_middle_of_a_deploy_then_resume_or_rollback_is_consistent() {
    let probe = setup();
    let before = production_image(probe.path());
    for rollback in [false, true] {
        let dir = setup();
        let mut child = promote(dir.path());
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut plan_id = String::new();
        let started = Instant::now();
        // Kill inside the deploy step: its first unit reported, the step not finished.
        for line in stdout.lines() {
            let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            if event["event"] == "started" {
                plan_id = event["plan"]["id"].as_str().unwrap().to_string();
            }
            if event["event"] == "deploy_progress" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no deploy progress"
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let list = shipdeck(dir.path(), &["resume"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&list.stdout).contains(&plan_id),
            "killed mid-deploy, the plan is offered"
        );
        let mut args = vec!["resume", plan_id.as_str(), "--confirm", "production"];
        if rollback {
            args.push("--rollback");
        }
        let out = shipdeck(dir.path(), &args).output().unwrap();
        let now = production_image(dir.path());
        if rollback {
            assert_eq!(now, before, "the rollback puts back what ran");
        } else {
            assert!(
                out.status.success(),
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_ne!(now, before, "the resume completes the promotion");
        }
        assert!(!dir.path().join("state/locks/production.lock").exists());
        let again = shipdeck(dir.path(), &["resume"]).output().unwrap();
        assert!(String::from_utf8_lossy(&again.stdout).contains("no interrupted plan"));
        for line in std::fs::read_to_string(dir.path().join("state/audit.jsonl"))
            .unwrap()
            .lines()
        {
            serde_json::from_str::<serde_json::Value>(line).expect("no torn audit line");
        }
    }
}
