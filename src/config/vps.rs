//! `[env.vps]` and a service's `vps = { … }`: which host an env's services
//! run on, how shipdeck reaches it (the system `ssh` client, or this
//! machine), and where each systemd service keeps its releases. Paths and
//! names are checked here, so a typo is a config error with its line, not a
//! failed command in the middle of a promotion.

use serde::Deserialize;

use super::duration::HumanDuration;
use super::github::Problem;

/// `[env.vps]`: the host behind an env.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpsEnv {
    /// `user@host` (or a `Host` alias of `~/.ssh/config`); omitted or
    /// `"local"` runs the commands on this machine.
    #[serde(default)]
    pub host: Option<String>,
    /// The ssh port (default: ssh's own, 22 or the ssh config's).
    #[serde(default)]
    pub port: Option<u16>,
    /// The private key to log in with (default: the agent and ssh's defaults).
    #[serde(default)]
    pub identity_file: Option<String>,
    /// The known_hosts file holding the host's key (default: ssh's own).
    /// An unknown or changed host key is always refused.
    #[serde(default)]
    pub known_hosts: Option<String>,
    /// Run `systemctl` through `sudo -n` (the deploy user's sudoers entry).
    #[serde(default)]
    pub sudo: bool,
    /// Longest one remote command may run (default 60s).
    #[serde(default)]
    pub command_timeout: Option<HumanDuration>,
    /// Releases kept on the host per service, the current one included (default 5).
    #[serde(default)]
    pub keep_releases: Option<usize>,
    /// The lock file on the host that two operators' deploys share
    /// (default `/tmp/shipdeck-ENV.lock`).
    #[serde(default)]
    pub lock_file: Option<String>,
    /// How Compose is run there: `docker compose` (v2, default) or
    /// `docker-compose` (v1).
    #[serde(default)]
    pub compose_command: Option<String>,
}

/// `vps = { systemd = "api", dir = "/opt/api" }` on a service: a systemd
/// unit whose releases live in `DIR/releases/VERSION/BINARY`, the running
/// one linked as `DIR/current`; or `vps = { compose = "web", dir =
/// "/opt/app", image_var = "WEB_IMAGE" }`: a Docker Compose service of the
/// project in `dir` whose compose file reads its image from that variable.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceVps {
    /// The systemd unit (`psychic-homily-backend` or `….service`).
    #[serde(default)]
    pub systemd: Option<String>,
    /// The app's folder on the host (absolute).
    #[serde(default)]
    pub dir: Option<String>,
    /// The binary's file name in a release (default: the service's name).
    #[serde(default)]
    pub binary: Option<String>,
    /// The env file the unit reads (`EnvironmentFile=`), relative to `dir`
    /// or absolute: the service's secrets.
    #[serde(default)]
    pub env_file: Option<String>,
    /// Longest to wait for the unit to be active after a restart (default 60s).
    #[serde(default)]
    pub start_timeout: Option<HumanDuration>,
    /// Where a systemd service's releases are: `"releases"` (default:
    /// `DIR/releases/NAME/BINARY`, `DIR/current` the running one) or
    /// `"backups"` (seed 002: the running `DIR/BINARY`, earlier ones as
    /// `DIR/backups/BINARY.backup.YYYYMMDD_HHMMSS`).
    #[serde(default)]
    pub layout: Option<VpsLayout>,
    /// A Docker Compose service of the project in `dir`, instead of a systemd unit.
    #[serde(default)]
    pub compose: Option<String>,
    /// The compose file, relative to `dir` (default `docker-compose.yml`).
    #[serde(default)]
    pub compose_file: Option<String>,
    /// The Compose project name (`-p`; default: Compose's own).
    #[serde(default)]
    pub project: Option<String>,
    /// The variable the compose file takes the service's image from
    /// (`image: ${WEB_IMAGE}`), set by shipdeck in `DIR/.env`.
    #[serde(default)]
    pub image_var: Option<String>,
    /// Pull the image before bringing the service up (default true; false
    /// for images built or loaded on the host).
    #[serde(default)]
    pub pull: Option<bool>,
}

/// How a systemd service keeps its releases on the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VpsLayout {
    /// `DIR/releases/NAME/BINARY`, `DIR/current` a symlink to the running one.
    #[default]
    Releases,
    /// `DIR/BINARY` runs; `DIR/backups/BINARY.backup.STAMP` are the earlier ones.
    Backups,
}

/// Why `name` cannot be a file name shipdeck writes on the host, or None.
pub fn file_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." || name.contains('/') {
        Some("it must be a plain file name, without `/`")
    } else if name.chars().any(char::is_control) {
        Some("it holds a control character")
    } else {
        None
    }
}

