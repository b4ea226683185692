//! Filling a workflow's inputs from the plan: the env's and the service's
//! templates (`image = "{artifact.image}"`), rendered for one artifact.
//! GitHub takes every input as a string.

use std::collections::BTreeMap;

use crate::config::{Piece, Placeholder, parse_template};
use crate::domain::Artifact;

/// What the templates can refer to.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// shipdeck's env name.
    pub env: &'a str,
    /// The service deployed (None: the env as a whole).
    pub service: Option<&'a str>,
    /// The GitHub environment.
    pub environment: &'a str,
    /// What is deployed (None: a task outside a deploy).
    pub artifact: Option<&'a Artifact>,
}

impl Context<'_> {
    fn value(&self, p: Placeholder) -> String {
        let image = self.artifact.and_then(Artifact::as_image);
        match p {
            Placeholder::Env => self.env.to_string(),
            Placeholder::Service => self.service.unwrap_or_default().to_string(),
            Placeholder::Environment => self.environment.to_string(),
            Placeholder::Image => image.map(|i| i.full()).unwrap_or_default(),
            Placeholder::Tag => image.and_then(|i| i.tag.clone()).unwrap_or_default(),
            Placeholder::Digest => image.and_then(|i| i.digest.clone()).unwrap_or_default(),
            Placeholder::Commit => match self.artifact {
                Some(Artifact::Commit(c)) => c.sha.clone(),
                _ => String::new(),
            },
        }
    }
}

/// The inputs for one run, or why the templates cannot carry this artifact
/// (every artifact placeholder came out empty: an image deployed through
/// inputs that only take a commit).
pub fn render(
    templates: &BTreeMap<String, String>,
    ctx: &Context<'_>,
) -> Result<BTreeMap<String, String>, String> {
    let (out, carried) = fill(templates, ctx)?;
    match ctx.artifact {
        Some(artifact) if !carried => Err(format!(
            "the workflow inputs ({}) take no part of {} `{}`; add an input for it, e.g. `image = \"{{artifact.image}}\"` or `sha = \"{{artifact.commit}}\"`",
            templates.keys().cloned().collect::<Vec<_>>().join(", "),
            artifact.kind().label(),
            artifact.short()
        )),
        _ => Ok(out),
    }
}

/// The inputs with every placeholder filled, and whether a part of the
/// artifact went into them.
pub fn fill(
    templates: &BTreeMap<String, String>,
    ctx: &Context<'_>,
) -> Result<(BTreeMap<String, String>, bool), String> {
    let mut out = BTreeMap::new();
    let mut carried = false;
    for (key, text) in templates {
        // Config validation parsed every template already.
        let pieces = parse_template(text).map_err(|e| format!("input `{key}`: {e}"))?;
        let mut value = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => value.push_str(&t),
                Piece::Value(p) => {
                    let v = ctx.value(p);
                    carried |= p.is_artifact() && !v.is_empty();
                    value.push_str(&v);
                }
            }
        }
        out.insert(key.clone(), value);
    }
    Ok((out, carried))
}

/// The input that carries the image reference, if any (where a deploy
/// workflow's deployment payload holds it).
pub fn image_input(templates: &BTreeMap<String, String>) -> Option<&str> {
    templates.iter().find_map(|(k, v)| {
        (parse_template(v).ok()? == [Piece::Value(Placeholder::Image)]).then_some(k.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_image_fills_image_parts_and_leaves_the_commit_empty() {
        let t = templates(&[
            ("environment", "{environment}"),
            ("image", "{artifact.image}"),
            ("sha", "{artifact.commit}"),
            ("component", "backend-{service}"),
        ]);
        let artifact = Artifact::image("ghcr.io/acme/api:v42@sha256:abc");
        let ctx = Context {
            env: "production",
            service: Some("api"),
            environment: "prod",
            artifact: Some(&artifact),
        };
        let got = render(&t, &ctx).unwrap();
        assert_eq!(got["environment"], "prod");
        assert_eq!(got["image"], "ghcr.io/acme/api:v42@sha256:abc");
        assert_eq!(got["sha"], "");
        assert_eq!(got["component"], "backend-api");
        assert_eq!(image_input(&t), Some("image"));
    }

    #[test]
    fn an_artifact_no_input_carries_is_refused_before_dispatch() {
        let t = templates(&[("sha", "{artifact.commit}")]);
        let artifact = Artifact::image("ghcr.io/acme/api:v42");
        let ctx = Context {
            env: "staging",
            service: None,
            environment: "staging",
            artifact: Some(&artifact),
        };
        let err = render(&t, &ctx).unwrap_err();
        assert!(err.contains("take no part of image"), "{err}");
        assert!(err.contains("{artifact.image}"), "{err}");
        assert_eq!(image_input(&t), None);
    }
}
