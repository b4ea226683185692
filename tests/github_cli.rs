//! GitHub Actions as the deploy driver, end to end: the real `shipdeck`
//! binary, a config of two envs deployed by one repository's `deploy.yml`
//! (staging and production, its GitHub environments), a fake GitHub, the
//! token from its CI variable. A promote that dispatches the workflow and
//! follows its three jobs; a job that fails, with its log in the output and
//! the revert dispatched; Ctrl-C cancelling the run on GitHub; a run waiting
//! for a reviewer approved with `shipdeck approve`; a secret sealed with the
//! environment's key and opened by the fake; `auth test`; and the token in
//! no output or file.

mod support {
    pub mod github_fake;
    pub mod output;
}

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::github_fake::{FakeEnvironment, FakeJob, FakeWorkflow, GithubFake};
use support::output::text;

const TOKEN: &str = "ghp_cliTESTtokenVALUEnotForScreens01";
const REPO: &str = "acme/kaiwa";
const OLD: &str = "ghcr.io/acme/kaiwa:1.3.0";
const NEW: &str = "ghcr.io/acme/kaiwa:1.4.0";

/// The app's own health endpoint (what the gates measure; GitHub reports no instances).
fn health_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let body = r#"{"status":"pass"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/health/ready")
}

fn config(home: &Path, fake: &GithubFake) {
    let health = health_server();
    let env = |name: &str, extra: &str| {
        format!(
            r#"
[[env]]
name = "{name}"
provider = "github_actions"
{extra}

[env.github]
repo = "{REPO}"
workflow = "deploy.yml"
api_url = "{base}"
poll_interval = "50ms"
wait_timeout = "30s"
inputs = {{ environment = "{{environment}}", image = "{{artifact.image}}" }}

[env.gates]
samples = 1
interval = "100ms"
stabilize = "1s"

[[env.service]]
name = "api"
health_url = "{health}"
"#,
            base = fake.base_url()
        )
    };
    let text = format!(
        "{}{}",
        env("staging", "promote_to = \"production\""),
        env("production", "protected = true")
    );
    std::fs::write(home.join("shipdeck.toml"), text).unwrap();
}

