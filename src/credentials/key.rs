//! Credential names: `fly`, `render:team-a`, `db:production`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::CredentialError;

/// The keyring service every shipdeck credential is stored under.
pub const KEYRING_SERVICE: &str = "shipdeck";

/// The account used when a provider credential names none.
pub const DEFAULT_ACCOUNT: &str = "default";

/// What a credential is for: a provider's API token, or a database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialKind {
    /// The built-in demo fleet.
    Demo,
    /// Fly.io API token.
    Fly,
    /// Railway API token.
    Railway,
    /// Render API key.
    Render,
    /// SSH/VPS deploy credential.
    Vps,
    /// GitHub Actions token.
    GithubActions,
    /// A database URL for one environment (migrations).
    Db,
}

impl CredentialKind {
    /// Every kind, in display order.
    pub const ALL: [CredentialKind; 7] = [
        CredentialKind::Demo,
        CredentialKind::Fly,
        CredentialKind::Railway,
        CredentialKind::Render,
        CredentialKind::Vps,
        CredentialKind::GithubActions,
        CredentialKind::Db,
    ];

    /// The name used in keys, keyring entries and the index file.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Demo => "demo",
            CredentialKind::Fly => "fly",
            CredentialKind::Railway => "railway",
            CredentialKind::Render => "render",
            CredentialKind::Vps => "vps",
            CredentialKind::GithubActions => "github",
            CredentialKind::Db => "db",
        }
    }

    /// Whether this is a provider token (as opposed to a database URL).
    pub fn is_provider(self) -> bool {
        self != CredentialKind::Db
    }

    fn from_name(name: &str) -> Option<CredentialKind> {
        // `github_actions` is the provider's config word; the key is `github`.
        if name.eq_ignore_ascii_case("github_actions") {
            return Some(CredentialKind::GithubActions);
        }
        CredentialKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of one credential: a kind and an account (or, for `db`, an
/// environment). `Display` and the keyring user are `kind:account`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialKey {
    kind: CredentialKind,
    account: String,
}

impl CredentialKey {
    /// A provider token for `account` (`"default"` for the usual one).
    pub fn provider(kind: CredentialKind, account: &str) -> Result<CredentialKey, CredentialError> {
        let input = format!("{kind}:{account}");
        if !kind.is_provider() {
            return Err(bad_key(&input, "`db` is not a provider"));
        }
        check_account(&input, account)?;
        Ok(CredentialKey {
            kind,
            account: account.to_string(),
        })
    }

    /// The database URL for environment `env`.
    pub fn database(env: &str) -> Result<CredentialKey, CredentialError> {
        let input = format!("db:{env}");
        check_account(&input, env)?;
        Ok(CredentialKey {
            kind: CredentialKind::Db,
            account: env.to_string(),
        })
    }

    /// Parse `fly`, `fly:default`, `render:team-a` or `db:production`.
    pub fn parse(input: &str) -> Result<CredentialKey, CredentialError> {
        let text = input.trim();
        let (kind_name, account) = match text.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (text, None),
        };
        if kind_name.is_empty() {
            return Err(bad_key(input, "it names no provider"));
        }
        let Some(kind) = CredentialKind::from_name(kind_name) else {
            return Err(bad_key(
                input,
                &format!("`{kind_name}` is not a known provider"),
            ));
        };
        match (kind, account) {
            (CredentialKind::Db, None) => Err(bad_key(
                input,
                "a database URL needs an environment, as in `db:production`",
            )),
            (CredentialKind::Db, Some(env)) => {
                check_account(input, env)?;
                Ok(CredentialKey {
                    kind,
                    account: env.to_string(),
                })
            }
            (_, None) => Ok(CredentialKey {
                kind,
                account: DEFAULT_ACCOUNT.to_string(),
            }),
            (_, Some(account)) => {
                check_account(input, account)?;
                Ok(CredentialKey {
                    kind,
                    account: account.to_string(),
                })
            }
        }
    }

    /// The kind.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The account (the environment name for `db`).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Whether this is a provider's `default` account.
    pub fn is_default_account(&self) -> bool {
        self.kind.is_provider() && self.account == DEFAULT_ACCOUNT
    }

    /// The keyring entry's `(service, user)` pair: `("shipdeck", "kind:account")`.
    pub fn keyring_specifiers(&self) -> (&'static str, String) {
        (KEYRING_SERVICE, self.to_string())
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.account)
    }
}

