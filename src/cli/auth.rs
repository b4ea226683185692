//! `shipdeck auth set|list|remove|test KEY`: provider tokens and database
//! URLs in the OS keyring. Values come from stdin or a masked prompt, never
//! from argv; `list` shows names, where each comes from and its age, never values.

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use crate::credentials::{CredentialKey, CredentialKind, Credentials, read_secret};
use crate::domain::CredentialSource;

/// What `auth` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthAction {
    /// Store a credential (value from stdin or a masked prompt).
    Set,
    /// Show stored credentials: name, source, age. Never values.
    List,
    /// Delete a stored credential.
    Remove,
    /// One cheap authenticated call; prints the identity the provider sees.
    Test,
}

/// Run the command; returns the exit code.
pub async fn auth(config: Config, action: AuthAction, key: Option<&str>, json: bool) -> u8 {
    let key = match (action, key) {
        (AuthAction::List, _) => None,
        (_, None) => {
            eprintln!(
                "shipdeck: `auth {}` needs a credential name: a provider (`fly`, `fly:ACCOUNT`) or `db:ENV`",
                format!("{action:?}").to_lowercase()
            );
            return EXIT_USAGE;
        }
        (_, Some(k)) => match CredentialKey::parse(k) {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("shipdeck: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let store = match Credentials::open_async(crate::paths::state_dir()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_FAILED;
        }
    };
    match (action, key) {
        (AuthAction::List, _) => list(&config, &store, json).await,
        (AuthAction::Set, Some(key)) => set(&store, &key).await,
        (AuthAction::Remove, Some(key)) => match store.remove_async(&key).await {
            Ok(true) => {
                audit("auth.remove", &key, true, store.backend().label());
                println!("removed {key} from {}", store.backend().label());
                EXIT_OK
            }
            Ok(false) => {
                eprintln!(
                    "shipdeck: {key} is not in {}; `shipdeck auth list` shows what is",
                    store.backend().label()
                );
                EXIT_FAILED
            }
            Err(e) => {
                eprintln!("shipdeck: {e}");
                EXIT_FAILED
            }
        },
        (AuthAction::Test, Some(key)) => test(config, &store, &key, json).await,
        _ => EXIT_USAGE,
    }
}

async fn set(store: &Credentials, key: &CredentialKey) -> u8 {
    let what = if key.kind() == CredentialKind::Db {
        "database URL"
    } else {
        "token"
    };
    let value = match read_secret(&format!("{what} for {key}: ")) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_USAGE;
        }
    };
    crate::redact::remember(&value);
    let result = store.set_async(key, &value).await;
    audit(
        "auth.set",
        key,
        result.is_ok(),
        &match &result {
            Ok(()) => store.backend().label().to_string(),
            Err(e) => e.to_string(),
        },
    );
    match result {
        Ok(()) => {
            println!("stored {key} in {}", store.backend().label());
            if let Some(notice) = store.backend().persistence_notice() {
                eprintln!("note: {notice}");
            }
            let var = crate::credentials::env_var_name(key);
            if std::env::var_os(&var).is_some() {
                eprintln!("note: ${var} is set and takes precedence over the keyring");
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("shipdeck: {e}");
            EXIT_FAILED
        }
    }
}

/// One audit line for a credential change: which key, where, how it went. Never the value.
fn audit(action: &str, key: &CredentialKey, ok: bool, detail: &str) {
    let actor = crate::engine::Actor::current();
    let record = crate::engine::audit::AuditRecord {
        time: chrono::Utc::now(),
        actor: actor.user,
        host: actor.host,
        action: action.into(),
        env: key.to_string(),
        from: None,
        to: None,
        result: if ok { "ok".into() } else { "failed".into() },
        duration_ms: 0,
        plan_id: None,
        detail: Some(detail.to_string()),
    };
    let log =
        crate::engine::audit::AuditLog::new(crate::paths::StatePaths::default_location().audit());
    if let Err(e) = log.append(&record) {
        eprintln!("shipdeck: audit log: {e}");
    }
}

