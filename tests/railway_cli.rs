//! The Railway provider end to end: the real `shipdeck` binary, two envs
//! (two environments of one Railway project, an image-backed `api` and a
//! repo-backed `web` each) pointing at a fake Railway, the token from its
//! CI variable. History, a two-stage promote of the exact artifacts, a
//! rollback that brings the old variables back and pins, a staged rotation
//! applied by one redeploy, `auth test`, and the token in no output or file.

mod support {
    pub mod output;
    pub mod railway_fake;
}

use std::path::Path;
use std::process::Output;

use support::output::text;
use support::railway_fake::{RailwayFake, Source};

const TOKEN: &str = "7b2e-CLI-TEST-railway-TOKEN-not-for-screens";
const OLD: &str = "ghcr.io/acme/api:1.3.0";
const NEW: &str = "ghcr.io/acme/api:1.4.0";
const SHA_OLD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_NEW: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn config(home: &Path, fake: &RailwayFake) {
    let env = |name: &str, extra: &str, id: &str| {
        format!(
            r#"
[[env]]
name = "{name}"
provider = "railway"
{extra}
railway = {{ project = "proj-1", environment = "{id}", api_url = "{url}", poll_interval = "50ms", wait_timeout = "20s" }}

[env.gates]
health = false
samples = 1
interval = "100ms"
stabilize = "1s"

[env.rollout]
stages = [["api"], ["web"]]

[[env.service]]
name = "api"
railway = {{ service = "svc-api" }}

[[env.service]]
name = "web"
railway = {{ service = "svc-web" }}
"#,
            url = fake.url()
        )
    };
    let text = format!(
        "{}{}",
        env("staging", "promote_to = \"production\"", "env-stg"),
        env("production", "protected = true", "env-prd")
    );
    std::fs::write(home.join("shipdeck.toml"), text).unwrap();
}

fn command(home: &Path, args: &[&str], token: Option<&str>) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("SHIPDECK_KEYRING", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("SHIPDECK_RAILWAY_TOKEN");
    if let Some(t) = token {
        cmd.env("SHIPDECK_RAILWAY_TOKEN", t);
    }
    cmd
}

fn shipdeck(home: &Path, args: &[&str]) -> Output {
    command(home, args, Some(TOKEN)).output().unwrap()
}

fn fleet() -> (RailwayFake, tempfile::TempDir) {
    let fake = RailwayFake::start_in_thread(TOKEN);
    fake.set_user("u1", "Ada Ops", "ada@acme.test");
    fake.add_project("proj-1", "shop");
    fake.add_commit(SHA_OLD, "old web");
    fake.add_commit(SHA_NEW, "new web");
    fake.add_service("proj-1", "svc-api", "api");
    fake.add_service("proj-1", "svc-web", "web");
    for (env, name, image, sha) in [
        ("env-stg", "staging", NEW, SHA_NEW),
        ("env-prd", "production", OLD, SHA_OLD),
    ] {
        fake.add_environment("proj-1", env, name);
        fake.add_instance(env, "svc-api", Source::image(image));
        fake.set_variable(env, "svc-api", "JWT_SECRET", "first-value");
        fake.push_deployment(env, "svc-api", "REMOVED", "ghcr.io/acme/api:1.2.0");
        fake.push_deployment(env, "svc-api", "SUCCESS", image);
        fake.add_instance(env, "svc-web", Source::repo("acme/web", "main"));
        fake.push_deployment(env, "svc-web", "SUCCESS", sha);
    }
    let home = tempfile::tempdir().unwrap();
    config(home.path(), &fake);
    (fake, home)
}

fn assert_no_token(home: &Path, outs: &[&Output]) {
    support::output::assert_nowhere(TOKEN, &home.join("state"), outs);
}

