//! Where a provider client's token comes from: produced on the first call
//! (never when the client is built), from the environment override
//! (`SHIPDECK_FLY_TOKEN`, `SHIPDECK_RENDER_TOKEN`, … for CI) or else the OS
//! keyring. A missing token is an error naming the command that stores one.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::credentials::{CredentialKey, Credentials, EnvSource, env_var_name};
use crate::provider::ProviderError;

/// Produces the token on demand (keyring, env var, prompt); called on the first API call.
pub type TokenSource =
    Arc<dyn Fn() -> BoxFuture<'static, Result<String, ProviderError>> + Send + Sync>;

/// The keyring key of a provider's token: `KIND:ACCOUNT`, `KIND` (the
/// default account) when the config names none.
pub fn credential_key(
    kind: crate::credentials::CredentialKind,
    account: Option<&str>,
) -> Result<CredentialKey, ProviderError> {
    let account = account.unwrap_or(crate::credentials::DEFAULT_ACCOUNT);
    CredentialKey::provider(kind, account).map_err(|e| ProviderError::Credential {
        provider: kind.to_string(),
        reason: e.to_string(),
    })
}

/// A token source reading `key` from the credential store when first needed.
pub fn stored_token(key: CredentialKey, state_dir: PathBuf) -> TokenSource {
    Arc::new(move || {
        let (key, state_dir) = (key.clone(), state_dir.clone());
        Box::pin(async move {
            let missing = |why: String| ProviderError::Credential {
                provider: key.kind().to_string(),
                reason: format!(
                    "{why}; run `shipdeck auth set {key}` (or set {})",
                    env_var_name(&key)
                ),
            };
            // The environment override needs no keyring at all (CI).
            if let Some((_, value)) = EnvSource::Process.secret_for(&key) {
                return Ok(value.expose().to_string());
            }
            let store = Credentials::open_async(state_dir)
                .await
                .map_err(|e| missing(format!("the keyring is unavailable ({e})")))?;
            match store.get_async(&key).await {
                Ok(Some(found)) => Ok(found.value.expose().to_string()),
                Ok(None) => Err(missing(format!("no token stored as `{key}`"))),
                Err(e) => Err(missing(e.to_string())),
            }
        })
    })
}

/// Call `source` for a client's first request: the token trimmed, refused
/// when empty (naming the command that stores one), and remembered so any
/// text shipdeck shows from then on has it redacted.
pub async fn resolve(
    source: &TokenSource,
    provider: &str,
) -> Result<crate::secrets::SecretValue, ProviderError> {
    let raw = crate::secrets::SecretValue::new(source().await?.trim().to_string());
    if raw.expose().is_empty() {
        return Err(ProviderError::Credential {
            provider: provider.into(),
            reason: format!("the stored token is empty; run `shipdeck auth set {provider}`"),
        });
    }
    crate::redact::remember(&raw);
    Ok(raw)
}

/// A token source for a token already in hand (tests, `auth test`).
pub fn fixed_token(token: String) -> TokenSource {
    let token = crate::secrets::SecretValue::new(token);
    Arc::new(move || {
        let token = token.expose().to_string();
        Box::pin(async move { Ok(token) })
    })
}
