//! Release history: Fly's releases from GraphQL (paginated), merged with what
//! the machines really run. Fly only records releases that flyctl makes, so an
//! image shipdeck rolled out through the Machines API gets a synthesized entry
//! on top; nothing beyond what GraphQL and the machines say is invented.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::graphql::{self, Kind};
use super::model::{GqlRelease, Machine, digest_of};
use crate::domain::{Artifact, Release, ReleaseStatus};
use crate::provider::ProviderError;
use crate::provider::http::HttpClient;
use crate::sanitize::sanitize;

const FIELDS: &str =
    "id version description reason status imageRef stable user { email name } createdAt";
const PAGE: usize = 50;

#[derive(Deserialize)]
struct Data {
    app: Option<App>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct App {
    #[serde(default)]
    current_release_unprocessed: Option<GqlRelease>,
    releases_unprocessed: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    #[serde(default)]
    nodes: Vec<GqlRelease>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

/// Fly's releases, newest first (up to `limit`), and the id of Fly's current one.
pub async fn fetch(
    http: &HttpClient,
    url: &str,
    app: &str,
    limit: usize,
) -> Result<(Vec<GqlRelease>, Option<String>), ProviderError> {
    let query = format!(
        "query($appName: String!, $limit: Int!, $cursor: String) {{ app(name: $appName) {{ \
         currentReleaseUnprocessed {{ {FIELDS} }} \
         releasesUnprocessed(first: $limit, after: $cursor) {{ nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
    );
    let mut out = Vec::new();
    let mut current = None;
    let mut cursor: Option<String> = None;
    while out.len() < limit {
        let first = (limit - out.len()).min(PAGE);
        let vars = json!({ "appName": app, "limit": first, "cursor": cursor });
        let data: Data = graphql::run(http, url, Kind::Query, &query, vars).await?;
        let app_data = data.app.ok_or_else(|| ProviderError::NotFound {
            what: format!("Fly app {}", sanitize(app)),
        })?;
        if current.is_none() {
            current = app_data.current_release_unprocessed.map(|r| r.id);
        }
        let page = app_data.releases_unprocessed;
        out.extend(page.nodes);
        match page.page_info.end_cursor {
            Some(next) if page.page_info.has_next_page => cursor = Some(next),
            _ => break,
        }
    }
    out.truncate(limit);
    Ok((out, current))
}

/// Normalise Fly's releases and merge in what the machines run.
pub fn merge(
    fly: Vec<GqlRelease>,
    fly_current: Option<&str>,
    machines: &[Machine],
    limit: usize,
) -> Vec<Release> {
    let running = running_image(machines);
    // Which release is current: the one carrying the running image (Fly's current
    // preferred), else Fly's own word when no machine says otherwise.
    let current_id: Option<String> = match &running {
        Some(m) => fly
            .iter()
            .filter(|r| r.image_ref.as_deref().is_some_and(|i| m.runs(i)))
            .min_by_key(|r| {
                (
                    Some(r.id.as_str()) != fly_current,
                    std::cmp::Reverse(r.version),
                )
            })
            .map(|r| r.id.clone()),
        None => fly_current.map(str::to_string),
    };
    let mut out: Vec<Release> = fly
        .into_iter()
        .map(|r| {
            let current = Some(r.id.as_str()) == current_id.as_deref();
            let mut release = normalise(r, current);
            // The serving release names the exact image the machines run, with the
            // tag it was given and the digest Fly resolved, so promote deploys that
            // digest and the dialog still shows the tag.
            if current && let Some(image) = running.and_then(Machine::running_image) {
                release.artifact = Some(Artifact::Image(image));
            }
            release
        })
        .collect();
    if let (Some(m), None) = (&running, &current_id)
        && let Some(image) = m.shown_image()
    {
        out.insert(0, synthesized(m, &image));
        out.truncate(limit.max(1));
    }
    out
}

/// The image most machines run (ties: the most recently updated machine), as a machine.
fn running_image(machines: &[Machine]) -> Option<&Machine> {
    let mut best: Option<(&Machine, usize)> = None;
    for m in machines {
        let Some(image) = m.shown_image() else {
            continue;
        };
        let count = machines
            .iter()
            .filter(|o| o.shown_image().as_deref() == Some(image.as_str()))
            .count();
        let better = match best {
            None => true,
            Some((b, n)) => count > n || (count == n && m.updated_at > b.updated_at),
        };
        if better {
            best = Some((m, count));
        }
    }
    best.map(|(m, _)| m)
}

fn synthesized(m: &Machine, image: &str) -> Release {
    let created_at = m
        .updated_at
        .as_deref()
        .and_then(parse_time)
        .unwrap_or_else(Utc::now);
    Release {
        id: image_release_id(image, m.digest()),
        version: None,
        artifact: m.running_image().map(Artifact::Image),
        status: ReleaseStatus::Live,
        raw_status: "running".into(),
        author: None,
        description: "deployed through the Machines API".into(),
        created_at,
        current: true,
    }
}

/// `img:<12 hex of the digest>` (or of the reference when no digest is known).
pub fn image_release_id(image: &str, digest: Option<&str>) -> String {
    let raw = digest.or_else(|| digest_of(image)).unwrap_or(image);
    let hex = raw.rsplit(':').next().unwrap_or(raw);
    format!(
        "img:{}",
        sanitize(&hex.chars().take(12).collect::<String>())
    )
}

/// Fly's status words in shipdeck's vocabulary.
pub fn map_status(raw: &str, current: bool) -> ReleaseStatus {
    match raw.to_ascii_lowercase().as_str() {
        "complete" | "completed" | "succeeded" | "successful" => {
            if current {
                ReleaseStatus::Live
            } else {
                ReleaseStatus::Superseded
            }
        }
        "failed" | "interrupted" | "cancelled" | "canceled" | "timed_out" => ReleaseStatus::Failed,
        "running" | "pending" | "in_progress" | "deploying" => ReleaseStatus::Deploying,
        "created" | "queued" => ReleaseStatus::Pending,
        "reverted" | "rolled_back" => ReleaseStatus::RolledBack,
        _ if current => ReleaseStatus::Live,
        _ => ReleaseStatus::Superseded,
    }
}

fn normalise(r: GqlRelease, current: bool) -> Release {
    let raw = r.status.clone().unwrap_or_default();
    let description = match (r.description.as_deref(), r.reason.as_deref()) {
        (Some(d), _) if !d.trim().is_empty() => d,
        (_, Some(reason)) => reason,
        _ => "",
    };
    Release {
        id: sanitize(&r.id),
        version: r.version,
        artifact: r
            .image_ref
            .as_deref()
            .map(|i| Artifact::image(&sanitize(i))),
        status: map_status(&raw, current),
        raw_status: sanitize(&raw),
        author: r
            .user
            .as_ref()
            .and_then(|u| u.email.as_deref().or(u.name.as_deref()))
            .map(sanitize),
        description: sanitize(description),
        created_at: r
            .created_at
            .as_deref()
            .and_then(parse_time)
            .unwrap_or_default(),
        current,
    }
}

/// RFC 3339 → UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(v: u64, image: &str) -> GqlRelease {
        serde_json::from_value(json!({
            "id": format!("r{v}"), "version": v, "status": "complete", "imageRef": image,
            "createdAt": "2026-11-01T00:00:00Z", "user": {"email": "a@b"},
        }))
        .unwrap()
    }

