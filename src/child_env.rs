//! The environment a child process starts with: shipdeck's own, less every
//! credential shipdeck holds (its `SHIPDECK_*` overrides: every env's
//! tokens and database URLs; the platform token variables; a shell's
//! `DATABASE_URL`), so a migration command, a log command or flyctl sees
//! only what its caller then adds for it: its own env's database URL, its
//! own token.

use std::ffi::OsStr;

/// Platform token variables a child never inherits (its caller passes its own).
const TOKEN_VARS: &[&str] = &[
    "FLY_API_TOKEN",
    "FLY_ACCESS_TOKEN",
    "RAILWAY_TOKEN",
    "RAILWAY_API_TOKEN",
    "RENDER_API_KEY",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "DATABASE_URL",
];

/// Whether a child must not inherit the variable `name` from shipdeck.
pub fn is_withheld(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    name.starts_with("SHIPDECK_") || TOKEN_VARS.contains(&name)
}

/// Start `command` from a scrubbed environment: shipdeck's less what
/// [`is_withheld`] names and less `also_withhold` (another env's database
/// variable, say). Call it before adding what the child needs.
pub fn scrub(command: &mut tokio::process::Command, also_withhold: &[String]) {
    command.env_clear();
    for (name, value) in std::env::vars_os() {
        let named = |n: &String| OsStr::new(n) == name.as_os_str();
        if !is_withheld(&name) && !also_withhold.iter().any(named) {
            command.env(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_withheld_and_the_rest_passes() {
        for name in [
            "SHIPDECK_DB_PRODUCTION_URL",
            "SHIPDECK_FLY_TOKEN",
            "FLY_API_TOKEN",
            "DATABASE_URL",
        ] {
            assert!(is_withheld(OsStr::new(name)), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "SSH_AUTH_SOCK", "KUBECONFIG"] {
            assert!(!is_withheld(OsStr::new(name)), "{name}");
        }
    }
}
