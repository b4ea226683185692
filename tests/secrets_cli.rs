//! `shipdeck secrets` through the real binary on the demo fleet: list, diff,
//! set from stdin, unset with confirmation, and health-gated rotation
//! (staging then production; a failing gate stops before production). No
//! value ever shows up in output or in the audit log.

mod support {
    pub mod output;
}

use support::output::text;

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
            .args(args)
            .arg("--demo")
            .current_dir(self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("SHIPDECK_STATE_DIR", self.dir.path())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn secrets(&self, env: &str) -> Vec<serde_json::Value> {
        let out = self.run(&["secrets", env, "list", "--json"], None, &[]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    }

    fn digest(&self, env: &str, name: &str) -> String {
        self.secrets(env)
            .into_iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing in {env}"))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl")).unwrap_or_default()
    }
}

#[test]
fn diff_shows_names_missing_in_production() {
    let home = Home::new();
    let out = home.run(
        &["secrets", "diff", "staging", "production", "--json"],
        None,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["only_in_a"], serde_json::json!(["RESEND_API_KEY"]));
    assert_eq!(d["same"], serde_json::json!(["SENTRY_DSN"]));
    assert!(
        d["differ"]
            .as_array()
            .unwrap()
            .contains(&"JWT_SECRET_KEY".into())
    );
}