async fn list(config: &Config, store: &Credentials, json: bool) -> u8 {
    let items = match store.list_async().await {
        Ok(items) => items,
        Err(e) => {
            eprintln!("shipdeck: {e}");
            return EXIT_FAILED;
        }
    };
    let needed = missing_needs(config, store).await;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "backend": store.backend().label(),
                "note": store.selection_note(),
                "persistence": store.backend().persistence_notice(),
                "credentials": items,
                "needed": needed,
            })
        );
        return EXIT_OK;
    }
    println!("store: {}", store.backend().label());
    if let Some(notice) = store.backend().persistence_notice() {
        println!("note: {notice}");
    }
    for (env, origin) in &needed {
        println!(
            "needed by env `{env}`: {} `{}` — {}",
            origin.what, origin.name, origin.origin
        );
    }
    if items.is_empty() {
        println!(
            "no credentials yet; `shipdeck auth set fly` stores one (the value is read from stdin)"
        );
        return EXIT_OK;
    }
    println!("{:<24} {:<12} {:<10} FROM", "NAME", "SOURCE", "AGE");
    let now = chrono::Utc::now();
    for c in items {
        let source = match (c.source, c.present) {
            (_, false) => "missing",
            (CredentialSource::Environment, _) => "env var",
            (CredentialSource::Keyring, _) => "keyring",
            _ => "-",
        };
        let age = c
            .set_at
            .map_or("-".into(), |t| crate::ui::format::age(now, t));
        println!(
            "{:<24} {:<12} {:<10} {}",
            c.key.to_string(),
            source,
            age,
            c.origin
        );
    }
    EXIT_OK
}

