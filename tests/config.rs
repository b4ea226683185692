//! Every bad config gets an error that names the file, line:col and the field;
//! the documented example and the embedded demo load.

use std::path::Path;

use shipdeck::config::{Config, ConfigError};

/// (fixture, line:col, field, words the message must contain)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "unknown_ui_key.toml",
        "3:1",
        "`refresh`",
        "unknown field `refresh`",
    ),
    (
        "wrong_type_protected.toml",
        "4:13",
        "`env.protected`",
        "expected a boolean",
    ),
    (
        "duplicate_env.toml",
        "6:8",
        "`env[1].name`",
        "duplicate env name `staging`",
    ),
    (
        "promote_to_unknown.toml",
        "4:14",
        "`env[0].promote_to`",
        "`prod` names no env",
    ),
    (
        "promote_to_self.toml",
        "4:14",
        "`env[0].promote_to`",
        "cannot promote to itself",
    ),
    (
        "token_in_config.toml",
        "5:1",
        "`env[0].token`",
        "shipdeck auth set",
    ),
    (
        "api_key_in_service.toml",
        "7:1",
        "`env[0].service[0].api_key`",
        "credentials must not be written",
    ),
    (
        "password_anywhere.toml",
        "2:1",
        "`database.password`",
        "shipdeck auth set",
    ),
    (
        "unknown_provider.toml",
        "3:12",
        "`env.provider`",
        "unknown variant `heroku`",
    ),
    (
        "duration_without_unit.toml",
        "2:19",
        "`ui.health_interval`",
        "has no unit",
    ),
    (
        "unknown_action.toml",
        "5:1",
        "`keys.bind.promot`",
        "unknown variant `promot`",
    ),
    (
        "bad_key.toml",
        "2:8",
        "`keys.bind.quit`",
        "`ctrl-` is not a key",
    ),
    (
        "health_url_not_http.toml",
        "7:1",
        "`env[0].service[0].health_url`",
        "not an http(s) URL",
    ),
    (
        "fly_without_app.toml",
        "2:8",
        "`env[0].fly`",
        "no [env.fly] table",
    ),
    (
        "duplicate_service.toml",
        "9:8",
        "`env[0].service[1].name`",
        "duplicate service `api`",
    ),
    ("missing_name.toml", "1:1", "`name`", "missing field `name`"),
    (
        "wrong_type_buffer.toml",
        "2:17",
        "`ui.log_buffer_mb`",
        "expected u64",
    ),
    ("broken_toml.toml", "1:7", "", "expected `]`"),
    (
        "stage_unknown_service.toml",
        "12:20",
        "`env[0].rollout.stages[1]`",
        "stage names `frontend`, which is no service of env `production`",
    ),
    (
        "stage_twice.toml",
        "12:20",
        "`env[0].rollout.stages[1]`",
        "service `api` is in two stages",
    ),
    (
        "stage_missing_service.toml",
        "12:11",
        "`env[0].rollout.stages`",
        "service `web` is in no stage",
    ),
    (
        "stage_empty.toml",
        "12:11",
        "`env[0].rollout.stages[0]`",
        "an empty stage deploys nothing",
    ),
    (
        "service_fly_on_demo.toml",
        "7:7",
        "`env[0].service[0].fly`",
        "names a Fly app but env `staging` uses provider \"demo\"",
    ),
    (
        "env_names_collide.toml",
        "6:8",
        "`env[1].name`",
        "env names `prod-eu` and `prod_eu` collide",
    ),
    (
        "health_url_with_password.toml",
        "7:1",
        "`env[0].service[0].health_url`",
        "the URL carries a user name or password",
    ),
    (
        "gate_url_with_token.toml",
        "2:8",
        "`env[0].gates.http[0].url`",
        "the URL carries a credential in its query string",
    ),
    (
        "logs_two_sources.toml",
        "7:8",
        "`env[0].service[0].logs`",
        "exactly one of journald, docker, file or command",
    ),
    (
        "render_service_missing.toml",
        "6:8",
        "`env[0].service[0].render`",
        "service `api` of env `production` names no Render service",
    ),
    (
        "render_service_bad_id.toml",
        "7:10",
        "`env[0].service[0].render.service`",
        "`srv-abc/../owners` is not a Render service id",
    ),
    (
        "render_on_fly_service.toml",
        "8:10",
        "`env[0].service[0].render`",
        "names a Render service but env `production` uses provider \"fly\"",
    ),
    (
        "render_without_services.toml",
        "2:8",
        "`env[0].service`",
        "uses provider \"render\" but has no services",
    ),
    (
        "render_table_on_demo.toml",
        "2:8",
        "`env[0].render`",
        "has a [env.render] table but uses provider \"demo\"",
    ),
    (
        "render_account_bad.toml",
        "2:8",
        "`env[0].render.account`",
        "`render:my team` is not a credential name",
    ),
    (
        "render_service_twice.toml",
        "11:10",
        "`env[0].service[1].render.service`",
        "services `api` and `worker` of env `production` both name Render service `srv-abc`",
    ),
    (
        "railway_without_table.toml",
        "2:8",
        "`env[0].railway`",
        "uses provider \"railway\" but has no [env.railway] table",
    ),
    (
        "railway_table_on_render.toml",
        "2:8",
        "`env[0].railway`",
        "has a [env.railway] table but uses provider \"render\"",
    ),
    (
        "railway_bad_environment.toml",
        "2:8",
        "`env[0].railway.environment`",
        "`staging env` is not a Railway environment id",
    ),
    (
        "railway_service_missing.toml",
        "7:8",
        "`env[0].service[0].railway`",
        "service `api` of env `staging` names no Railway service",
    ),
    (
        "gate_command_unclosed_quote.toml",
        "2:8",
        "`env[0].gates.command[0].run`",
        "`redis-cli -h 'cache ping` cannot be run: the command has an unterminated ' quote",
    ),
    (
        "railway_service_on_demo.toml",
        "7:11",
        "`env[0].service[0].railway`",
        "names a Railway service but env `staging` uses provider \"demo\"",
    ),
    (
        "github_without_table.toml",
        "2:8",
        "`env[0].github`",
        "uses provider \"github_actions\" but has no [env.github] table",
    ),
    (
        "github_bad_repo.toml",
        "2:8",
        "`env[0].github.repo`",
        "`kaiwa` is not a GitHub repository (it has no `/` between owner and name)",
    ),
    (
        "github_unknown_placeholder.toml",
        "2:8",
        "`env[0].github.inputs.image`",
        "`{artifact.img}` in `{artifact.img}` is not a value shipdeck knows",
    ),
    (
        "github_no_artifact_input.toml",
        "2:8",
        "`env[0].github.inputs`",
        "the workflow inputs of env `production` never name the artifact",
    ),
    (
        "github_workflow_path.toml",
        "2:8",
        "`env[0].github.workflow`",
        "cannot name a workflow (give the file name alone, not a path)",
    ),
    (
        "github_service_on_fly.toml",
        "8:10",
        "`env[0].service[0].github`",
        "service `api` names a GitHub workflow but env `staging` uses provider \"fly\"",
    ),
    (
        "github_table_on_render.toml",
        "2:8",
        "`env[0].github`",
        "has a [env.github] table but uses provider \"render\"",
    ),
    (
        "github_migrations_on_fly.toml",
        "2:8",
        "`env[0].migrations`",
        "env `staging` runs migrations with tool = \"github_actions\" but uses provider \"fly\"",
    ),
    (
        "migrations_without_dir.toml",
        "2:8",
        "`env[0].migrations.dir`",
        "env `staging` has [env.migrations] without `dir`",
    ),
    (
        "vps_table_on_fly.toml",
        "2:8",
        "`env[0].vps`",
        "env `production` has a [env.vps] table but uses provider \"fly\"",
    ),
    (
        "vps_bad_host.toml",
        "2:8",
        "`env[0].vps.host`",
        "is not an ssh destination",
    ),
    (
        "vps_keep_one.toml",
        "2:8",
        "`env[0].vps.keep_releases`",
        "keep_releases must be at least 2",
    ),
    (
        "vps_relative_lock.toml",
        "2:8",
        "`env[0].vps.lock_file`",
        "lock_file `shipdeck.lock` is not an absolute path",
    ),
    (
        "vps_service_on_render.toml",
        "8:7",
        "`env[0].service[0].vps`",
        "service `api` has `vps = { … }` but env `production` uses provider \"render\"",
    ),
    (
        "vps_no_unit.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "service `api` names no systemd unit",
    ),
    (
        "vps_bad_unit.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "`--help` is not a systemd unit or compose service name",
    ),
    (
        "vps_no_dir.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "service `api` has no `dir`",
    ),
    (
        "vps_relative_dir.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "dir `opt/api` is not an absolute path",
    ),
    (
        "vps_binary_path.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "binary `bin/api` cannot name the release's file",
    ),
    (
        "vps_env_file_dir.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "env_file `config/` is not a file path",
    ),
    (
        "vps_mixed_services.toml",
        "2:8",
        "`env[0].service`",
        "service `web` of env `production` has no `vps = { … }` while others do",
    ),
    (
        "vps_both_kinds.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "service `api` names both a systemd unit and a compose service",
    ),
    (
        "vps_compose_no_image_var.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "compose service `web` has no `image_var`",
    ),
    (
        "vps_bad_image_var.toml",
        "7:7",
        "`env[0].service[0].vps`",
        "image_var `web-image` is not a variable name",
    ),
    (
        "vps_bad_compose_command.toml",
        "2:8",
        "`env[0].vps.compose_command`",
        "compose_command `\"` is not a command",
    ),
];

