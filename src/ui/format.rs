//! Small text formatters shared by the panels.

use chrono::{DateTime, Utc};
use ratatui::style::Style;

use super::theme::{Role, Theme};
use crate::domain::{Health, ReleaseStatus};
use crate::health::health_json::CheckStatus;

/// `42s`, `5m`, `3h`, `2d` ago.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A text sparkline over the last `width` samples.
pub fn sparkline(
    samples: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator,
    width: usize,
) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let skip = samples.len().saturating_sub(width);
    let values: Vec<u64> = samples.skip(skip).collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|v| BARS[((*v * 7) / max) as usize])
        .collect()
}

/// Style for a health state.
pub fn health_style(theme: &Theme, health: Health) -> Style {
    theme.style(match health {
        Health::Healthy => Role::Ok,
        Health::Progressing => Role::Running,
        Health::Degraded | Health::Missing => Role::Error,
        Health::Suspended | Health::Unknown => Role::Warn,
    })
}

/// Style for a check status.
pub fn check_style(theme: &Theme, status: CheckStatus) -> Style {
    theme.style(match status {
        CheckStatus::Pass => Role::Ok,
        CheckStatus::Warn => Role::Warn,
        CheckStatus::Fail => Role::Error,
        CheckStatus::Unknown => Role::Muted,
    })
}

/// Style for a release status.
pub fn release_style(theme: &Theme, status: ReleaseStatus) -> Style {
    theme.style(match status {
        ReleaseStatus::Live => Role::Ok,
        ReleaseStatus::Deploying | ReleaseStatus::Pending => Role::Running,
        ReleaseStatus::Failed | ReleaseStatus::RolledBack => Role::Error,
        ReleaseStatus::Superseded => Role::Muted,
    })
}

/// `ghcr.io/acme/shop:2026.11.44@sha256:abcdef…` → `shop:2026.11.44@abcdef12`.
pub fn short_image(image: &str) -> String {
    let (name, digest) = match image.split_once("@sha256:") {
        Some((n, d)) => (n, Some(&d[..d.len().min(8)])),
        None => (image, None),
    };
    let name = name.rsplit('/').next().unwrap_or(name);
    match digest {
        Some(d) => format!("{name}@{d}"),
        None => name.to_string(),
    }
}

/// `0.07%`, or `no traffic`.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        None => "no traffic".into(),
        Some(r) if r * 100.0 < 0.01 && r > 0.0 => "<0.01%".into(),
        Some(r) => format!("{:.2}%", r * 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_short() {
        let now = Utc::now();
        assert_eq!(age(now, now - chrono::Duration::minutes(5)), "5m");
        assert_eq!(sparkline([0u64, 7, 14].into_iter(), 10), "▁▄█");
        assert_eq!(
            short_image("ghcr.io/acme/shop:1.2@sha256:0123456789abcdef"),
            "shop:1.2@01234567"
        );
        assert_eq!(percent(None), "no traffic");
        assert_eq!(percent(Some(0.0712)), "7.12%");
    }
}
