//! Test helper: a finished command's exit code and output as one string,
//! for assertion messages and `contains` checks.
#![allow(dead_code)]

use std::process::Output;

/// `exit Some(0)` then stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