/// Credentials the config's envs need that are nowhere to be found, with the fix.
async fn missing_needs(
    config: &Config,
    store: &Credentials,
) -> Vec<(String, crate::credentials::CredentialOrigin)> {
    let (envs, store) = (config.envs.clone(), store.clone());
    tokio::task::spawn_blocking(move || {
        let vars = crate::credentials::EnvSource::Process;
        envs.iter()
            .flat_map(|env| {
                crate::credentials::origins_of(env, Ok(&store), &vars)
                    .into_iter()
                    .filter(|o| o.source == CredentialSource::Missing)
                    .map(|o| (env.name().to_string(), o))
                    .collect::<Vec<_>>()
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

async fn test(config: Config, store: &Credentials, key: &CredentialKey, json: bool) -> u8 {
    let result = match key.kind() {
        CredentialKind::Db => test_database(store, key).await,
        _ => test_provider(config, store, key).await,
    };
    match result {
        Ok((identity, origin)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"credential": key.to_string(), "identity": identity, "from": origin})
                );
            } else {
                println!("{key}: authenticated as {identity} (credential from {origin})");
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("shipdeck: {key}: {}", crate::sanitize::sanitize(&e));
            EXIT_FAILED
        }
    }
}

async fn test_database(
    store: &Credentials,
    key: &CredentialKey,
) -> Result<(String, String), String> {
    let resolved = store
        .get_async(key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("not set; run `shipdeck auth set {key}` (reads the URL from stdin)")
        })?;
    crate::redact::remember(&resolved.value);
    let identity = crate::migrate::postgres::identity(resolved.value.expose())
        .await
        .map_err(|e| e.to_string())?;
    Ok((identity, resolved.origin))
}

/// The stored token of `key` (remembered for redaction), or how to store one.
async fn stored_token(
    store: &Credentials,
    key: &CredentialKey,
) -> Result<crate::credentials::Resolved, String> {
    let resolved = store
        .get_async(key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no token stored; run `shipdeck auth set {key}`"))?;
    crate::redact::remember(&resolved.value);
    Ok(resolved)
}

/// The identity a provider's API sees.
async fn who_is(provider: &dyn crate::provider::Provider) -> Result<String, String> {
    provider.whoami().await.map_err(|e| e.to_string())
}

async fn test_provider(
    config: Config,
    store: &Credentials,
    key: &CredentialKey,
) -> Result<(String, String), String> {
    match key.kind() {
        CredentialKind::Demo => {
            let mut config = config;
            let fleet = crate::demo::start_if_needed(&mut config)
                .await
                .map_err(|e| format!("cannot start the demo fleet: {e}"))?
                .ok_or("the config has no demo env")?;
            let provider = crate::provider::demo::DemoProvider::new(
                fleet.control_url.clone(),
                config.ui.request_timeout.0,
                crate::provider::CallSink::discard(),
                crate::engine::Actor::current().describe(),
            );
            use crate::provider::Provider;
            let who = provider.whoami().await.map_err(|e| e.to_string())?;
            Ok((who, "none: the demo needs no credential".into()))
        }
        CredentialKind::Fly => {
            let fly = config
                .envs
                .iter()
                .filter_map(|e| e.fly.as_ref())
                .find(|f| {
                    crate::provider::fly::configured::credential_key(f).ok().as_ref() == Some(key)
                })
                .ok_or_else(|| {
                    format!(
                        "no [env.fly] in the config uses `{key}`; add one (with `account = \"{}\"` for a non-default key) so shipdeck knows which API to ask",
                        key.account()
                    )
                })?;
            let resolved = stored_token(store, key).await?;
            let provider = crate::provider::fly::FlyProvider::with_token(
                crate::provider::fly::configured::settings_for(fly),
                resolved.value.expose().to_string(),
                config.ui.request_timeout.0,
                crate::provider::CallSink::discard(),
                crate::engine::Actor::current().describe(),
            );
            Ok((who_is(&provider).await?, resolved.origin))
        }
        CredentialKind::Railway => {
            let table = config
                .envs
                .iter()
                .filter_map(|e| e.railway.as_ref())
                .find(|t| {
                    crate::provider::railway::settings::credential_key(Some(t))
                        .ok()
                        .as_ref()
                        == Some(key)
                })
                .ok_or_else(|| {
                    format!(
                        "no [env.railway] in the config uses `{key}`; add one (with `account = \"{}\"` for a non-default key) so shipdeck knows which API to ask",
                        key.account()
                    )
                })?;
            let resolved = stored_token(store, key).await?;
            let provider = crate::provider::railway::RailwayProvider::new(
                crate::provider::railway::RailwaySettings::from_config(table),
                crate::provider::token::fixed_token(resolved.value.expose().to_string()),
                config.ui.request_timeout.0,
                crate::provider::CallSink::discard(),
            );
            Ok((who_is(&provider).await?, resolved.origin))
        }
        CredentialKind::Render => {
            let env = config
                .envs
                .iter()
                .filter(|e| e.provider == crate::config::ProviderKind::Render)
                .find(|e| {
                    crate::provider::render::settings::credential_key(e.render.as_ref())
                        .ok()
                        .as_ref()
                        == Some(key)
                })
                .ok_or_else(|| {
                    format!(
                        "no env with provider = \"render\" in the config uses `{key}`; add one (with `render = {{ account = \"{}\" }}` for a non-default key) so shipdeck knows which API to ask",
                        key.account()
                    )
                })?;
            let resolved = stored_token(store, key).await?;
            let provider = crate::provider::render::RenderProvider::new(
                crate::provider::render::RenderSettings::from_config(env.render.as_ref()),
                crate::provider::token::fixed_token(resolved.value.expose().to_string()),
                config.ui.request_timeout.0,
                crate::provider::CallSink::discard(),
            );
            Ok((who_is(&provider).await?, resolved.origin))
        }
        CredentialKind::GithubActions => {
            let env = config
                .envs
                .iter()
                .filter(|e| e.provider == crate::config::ProviderKind::GithubActions)
                .find(|e| {
                    crate::provider::github::settings::credential_key(e.github.as_ref())
                        .ok()
                        .as_ref()
                        == Some(key)
                })
                .ok_or_else(|| {
                    format!(
                        "no env with provider = \"github_actions\" in the config uses `{key}`; add one (with `github = {{ account = \"{}\", … }}` for a non-default key) so shipdeck knows which repository to ask",
                        key.account()
                    )
                })?;
            let resolved = stored_token(store, key).await?;
            let provider = crate::provider::github::GithubProvider::new(
                crate::provider::github::GithubSettings::from_config(env),
                crate::provider::token::fixed_token(resolved.value.expose().to_string()),
                config.ui.request_timeout.0,
                crate::provider::CallSink::discard(),
            );
            Ok((who_is(&provider).await?, resolved.origin))
        }
        other => Err(format!(
            "the {} client is not in this build yet; its token can be stored now and is used when it lands",
            other.as_str()
        )),
    }
}
