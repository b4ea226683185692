//! Lint for destructive or locking changes in pending up-migration files.
//!
//! The SQL is first cleaned: `--` and `/* */` comments are blanked, and the
//! contents of string literals (`'…'`, `E'…'`) and dollar-quoted bodies
//! (`$$…$$`, `$tag$…$tag$`, e.g. `DO $$ … $$`) are hidden from matching.
//! The cleaned text is split into statements on `;` and each statement is
//! tokenised and checked case-insensitively against these rules:
//!
//! | rule | matches |
//! |---|---|
//! | `drop_table` | `DROP TABLE` |
//! | `drop_column` | `ALTER TABLE … DROP [COLUMN] x` |
//! | `rename` | `ALTER TABLE … RENAME [COLUMN] …` / `RENAME TO`, `RENAME TABLE` |
//! | `alter_type` | `ALTER [COLUMN] x [SET DATA] TYPE …` |
//! | `not_null_without_default` | `ADD [COLUMN] x … NOT NULL` without `DEFAULT` |
//! | `index_without_concurrently` | `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` (Postgres only) |
//! | `set_not_null` | `ALTER [COLUMN] x SET NOT NULL` |
//! | `drop_index_without_concurrently` | `DROP INDEX` without `CONCURRENTLY` (Postgres only) |
//!
//! `NOT NULL` columns, `SET NOT NULL` and indexes on a table created earlier
//! in the same file are not reported (the table is empty and unused).

use std::collections::HashSet;

/// The SQL dialect of the migration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// One risky statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file name as passed to [`lint_sql`].
    pub file: String,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// Rule id: `drop_table`, `drop_column`, `rename`, `alter_type`,
    /// `not_null_without_default`, `index_without_concurrently`,
    /// `set_not_null` or `drop_index_without_concurrently`.
    pub rule: &'static str,
    /// The statement without comments, whitespace collapsed, first 120 characters.
    pub statement: String,
    /// Expand-contract advice for doing the change safely.
    pub advice: String,
}

const DROP_TABLE: (&str, &str) = (
    "drop_table",
    "dropping a table breaks the running release and loses data: stop using it in code, ship that, \
     then drop it in a later release (after a backup)",
);
const DROP_COLUMN: (&str, &str) = (
    "drop_column",
    "the running release still reads this column: stop reading and writing it in one release, \
     then drop it in a later release",
);
const RENAME: (&str, &str) = (
    "rename",
    "renames break the running release: add the new table/column, write to both, backfill, \
     switch reads, drop the old one in a later release",
);
const ALTER_TYPE: (&str, &str) = (
    "alter_type",
    "changing a column type can rewrite and lock the table and break old code: add the new column, \
     backfill, switch reads, drop the old one in a later release",
);
const NOT_NULL: (&str, &str) = (
    "not_null_without_default",
    "a NOT NULL column without DEFAULT fails on existing rows and breaks old inserts: add it nullable \
     (or with a DEFAULT), backfill, then set NOT NULL in a later release",
);
const INDEX: (&str, &str) = (
    "index_without_concurrently",
    "CREATE INDEX without CONCURRENTLY blocks writes while it builds: use CREATE INDEX CONCURRENTLY \
     in a migration file of its own (it cannot run inside a transaction)",
);

const SET_NOT_NULL: (&str, &str) = (
    "set_not_null",
    "SET NOT NULL scans the whole table under an exclusive lock and fails on any NULL: add \
     CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it in a later migration, then SET NOT NULL \
     (Postgres 12+ skips the scan) and drop the check",
);
const DROP_INDEX: (&str, &str) = (
    "drop_index_without_concurrently",
    "DROP INDEX without CONCURRENTLY blocks reads and writes on the table while it waits for its lock: \
     use DROP INDEX CONCURRENTLY in a migration file of its own (it cannot run inside a transaction)",
);

/// Lints one migration file's SQL; findings are in statement order.
pub fn lint_sql(file: &str, sql: &str, dialect: Dialect) -> Vec<Finding> {
    let chars: Vec<char> = sql.chars().collect();
    let (clean, masked) = mask(&chars, dialect);
    let mut findings = Vec::new();
    let mut created: HashSet<String> = HashSet::new();
    let mut start = 0;
    for end in (0..=masked.len()).filter(|&i| i == masked.len() || masked[i] == ';') {
        let seg = start..end;
        start = end + 1;
        let Some(first) = seg.clone().find(|&i| !masked[i].is_whitespace()) else {
            continue;
        };
        let tokens = tokenize(&masked[seg.clone()]);
        if tokens.is_empty() {
            continue;
        }
        let line = 1 + chars[..first].iter().filter(|&&c| c == '\n').count();
        let text: String = clean[seg].iter().collect();
        let statement: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(120)
            .collect();
        for (rule, advice) in check(&tokens, dialect, &mut created) {
            findings.push(Finding {
                file: file.to_string(),
                line,
                rule,
                statement: statement.clone(),
                advice: advice.to_string(),
            });
        }
    }
    findings
}

