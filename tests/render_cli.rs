//! The Render provider end to end: the real `shipdeck` binary, a config of
//! two Render envs (an image-backed `api` and a repo-backed `web` each)
//! pointing at a fake Render, the API key from its CI variable. Status,
//! history, a two-stage promote of the exact artifacts, a rejected deploy
//! (exit 3, production untouched), a rollback that turns auto-deploy off
//! and pins, a staged variable rotation applied by one redeploy, `auth
//! test`, the missing-key error, and the key in no output or file.

mod support {
    pub mod output;
    pub mod render_fake;
}

use std::path::Path;
use std::process::Output;

use support::output::text;
use support::render_fake::{FakeService, RenderFake, digest_for};

const KEY: &str = "rnd_cliTESTkeyVALUEnotForScreens";
const OLD: &str = "docker.io/acme/api:1.3.0";
const NEW: &str = "docker.io/acme/api:1.4.0";
const SHA_OLD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_NEW: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn config(home: &Path, fake: &RenderFake) {
    let env = |name: &str, extra: &str, prefix: &str| {
        format!(
            r#"
[[env]]
name = "{name}"
provider = "render"
{extra}
render = {{ api_url = "{base}", poll_interval = "50ms", wait_timeout = "20s" }}

[env.gates]
health = false
samples = 1
interval = "100ms"
stabilize = "1s"

[env.rollout]
stages = [["api"], ["web"]]

[[env.service]]
name = "api"
render = {{ service = "srv-{prefix}-api" }}

[[env.service]]
name = "web"
render = {{ service = "srv-{prefix}-web" }}
"#,
            base = fake.base_url()
        )
    };
    let text = format!(
        "{}{}",
        env("staging", "promote_to = \"production\"", "stg"),
        env("production", "protected = true", "prd")
    );
    std::fs::write(home.join("shipdeck.toml"), text).unwrap();
}

fn command(home: &Path, args: &[&str], key: Option<&str>) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("SHIPDECK_KEYRING", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("SHIPDECK_RENDER_TOKEN");
    if let Some(k) = key {
        cmd.env("SHIPDECK_RENDER_TOKEN", k);
    }
    cmd
}

fn shipdeck(home: &Path, args: &[&str]) -> Output {
    command(home, args, Some(KEY)).output().unwrap()
}