/// The first problem with env `i`'s VPS settings, or None.
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
    if env.vps.is_some() && env.provider != ProviderKind::Vps {
        return problem(
            format!("env[{i}].vps"),
            format!(
                "env `{name}` has a [env.vps] table but uses provider \"{}\"",
                env.provider.label()
            ),
            "set `provider = \"vps\"`, or remove the [env.vps] table".into(),
        );
    }
    if let Some(v) = &env.vps {
        if let Some(command) = &v.compose_command
            && crate::shell::split_words(command).map_or(true, |w| w.is_empty())
        {
            return problem(
                format!("env[{i}].vps.compose_command"),
                format!("compose_command `{command}` is not a command"),
                "write `docker compose` (v2) or `docker-compose` (v1)".into(),
            );
        }
        if let Some(host) = &v.host
            && (host.is_empty()
                || host.starts_with('-')
                || host.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return problem(
                format!("env[{i}].vps.host"),
                format!("`{host}` is not an ssh destination"),
                "write `user@host` or a Host alias from ~/.ssh/config, e.g. `host = \"deploy@203.0.113.10\"`; omit it to run on this machine".into(),
            );
        }
        if v.keep_releases == Some(0) || v.keep_releases == Some(1) {
            return problem(
                format!("env[{i}].vps.keep_releases"),
                "keep_releases must be at least 2".into(),
                "keep the current release and at least one to roll back to, e.g. `keep_releases = 5`".into(),
            );
        }
        if let Some(lock) = &v.lock_file
            && !lock.starts_with('/')
        {
            return problem(
                format!("env[{i}].vps.lock_file"),
                format!("lock_file `{lock}` is not an absolute path"),
                "give the path on the host, e.g. `lock_file = \"/opt/app/.shipdeck.lock\"`".into(),
            );
        }
    }
    for (j, svc) in env.services.iter().enumerate() {
        let Some(spanned) = &svc.vps else { continue };
        let field = format!("env[{i}].service[{j}].vps");
        let found = |message: String, hint: &str| {
            Some(Problem {
                span: Some(spanned.span()),
                field: field.clone(),
                message,
                hint: hint.to_string(),
            })
        };
        if env.provider != ProviderKind::Vps {
            return found(
                format!(
                    "service `{}` has `vps = {{ … }}` but env `{name}` uses provider \"{}\"",
                    svc.name(),
                    env.provider.label()
                ),
                "set `provider = \"vps\"` on the env, or remove `vps` from the service",
            );
        }
        let v = spanned.get_ref();
        let unit = match (&v.systemd, &v.compose) {
            (Some(_), Some(_)) => {
                return found(
                    format!(
                        "service `{}` names both a systemd unit and a compose service",
                        svc.name()
                    ),
                    "keep one: `systemd = \"UNIT\"` for a binary, `compose = \"SERVICE\"` for a container",
                );
            }
            (None, None) => {
                return found(
                    format!(
                        "service `{}` names no systemd unit or compose service",
                        svc.name()
                    ),
                    "add `systemd = \"UNIT\"` and `dir = \"/opt/app\"`, e.g. `vps = { systemd = \"api\", dir = \"/opt/api\" }`, or `compose = \"web\"` with `dir` and `image_var`",
                );
            }
            (Some(unit), None) => unit,
            (None, Some(service)) => service,
        };
        if v.compose.is_some() {
            match &v.image_var {
                None => {
                    return found(
                        format!("compose service `{unit}` has no `image_var`"),
                        "name the variable its compose file reads the image from (`image: ${WEB_IMAGE}`), e.g. `image_var = \"WEB_IMAGE\"`",
                    );
                }
                Some(var) if !crate::shell::is_variable_name(var) => {
                    return found(
                        format!("image_var `{var}` is not a variable name"),
                        "use letters, digits and `_`, e.g. `image_var = \"WEB_IMAGE\"`",
                    );
                }
                _ => {}
            }
        }
        if unit.is_empty()
            || unit.starts_with('-')
            || unit.contains('/')
            || unit.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return found(
                format!("`{unit}` is not a systemd unit or compose service name"),
                "name it as `systemctl status` or the compose file does, e.g. `systemd = \"psychic-homily-backend\"`",
            );
        }
        match &v.dir {
            None => {
                return found(
                    format!("service `{}` has no `dir`", svc.name()),
                    "name the app's folder on the host, e.g. `dir = \"/opt/psychic-homily-backend\"`: releases go in DIR/releases, the running one is DIR/current",
                );
            }
            Some(dir) if !dir.starts_with('/') || dir.chars().any(char::is_control) => {
                return found(
                    format!("dir `{dir}` is not an absolute path"),
                    "give the app's folder on the host from `/`, e.g. `dir = \"/opt/api\"`",
                );
            }
            _ => {}
        }
        if let Some(binary) = &v.binary
            && let Some(why) = file_name_problem(binary)
        {
            return found(
                format!("binary `{binary}` cannot name the release's file ({why})"),
                "give the binary's file name inside a release, e.g. `binary = \"psychic-homily-backend\"`",
            );
        }
        if let Some(file) = &v.env_file
            && (file.is_empty() || file.ends_with('/') || file.chars().any(char::is_control))
        {
            return found(
                format!("env_file `{file}` is not a file path"),
                "name the env file the unit reads, e.g. `env_file = \".env.production\"`",
            );
        }
    }
    if env.provider == ProviderKind::Vps
        && let Some(svc) = env
            .services
            .iter()
            .find(|s| s.vps.is_none() && env.services.iter().any(|o| o.vps.is_some()))
    {
        return problem(
            format!("env[{i}].service"),
            format!(
                "service `{}` of env `{name}` has no `vps = {{ … }}` while others do",
                svc.name()
            ),
            "give it `vps = { systemd = \"UNIT\", dir = \"/opt/app\" }`, or move it to another env"
                .into(),
        );
    }
    None
}
