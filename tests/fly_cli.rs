//! The Fly provider wired end to end: the real `shipdeck` binary, a config
//! with `[env.fly]` tables pointing at a fake Fly, and the token from the
//! credential store (its CI environment override). Releases, status,
//! promote across two apps, `auth test`, and the missing-token error.

mod support {
    pub mod fly_fake;
    pub mod output;
}

use std::path::Path;
use std::process::Output;
use support::output::text;

use support::fly_fake::{FlyFake, release_node};

const TOKEN: &str = "fm2_cliTESTtokenVALUEnotForScreens";
const IMG_OLD: &str = "registry.fly.io/shop:deployment-old";
const IMG_NEW: &str = "registry.fly.io/shop:deployment-new";

fn config(home: &Path, fake: &FlyFake) {
    let fly = |app: &str| {
        format!(
            "fly = {{ app = \"{app}\", api_url = \"{base}/v1\", graphql_url = \"{base}/graphql\", logs_url = \"{base}\", wait_timeout = \"5s\" }}",
            base = fake.base
        )
    };
    let text = format!(
        r#"
[[env]]
name = "staging"
provider = "fly"
promote_to = "production"
{}

[env.gates]
health = false
samples = 1
interval = "100ms"
stabilize = "1s"

[[env]]
name = "production"
provider = "fly"
{}

[env.gates]
health = false
samples = 1
interval = "100ms"
stabilize = "1s"
"#,
        fly("shop-staging"),
        fly("shop-production")
    );
    std::fs::write(home.join("shipdeck.toml"), text).unwrap();
}

