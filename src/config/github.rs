//! `[env.github]` and a service's `github = { … }`: which repository's
//! workflow deploys an env, and the workflow inputs shipdeck fills in from
//! the plan (`image = "{artifact.image}"`). The input templates are parsed
//! here, so a typo is a config error with its line and column, not a 422
//! from GitHub in the middle of a promotion.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::HumanDuration;

/// `[env.github]`: the repository and deploy workflow behind an env.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubEnv {
    /// `owner/name` of the repository whose workflow deploys.
    #[serde(default)]
    pub repo: String,
    /// The deploy workflow: its file name (`deploy.yml`) or numeric id.
    #[serde(default)]
    pub workflow: String,
    /// The branch or tag the workflow file is taken from (default `main`).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// Workflow inputs, templated from the plan (see [`PLACEHOLDERS`]).
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// The GitHub environment whose deployments are the history and whose
    /// secrets are the env's (default: the env's name).
    #[serde(default)]
    pub environment: Option<String>,
    /// Which stored token to use: keyring key `github:ACCOUNT` (default `github`).
    #[serde(default)]
    pub account: Option<String>,
    /// REST API base (default `https://api.github.com`; GitHub Enterprise: `https://HOST/api/v3`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Longest one workflow run may take (default 60m); then it is cancelled.
    #[serde(default)]
    pub wait_timeout: Option<HumanDuration>,
    /// Pause between two looks at a running workflow (default 5s).
    #[serde(default)]
    pub poll_interval: Option<HumanDuration>,
}

/// `github = { inputs = { component = "backend" } }` on a service: the
/// service deploys by its own run of the workflow with these extra inputs
/// (a "Deploy Staged" workflow's backend / frontend choice).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceGithub {
    /// Another workflow than the env's, for this service.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Inputs added to (and overriding) the env's.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

/// A value a workflow input template can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{env}`: shipdeck's env name.
    Env,
    /// `{service}`: the service being deployed (empty for a whole-env deploy).
    Service,
    /// `{environment}`: the GitHub environment name.
    Environment,
    /// `{artifact.image}`: the full image reference (`repo:tag@digest`).
    Image,
    /// `{artifact.tag}`: the image tag.
    Tag,
    /// `{artifact.digest}`: the image digest.
    Digest,
    /// `{artifact.commit}`: the commit SHA.
    Commit,
}

impl Placeholder {
    /// Whether it names a part of the artifact (so the run knows what to deploy).
    pub fn is_artifact(self) -> bool {
        matches!(
            self,
            Placeholder::Image | Placeholder::Tag | Placeholder::Digest | Placeholder::Commit
        )
    }
}

/// Every placeholder, as written in a template.
pub const PLACEHOLDERS: [(&str, Placeholder); 7] = [
    ("env", Placeholder::Env),
    ("service", Placeholder::Service),
    ("environment", Placeholder::Environment),
    ("artifact.image", Placeholder::Image),
    ("artifact.tag", Placeholder::Tag),
    ("artifact.digest", Placeholder::Digest),
    ("artifact.commit", Placeholder::Commit),
];

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text kept as written.
    Text(String),
    /// A value filled in from the plan.
    Value(Placeholder),
}

/// Parse an input template: text with `{placeholder}`s. The error says
/// what is wrong in words fit for a config message.
pub fn parse_template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("`{text}` opens a `{{` that is never closed"));
        };
        let name = after[..close].trim();
        let Some((_, p)) = PLACEHOLDERS.iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "`{{{name}}}` in `{text}` is not a value shipdeck knows"
            ));
        };
        pieces.push(Piece::Value(*p));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("`{text}` closes a `}}` that was never opened"));
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// The placeholders a user may write, for hints.
pub fn placeholder_list() -> String {
    PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `repo` is not `owner/name`, or None.
pub fn repo_problem(repo: &str) -> Option<&'static str> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && p != "."
            && p != ".."
    };
    match repo.split_once('/') {
        None if repo.is_empty() => Some("it is empty"),
        None => Some("it has no `/` between owner and name"),
        Some((owner, name)) if ok_part(owner) && ok_part(name) => None,
        Some(_) => Some("owner and name may only hold letters, digits, `-`, `_` and `.`"),
    }
}