impl FromStr for CredentialKey {
    type Err = CredentialError;

    fn from_str(s: &str) -> Result<CredentialKey, CredentialError> {
        CredentialKey::parse(s)
    }
}

impl Serialize for CredentialKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CredentialKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        CredentialKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The accepted forms, for error messages.
pub(crate) fn accepted_forms() -> String {
    let providers: Vec<&str> = CredentialKind::ALL
        .iter()
        .filter(|k| k.is_provider())
        .map(|k| k.as_str())
        .collect();
    format!(
        "use PROVIDER, PROVIDER:ACCOUNT or db:ENV, where PROVIDER is one of {} \
         (e.g. `fly`, `render:team-a`, `db:production`)",
        providers.join(", ")
    )
}

fn bad_key(input: &str, reason: &str) -> CredentialError {
    CredentialError::BadKey {
        input: input.to_string(),
        reason: reason.to_string(),
    }
}

fn check_account(input: &str, account: &str) -> Result<(), CredentialError> {
    match crate::config::account_name_problem(account) {
        Some(reason) => Err(bad_key(input, &reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_alone_means_default_account() {
        let key = CredentialKey::parse("fly").unwrap();
        assert_eq!(key.kind(), CredentialKind::Fly);
        assert_eq!(key.account(), "default");
        assert_eq!(key.to_string(), "fly:default");
        assert!(key.is_default_account());
        assert_eq!(CredentialKey::parse("fly:default").unwrap(), key);
    }

    #[test]
    fn accounts_and_environments_parse() {
        let key = CredentialKey::parse("render:team-a").unwrap();
        assert_eq!(key.kind(), CredentialKind::Render);
        assert_eq!(key.account(), "team-a");
        assert_eq!(key.to_string(), "render:team-a");
        let db = CredentialKey::parse("db:production").unwrap();
        assert_eq!(db.kind(), CredentialKind::Db);
        assert_eq!(db.account(), "production");
        assert!(!db.is_default_account());
        let gha: CredentialKey = "github_actions:ci.bot".parse().unwrap();
        assert_eq!(gha.to_string(), "github:ci.bot");
        assert_eq!(
            "github".parse::<CredentialKey>().unwrap().to_string(),
            "github:default"
        );
        assert_eq!(
            CredentialKey::parse("FLY").unwrap().to_string(),
            "fly:default"
        );
    }

    #[test]
    fn keyring_entry_is_service_shipdeck_user_kind_account() {
        let key = CredentialKey::parse("render:team-a").unwrap();
        assert_eq!(
            key.keyring_specifiers(),
            ("shipdeck", "render:team-a".to_string())
        );
    }

    #[test]
    fn bad_keys_name_the_input_and_the_accepted_forms() {
        for input in [
            "",
            "heroku",
            "db",
            "db:",
            "fly:",
            "fly:a b",
            "fly:a:b",
            ":prod",
            "render:ü",
        ] {
            let err = CredentialKey::parse(input).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, CredentialError::BadKey { .. }), "{input}");
            assert!(msg.contains(&format!("`{input}`")), "{msg}");
            assert!(msg.contains("PROVIDER:ACCOUNT or db:ENV"), "{msg}");
            assert!(msg.contains("github"), "{msg}");
        }
        let long = format!("fly:{}", "a".repeat(65));
        assert!(CredentialKey::parse(&long).is_err());
        assert!(CredentialKey::provider(CredentialKind::Db, "x").is_err());
    }

    #[test]
    fn serde_uses_the_display_form() {
        let key = CredentialKey::parse("db:staging").unwrap();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, "\"db:staging\"");
        let back: CredentialKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back, key);
        assert!(serde_json::from_str::<CredentialKey>("\"nope:x\"").is_err());
    }
}
