//! The real `shipdeck` binary, run with its config, state and keyring kept
//! in one test folder (nothing of the machine's own).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `shipdeck` in `home`, with `home` as its HOME, config and state.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("SHIPDECK_KEYRING", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    cmd
}

/// Run `shipdeck ARGS` in `home`.
pub fn run(home: &Path, args: &[&str]) -> Output {
    command(home).args(args).output().unwrap()
}

/// `promote FROM TO --confirm TO --json` (the typed confirmation a protected env needs).
pub fn promote_confirmed(home: &Path, from: &str, to: &str) -> Output {
    run(home, &["promote", from, to, "--confirm", to, "--json"])
}

/// `releases ARGS --json` in `home`: each release's id and whether it is current, newest first.
pub fn release_ids(home: &Path, args: &[&str]) -> Vec<(String, bool)> {
    let out = command(home)
        .arg("releases")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["current"].as_bool().unwrap(),
            )
        })
        .collect()
}