#[test]
fn every_bad_config_names_file_line_col_and_field() {
    for (file, pos, field, words) in CASES {
        let path = Path::new("tests/fixtures/bad_configs").join(file);
        let err = Config::load_file(&path).expect_err(file);
        let text = err.to_string();
        let prefix = format!("{}:{pos}: ", path.display());
        assert!(
            text.starts_with(&prefix),
            "{file}: expected prefix {prefix:?} in:\n{text}"
        );
        assert!(
            text.contains(field),
            "{file}: expected field {field} in:\n{text}"
        );
        assert!(
            text.contains(words),
            "{file}: expected {words:?} in:\n{text}"
        );
        assert!(
            text.contains("\n  hint: "),
            "{file}: every error carries a hint:\n{text}"
        );
        assert!(matches!(err, ConfigError::Invalid { .. }));
    }
}

#[test]
fn a_credential_in_a_url_never_appears_in_the_error() {
    for (file, secret) in [
        ("health_url_with_password.toml", "hunter2pass"),
        ("gate_url_with_token.toml", "tok_live_51Hx"),
    ] {
        let err = Config::load_file(&Path::new("tests/fixtures/bad_configs").join(file))
            .unwrap_err()
            .to_string();
        assert!(!err.contains(secret), "{file}: {err}");
    }
}

