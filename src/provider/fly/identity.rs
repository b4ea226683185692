//! `whoami`: the identity a token stands for. User tokens have a GraphQL
//! `viewer`; deploy and org tokens (macaroons) have none, so the fallback
//! proves the token by reading the app it is scoped to.

use serde::Deserialize;
use serde_json::json;

use super::graphql::{self, Kind};
use crate::provider::ProviderError;
use crate::provider::http::HttpClient;
use crate::sanitize::sanitize;

/// The viewer's e-mail, else `token for app APP (org ORG)`.
pub async fn whoami(http: &HttpClient, url: &str, app: &str) -> Result<String, ProviderError> {
    #[derive(Deserialize)]
    struct Viewer {
        viewer: Option<Email>,
    }
    #[derive(Deserialize)]
    struct Email {
        email: Option<String>,
    }
    #[derive(Deserialize)]
    struct AppData {
        app: Option<AppInfo>,
    }
    #[derive(Deserialize)]
    struct AppInfo {
        name: String,
        organization: Option<Org>,
    }
    #[derive(Deserialize)]
    struct Org {
        slug: String,
    }
    let viewer = graphql::run::<Viewer>(
        http,
        url,
        Kind::Query,
        "query { viewer { email } }",
        json!({}),
    )
    .await;
    match viewer {
        Ok(Viewer {
            viewer: Some(Email { email: Some(email) }),
        }) => return Ok(sanitize(&email)),
        // Deploy and org tokens have no viewer: prove the token on the app instead.
        Ok(_) | Err(ProviderError::Remote { .. } | ProviderError::Auth { .. }) => {}
        Err(e) => return Err(e),
    }
    let data: AppData = graphql::run(
        http,
        url,
        Kind::Query,
        "query($appName: String!) { app(name: $appName) { name organization { slug } } }",
        json!({ "appName": app }),
    )
    .await?;
    let found = data.app.ok_or_else(|| ProviderError::NotFound {
        what: format!("Fly app {}", sanitize(app)),
    })?;
    let org = found
        .organization
        .map(|o| o.slug)
        .unwrap_or_else(|| "unknown".into());
    Ok(format!(
        "token for app {} (org {})",
        sanitize(&found.name),
        sanitize(&org)
    ))
}
