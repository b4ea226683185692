//! Human durations in config files: `"500ms"`, `"5s"`, `"2m"`, `"1h"`.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A duration written the way people write them in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parse `"250ms"`, `"5s"`, `"1.5s"`, `"2m"` or `"1h"`.
    pub fn parse(text: &str) -> Result<HumanDuration, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num.parse().map_err(|_| {
            format!("`{text}` is not a duration; write it like \"500ms\", \"5s\" or \"2m\"")
        })?;
        let secs = match unit.trim() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            "" => {
                return Err(format!(
                    "`{text}` has no unit; write \"{text}s\" for seconds or \"{text}ms\" for milliseconds"
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}`; use ms, s, m or h"
                ));
            }
        };
        if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
            return Err(format!("`{text}` must be more than 0 and at most 24h"));
        }
        Ok(HumanDuration(Duration::from_secs_f64(secs)))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HumanDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        assert_eq!(
            HumanDuration::parse("500ms").unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!(
            HumanDuration::parse("2m").unwrap().0,
            Duration::from_secs(120)
        );
        assert_eq!(
            HumanDuration::parse("1.5s").unwrap().0,
            Duration::from_millis(1500)
        );
        assert!(HumanDuration::parse("5").unwrap_err().contains("no unit"));
        assert!(
            HumanDuration::parse("5d")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(HumanDuration::parse("0s").is_err());
        assert!(HumanDuration::parse("fast").is_err());
    }
}