/// Why `workflow` cannot name a workflow, or None: a file name
/// (`deploy.yml`) or a numeric id, never a path.
pub fn workflow_problem(workflow: &str) -> Option<&'static str> {
    if workflow.is_empty() {
        Some("it is empty")
    } else if workflow.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else if workflow.contains('/') {
        Some("give the file name alone, not a path")
    } else if !(workflow.ends_with(".yml") || workflow.ends_with(".yaml")) {
        Some("it is neither a `.yml` file name nor a numeric id")
    } else {
        None
    }
}

/// One thing wrong with an env's GitHub settings, for the config error.
#[derive(Debug)]
pub(super) struct Problem {
    /// Where (None: at the env's name).
    pub span: Option<std::ops::Range<usize>>,
    /// The dotted field.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// The first problem with env `i`'s GitHub settings, or None.
pub(super) fn check_env(env: &super::EnvConfig, i: usize) -> Option<Problem> {
    use super::ProviderKind;
    let name = env.name();
    let problem = |field: String, message: String, hint: String| {
        Some(Problem {
            span: None,
            field,
            message,
            hint,
        })
    };
    if let Some(m) = &env.migrations
        && m.tool == super::MigrationTool::GithubActions
    {
        let field = format!("env[{i}].migrations");
        if env.provider != ProviderKind::GithubActions {
            return problem(
                field,
                format!(
                    "env `{name}` runs migrations with tool = \"github_actions\" but uses provider \"{}\"",
                    env.provider.label()
                ),
                "migration workflows are dispatched by the env's GitHub client: set `provider = \"github_actions\"` with a [env.github] table, or use another tool".into(),
            );
        }
        let Some(workflow) = &m.workflow else {
            return problem(
                format!("{field}.workflow"),
                format!("env `{name}` runs migrations with tool = \"github_actions\" but names no workflow"),
                "add e.g. `workflow = \"migrate.yml\"` and its `inputs = { environment = \"{environment}\" }`".into(),
            );
        };
        if let Some(why) = workflow_problem(workflow) {
            return problem(
                format!("{field}.workflow"),
                format!("`{workflow}` cannot name a workflow ({why})"),
                "name the workflow file in .github/workflows, e.g. `workflow = \"migrate.yml\"`"
                    .into(),
            );
        }
        if let Some((key, why)) = m
            .inputs
            .iter()
            .find_map(|(k, v)| parse_template(v).err().map(|e| (k, e)))
        {
            return problem(
                format!("{field}.inputs.{key}"),
                why,
                format!("use one of {}", placeholder_list()),
            );
        }
    }
    let table = match (&env.github, env.provider) {
        (None, ProviderKind::GithubActions) => {
            return problem(
                format!("env[{i}].github"),
                format!("env `{name}` uses provider \"github_actions\" but has no [env.github] table"),
                "add `github = { repo = \"owner/name\", workflow = \"deploy.yml\", inputs = { environment = \"{env}\", sha = \"{artifact.commit}\" } }`".into(),
            );
        }
        (Some(_), kind) if kind != ProviderKind::GithubActions => {
            return problem(
                format!("env[{i}].github"),
                format!(
                    "env `{name}` has a [env.github] table but uses provider \"{}\"",
                    kind.label()
                ),
                "set `provider = \"github_actions\"`, or remove the [env.github] table".into(),
            );
        }
        (Some(t), _) => t,
        (None, _) => {
            let (j, svc) = env
                .services
                .iter()
                .enumerate()
                .find(|(_, s)| s.github.is_some())?;
            return Some(Problem {
                span: svc.github.as_ref().map(|g| g.span()),
                field: format!("env[{i}].service[{j}].github"),
                message: format!(
                    "service `{}` names a GitHub workflow but env `{name}` uses provider \"{}\"",
                    svc.name(),
                    env.provider.label()
                ),
                hint: "remove `github = { … }` from the service, or set the env's `provider = \"github_actions\"`".into(),
            });
        }
    };
    if let Some(account) = table.account.as_deref()
        && let Some(why) = super::account_name_problem(account)
    {
        return problem(
            format!("env[{i}].github.account"),
            format!("`github:{account}` is not a credential name ({why})"),
            "use letters, digits, `-` or `_`, e.g. `account = \"deploy-bot\"`".into(),
        );
    }
    if let Some(why) = repo_problem(&table.repo) {
        return problem(
            format!("env[{i}].github.repo"),
            format!("`{}` is not a GitHub repository ({why})", table.repo),
            "write it as `owner/name`, e.g. `repo = \"acme/kaiwa\"`".into(),
        );
    }
    let workflow_hint =
        "name the workflow file in .github/workflows, e.g. `workflow = \"deploy.yml\"`";
    if let Some(why) = workflow_problem(&table.workflow) {
        return problem(
            format!("env[{i}].github.workflow"),
            format!("`{}` cannot name a workflow ({why})", table.workflow),
            workflow_hint.into(),
        );
    }
    let template_problem = |field: String, inputs: &BTreeMap<String, String>| {
        inputs.iter().find_map(|(key, text)| {
            parse_template(text).err().map(|why| Problem {
                span: None,
                field: format!("{field}.inputs.{key}"),
                message: why,
                hint: format!("use one of {}", placeholder_list()),
            })
        })
    };
    if let Some(p) = template_problem(format!("env[{i}].github"), &table.inputs) {
        return Some(p);
    }
    let names_artifact = |inputs: &[&BTreeMap<String, String>]| {
        let mut merged: BTreeMap<&str, &str> = BTreeMap::new();
        for map in inputs {
            for (k, v) in *map {
                merged.insert(k, v);
            }
        }
        merged.values().any(|text| {
            parse_template(text)
                .unwrap_or_default()
                .iter()
                .any(|p| matches!(p, Piece::Value(v) if v.is_artifact()))
        })
    };
    let artifact_hint = "add an input that carries it, e.g. `image = \"{artifact.image}\"` or `sha = \"{artifact.commit}\"`";
    for (j, svc) in env.services.iter().enumerate() {
        let Some(own) = &svc.github else { continue };
        let field = format!("env[{i}].service[{j}].github");
        if let Some(w) = &own.get_ref().workflow
            && let Some(why) = workflow_problem(w)
        {
            return Some(Problem {
                span: Some(own.span()),
                field: format!("{field}.workflow"),
                message: format!("`{w}` cannot name a workflow ({why})"),
                hint: workflow_hint.into(),
            });
        }
        if let Some(mut p) = template_problem(field.clone(), &own.get_ref().inputs) {
            p.span = Some(own.span());
            return Some(p);
        }
        if !names_artifact(&[&table.inputs, &own.get_ref().inputs]) {
            return Some(Problem {
                span: Some(own.span()),
                field: format!("{field}.inputs"),
                message: format!(
                    "the workflow inputs of service `{}` never name the artifact, so its run cannot know what to deploy",
                    svc.name()
                ),
                hint: artifact_hint.into(),
            });
        }
    }
    if (env.services.is_empty() || env.services.iter().any(|s| s.github.is_none()))
        && !names_artifact(&[&table.inputs])
    {
        return problem(
            format!("env[{i}].github.inputs"),
            format!(
                "the workflow inputs of env `{name}` never name the artifact, so a run cannot know what to deploy"
            ),
            artifact_hint.into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_into_text_and_values() {
        assert_eq!(
            parse_template("ghcr.io/x:{artifact.tag}").unwrap(),
            vec![
                Piece::Text("ghcr.io/x:".into()),
                Piece::Value(Placeholder::Tag)
            ]
        );
        assert_eq!(
            parse_template("backend").unwrap(),
            vec![Piece::Text("backend".into())]
        );
        assert_eq!(parse_template("").unwrap(), vec![]);
        assert_eq!(
            parse_template("{ env }-{service}").unwrap(),
            vec![
                Piece::Value(Placeholder::Env),
                Piece::Text("-".into()),
                Piece::Value(Placeholder::Service)
            ]
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert!(
            parse_template("{artifact.imag}")
                .unwrap_err()
                .contains("`{artifact.imag}`")
        );
        assert!(parse_template("{env").unwrap_err().contains("never closed"));
        assert!(parse_template("env}").unwrap_err().contains("never opened"));
        assert!(placeholder_list().contains("{artifact.commit}"));
    }

    #[test]
    fn repos_and_workflows_are_checked() {
        assert_eq!(repo_problem("acme/kaiwa"), None);
        assert_eq!(repo_problem("acme/kaiwa.v2"), None);
        assert!(repo_problem("kaiwa").is_some());
        assert!(repo_problem("acme/kai wa").is_some());
        assert!(repo_problem("").is_some());
        assert_eq!(workflow_problem("deploy.yml"), None);
        assert_eq!(workflow_problem("161335"), None);
        assert!(workflow_problem(".github/workflows/deploy.yml").is_some());
        assert!(workflow_problem("Deploy").is_some());
    }
}
