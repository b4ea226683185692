//! Which credentials each environment needs, and where each comes from
//! right now (environment variable, keyring, or nowhere). Values are never
//! read: presence is checked, so the UI can say "fly token: Secret Service"
//! without a secret leaving the store.

use serde::Serialize;

use super::env::{EnvSource, env_var_name};
use super::error::CredentialError;
use super::key::{CredentialKey, CredentialKind, DEFAULT_ACCOUNT};
use super::store::Credentials;
use crate::config::{EnvConfig, ProviderKind};
use crate::domain::CredentialSource;

/// One credential an environment needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialNeed {
    /// What it is for, in words: `fly token`, `database URL`.
    pub what: &'static str,
    /// Where it lives.
    pub wanted: Wanted,
}

/// Where a needed credential is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// A keyring key (with its `SHIPDECK_*` environment override).
    Key(CredentialKey),
    /// An environment variable the config names (`database_url_env`).
    Var(String),
}

/// Where one needed credential comes from now. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialOrigin {
    /// What it is for (`fly token`).
    pub what: String,
    /// The key (`fly`, `db:production`) or variable name.
    pub name: String,
    /// Keyring, environment, not needed, or missing.
    pub source: CredentialSource,
    /// Human wording: `Secret Service`, `environment variable SHIPDECK_FLY_TOKEN`,
    /// or for a missing one, the command that fixes it.
    pub origin: String,
}

impl CredentialOrigin {
    /// `fly token: Secret Service` — the one-line form the UI shows.
    pub fn line(&self) -> String {
        format!("{}: {}", self.what, self.origin)
    }
}

/// The credentials `env` needs: its provider's token, and a Postgres URL
/// when it runs migrations against Postgres.
pub fn needs_of(env: &EnvConfig) -> Vec<CredentialNeed> {
    let mut needs = Vec::new();
    if env.provider == ProviderKind::Fly {
        let account = env
            .fly
            .as_ref()
            .and_then(|f| f.account.as_deref())
            .unwrap_or(DEFAULT_ACCOUNT);
        if let Ok(key) = CredentialKey::provider(CredentialKind::Fly, account) {
            needs.push(CredentialNeed {
                what: "fly token",
                wanted: Wanted::Key(key),
            });
        }
    }
    let paas = match env.provider {
        ProviderKind::Render => Some((
            CredentialKind::Render,
            env.render.as_ref().and_then(|r| r.account.as_deref()),
            "render API key",
        )),
        ProviderKind::Railway => Some((
            CredentialKind::Railway,
            env.railway.as_ref().and_then(|r| r.account.as_deref()),
            "railway token",
        )),
        _ => None,
    };
    if let Some((kind, account, what)) = paas
        && let Ok(key) = CredentialKey::provider(kind, account.unwrap_or(DEFAULT_ACCOUNT))
    {
        needs.push(CredentialNeed {
            what,
            wanted: Wanted::Key(key),
        });
    }
    if let Some(m) = &env.migrations
        && m.sqlite.is_none()
    {
        let wanted = match &m.database_url_env {
            Some(var) => Some(Wanted::Var(var.clone())),
            None => CredentialKey::database(env.name()).ok().map(Wanted::Key),
        };
        if let Some(wanted) = wanted {
            needs.push(CredentialNeed {
                what: "database URL",
                wanted,
            });
        }
    }
    needs
}

/// Where each credential `env` needs comes from, checked against `store`
/// (or the reason it could not be opened). Blocking: keyring lookups.
pub fn origins_of(
    env: &EnvConfig,
    store: Result<&Credentials, &CredentialError>,
    vars: &EnvSource,
) -> Vec<CredentialOrigin> {
    let mut out = Vec::new();
    if env.provider == ProviderKind::Demo {
        out.push(not_needed());
    }
    for need in needs_of(env) {
        out.push(locate(&need, store, vars));
    }
    out
}

/// The origins of an env that needs no credential lookup (a demo env, or
/// one whose provider needs none yet); `None` when the keyring must be asked.
pub fn known_without_lookup(env: &EnvConfig) -> Option<Vec<CredentialOrigin>> {
    if !needs_of(env).is_empty() {
        return None;
    }
    Some(if env.provider == ProviderKind::Demo {
        vec![not_needed()]
    } else {
        Vec::new()
    })
}

/// The origin line of a demo env, which needs no credential.
pub fn not_needed() -> CredentialOrigin {
    CredentialOrigin {
        what: "credentials".into(),
        name: "demo".into(),
        source: CredentialSource::NotNeeded,
        origin: "none needed (demo fleet)".into(),
    }
}