#[test]
fn set_reads_stdin_and_never_prints_or_audits_the_value() {
    let home = Home::new();
    let value = "set-value-7f3a9c2e51d84b06a1f2";
    let before = home.digest("dev", "REDIS_URL");
    let out = home.run(&["secrets", "dev", "set", "REDIS_URL"], Some(value), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(home.digest("dev", "REDIS_URL"), before);
    assert!(!text(&out).contains(value));
    let audit = home.audit();
    assert!(
        audit.contains("secrets.set") && audit.contains("REDIS_URL"),
        "{audit}"
    );
    assert!(!audit.contains(value));

    // A value on the command line is refused before anything happens.
    let out = home.run(&["secrets", "dev", "set", "REDIS_URL", value], None, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("never from the command line"));
    assert!(
        !text(&out).contains(value),
        "the refusal must not echo the value"
    );

    // Bad names and empty stdin name the fix.
    let out = home.run(&["secrets", "dev", "set", "redis-url"], Some(value), &[]);
    assert!(text(&out).contains("invalid secret name"), "{}", text(&out));
    let out = home.run(&["secrets", "dev", "set", "REDIS_URL"], Some(""), &[]);
    assert!(text(&out).contains("no value on stdin"), "{}", text(&out));
}

#[test]
fn unset_on_production_needs_the_typed_name() {
    let home = Home::new();
    let out = home.run(&["secrets", "production", "unset", "REDIS_URL"], None, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("protected"), "{}", text(&out));
    assert!(
        home.secrets("production")
            .iter()
            .any(|s| s["name"] == "REDIS_URL")
    );
    assert!(home.audit().contains("\"refused\""));

    let out = home.run(
        &[
            "secrets",
            "production",
            "unset",
            "REDIS_URL",
            "--confirm",
            "production",
        ],
        None,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !home
            .secrets("production")
            .iter()
            .any(|s| s["name"] == "REDIS_URL")
    );

    // Read-only mode refuses every change.
    let out = home.run(
        &[
            "--read-only",
            "secrets",
            "dev",
            "unset",
            "REDIS_URL",
            "--yes",
        ],
        None,
        &[],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("read-only"), "{}", text(&out));
}

#[test]
fn rotation_goes_staging_then_production_behind_health_gates() {
    let home = Home::new();
    // Staging runs the known-bad v44 in the demo: get it healthy first.
    let out = home.run(&["rollback", "staging", "--yes"], None, &[]);
    assert!(out.status.success(), "{}", text(&out));

    let value = "rotated-JWT-value-0123456789abcdefghijklmnop";
    let out = home.run(
        &[
            "secrets",
            "staging",
            "rotate",
            "JWT_SECRET_KEY",
            "--confirm",
            "production",
            "--json",
        ],
        Some(value),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let gate_ok: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "step_finished" && e["step"] == "gate" && e["status"] == "ok")
        .map(|e| e["env"].as_str().unwrap())
        .collect();
    assert_eq!(gate_ok, ["staging", "production"]);
    assert_eq!(
        home.digest("staging", "JWT_SECRET_KEY"),
        home.digest("production", "JWT_SECRET_KEY")
    );
    assert!(!text(&out).contains(value));
    assert!(!home.audit().contains(value));
    // Each env's rotation is on record before it changes anything.
    let results: Vec<(String, String)> = home
        .audit()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "secrets.rotate")
        .map(|r| {
            (
                r["env"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = results
        .iter()
        .map(|(e, r)| (e.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("staging", "started"),
            ("staging", "ok"),
            ("production", "started"),
            ("production", "ok")
        ]
    );
}

#[test]
fn a_failing_gate_stops_before_production_and_restores_the_previous_value() {
    let home = Home::new();
    let out = home.run(&["rollback", "staging", "--yes"], None, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let previous = "previous-JWT-value-abcdefghijklmnopqrstuvwxyz";
    // Put a known value in staging first, so it can be restored.
    let out = home.run(
        &["secrets", "staging", "set", "JWT_SECRET_KEY"],
        Some(previous),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let staging_before = home.digest("staging", "JWT_SECRET_KEY");
    let prod_before = home.digest("production", "JWT_SECRET_KEY");

    // The demo api refuses a JWT key under 32 bytes, so staging's gate fails.
    let weak = "too-short-key";
    let out = home.run(
        &[
            "secrets",
            "staging",
            "rotate",
            "JWT_SECRET_KEY",
            "--confirm",
            "production",
            "--previous-from-env",
            "OLD_JWT",
        ],
        Some(weak),
        &[("OLD_JWT", previous)],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("production not touched"), "{all}");
    assert!(all.contains("previous value was restored"), "{all}");
    assert!(all.contains("JWT_SECRET_KEY is 13 bytes"), "{all}");
    assert!(!all.contains(weak) && !all.contains(previous));
    assert_eq!(home.digest("production", "JWT_SECRET_KEY"), prod_before);
    assert_eq!(home.digest("staging", "JWT_SECRET_KEY"), staging_before);
    let audit = home.audit();
    assert!(audit.contains("secrets.restore"), "{audit}");
    assert!(!audit.contains(weak) && !audit.contains(previous));
}

#[test]
fn a_secret_change_waits_for_no_one_it_takes_the_env_lock() {
    let home = Home::new();
    // A plan of someone else's holds staging (a live process on this machine).
    let locks = shipdeck::paths::StatePaths::new(home.dir.path().to_path_buf()).locks();
    let lock = shipdeck::engine::lock::acquire(
        &locks,
        "staging",
        shipdeck::engine::lock::LockHolder {
            user: "lee".into(),
            host: shipdeck::engine::hostname(),
            pid: std::process::id(),
            started: chrono::Utc::now(),
            plan_id: "p-20261202T010000-beef".into(),
            action: "promote".into(),
            paused: None,
        },
    )
    .unwrap();
    let out = home.run(
        &["secrets", "staging", "set", "FEATURE_FLAGS"],
        Some("on-for-everyone"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("lee"),
        "the holder is named: {}",
        text(&out)
    );
    assert!(
        !home
            .secrets("staging")
            .iter()
            .any(|s| s["name"] == "FEATURE_FLAGS"),
        "nothing was set"
    );
    lock.release().unwrap();
    let out = home.run(
        &["secrets", "staging", "set", "FEATURE_FLAGS"],
        Some("on-for-everyone"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_rotation_killed_half_way_is_named_at_the_next_start_until_it_is_run_again() {
    use std::io::{BufRead, BufReader};
    let home = Home::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args([
            "secrets",
            "dev",
            "rotate",
            "JWT_SECRET_KEY",
            "--generate",
            "32",
            "--envs",
            "dev",
            "--json",
            "--demo",
        ])
        .current_dir(home.dir.path())
        .env("XDG_CONFIG_HOME", home.dir.path())
        .env("SHIPDECK_STATE_DIR", home.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "step_finished" && event["step"] == "set" {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = home.run(&["resume"], None, &[]);
    let said = text(&out);
    assert!(
        said.contains("the rotation of `JWT_SECRET_KEY` in `dev` started"),
        "{said}"
    );
    assert!(
        said.contains("shipdeck secrets dev rotate JWT_SECRET_KEY --envs dev"),
        "{said}"
    );
    // Running it again finishes it; the next start says nothing more.
    let again = home.run(
        &[
            "secrets",
            "dev",
            "rotate",
            "JWT_SECRET_KEY",
            "--generate",
            "32",
            "--envs",
            "dev",
        ],
        None,
        &[],
    );
    // Done, or stopped by the demo's noisy gate: either way it has a result now.
    assert!(
        matches!(again.status.code(), Some(0) | Some(3)),
        "{}",
        text(&again)
    );
    let out = home.run(&["resume"], None, &[]);
    assert!(!text(&out).contains("JWT_SECRET_KEY"), "{}", text(&out));
}