#[test]
fn a_credential_value_never_appears_in_the_error() {
    let err = Config::load_file(Path::new("tests/fixtures/bad_configs/token_in_config.toml"))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("fm2_lJPECAAAAAAAB"), "{err}");
}

#[test]
fn every_fixture_is_covered() {
    let count = std::fs::read_dir("tests/fixtures/bad_configs")
        .unwrap()
        .count();
    assert_eq!(count, CASES.len(), "add a CASES row for every fixture");
}

#[test]
fn example_config_loads_and_documents_every_section() {
    let cfg = Config::load_file(Path::new("config.example.toml")).unwrap();
    assert!(cfg.envs.len() >= 3);
    assert!(cfg.envs.iter().any(|e| e.protected));
    assert!(cfg.envs.iter().any(|e| e.fly.is_some()));
    let text = std::fs::read_to_string("config.example.toml").unwrap();
    for key in [
        "theme",
        "health_interval",
        "metrics_interval",
        "refresh_interval",
        "request_timeout",
        "log_buffer_mb",
        "log_timestamps",
        "log_wrap",
        "preset",
        "[keys.bind]",
        "provider",
        "protected",
        "read_only",
        "promote_to",
        "on_fail",
        "process_group",
        "api_url",
        "graphql_url",
        "requests_total",
        "status_label",
        "duration_histogram",
        "health_url",
        "metrics_url",
        "account",
        "logs_url",
        "deploy_via",
        "wait_timeout",
        "flyctl",
        "sslmode",
        "tool",
        "current",
        "migrate_command",
        "stages",
        "render = { service",
        "pause_autodeploy_on_rollback",
        "poll_interval",
        "railway = { service",
        "token_kind",
        "expect_exit",
    ] {
        assert!(
            text.contains(key),
            "config.example.toml must document `{key}`"
        );
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = Config::load_file(Path::new("/nonexistent/shipdeck.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent/shipdeck.toml: cannot read config"),
        "{err}"
    );
}

#[test]
fn embedded_demo_loads() {
    let cfg = Config::demo().unwrap();
    let names: Vec<&str> = cfg.envs.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["dev", "staging", "production"]);
    assert!(cfg.origin.is_demo());
}

#[test]
fn url_credentials_are_found_without_false_alarms() {
    use shipdeck::config::{env_key, url_credential};
    assert!(url_credential("https://u:p@h/x").is_some());
    assert!(url_credential("https://h/x?a=1&Token=t").is_some());
    assert!(url_credential("https://h?api_key=k").is_some());
    assert_eq!(
        url_credential("https://h/users/@me?keyword=a&monkey=1"),
        None
    );
    assert_eq!(url_credential("http://127.0.0.1:9090/metrics"), None);
    assert_eq!(env_key("prod-eu"), env_key("PROD_eu"));
    assert_ne!(env_key("prod-eu"), env_key("prod-eu2"));
}
