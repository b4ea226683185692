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

/// Assert that `secret` is in none of `outs` and in no file under `dir`
/// (a state directory): a token or key never printed nor written.
pub fn assert_nowhere(secret: &str, dir: &std::path::Path, outs: &[&Output]) {
    for out in outs {
        assert!(!text(out).contains(secret), "{}", text(out));
    }
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(secret),
                    "{} holds it",
                    path.display()
                );
            }
        }
    }
}