/// Returns (clean, masked): `clean` has comments blanked; `masked` additionally
/// blanks string and dollar-quoted contents and `;` inside quoted identifiers.
/// Both have the same length as the input and keep newlines.
fn mask(chars: &[char], dialect: Dialect) -> (Vec<char>, Vec<char>) {
    let n = chars.len();
    let mut clean = chars.to_vec();
    let mut masked = chars.to_vec();
    let blank = |v: &mut Vec<char>, from: usize, to: usize| {
        for c in v.iter_mut().take(to.min(n)).skip(from) {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '-' && at(i + 1) == '-' {
            let end = (i..n).find(|&j| chars[j] == '\n').unwrap_or(n);
            blank(&mut clean, i, end);
            blank(&mut masked, i, end);
            i = end;
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 1usize;
            let mut j = i + 2;
            while j < n && depth > 0 {
                if chars[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                } else if dialect == Dialect::Postgres && chars[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            let end = j.min(n);
            blank(&mut clean, i, end);
            blank(&mut masked, i, end);
            i = end;
        } else if c == '\'' {
            let backslash =
                i > 0 && matches!(chars[i - 1], 'e' | 'E') && (i < 2 || !is_ident(chars[i - 2]));
            let mut j = i + 1;
            loop {
                if j >= n {
                    break;
                }
                if backslash && chars[j] == '\\' {
                    j += 2;
                } else if chars[j] == '\'' {
                    if at(j + 1) == '\'' {
                        j += 2;
                    } else {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            // Content is i+1..j; closing quote at j (if j < n).
            blank(&mut masked, i + 1, j.min(n));
            i = j + 1;
        } else if c == '"' || c == '`' {
            let mut j = i + 1;
            while j < n {
                if chars[j] == c {
                    if at(j + 1) == c {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            for m in masked.iter_mut().take(j.min(n)).skip(i + 1) {
                if *m == ';' {
                    *m = '_';
                }
            }
            i = j + 1;
        } else if c == '$' && (i == 0 || !is_ident(chars[i - 1])) {
            // Dollar quote: $$ or $tag$ where tag = [A-Za-z_][A-Za-z0-9_]*.
            let mut j = i + 1;
            if j < n && (chars[j].is_alphabetic() || chars[j] == '_') {
                while j < n && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
            }
            if at(j) == '$' {
                let tag: Vec<char> = chars[i..=j].to_vec();
                let body_start = j + 1;
                let close = (body_start..n).find(|&k| chars[k..].starts_with(&tag));
                let body_end = close.unwrap_or(n);
                blank(&mut masked, body_start, body_end);
                i = close.map_or(n, |k| k + tag.len());
            } else {
                i = j;
            }
        } else {
            i += 1;
        }
    }
    (clean, masked)
}

/// Splits a masked statement into upper-cased tokens: words, quoted
/// identifiers (kept with their quotes), `'…'` strings (as `''`) and single
/// punctuation characters.
fn tokenize(chars: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let n = chars.len();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let s = i;
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            out.push(chars[s..i].iter().collect::<String>().to_uppercase());
        } else if c == '"' || c == '`' || c == '\'' {
            let s = i;
            i += 1;
            while i < n {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(n);
            if c == '\'' {
                out.push("''".to_string());
            } else {
                out.push(chars[s..i].iter().collect());
            }
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// A comparable table name: quoted names keep their case, others are lower-cased.
fn normalize_name(tok: &str) -> String {
    let quoted = tok.len() >= 2
        && (tok.starts_with('"') && tok.ends_with('"')
            || tok.starts_with('`') && tok.ends_with('`'));
    if quoted {
        tok[1..tok.len() - 1].to_string()
    } else {
        tok.to_lowercase()
    }
}

/// Reads a possibly schema-qualified name starting at `i`; returns (last part, next index).
fn read_name(t: &[String], mut i: usize) -> Option<(String, usize)> {
    let mut name = normalize_name(t.get(i)?);
    i += 1;
    while t.get(i).map(String::as_str) == Some(".") {
        name = normalize_name(t.get(i + 1)?);
        i += 2;
    }
    Some((name, i))
}

/// Whether tokens starting at `i` equal `words`.
fn seq(t: &[String], i: usize, words: &[&str]) -> bool {
    words
        .iter()
        .enumerate()
        .all(|(k, w)| t.get(i + k).map(String::as_str) == Some(*w))
}

/// Applies the rules to one statement's tokens.
fn check(
    t: &[String],
    dialect: Dialect,
    created: &mut HashSet<String>,
) -> Vec<(&'static str, &'static str)> {
    let mut hits: Vec<(&'static str, &'static str)> = Vec::new();
    let mut hit = |r: (&'static str, &'static str)| {
        if !hits.contains(&r) {
            hits.push(r);
        }
    };
    let w = |i: usize| t.get(i).map(String::as_str).unwrap_or("");

    match w(0) {
        "DROP" if w(1) == "TABLE" => hit(DROP_TABLE),
        "DROP" if w(1) == "INDEX" && dialect == Dialect::Postgres && w(2) != "CONCURRENTLY" => {
            hit(DROP_INDEX)
        }
        "RENAME" if w(1) == "TABLE" => hit(RENAME),
        "CREATE" => {
            let mut i = 1;
            while matches!(w(i), "TEMP" | "TEMPORARY" | "UNLOGGED" | "GLOBAL" | "LOCAL") {
                i += 1;
            }
            if w(i) == "TABLE" {
                i += 1;
                if seq(t, i, &["IF", "NOT", "EXISTS"]) {
                    i += 3;
                }
                if let Some((name, _)) = read_name(t, i) {
                    created.insert(name);
                }
            } else {
                let i = if w(1) == "UNIQUE" { 2 } else { 1 };
                if w(i) == "INDEX" && dialect == Dialect::Postgres && w(i + 1) != "CONCURRENTLY" {
                    let table = t
                        .iter()
                        .position(|x| x == "ON")
                        .and_then(|on| {
                            let start = if w(on + 1) == "ONLY" { on + 2 } else { on + 1 };
                            read_name(t, start)
                        })
                        .map(|(n, _)| n);
                    if !table.is_some_and(|n| created.contains(&n)) {
                        hit(INDEX);
                    }
                }
            }
        }
        "ALTER" if w(1) == "TABLE" => {
            let mut i = 2;
            if seq(t, i, &["IF", "EXISTS"]) {
                i += 2;
            }
            if w(i) == "ONLY" {
                i += 1;
            }
            let Some((table, next)) = read_name(t, i) else {
                return hits;
            };
            let mut i = next;
            if w(i) == "*" {
                i += 1;
            }
            let new_table = created.contains(&table);
            for clause in split_clauses(&t[i.min(t.len())..]) {
                check_clause(clause, new_table, &mut hit);
            }
        }
        _ => {}
    }
    hits
}

/// Splits ALTER TABLE actions on commas outside parentheses.
fn split_clauses(t: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, tok) in t.iter().enumerate() {
        match tok.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            "," if depth == 0 => {
                out.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&t[start..]);
    out
}

/// Checks one ALTER TABLE action.
fn check_clause(a: &[String], new_table: bool, hit: &mut impl FnMut((&'static str, &'static str))) {
    let w = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    match w(0) {
        "DROP" => match w(1) {
            "COLUMN" => hit(DROP_COLUMN),
            "CONSTRAINT" | "DEFAULT" | "NOT" | "IDENTITY" | "EXPRESSION" | "INDEX" | "PRIMARY"
            | "FOREIGN" | "CHECK" | "KEY" | "PARTITION" | "" => {}
            _ => hit(DROP_COLUMN),
        },
        "RENAME" if w(1) != "CONSTRAINT" => hit(RENAME),
        "ALTER" => {
            let k = if w(1) == "COLUMN" { 2 } else { 1 };
            if !w(k).is_empty() && (w(k + 1) == "TYPE" || seq(a, k + 1, &["SET", "DATA", "TYPE"])) {
                hit(ALTER_TYPE);
            }
            if !w(k).is_empty() && seq(a, k + 1, &["SET", "NOT", "NULL"]) && !new_table {
                hit(SET_NOT_NULL);
            }
        }
        "ADD" => {
            if matches!(
                w(1),
                "CONSTRAINT"
                    | "PRIMARY"
                    | "UNIQUE"
                    | "FOREIGN"
                    | "CHECK"
                    | "EXCLUDE"
                    | "INDEX"
                    | "KEY"
                    | ""
            ) || new_table
            {
                return;
            }
            let mut depth = 0usize;
            let mut not_null = false;
            let mut exempt = false;
            for (i, tok) in a.iter().enumerate() {
                match tok.as_str() {
                    "(" => depth += 1,
                    ")" => depth = depth.saturating_sub(1),
                    "NOT" if depth == 0 && w(i + 1) == "NULL" => not_null = true,
                    "DEFAULT" | "GENERATED" => exempt = true,
                    _ => {}
                }
            }
            if not_null && !exempt {
                hit(NOT_NULL);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str, d: Dialect) -> Vec<&'static str> {
        lint_sql("f.up.sql", sql, d)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }
    fn pg(sql: &str) -> Vec<&'static str> {
        rules(sql, Dialect::Postgres)
    }

    #[test]
    fn drop_table() {
        assert_eq!(pg("DROP TABLE users;"), vec!["drop_table"]);
        assert_eq!(pg("drop table if exists users cascade"), vec!["drop_table"]);
        assert_eq!(
            rules("DROP TABLE users;", Dialect::Sqlite),
            vec!["drop_table"]
        );
    }

    #[test]
    fn drop_column() {
        assert_eq!(
            pg("ALTER TABLE users DROP COLUMN email;"),
            vec!["drop_column"]
        );
        assert_eq!(
            pg("alter table public.users drop email"),
            vec!["drop_column"]
        );
        assert_eq!(
            pg("ALTER TABLE users DROP IF EXISTS email"),
            vec!["drop_column"]
        );
        assert!(pg("ALTER TABLE users DROP CONSTRAINT users_pk").is_empty());
        assert!(
            pg("ALTER TABLE users ALTER COLUMN email DROP DEFAULT, ALTER email DROP NOT NULL")
                .is_empty()
        );
    }

    #[test]
    fn rename() {
        assert_eq!(pg("ALTER TABLE users RENAME TO people;"), vec!["rename"]);
        assert_eq!(
            pg("ALTER TABLE users RENAME COLUMN a TO b;"),
            vec!["rename"]
        );
        assert_eq!(
            rules("ALTER TABLE users RENAME a TO b", Dialect::Sqlite),
            vec!["rename"]
        );
        assert_eq!(pg("RENAME TABLE a TO b"), vec!["rename"]);
        assert!(pg("ALTER TABLE users RENAME CONSTRAINT a TO b").is_empty());
    }

    #[test]
    fn alter_type() {
        assert_eq!(
            pg("ALTER TABLE users ALTER COLUMN id TYPE bigint;"),
            vec!["alter_type"]
        );
        assert_eq!(
            pg("ALTER TABLE users ALTER id SET DATA TYPE bigint"),
            vec!["alter_type"]
        );
        assert!(pg("ALTER TABLE type ALTER COLUMN x SET DEFAULT 1").is_empty());
    }

    #[test]
    fn not_null_without_default() {
        assert_eq!(
            pg("ALTER TABLE users ADD COLUMN age int NOT NULL;"),
            vec!["not_null_without_default"]
        );
        assert_eq!(
            pg("ALTER TABLE users ADD age int not null"),
            vec!["not_null_without_default"]
        );
        assert_eq!(
            pg("ALTER TABLE users ADD COLUMN a int, ADD COLUMN b int NOT NULL"),
            vec!["not_null_without_default"]
        );
        assert!(pg("ALTER TABLE users ADD COLUMN a int CHECK (a IS NOT NULL)").is_empty());
    }

    #[test]
    fn index_without_concurrently() {
        assert_eq!(
            pg("CREATE INDEX users_email ON users (email);"),
            vec!["index_without_concurrently"]
        );
        assert_eq!(
            pg("create unique index u on users (email)"),
            vec!["index_without_concurrently"]
        );
        assert!(
            rules(
                "CREATE INDEX users_email ON users (email);",
                Dialect::Sqlite
            )
            .is_empty()
        );
    }

    #[test]
    fn set_not_null() {
        assert_eq!(
            pg("ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
            vec!["set_not_null"]
        );
        assert_eq!(
            pg("alter table users alter email set not null, alter name drop not null"),
            vec!["set_not_null"]
        );
        assert!(pg("ALTER TABLE users ALTER COLUMN email DROP NOT NULL;").is_empty());
        assert!(
            pg("CREATE TABLE t (a int); ALTER TABLE t ALTER COLUMN a SET NOT NULL;").is_empty(),
            "a table made in the same file is empty"
        );
    }

    #[test]
    fn drop_index_without_concurrently() {
        assert_eq!(
            pg("DROP INDEX users_email;"),
            vec!["drop_index_without_concurrently"]
        );
        assert_eq!(
            pg("drop index if exists users_email"),
            vec!["drop_index_without_concurrently"]
        );
        assert!(pg("DROP INDEX CONCURRENTLY IF EXISTS users_email;").is_empty());
        assert!(rules("DROP INDEX users_email;", Dialect::Sqlite).is_empty());
    }

    #[test]
    fn additive_migration_is_clean() {
        let sql = "
            CREATE TABLE IF NOT EXISTS audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
            CREATE INDEX audit_at ON audit (at);
            ALTER TABLE audit ADD COLUMN who text NOT NULL;
            ALTER TABLE users ADD COLUMN nickname text;
            ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text NOT NULL DEFAULT 'free';
            ALTER TABLE users ADD CONSTRAINT plan_ck CHECK (plan IS NOT NULL) NOT VALID;
            CREATE INDEX CONCURRENTLY users_plan ON users (plan);
            CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_nick ON users (nickname);
        ";
        assert_eq!(lint_sql("a.up.sql", sql, Dialect::Postgres), vec![]);
        assert!(
            rules(
                "ALTER TABLE t ADD COLUMN x int NOT NULL DEFAULT 0",
                Dialect::Sqlite
            )
            .is_empty()
        );
    }

    #[test]
    fn comments_strings_and_dollar_blocks_ignored() {
        let sql = r#"
-- DROP TABLE users;
/* ALTER TABLE users DROP COLUMN email; /* nested */ RENAME TO x; */
INSERT INTO notes (body) VALUES ('DROP TABLE users; ALTER TABLE a RENAME TO b;');
INSERT INTO notes (body) VALUES (E'it\'s; DROP TABLE x');
DO $$
BEGIN
  EXECUTE 'x'; DROP TABLE users;
END
$$;
CREATE FUNCTION f() RETURNS void AS $body$ ALTER TABLE a DROP COLUMN b; $body$ LANGUAGE sql;
SELECT "drop table; x" FROM t;
"#;
        assert_eq!(lint_sql("c.up.sql", sql, Dialect::Postgres), vec![]);
    }

    #[test]
    fn line_numbers_and_fields() {
        let sql = "CREATE TABLE a (id int);\n\n-- next one hurts\nALTER TABLE users\n  DROP COLUMN email;\nDROP TABLE old; /* x */\n";
        let f = lint_sql("0002_x.up.sql", sql, Dialect::Postgres);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].rule, f[0].line), ("drop_column", 4));
        assert_eq!(f[0].file, "0002_x.up.sql");
        assert_eq!(f[0].statement, "ALTER TABLE users DROP COLUMN email");
        assert!(f[0].advice.contains("later release"));
        assert_eq!((f[1].rule, f[1].line), ("drop_table", 6));
        let long = format!("DROP TABLE {};", "x".repeat(300));
        assert_eq!(pg(&long), vec!["drop_table"]);
        assert_eq!(
            lint_sql("f", &long, Dialect::Postgres)[0]
                .statement
                .chars()
                .count(),
            120
        );
    }

    #[test]
    fn multiple_rules_in_one_statement() {
        let got =
            pg("ALTER TABLE users DROP COLUMN a, ALTER COLUMN b TYPE text, RENAME COLUMN c TO d");
        assert_eq!(got, vec!["drop_column", "alter_type", "rename"]);
    }

    #[test]
    fn random_input_does_not_panic() {
        let alphabet: Vec<char> = "aDROPTABLEALTERcolumnADDNOTNULL $$'\"`;-/*()\\,.\nEeé_1"
            .chars()
            .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 58) as usize;
            let s: String = (0..len)
                .map(|k| {
                    let x = seed.rotate_left(k as u32 * 7) >> 40;
                    alphabet[(x as usize) % alphabet.len()]
                })
                .collect();
            let _ = lint_sql("r", &s, Dialect::Postgres);
            let _ = lint_sql("r", &s, Dialect::Sqlite);
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "",
            ";;;",
            "'",
            "\"",
            "$$",
            "$a$",
            "/*",
            "--",
            "E'\\",
            "ALTER",
            "ALTER TABLE",
            "ALTER TABLE t ADD",
            "ALTER TABLE t ALTER",
            "CREATE INDEX",
            "CREATE UNIQUE",
            "ALTER TABLE x.",
            "é'ü$$ö",
            "$1 $ $$x",
            "ALTER TABLE t DROP",
            "CREATE TABLE",
            "ALTER TABLE (((",
            "))) ,,,",
        ] {
            let _ = lint_sql("g", s, Dialect::Postgres);
            let _ = lint_sql("g", s, Dialect::Sqlite);
        }
    }
}
