//! Headless commands through the real binary: `status` and `releases` on the
//! demo fleet, `--json` shapes, and exit codes for bad input.

use std::process::Command;

fn shipdeck(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(args)
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .env("SHIPDECK_STATE_DIR", dir.path())
        .output()
        .unwrap()
}

#[test]
fn status_json_reports_every_env_and_service() {
    let out = shipdeck(&["status", "--json", "--demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let envs = v.as_array().unwrap();
    assert_eq!(envs.len(), 3);
    let staging = envs.iter().find(|e| e["env"] == "staging").unwrap();
    assert_eq!(staging["release"], "v44");
    assert_eq!(staging["health"], "Degraded");
    let api = &staging["services"][0];
    assert!(
        api["checks_failing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("storage"))
    );
    let prod = envs.iter().find(|e| e["env"] == "production").unwrap();
    assert_eq!(prod["health"], "Healthy");
}

#[test]
fn releases_text_and_json() {
    let out = shipdeck(&["releases", "production", "--demo"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with('●') && l.contains("v41")),
        "{text}"
    );
    let out = shipdeck(&["releases", "staging", "--json", "--demo", "--limit", "3"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[0]["id"], "v44");
    assert_eq!(v[0]["current"], true);
}

#[test]
fn unknown_env_and_bad_config_exit_2_with_a_clear_message() {
    let out = shipdeck(&["releases", "prod", "--demo"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no env named `prod`") && err.contains("`production`"),
        "{err}"
    );
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bad_configs/duplicate_env.toml");
    let out = shipdeck(&["status", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate_env.toml:6:8"));
}

#[test]
fn a_plan_whose_audit_record_cannot_be_written_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // The audit log's path is taken by a directory: every append fails.
    std::fs::create_dir_all(dir.path().join("audit.jsonl")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(["rollback", "staging", "--service", "web", "--demo", "--yes"])
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .env("SHIPDECK_STATE_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: the audit log could not be written")
            && stderr.contains("is not on record"),
        "status {:?}: {stderr}",
        out.status
    );
}