fn locate(
    need: &CredentialNeed,
    store: Result<&Credentials, &CredentialError>,
    vars: &EnvSource,
) -> CredentialOrigin {
    let what = need.what.to_string();
    match &need.wanted {
        Wanted::Var(var) => {
            let (source, origin) = match vars.var(var) {
                Some(_) => (
                    CredentialSource::Environment,
                    format!("environment variable {var}"),
                ),
                None => (
                    CredentialSource::Missing,
                    format!("missing: environment variable {var} is not set"),
                ),
            };
            CredentialOrigin {
                what,
                name: var.clone(),
                source,
                origin,
            }
        }
        Wanted::Key(key) => {
            let var = env_var_name(key);
            let (source, origin) = if vars.var(&var).is_some() {
                (
                    CredentialSource::Environment,
                    format!("environment variable {var}"),
                )
            } else {
                let checked = store.map(|s| (s.backend(), s.contains(key)));
                match checked {
                    Ok((backend, Ok(true))) => {
                        (CredentialSource::Keyring, backend.label().to_string())
                    }
                    Ok((_, Ok(false))) => (
                        CredentialSource::Missing,
                        format!("missing; `shipdeck auth set {key}` (or set {var})"),
                    ),
                    Ok((_, Err(e))) => unavailable(&e, &var),
                    Err(e) => unavailable(e, &var),
                }
            };
            CredentialOrigin {
                what,
                name: key.to_string(),
                source,
                origin,
            }
        }
    }
}

fn unavailable(e: &CredentialError, var: &str) -> (CredentialSource, String) {
    (
        CredentialSource::Missing,
        format!(
            "keyring unavailable ({}); or set {var}",
            crate::sanitize::sanitize(&e.reason())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretValue;

    fn env(toml_text: &str) -> EnvConfig {
        let config =
            crate::config::Config::parse_str(toml_text, std::path::Path::new("t.toml")).unwrap();
        config.envs[0].clone()
    }

    const FLY: &str = r#"
[[env]]
name = "production"
provider = "fly"
fly = { app = "shop-production" }

[env.migrations]
dir = "migrations"
"#;

    #[test]
    fn a_fly_env_with_postgres_migrations_needs_a_token_and_a_url() {
        let needs = needs_of(&env(FLY));
        let names: Vec<String> = needs
            .iter()
            .map(|n| match &n.wanted {
                Wanted::Key(k) => k.to_string(),
                Wanted::Var(v) => v.clone(),
            })
            .collect();
        assert_eq!(names, ["fly:default", "db:production"]);
    }

    #[test]
    fn origins_say_environment_keyring_or_how_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Credentials::in_memory(dir.path());
        let vars = EnvSource::from_pairs([("SHIPDECK_DB_PRODUCTION_URL", "postgres://x")]);
        let e = env(FLY);
        let before = origins_of(&e, Ok(&store), &vars);
        assert_eq!(before[0].source, CredentialSource::Missing);
        assert!(
            before[0].origin.contains("shipdeck auth set fly"),
            "{before:?}"
        );
        assert_eq!(before[1].source, CredentialSource::Environment);
        assert_eq!(
            before[1].line(),
            "database URL: environment variable SHIPDECK_DB_PRODUCTION_URL"
        );

        store
            .set(
                &CredentialKey::parse("fly").unwrap(),
                &SecretValue::new("fm2_token".into()),
            )
            .unwrap();
        let after = origins_of(&e, Ok(&store), &vars);
        assert_eq!(after[0].source, CredentialSource::Keyring);
        assert_eq!(after[0].origin, store.backend().label());
        assert!(!format!("{after:?}").contains("fm2_token"));
    }

    #[test]
    fn a_store_that_cannot_open_still_honours_environment_overrides() {
        let err = CredentialError::Task("no store".into());
        let vars = EnvSource::from_pairs([("SHIPDECK_FLY_TOKEN", "fm2_x")]);
        let got = origins_of(&env(FLY), Err(&err), &vars);
        assert_eq!(got[0].source, CredentialSource::Environment);
        assert_eq!(got[1].source, CredentialSource::Missing);
        assert!(got[1].origin.contains("SHIPDECK_DB_PRODUCTION_URL"));
    }

    #[test]
    fn demo_envs_need_nothing() {
        let e = env(r#"
[[env]]
name = "staging"
provider = "demo"
"#);
        let got = origins_of(
            &e,
            Err(&CredentialError::Task("x".into())),
            &EnvSource::from_pairs::<_, String, String>([]),
        );
        assert_eq!(got, vec![not_needed()]);
    }
}