/// The binary with HOME, state and keyring isolated, and the token (if any) in its CI variable.
fn command(home: &Path, args: &[&str], token: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("SHIPDECK_KEYRING", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("SHIPDECK_FLY_TOKEN");
    if let Some(t) = token {
        cmd.env("SHIPDECK_FLY_TOKEN", t);
    }
    cmd
}

async fn shipdeck(home: &Path, args: &[&str], token: Option<&str>) -> Output {
    command(home, args, token).output().await.unwrap()
}

async fn fleet() -> (FlyFake, tempfile::TempDir) {
    let fake = FlyFake::start(&format!("FlyV1 {TOKEN}")).await;
    fake.add_app("shop-staging", 2, IMG_NEW);
    fake.add_app("shop-production", 3, IMG_OLD);
    {
        let mut st = fake.state();
        for (app, image, version) in [
            ("shop-staging", IMG_NEW, 8),
            ("shop-production", IMG_OLD, 5),
        ] {
            let a = st.apps.get_mut(app).unwrap();
            a.releases = vec![
                release_node(version, image, "complete"),
                release_node(
                    version - 1,
                    "registry.fly.io/shop:deployment-older",
                    "complete",
                ),
            ];
            a.current_release = a.releases[0]["id"].as_str().map(str::to_string);
        }
    }
    let home = tempfile::tempdir().unwrap();
    config(home.path(), &fake);
    (fake, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_and_status_come_from_fly() {
    let (_fake, home) = fleet().await;
    let out = shipdeck(
        home.path(),
        &["releases", "production", "--json"],
        Some(TOKEN),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images: Vec<&str> = v
        .as_array()
        .or_else(|| v["releases"].as_array())
        .expect("a list of releases")
        .iter()
        .filter_map(|r| r["artifact"]["tag"].as_str())
        .collect();
    assert!(images.iter().any(|i| i.contains("deployment-old")), "{v}");
    assert!(!text(&out).contains(TOKEN));

    let out = shipdeck(home.path(), &["status", "--json"], Some(TOKEN)).await;
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let envs = v.as_array().or_else(|| v["envs"].as_array()).expect("envs");
    assert_eq!(envs.len(), 2, "{v}");
    for env in envs {
        assert_eq!(env["provider"], "fly", "{env}");
        assert!(env["provider_error"].is_null(), "{env}");
        assert!(env["release"].is_string(), "{env}");
    }
    assert!(!text(&out).contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_deploys_stagings_exact_image_to_every_production_machine() {
    let (fake, home) = fleet().await;
    let out = shipdeck(
        home.path(),
        &["promote", "staging", "production", "--yes", "--json"],
        Some(TOKEN),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let images = fake.images("shop-production");
    assert_eq!(images.len(), 3);
    // The exact digest staging runs, not a tag that could move.
    let pinned = support::fly_fake::pinned(IMG_NEW);
    for (machine, image) in &images {
        assert_eq!(image, &pinned, "{machine}");
    }
    // Every update was made under a lease, and every lease was given back.
    let st = fake.state();
    assert!(st.updates.iter().all(|u| u.nonce.is_some()));
    let acquired = st.lease_events.iter().filter(|e| e.2 == "acquire").count();
    let released = st.lease_events.iter().filter(|e| e.2 == "release").count();
    assert_eq!((acquired, released), (3, 3), "{:?}", st.lease_events);
    drop(st);
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(audit.contains("promote"), "{audit}");
    assert!(!audit.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_test_reports_the_fly_identity_and_where_the_token_came_from() {
    let (_fake, home) = fleet().await;
    let out = shipdeck(home.path(), &["auth", "test", "fly"], Some(TOKEN)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dev@example.com"), "{}", text(&out));
    assert!(
        text(&out).contains("environment variable SHIPDECK_FLY_TOKEN"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(TOKEN));

    // A token Fly refuses: the error says what to do, and never shows it.
    let bad = "fm2_wrongTOKENvalueXYZ";
    let out = shipdeck(home.path(), &["auth", "test", "fly"], Some(bad)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("shipdeck auth set fly"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_every_fly_command_says_how_to_add_one() {
    let (fake, home) = fleet().await;
    let out = shipdeck(home.path(), &["releases", "production"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("shipdeck auth set fly"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("SHIPDECK_FLY_TOKEN"), "{}", text(&out));
    // status says which env could not be read, and why, and fails.
    let out = shipdeck(home.path(), &["status", "--json"], None).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["provider_failure"], "auth", "{v}");
    assert!(
        v[0]["provider_error"]
            .as_str()
            .unwrap()
            .contains("shipdeck auth set fly"),
        "{v}"
    );
    assert!(fake.state().hits.is_empty(), "no call without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_secret_restarts_nothing_until_it_is_applied() {
    let (fake, home) = fleet().await;
    let value = "jwt-9c1f0e7a5b3d4c2e8f6a1b0c9d8e7f6a";
    let mut cmd = command(
        home.path(),
        &["secrets", "staging", "set", "JWT_SECRET_KEY", "--stage"],
        Some(TOKEN),
    );
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(value.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(value));
    assert_eq!(fake.state().secret_posts, 1);
    assert!(
        fake.state().updates.is_empty(),
        "staged: no machine restarted"
    );

    let out = shipdeck(
        home.path(),
        &["secrets", "staging", "list", "--json"],
        Some(TOKEN),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("JWT_SECRET_KEY"), "{}", text(&out));
    assert!(!text(&out).contains(value));
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("JWT_SECRET_KEY") && !audit.contains(value),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_stages_then_applies_with_an_update_of_every_machine() {
    let (fake, home) = fleet().await;
    let out = shipdeck(
        home.path(),
        &[
            "secrets",
            "staging",
            "rotate",
            "JWT_SECRET_KEY",
            "--envs",
            "staging",
            "--generate",
            "48",
            "--json",
        ],
        Some(TOKEN),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let st = fake.state();
    assert_eq!(st.secret_posts, 1);
    // Applying = every staging machine updated (same image), under a lease.
    let updated: Vec<&str> = st.updates.iter().map(|u| u.machine.as_str()).collect();
    assert_eq!(
        updated,
        ["shop-staging-m1", "shop-staging-m2"],
        "{:?}",
        st.updates
    );
    assert!(st.updates.iter().all(|u| u.nonce.is_some()));
    assert!(
        st.apps["shop-staging"]
            .secrets
            .contains_key("JWT_SECRET_KEY")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_a_tagged_release_passes_its_own_post_check() {
    let (fake, home) = fleet().await;
    // v4's imageRef is a tag (as every flyctl release is); the machines will report its digest.
    let out = shipdeck(
        home.path(),
        &["rollback", "production", "--to", "v4", "--yes", "--json"],
        Some(TOKEN),
    )
    .await;
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(out.status.success(), "{}", text(&out));
    let last = events.last().unwrap();
    assert_eq!(last["outcome"]["outcome"], "completed", "{}", text(&out));
    assert!(
        !events.iter().any(|e| e["event"] == "reverting"),
        "a rollback that landed is not reverted: {}",
        text(&out)
    );
    let post = events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "post-deploy checks")
        .unwrap();
    assert_eq!(post["status"], "ok", "{post}");
    assert!(
        post["detail"].as_str().unwrap().contains("runs v4"),
        "{post}"
    );
    assert!(
        fake.images("shop-production")
            .values()
            .all(|i| i == "registry.fly.io/shop:deployment-older"),
        "{:?}",
        fake.images("shop-production")
    );
    // The rolling update reported machine by machine.
    let machines = events
        .iter()
        .filter(|e| e["event"] == "deploy_progress" && e["progress"]["state"] == "done")
        .count();
    assert_eq!(machines, 3, "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fly_app_per_service_promotes_stage_by_stage() {
    let fake = FlyFake::start(&format!("FlyV1 {TOKEN}")).await;
    let api_new = "registry.fly.io/shop-api:deployment-new";
    let web_new = "registry.fly.io/shop-web:deployment-new";
    fake.add_app("shop-api-staging", 2, api_new);
    fake.add_app("shop-web-staging", 1, web_new);
    fake.add_app(
        "shop-api-production",
        2,
        "registry.fly.io/shop-api:deployment-old",
    );
    fake.add_app(
        "shop-web-production",
        2,
        "registry.fly.io/shop-web:deployment-old",
    );
    let home = tempfile::tempdir().unwrap();
    let urls = format!(
        "api_url = \"{b}/v1\", graphql_url = \"{b}/graphql\", logs_url = \"{b}\", wait_timeout = \"5s\"",
        b = fake.base
    );
    let env = |name: &str, promote: &str| {
        format!(
            r#"
[[env]]
name = "{name}"
provider = "fly"
{promote}
fly = {{ app = "shop-api-{name}", {urls} }}

[env.gates]
health = false
samples = 1
interval = "100ms"
stabilize = "1s"

[env.rollout]
stages = [["api"], ["web"]]

[[env.service]]
name = "api"
fly = {{ app = "shop-api-{name}" }}

[[env.service]]
name = "web"
fly = {{ app = "shop-web-{name}" }}
"#
        )
    };
    let text_cfg = env("staging", "promote_to = \"production\"") + &env("production", "");
    std::fs::write(home.path().join("shipdeck.toml"), text_cfg).unwrap();

    let out = shipdeck(
        home.path(),
        &["promote", "staging", "production", "--yes", "--json"],
        Some(TOKEN),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Each app got exactly what its counterpart runs in staging, pinned by digest.
    for (app, image) in [
        ("shop-api-production", api_new),
        ("shop-web-production", web_new),
    ] {
        let want = support::fly_fake::pinned(image);
        assert!(
            fake.images(app).values().all(|i| *i == want),
            "{app}: {:?}",
            fake.images(app)
        );
    }
    // api's stage finished before web's began, each naming its service.
    let started: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "step_started")
        .filter_map(|e| e["step"].as_str())
        .collect();
    let at = |s: &str| {
        started
            .iter()
            .position(|x| *x == s)
            .unwrap_or_else(|| panic!("{s}: {started:?}"))
    };
    assert!(at("api: stabilize 1s") < at("web: deploy"), "{started:?}");
    let progress: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["event"] == "deploy_progress" && e["progress"]["state"] == "done")
        .map(|e| {
            (
                e["services"][0].as_str().unwrap().to_string(),
                e["progress"]["unit"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(progress.len(), 4, "one report per machine: {progress:?}");
    assert_eq!(progress.iter().filter(|(s, _)| s == "api").count(), 2);
    let plan = &events[0]["plan"];
    assert_eq!(plan["units"].as_array().unwrap().len(), 2, "{plan}");

    // Secrets live per app: each service lists and sets its own.
    {
        let mut st = fake.state();
        st.apps
            .get_mut("shop-web-production")
            .unwrap()
            .secrets
            .insert(
                "SESSION_KEY".into(),
                ("c0ffee00".into(), "2026-11-01T10:00:00Z".into()),
            );
    }
    let out = shipdeck(
        home.path(),
        &[
            "secrets",
            "production",
            "list",
            "--service",
            "web",
            "--json",
        ],
        Some(TOKEN),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("SESSION_KEY"), "{}", text(&out));
    let out = shipdeck(
        home.path(),
        &[
            "secrets",
            "production",
            "list",
            "--service",
            "api",
            "--json",
        ],
        Some(TOKEN),
    )
    .await;
    assert!(
        !text(&out).contains("SESSION_KEY"),
        "the api's app has its own: {}",
        text(&out)
    );
    let out = shipdeck(
        home.path(),
        &["secrets", "production", "list", "--service", "db"],
        Some(TOKEN),
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("no service `db`"), "{}", text(&out));

    // Status names each service's own release.
    let out = shipdeck(
        home.path(),
        &["status", "production", "--json"],
        Some(TOKEN),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let services = v[0]["services"].as_array().unwrap();
    for (svc, image) in [("api", api_new), ("web", web_new)] {
        let s = services.iter().find(|s| s["name"] == svc).unwrap();
        let digest = support::fly_fake::pinned(image);
        let digest = digest.split('@').nth(1).unwrap();
        assert!(
            s["artifact"].as_str().unwrap().ends_with(digest),
            "{svc}: {s}"
        );
    }
}

/// Promote staging into production with `--json`; the exit code and the events.
async fn promote_json(home: &Path) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let out = shipdeck(
        home,
        &["promote", "staging", "production", "--yes", "--json"],
        Some(TOKEN),
    )
    .await;
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.code(), events, text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_the_platforms_checks_reject_is_reverted_and_exits_3() {
    let (fake, home) = fleet().await;
    // The second production machine's checks go critical on staging's image.
    let incoming = support::fly_fake::pinned(IMG_NEW);
    fake.machine("shop-production", "shop-production-m2", |m| {
        m.critical_on = Some(incoming.clone())
    });
    let (code, events, out) = promote_json(home.path()).await;
    assert_eq!(code, Some(3), "the release was bad and we are back: {out}");
    let last = events.last().unwrap();
    assert_eq!(last["outcome"]["outcome"], "rolled_back", "{out}");
    assert!(
        last["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("platform's health checks"),
        "{last}"
    );
    // Back on what it ran: by tag, or pinned to the digest the tag resolved to.
    let old = [IMG_OLD.to_string(), support::fly_fake::pinned(IMG_OLD)];
    assert!(
        fake.images("shop-production")
            .values()
            .all(|i| old.contains(i)),
        "every machine is back on what it ran: {:?}",
        fake.images("shop-production")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_stopped_before_it_changed_anything_reverts_nothing() {
    let (fake, home) = fleet().await;
    // Someone else holds the first machine's lease: nothing moves.
    fake.machine("shop-production", "shop-production-m1", |m| {
        m.lease = Some(support::fly_fake::FakeLease {
            owner: "alice@example.com".into(),
            nonce: "theirs".into(),
            expires_at_ms: chrono::Utc::now().timestamp_millis() + 600_000,
        })
    });
    let updates_before = fake.state().updates.len();
    let (code, events, out) = promote_json(home.path()).await;
    assert_eq!(code, Some(1), "shipdeck could not act: {out}");
    assert!(
        out.contains("alice@example.com"),
        "the holder is named: {out}"
    );
    assert!(
        !events.iter().any(|e| e["event"] == "reverting"),
        "nothing changed, so nothing is reverted (it would move machines alice is moving): {out}"
    );
    assert_eq!(
        fake.state().updates.len(),
        updates_before,
        "no machine was updated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_from_the_api_reaches_the_terminal_inert() {
    let (fake, home) = fleet().await;
    {
        let mut st = fake.state();
        let app = st.apps.get_mut("shop-production").unwrap();
        let node = &mut app.releases[0];
        node["user"]["email"] = serde_json::json!("evil\u{1b}]52;c;aGk=\u{7}@x.io");
        node["user"]["name"] = serde_json::json!("e\u{202e}vil\u{200f}");
        node["description"] = serde_json::json!("Deploy \u{1b}[2J\u{1b}[31mowned\u{2028}next");
    }
    for args in [
        &["releases", "production"][..],
        &["status"][..],
        &["releases", "production", "--json"][..],
    ] {
        let out = shipdeck(home.path(), args, Some(TOKEN)).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let shown = String::from_utf8_lossy(&out.stdout);
        for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{200f}', '\u{2028}'] {
            assert!(!shown.contains(bad), "{args:?} printed {bad:?}: {shown}");
        }
    }
}