fn fleet() -> (RenderFake, tempfile::TempDir) {
    let fake = RenderFake::start_in_thread(KEY);
    fake.set_owner("tea-acme", "Acme", "ops@acme.test", "team");
    fake.add_commit(SHA_OLD, "old web");
    fake.add_commit(SHA_NEW, "new web");
    for (prefix, image, sha) in [("stg", NEW, SHA_NEW), ("prd", OLD, SHA_OLD)] {
        fake.add_service(
            FakeService::image(&format!("srv-{prefix}-api"), "api", OLD)
                .with_env("JWT_SECRET", "first-value"),
        );
        fake.push_deploy(
            &format!("srv-{prefix}-api"),
            "live",
            "docker.io/acme/api:1.2.0",
        );
        fake.push_deploy(&format!("srv-{prefix}-api"), "live", image);
        fake.add_service(FakeService::repo(
            &format!("srv-{prefix}-web"),
            "web",
            "https://github.com/acme/web",
            "main",
        ));
        fake.push_deploy(&format!("srv-{prefix}-web"), "live", sha);
    }
    let home = tempfile::tempdir().unwrap();
    config(home.path(), &fake);
    (fake, home)
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Nothing shipdeck printed or wrote holds the key.
fn assert_no_key(home: &Path, outs: &[&Output]) {
    support::output::assert_nowhere(KEY, &home.join("state"), outs);
}

#[test]
fn status_and_history_come_from_render() {
    let (_fake, home) = fleet();
    let out = shipdeck(
        home.path(),
        &["releases", "production", "--service", "api", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let labels: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["artifact"]["tag"].as_str())
        .collect();
    assert_eq!(labels, ["1.3.0", "1.2.0"], "{v}");
    let out = shipdeck(home.path(), &["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("1.3.0") && shown.contains("1.4.0"),
        "{shown}"
    );
    assert_no_key(home.path(), &[&out]);
}

#[test]
fn promote_deploys_stagings_exact_image_and_commit_stage_by_stage() {
    let (fake, home) = fleet();
    let out = shipdeck(
        home.path(),
        &[
            "promote",
            "staging",
            "production",
            "--confirm",
            "production",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let api = fake.live_deploy("srv-prd-api").unwrap();
    assert_eq!(api.image_sha.as_deref(), Some(digest_for(NEW).as_str()));
    assert!(
        api.image_ref.unwrap().contains("@sha256:"),
        "by digest, not a tag"
    );
    let web = fake.live_deploy("srv-prd-web").unwrap();
    assert_eq!(web.commit.unwrap().id, SHA_NEW);
    // api went live before web was asked for.
    let posts: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|h| h.method == axum::http::Method::POST && h.path.contains("/deploys"))
        .map(|h| h.path)
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[0].contains("srv-prd-api") && posts[1].contains("srv-prd-web"));
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(audit.contains("promote"), "{audit}");
    assert_no_key(home.path(), &[&out]);
}

#[test]
fn a_protected_env_needs_its_name_typed() {
    let (fake, home) = fleet();
    let out = shipdeck(home.path(), &["promote", "staging", "production", "--yes"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--confirm production"),
        "{}",
        text(&out)
    );
    assert_eq!(fake.deploy_triggers("srv-prd-api"), 0);
}

#[test]
fn a_deploy_render_rejects_exits_3_and_leaves_production_as_it_was() {
    let (fake, home) = fleet();
    fake.fail_next_deploys("srv-prd-api", 1, "update_failed");
    let out = shipdeck(
        home.path(),
        &[
            "promote",
            "staging",
            "production",
            "--confirm",
            "production",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        fake.live_deploy("srv-prd-api")
            .unwrap()
            .image_ref
            .as_deref(),
        Some(OLD)
    );
    assert_eq!(
        fake.deploy_triggers("srv-prd-web"),
        0,
        "the web stage never ran"
    );
    // Render kept the old deploy serving: nothing to roll back on Render.
    assert_eq!(
        fake.hits(Some(axum::http::Method::POST), "/rollback").len(),
        0
    );
    let last = events(&out).into_iter().last().unwrap();
    assert_eq!(last["outcome"]["outcome"], "rolled_back", "{}", text(&out));
}

#[test]
fn rollback_uses_renders_rollback_turns_auto_deploy_off_and_pins() {
    let (fake, home) = fleet();
    let out = shipdeck(
        home.path(),
        &[
            "rollback",
            "production",
            "--service",
            "api",
            "--to",
            "1.2.0",
            "--confirm",
            "production",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let live = fake.live_deploy("srv-prd-api").unwrap();
    assert_eq!(live.trigger, "rollback");
    assert_eq!(live.image_ref.as_deref(), Some("docker.io/acme/api:1.2.0"));
    assert!(!fake.service("srv-prd-api").unwrap().auto_deploy);
    assert!(
        fake.service("srv-prd-web").unwrap().auto_deploy,
        "web untouched"
    );
    let pins = std::fs::read_to_string(home.path().join("state/pins.json")).unwrap();
    assert!(
        pins.contains("production") && pins.contains("auto-deploy is off"),
        "{pins}"
    );
    let status = shipdeck(home.path(), &["status"]);
    // The next promote is refused while the env is pinned.
    let again = shipdeck(
        home.path(),
        &[
            "promote",
            "staging",
            "production",
            "--confirm",
            "production",
        ],
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("pinned"), "{}", text(&again));
    assert_no_key(home.path(), &[&out, &status, &again]);
}

#[test]
fn a_staged_rotation_is_applied_by_one_redeploy_of_the_same_image() {
    let (fake, home) = fleet();
    let out = shipdeck(
        home.path(),
        &[
            "secrets",
            "production",
            "rotate",
            "JWT_SECRET",
            "--service",
            "api",
            "--generate",
            "40",
            "--envs",
            "production",
            "--confirm",
            "production",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fake.deploy_triggers("srv-prd-api"), 1, "{}", text(&out));
    assert_eq!(fake.deploy_triggers("srv-prd-web"), 0);
    let live = fake.live_deploy("srv-prd-api").unwrap();
    assert_eq!(live.image_sha.as_deref(), Some(digest_for(OLD).as_str()));
    let env = fake.live_env_of(&live.id).unwrap();
    let value = env.get("JWT_SECRET").unwrap();
    assert_ne!(value, "first-value");
    assert_eq!(value.len(), 40);
    assert!(
        !text(&out).contains(value.as_str()),
        "the value is never printed"
    );
    assert_eq!(fake.replace_all_puts(), 0);
    let list = shipdeck(
        home.path(),
        &["secrets", "production", "list", "--service", "api"],
    );
    assert!(list.status.success(), "{}", text(&list));
    assert!(text(&list).contains("JWT_SECRET"));
    assert!(!text(&list).contains(value.as_str()));
    assert_no_key(home.path(), &[&out, &list]);
}

#[test]
fn auth_test_names_the_workspace_and_a_missing_key_says_how_to_store_one() {
    let (_fake, home) = fleet();
    let out = shipdeck(home.path(), &["auth", "test", "render"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Acme"), "{}", text(&out));
    let out = command(home.path(), &["releases", "production"], None)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(
        shown.contains("shipdeck auth set render") && shown.contains("SHIPDECK_RENDER_TOKEN"),
        "{shown}"
    );
    let wrong = command(home.path(), &["releases", "production"], Some("rnd_wrong"))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("refused the credential"),
        "{}",
        text(&wrong)
    );
    assert!(!text(&wrong).contains("rnd_wrong"));
}