fn command(home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("SHIPDECK_STATE_DIR", home.join("state"))
        .env("SHIPDECK_KEYRING", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("SHIPDECK_GITHUB_TOKEN", TOKEN);
    cmd
}

fn shipdeck(home: &Path, args: &[&str]) -> Output {
    command(home, args).output().unwrap()
}

fn seed(fake: &GithubFake, env: &str, image: &str) {
    let id = fake
        .dispatch(
            REPO,
            "deploy.yml",
            "main",
            json!({"environment": env, "image": image}),
        )
        .unwrap();
    fake.complete_run(id);
}

fn fleet() -> (GithubFake, tempfile::TempDir) {
    let fake = GithubFake::start_in_thread(TOKEN);
    fake.add_repo(REPO);
    fake.set_identity("alice", 1001, Some("Alice"));
    fake.add_workflow(
        REPO,
        FakeWorkflow::dispatchable("deploy.yml", "Deploy")
            .input("environment", true)
            .input("image", true)
            .job(FakeJob::new("build").steps(&["Checkout", "Build image"]))
            .job(
                FakeJob::new("deploy")
                    .environment("{inputs.environment}")
                    .steps(&["Deploy", "Smoke test"]),
            )
            .job(FakeJob::new("verify").steps(&["Health"])),
    );
    fake.add_environment(REPO, FakeEnvironment::new("staging"));
    fake.add_environment(REPO, FakeEnvironment::new("production"));
    seed(&fake, "production", OLD);
    seed(&fake, "staging", NEW);
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

/// The image production's latest successful deployment records.
fn production_image(fake: &GithubFake) -> Option<String> {
    fake.deployments(REPO, "production")
        .into_iter()
        .find(|d| d.state() == Some("success"))
        .and_then(|d| d.payload["image"].as_str().map(str::to_string))
}

/// Nothing shipdeck printed or wrote holds the token.
fn assert_no_token(home: &Path, outs: &[&Output]) {
    support::output::assert_nowhere(TOKEN, &home.join("state"), outs);
}

const PROMOTE: [&str; 6] = [
    "promote",
    "staging",
    "production",
    "--confirm",
    "production",
    "--json",
];

#[test]
fn a_promote_dispatches_the_workflow_and_follows_its_three_jobs() {
    let (fake, home) = fleet();
    let out = shipdeck(home.path(), &PROMOTE);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(production_image(&fake).as_deref(), Some(NEW));
    let sent = fake.dispatches(REPO);
    let last = sent.last().unwrap();
    assert_eq!(last["inputs"]["environment"], "production");
    assert_eq!(last["inputs"]["image"], NEW, "staging's exact image");
    let jobs: Vec<String> = events(&out)
        .iter()
        .filter(|e| e["event"] == "deploy_progress" && e["progress"]["state"] == "done")
        .map(|e| e["progress"]["unit"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(jobs, ["build", "deploy", "verify"], "{}", text(&out));
    let history = shipdeck(home.path(), &["releases", "production", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(v[0]["current"], true, "{v}");
    assert_eq!(v[0]["artifact"]["tag"], "1.4.0", "{v}");
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(audit.contains("promote"), "{audit}");
    let who = shipdeck(home.path(), &["auth", "test", "github"]);
    assert!(who.status.success(), "{}", text(&who));
    assert!(text(&who).contains("alice"), "{}", text(&who));
    assert_no_token(home.path(), &[&out, &history, &who]);
}

#[test]
fn a_failing_job_shows_its_log_and_the_old_image_is_redeployed() {
    let (fake, home) = fleet();
    fake.fail_job_step(
        REPO,
        "deploy.yml",
        "deploy",
        "Smoke test",
        "curl: (22) The requested URL returned error: 503",
    );
    let out = shipdeck(home.path(), &PROMOTE);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("returned error: 503"),
        "the failed job's log is shown: {}",
        text(&out)
    );
    let sent = fake.dispatches(REPO);
    assert_eq!(
        sent.last().unwrap()["inputs"]["image"],
        OLD,
        "the revert dispatched the previous image"
    );
    assert_eq!(production_image(&fake).as_deref(), Some(OLD));
    // The workflow failed after deploying: reverted, and told as a failure (exit 1).
    assert_eq!(out.status.code(), Some(1));
    let last = events(&out).into_iter().last().unwrap();
    assert_eq!(last["outcome"]["outcome"], "failed", "{}", text(&out));
    let reason = last["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("rolled back: api back on 1.3.0"),
        "{reason}"
    );
    assert!(
        !reason.contains("Runner Image"),
        "only the failing step's lines: {reason}"
    );
    assert_no_token(home.path(), &[&out]);
}

#[test]
fn ctrl_c_cancels_the_run_on_github() {
    let (fake, home) = fleet();
    fake.set_polls_per_step(6);
    let mut child = command(home.path(), &PROMOTE)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.contains("\"deploy_progress\"") && line.contains("\"build\"") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
    }
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let run = fake
        .runs(REPO)
        .into_iter()
        .find(|r| {
            r.inputs.get("image").and_then(|v| v.as_str()) == Some(NEW)
                && r.inputs["environment"] == "production"
        })
        .unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("cancelled"));
    assert_eq!(production_image(&fake).as_deref(), Some(OLD));
}

#[test]
fn a_run_waiting_for_a_reviewer_is_approved_with_shipdeck_approve() {
    let (fake, home) = fleet();
    fake.add_environment(
        REPO,
        FakeEnvironment::new("production").required_reviewers(&["alice", "bob"]),
    );
    let child = command(home.path(), &PROMOTE)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let run = loop {
        let out = shipdeck(home.path(), &["approvals", "production", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(w) = v["waiting"].as_array().and_then(|a| a.first()) {
            assert_eq!(w["reviewers"], json!(["alice", "bob"]), "{v}");
            break w["run"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never waited");
        std::thread::sleep(Duration::from_millis(100));
    };
    let refused = shipdeck(home.path(), &["approve", "production"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("--confirm production"),
        "{}",
        text(&refused)
    );
    let read_only = shipdeck(
        home.path(),
        &[
            "--read-only",
            "approve",
            "production",
            "--confirm",
            "production",
        ],
    );
    assert!(!read_only.status.success(), "{}", text(&read_only));
    let ok = shipdeck(
        home.path(),
        &["approve", "production", "--confirm", "production"],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains(&run), "{}", text(&ok));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("waiting for approval by alice, bob"),
        "{}",
        text(&out)
    );
    assert_eq!(production_image(&fake).as_deref(), Some(NEW));
    let audit = std::fs::read_to_string(home.path().join("state/audit.jsonl")).unwrap();
    assert!(audit.contains("\"approve\""), "{audit}");
    assert_eq!(fake.reviews(run.parse().unwrap()).len(), 1);
    assert_no_token(home.path(), &[&out, &ok, &refused]);
}

#[test]
fn a_secret_set_is_sealed_for_the_environment_and_listed_write_only() {
    let (fake, home) = fleet();
    let mut child = command(
        home.path(),
        &[
            "secrets",
            "staging",
            "set",
            "JWT_SECRET",
            "--stage",
            "--json",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"n3w-jwt-value\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fake.secret_value(REPO, "staging", "JWT_SECRET").as_deref(),
        Some("n3w-jwt-value")
    );
    assert!(!text(&out).contains("n3w-jwt-value"));
    let list = shipdeck(home.path(), &["secrets", "staging", "list", "--json"]);
    assert!(list.status.success(), "{}", text(&list));
    assert!(text(&list).contains("JWT_SECRET"), "{}", text(&list));
    assert_no_token(home.path(), &[&out, &list]);
}

/// Production's migrations run by the team's `migrate.yml`, before the deploy.
fn with_migration_workflow(fake: &GithubFake, home: &Path) {
    fake.add_workflow(
        REPO,
        FakeWorkflow::dispatchable("migrate.yml", "Migrate")
            .input("environment", true)
            .job(FakeJob::new("migrate").steps(&["Run migrations"])),
    );
    let path = home.join("shipdeck.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        r#"
[env.migrations]
tool = "github_actions"
workflow = "migrate.yml"
inputs = { environment = "{environment}" }
"#,
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_migration_workflow_runs_before_the_deploy_and_stops_it_when_it_fails() {
    let (fake, home) = fleet();
    with_migration_workflow(&fake, home.path());
    let out = shipdeck(home.path(), &PROMOTE);
    assert!(out.status.success(), "{}", text(&out));
    let order: Vec<String> = fake
        .runs(REPO)
        .into_iter()
        .rev()
        .skip(2)
        .map(|r| r.workflow_path)
        .collect();
    assert_eq!(
        order,
        [
            ".github/workflows/migrate.yml",
            ".github/workflows/deploy.yml"
        ],
        "migrate first, then deploy"
    );
    let migrate = &fake.runs(REPO)[1];
    assert_eq!(migrate.inputs["environment"], "production");
    let step = events(&out)
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "migrate up")
        .unwrap();
    assert_eq!(step["status"], "ok", "{step}");
    assert!(
        step["detail"]
            .as_str()
            .unwrap()
            .contains("migrate.yml run #"),
        "{step}"
    );

    // A failing migration stops the plan before any deploy.
    let (fake, home) = fleet();
    with_migration_workflow(&fake, home.path());
    fake.fail_job_step(
        REPO,
        "migrate.yml",
        "migrate",
        "Run migrations",
        "ERROR: relation \"users\" already exists",
    );
    let deploys = fake.dispatches(REPO).len();
    let out = shipdeck(home.path(), &PROMOTE);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("relation"), "{}", text(&out));
    assert_eq!(
        fake.dispatches(REPO).len(),
        deploys + 1,
        "only the migration ran"
    );
    assert_eq!(production_image(&fake).as_deref(), Some(OLD));
}

#[test]
fn a_build_that_fails_before_deploying_exits_3_with_nothing_to_revert() {
    let (fake, home) = fleet();
    fake.fail_job_step(
        REPO,
        "deploy.yml",
        "build",
        "Build image",
        "error: failed to solve: exit code 2",
    );
    let before = fake.dispatches(REPO).len();
    let out = shipdeck(home.path(), &PROMOTE);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        fake.dispatches(REPO).len(),
        before + 1,
        "no revert dispatched"
    );
    assert_eq!(production_image(&fake).as_deref(), Some(OLD));
    assert!(text(&out).contains("failed to solve"), "{}", text(&out));
}

#[test]
fn a_rotation_seals_the_new_value_and_runs_the_workflow_with_the_running_image() {
    let (fake, home) = fleet();
    fake.set_secret(REPO, "production", "JWT_SECRET", "old-value");
    let before = fake.dispatches(REPO).len();
    let out = shipdeck(
        home.path(),
        &[
            "secrets",
            "production",
            "rotate",
            "JWT_SECRET",
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
    let value = fake.secret_value(REPO, "production", "JWT_SECRET").unwrap();
    assert_eq!(value.len(), 40);
    assert!(!text(&out).contains(&value), "the value is never printed");
    let sent = fake.dispatches(REPO);
    assert_eq!(sent.len(), before + 1, "one run applies it");
    assert_eq!(
        sent.last().unwrap()["inputs"]["image"],
        OLD,
        "the image already running"
    );
    assert_no_token(home.path(), &[&out]);
}

#[test]
fn a_promotion_whose_gates_could_measure_nothing_is_refused_before_anything_runs() {
    let (fake, home) = fleet();
    let path = home.path().join("shipdeck.toml");
    let text_cfg = std::fs::read_to_string(&path).unwrap();
    let blind: String = text_cfg
        .lines()
        .filter(|l| !l.starts_with("health_url"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, blind).unwrap();
    let before = fake.dispatches(REPO).len();
    let out = shipdeck(home.path(), &PROMOTE);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("the gates of `production` would measure nothing"),
        "{said}"
    );
    assert!(said.contains("service(s) api"), "{said}");
    assert!(
        said.contains("github provider reports no instances"),
        "{said}"
    );
    assert_eq!(
        fake.dispatches(REPO).len(),
        before,
        "nothing was dispatched"
    );
}
