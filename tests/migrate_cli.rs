//! Migrations through the real binary on the demo fleet's SQLite databases:
//! status with lint findings, up gated on acknowledging findings, down gated
//! on typed confirmation for a protected env, every action audited.

use std::process::Command;

struct Demo {
    dir: tempfile::TempDir,
}

impl Demo {
    fn new() -> Demo {
        Demo {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_shipdeck"))
            .args(args)
            .arg("--demo")
            .current_dir(self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("SHIPDECK_STATE_DIR", self.dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn status(&self, env: &str) -> serde_json::Value {
        let out = self.run(&["migrate", env, "status", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn demo_envs_have_real_databases_with_staging_two_ahead_of_production() {
    let demo = Demo::new();
    let prod = demo.status("production");
    let staging = demo.status("staging");
    assert_eq!(prod["current"], 5);
    assert_eq!(staging["current"], 7);
    assert_eq!(prod["pending"].as_array().unwrap().len(), 3);
    let findings = prod["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "rename" && f["file"].as_str().unwrap().starts_with("000008")),
        "{findings:?}"
    );
    assert!(demo.dir.path().join("demo/production.db").exists());
}

#[test]
fn up_needs_findings_acknowledged_and_down_needs_the_typed_name() {
    let demo = Demo::new();
    let out = demo.run(&["migrate", "staging", "up"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "lint findings block until acknowledged"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let out = demo.run(&["migrate", "staging", "up", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(demo.status("staging")["current"], 8);

    let out = demo.run(&["migrate", "production", "down"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confirm production"));
    let out = demo.run(&["migrate", "production", "down", "--confirm", "production"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(demo.status("production")["current"], 4);

    let out = demo.run(&["--read-only", "migrate", "staging", "down", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "read-only refuses");

    let audit = std::fs::read_to_string(demo.dir.path().join("audit.jsonl")).unwrap();
    let actions: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a["action"] == "migrate up" && a["env"] == "staging" && a["result"] == "ok")
    );
    assert!(actions.iter().any(|a| a["action"] == "migrate down 1"
        && a["env"] == "production"
        && a["result"] == "ok"));
}

#[test]
fn force_none_clears_the_version_of_a_first_migration_that_failed() {
    let demo = Demo::new();
    let out = demo.run(&["migrate", "staging", "force", "none", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(demo.status("staging")["current"], serde_json::Value::Null);
    let out = demo.run(&["migrate", "staging", "force", "nine", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a word other than none is refused"
    );
}
