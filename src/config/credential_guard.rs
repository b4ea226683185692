//! Rejects credentials written into a config file, with a pointer to the keyring.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Key names that hold a secret value when they carry a non-empty string.
const CREDENTIAL_WORDS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "secret",
    "secret_key",
    "private_key",
    "access_key",
    "client_secret",
    "database_url",
];

/// A credential found in the document: its dotted path and byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCredential {
    /// Dotted path, e.g. `env[0].token`.
    pub path: String,
    /// Byte offset of the key in the file.
    pub offset: usize,
}

/// Whether a key name looks like it holds a credential. Keys ending in `_env`
/// name an environment variable instead, and are allowed.
pub fn looks_like_credential(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    if k.ends_with("_env") || k.ends_with("_var") {
        return false;
    }
    CREDENTIAL_WORDS
        .iter()
        .any(|w| k == *w || k.ends_with(&format!("_{w}")))
}

/// Find the first credential-looking key with a value in a parsed document.
pub fn find_credential(doc: &Spanned<DeTable<'_>>) -> Option<FoundCredential> {
    walk_table(doc.get_ref(), "")
}

fn walk_table(table: &DeTable<'_>, prefix: &str) -> Option<FoundCredential> {
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        if looks_like_credential(name) && has_value(value.get_ref()) {
            return Some(FoundCredential {
                path,
                offset: key.span().start,
            });
        }
        if let Some(found) = walk_value(value.get_ref(), &path) {
            return Some(found);
        }
    }
    None
}

fn walk_value(value: &DeValue<'_>, path: &str) -> Option<FoundCredential> {
    match value {
        DeValue::Table(t) => walk_table(t, path),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| walk_value(v.get_ref(), &format!("{path}[{i}]"))),
        _ => None,
    }
}

fn has_value(value: &DeValue<'_>) -> bool {
    match value {
        DeValue::String(s) => !s.trim().is_empty(),
        DeValue::Table(_) | DeValue::Array(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spots_tokens_and_allows_env_pointers() {
        assert!(looks_like_credential("token"));
        assert!(looks_like_credential("fly_api_key"));
        assert!(looks_like_credential("DB_PASSWORD"));
        assert!(!looks_like_credential("database_url_env"));
        assert!(!looks_like_credential(
            "tokens_dir_name_is_fine_because_plural_s"
        ));
        let doc = DeTable::parse("[[env]]\nname = \"a\"\ntoken = \"abc\"\n").unwrap();
        let found = find_credential(&doc).unwrap();
        assert_eq!(found.path, "env[0].token");
        assert_eq!(found.offset, 19);
        let empty = DeTable::parse("token = \"\"\n").unwrap();
        assert_eq!(find_credential(&empty), None);
    }
}
