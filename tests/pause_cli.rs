//! `on_fail = "pause"` with the real binary: a promotion whose gate fails
//! holds (exit 3) with its lock kept, so no other plan gets in; `shipdeck
//! resume` lists it as paused with its failing numbers; `--abandon` (typed
//! confirmation on a protected env) closes it and frees the env.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The demo's staging runs the known-bad api (v44); production pauses on a failed gate.
const CONFIG: &str = r#"
[ui]
request_timeout = "3s"

[[env]]
name = "staging"
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
on_fail = "pause"

[env.gates]
max_error_rate = 0.05
interval = "300ms"
samples = 2
failure_budget = 1
timeout = "20s"
stabilize = "1s"

[env.rollout]
stages = [["api"], ["web"]]

[[env.service]]
name = "api"

[[env.service]]
name = "web"
"#;

fn shipdeck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(["--config", dir.join("shipdeck.toml").to_str().unwrap()])
        .args(args)
        .env("SHIPDECK_STATE_DIR", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_paused_promotion_holds_the_env_until_it_is_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shipdeck.toml"), CONFIG).unwrap();
    let promote = [
        "promote",
        "staging",
        "production",
        "--confirm",
        "production",
    ];
    let out = shipdeck(dir.path(), &promote);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("paused for a decision"),
        "{}",
        text(&out)
    );
    let lock = std::fs::read_to_string(dir.path().join("state/locks/production.lock"))
        .expect("the lock is kept");
    assert!(lock.contains("\"paused\""), "{lock}");

    // The process that paused is gone, yet nobody else gets in.
    let again = shipdeck(dir.path(), &promote);
    assert_ne!(again.status.code(), Some(0));
    assert!(text(&again).contains("paused at"), "{}", text(&again));

    let list = shipdeck(dir.path(), &["resume"]);
    let listed = text(&list);
    assert!(listed.contains("PAUSED at step"), "{listed}");
    assert!(listed.contains("--continue"), "{listed}");
    let plan_id = listed.split_whitespace().next().unwrap().to_string();

    let refused = shipdeck(dir.path(), &["resume", &plan_id, "--abandon"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused).contains("--confirm production"),
        "{}",
        text(&refused)
    );

    let both = shipdeck(dir.path(), &["resume", &plan_id, "--abandon", "--rollback"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "one choice at a time: {}",
        text(&both)
    );

    let done = shipdeck(
        dir.path(),
        &["resume", &plan_id, "--abandon", "--confirm", "production"],
    );
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert!(text(&done).contains("abandoned"), "{}", text(&done));
    assert!(!dir.path().join("state/locks/production.lock").exists());
    let none = shipdeck(dir.path(), &["resume"]);
    assert!(
        text(&none).contains("no interrupted plan"),
        "{}",
        text(&none)
    );
    let audit = std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"paused\"") && audit.contains("\"abandoned\""),
        "{audit}"
    );
}
