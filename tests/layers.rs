//! Imports flow one way. Each top-level module of `src/` has a layer; a
//! module may use modules of its own layer or below, never above, and two
//! modules of one layer (above the foundation) never use each other.
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 | actor, child_env, config, diagnostics, domain, fsutil, http_body, keymap, paths, redact, sanitize, secrets, shell | plain data and pure functions |
//! | 1 | credentials, health, logs, migrate | clients and parsers, no UI |
//! | 2 | provider, demo | platform clients, the registry of them, the demo fleet |
//! | 3 | engine | plans, gates, journal, locks, audit, rotation, policy |
//! | 4 | state | what the TUI shows, folded from messages |
//! | 5 | ui | drawing |
//! | 6 | app | the loop, update, effects |
//! | 7 | cli | the command line, on top |

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] = &[
    ("actor", 0),
    ("child_env", 0),
    ("config", 0),
    ("diagnostics", 0),
    ("domain", 0),
    ("fsutil", 0),
    ("http_body", 0),
    ("keymap", 0),
    ("paths", 0),
    ("redact", 0),
    ("sanitize", 0),
    ("secrets", 0),
    ("shell", 0),
    ("credentials", 1),
    ("health", 1),
    ("logs", 1),
    ("migrate", 1),
    ("provider", 2),
    ("demo", 2),
    ("engine", 3),
    ("state", 4),
    ("ui", 5),
    ("app", 6),
    ("cli", 7),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a source text names through `crate::`, including
/// grouped imports (`use crate::{a::X, b::{Y, Z}}`), with the line of each.
fn crate_refs(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("crate::") {
        let start = at + found;
        at = start + "crate::".len();
        // `$crate::` in macros and identifiers ending in `crate` are not paths from the root.
        if start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b'$')
        {
            continue;
        }
        let line = text[..start].matches('\n').count() + 1;
        if bytes.get(at) == Some(&b'{') {
            // Walk the group: a name at depth 1 that follows `{` or `,` starts a path.
            let mut depth = 0;
            let mut expect_name = false;
            let mut i = at;
            while i < bytes.len() {
                match bytes[i] {
                    b'{' => {
                        depth += 1;
                        expect_name = depth == 1;
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => expect_name = true,
                    c if expect_name && (c.is_ascii_alphabetic() || c == b'_') => {
                        let end = text[i..]
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .map_or(bytes.len(), |e| i + e);
                        out.push((text[i..end].to_string(), line));
                        expect_name = false;
                        i = end;
                        continue;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            let end = text[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(text.len(), |e| at + e);
            out.push((text[at..end].to_string(), line));
        }
    }
    out
}

#[test]
fn imports_flow_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = layer(&top) else {
            wrong.push(format!(
                "src/{}: module `{top}` has no layer: add it to LAYERS in tests/layers.rs (and the table in its doc)",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (used, line) in crate_refs(&text) {
            if used == top {
                continue;
            }
            let Some(theirs) = layer(&used) else {
                continue;
            };
            if theirs > own {
                wrong.push(format!(
                    "src/{}:{line}: `{top}` (layer {own}) uses `{used}` (layer {theirs}), a higher layer",
                    rel.display()
                ));
            }
            uses.entry(top.clone()).or_default().insert(used);
        }
    }
    for (a, used) in &uses {
        for b in used {
            let (la, lb) = (layer(a).unwrap_or(0), layer(b).unwrap_or(0));
            if la == lb && la > 0 && a < b && uses.get(b).is_some_and(|u| u.contains(a)) {
                wrong.push(format!(
                    "`{a}` and `{b}` (layer {la}) use each other: move what both need down a layer"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scanner_sees_grouped_and_nested_imports() {
    let refs = crate_refs(
        "use crate::{\n    app::X,\n    ui::{a, b},\n};\nfn f() { crate::cli::run(); $crate::no(); notcrate::x(); }",
    );
    let names: Vec<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["app", "ui", "cli"]);
    assert_eq!(refs[2].1, 5, "line numbers point at the use");
}