    fn machine(image: &str) -> Machine {
        serde_json::from_value(json!({"id": "m", "state": "started", "config": {"image": image}}))
            .unwrap()
    }

    #[test]
    fn current_follows_the_machines() {
        let fly = vec![rel(2, "img:2"), rel(1, "img:1")];
        // Machines run v1's image again (an API rollback): v1 is current, not Fly's v2.
        let out = merge(
            fly.clone(),
            Some("r2"),
            &[machine("img:1"), machine("img:1")],
            10,
        );
        assert_eq!(out.len(), 2);
        assert!(!out[0].current && out[0].status == ReleaseStatus::Superseded);
        assert!(out[1].current && out[1].status == ReleaseStatus::Live);
        // No machines: Fly's word stands.
        let out = merge(fly.clone(), Some("r2"), &[], 10);
        assert!(out[0].current);
        // An image no release carries: a synthesized entry on top, within the limit.
        let out = merge(
            fly,
            Some("r2"),
            &[machine("reg/x@sha256:abcdef0123456789")],
            2,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id, "img:abcdef012345");
        assert!(out[0].current && !out[1].current);
    }

    #[test]
    fn maps_fly_statuses() {
        assert_eq!(map_status("complete", true), ReleaseStatus::Live);
        assert_eq!(map_status("succeeded", false), ReleaseStatus::Superseded);
        assert_eq!(map_status("failed", false), ReleaseStatus::Failed);
        assert_eq!(map_status("interrupted", false), ReleaseStatus::Failed);
        assert_eq!(map_status("running", false), ReleaseStatus::Deploying);
        assert_eq!(map_status("pending", false), ReleaseStatus::Deploying);
        assert_eq!(
            image_release_id("r/a@sha256:0123456789abcdef", None),
            "img:0123456789ab"
        );
    }
}