#[test]
fn history_and_status_come_from_railway() {
    let (_fake, home) = fleet();
    let out = shipdeck(
        home.path(),
        &["releases", "production", "--service", "api", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["artifact"]["tag"].as_str())
        .collect();
    assert_eq!(tags, ["1.3.0", "1.2.0"], "{v}");
    assert_eq!(v[0]["author"], "Ada Ops");
    let status = shipdeck(home.path(), &["status", "--json"]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(text(&status).contains("1.4.0"), "{}", text(&status));
    assert_no_token(home.path(), &[&out, &status]);
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
    // Railway reports the image as it was given (a tag here: no digest in
    // its deployment meta), and production now runs exactly that.
    let api = fake.live("env-prd", "svc-api").unwrap();
    let staged = fake.live("env-stg", "svc-api").unwrap();
    assert_eq!(api.image, staged.image);
    assert_eq!(api.image.as_deref(), Some(NEW));
    assert_eq!(fake.deploys_triggered("env-prd", "svc-api"), 1);
    assert_eq!(
        fake.live("env-prd", "svc-web").unwrap().commit.as_deref(),
        Some(SHA_NEW)
    );
    // api was asked for and went live before web was.
    let order: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|h| h.is("serviceInstanceDeployV2"))
        .map(|h| {
            h.fields[0].args["serviceId"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(order, ["svc-api", "svc-web"]);
    assert_no_token(home.path(), &[&out]);
}

#[test]
fn rollback_brings_the_old_variables_back_and_pins() {
    let (fake, home) = fleet();
    // A rotation since the release rolled back to.
    fake.set_variable("env-prd", "svc-api", "JWT_SECRET", "rotated-since");
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
    assert_eq!(fake.rollbacks(), 1);
    assert_eq!(
        fake.live("env-prd", "svc-api").unwrap().image.as_deref(),
        Some("ghcr.io/acme/api:1.2.0")
    );
    assert_eq!(
        fake.variables("env-prd", "svc-api")["JWT_SECRET"],
        "first-value",
        "Railway's rollback restores the variables"
    );
    let pins = std::fs::read_to_string(home.path().join("state/pins.json")).unwrap();
    assert!(pins.contains("production"), "{pins}");
    assert_no_token(home.path(), &[&out]);
}

#[test]
fn a_staged_rotation_is_applied_by_one_redeploy() {
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
    assert_eq!(
        fake.deploys_triggered("env-prd", "svc-api"),
        1,
        "{}",
        text(&out)
    );
    let live = fake.live("env-prd", "svc-api").unwrap();
    let value = fake.variables_of(&live.id).unwrap()["JWT_SECRET"].clone();
    assert_eq!(value.len(), 40);
    assert!(!text(&out).contains(&value));
    assert_eq!(live.image.as_deref(), Some(OLD), "the same image again");
    assert_eq!(fake.replace_upserts(), 0);
    assert_no_token(home.path(), &[&out]);
}

#[test]
fn auth_test_names_the_user_and_a_missing_token_says_how_to_store_one() {
    let (_fake, home) = fleet();
    let out = shipdeck(home.path(), &["auth", "test", "railway"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Ada Ops"), "{}", text(&out));
    let out = command(home.path(), &["releases", "production"], None)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(
        shown.contains("shipdeck auth set railway") && shown.contains("SHIPDECK_RAILWAY_TOKEN"),
        "{shown}"
    );
}

#[test]
fn a_rollback_across_a_rotation_says_which_secrets_it_undoes() {
    use std::io::Write;
    let (fake, home) = fleet();
    let mut child = command(
        home.path(),
        &[
            "secrets",
            "production",
            "set",
            "JWT_SECRET",
            "--service",
            "api",
            "--confirm",
            "production",
        ],
        Some(TOKEN),
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-brand-new-value-after-a-leak\n")
        .unwrap();
    let set = child.wait_with_output().unwrap();
    assert!(set.status.success(), "{}", text(&set));
    assert_eq!(
        fake.variables("env-prd", "svc-api")["JWT_SECRET"],
        "a-brand-new-value-after-a-leak"
    );
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
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("undoing JWT_SECRET (set by"),
        "the dialog names the change it undoes: {shown}"
    );
    assert!(!shown.contains("a-brand-new-value"), "{shown}");
    assert_eq!(
        fake.variables("env-prd", "svc-api")["JWT_SECRET"],
        "first-value"
    );
}
