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
