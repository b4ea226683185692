//! Environment-variable overrides (for CI): checked before the keyring.

use std::collections::HashMap;

use super::key::{CredentialKey, CredentialKind, DEFAULT_ACCOUNT};
use crate::secrets::SecretValue;

/// The variable that overrides `key`: `SHIPDECK_FLY_TOKEN`,
/// `SHIPDECK_RENDER_TEAM_A_TOKEN`, `SHIPDECK_DB_PRODUCTION_URL`.
///
/// Names are upper-cased and every character that is not an ASCII letter or
/// digit becomes `_`.
pub fn env_var_name(key: &CredentialKey) -> String {
    let kind = upper_snake(key.kind().as_str());
    match key.kind() {
        CredentialKind::Db => format!("SHIPDECK_DB_{}_URL", upper_snake(key.account())),
        _ if key.account() == DEFAULT_ACCOUNT => format!("SHIPDECK_{kind}_TOKEN"),
        _ => format!("SHIPDECK_{kind}_{}_TOKEN", upper_snake(key.account())),
    }
}

/// Where environment variables are read from: the process, or a fixed map
/// (tests, and callers that want to disable overrides). `Debug` shows
/// names only.
#[derive(Clone, Default)]
pub enum EnvSource {
    /// `std::env`.
    #[default]
    Process,
    /// A fixed set of variables; nothing else is visible.
    Map(HashMap<String, String>),
}

impl std::fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvSource::Process => f.write_str("EnvSource::Process"),
            EnvSource::Map(map) => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                f.debug_tuple("EnvSource::Map").field(&names).finish()
            }
        }
    }
}

impl EnvSource {
    /// A fixed set of variables.
    pub fn from_pairs<I, K, V>(pairs: I) -> EnvSource
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        EnvSource::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// A variable's value; unset, empty and non-UTF-8 values count as absent.
    pub fn var(&self, name: &str) -> Option<String> {
        let value = match self {
            EnvSource::Process => std::env::var(name).ok(),
            EnvSource::Map(map) => map.get(name).cloned(),
        };
        value.filter(|v| !v.is_empty())
    }

    /// The override for `key`, if its variable is set and non-empty.
    pub fn secret_for(&self, key: &CredentialKey) -> Option<(String, SecretValue)> {
        let name = env_var_name(key);
        self.var(&name).map(|v| (name, SecretValue::new(v)))
    }

    /// Names of the set, non-empty `SHIPDECK_*` variables that look like
    /// credential overrides (values are not kept).
    pub(crate) fn credential_var_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            EnvSource::Process => std::env::vars_os()
                .filter(|(_, v)| !v.is_empty())
                .filter_map(|(k, _)| k.into_string().ok())
                .collect(),
            EnvSource::Map(map) => map
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, _)| k.clone())
                .collect(),
        };
        names.retain(|n| key_from_var_name(n).is_some());
        names.sort();
        names
    }
}

/// The key a variable name stands for, when it has the override shape.
/// Accounts come back lower-case, since the name lost their spelling.
pub(crate) fn key_from_var_name(name: &str) -> Option<CredentialKey> {
    let rest = name.strip_prefix("SHIPDECK_")?;
    if let Some(env) = rest
        .strip_prefix("DB_")
        .and_then(|r| r.strip_suffix("_URL"))
    {
        return CredentialKey::database(&env.to_ascii_lowercase()).ok();
    }
    let body = rest.strip_suffix("_TOKEN")?;
    // Longest kind first, so GITHUB_ACTIONS is not read as GITHUB + ACTIONS.
    let mut kinds: Vec<CredentialKind> = CredentialKind::ALL
        .into_iter()
        .filter(|k| k.is_provider())
        .collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.as_str().len()));
    for kind in kinds {
        let upper = upper_snake(kind.as_str());
        if body == upper {
            return CredentialKey::provider(kind, DEFAULT_ACCOUNT).ok();
        }
        if let Some(account) = body.strip_prefix(&upper).and_then(|a| a.strip_prefix('_')) {
            return CredentialKey::provider(kind, &account.to_ascii_lowercase()).ok();
        }
    }
    None
}

fn upper_snake(text: &str) -> String {
    crate::config::env_key(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> CredentialKey {
        CredentialKey::parse(s).unwrap()
    }

    #[test]
    fn names_follow_the_documented_shape() {
        assert_eq!(env_var_name(&key("fly")), "SHIPDECK_FLY_TOKEN");
        assert_eq!(env_var_name(&key("fly:default")), "SHIPDECK_FLY_TOKEN");
        assert_eq!(
            env_var_name(&key("render:team-a")),
            "SHIPDECK_RENDER_TEAM_A_TOKEN"
        );
        assert_eq!(
            env_var_name(&key("github_actions")),
            "SHIPDECK_GITHUB_TOKEN"
        );
        assert_eq!(
            env_var_name(&key("db:production")),
            "SHIPDECK_DB_PRODUCTION_URL"
        );
        assert_eq!(
            env_var_name(&key("db:eu.west-1")),
            "SHIPDECK_DB_EU_WEST_1_URL"
        );
        assert_eq!(env_var_name(&key("db:default")), "SHIPDECK_DB_DEFAULT_URL");
    }

    #[test]
    fn var_names_map_back_to_keys() {
        for k in ["fly", "render:team_a", "github", "github:bot", "db:prod"] {
            let k = key(k);
            assert_eq!(key_from_var_name(&env_var_name(&k)), Some(k));
        }
        assert_eq!(key_from_var_name("SHIPDECK_KEYRING"), None);
        assert_eq!(key_from_var_name("SHIPDECK_HEROKU_TOKEN"), None);
        assert_eq!(key_from_var_name("FLY_TOKEN"), None);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = EnvSource::from_pairs([("SHIPDECK_FLY_TOKEN", ""), ("SHIPDECK_VPS_TOKEN", "v")]);
        assert!(env.secret_for(&key("fly")).is_none());
        let (name, value) = env.secret_for(&key("vps")).unwrap();
        assert_eq!(name, "SHIPDECK_VPS_TOKEN");
        assert_eq!(value.expose(), "v");
        assert_eq!(env.credential_var_names(), vec!["SHIPDECK_VPS_TOKEN"]);
    }
}
