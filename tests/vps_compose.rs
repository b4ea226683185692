//! Docker Compose services on a VPS, with real containers: the real
//! `shipdeck` binary over a real sshd on loopback drives `docker-compose`
//! (v1, the seed's spelling) against the machine's Docker engine, with
//! images built locally from busybox (there is no registry). A promotion
//! sets the image variable in the project's `.env` and brings the service up
//! alone; the database beside it is never recreated; a container that turns
//! unhealthy is put back on the previous image.

mod support {
    pub mod cli;
    pub mod output;
    pub mod sshd;
}

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::time::{Duration, Instant};

use support::output::text;
use support::sshd::{Sshd, standins};

static IMAGES: Once = Once::new();

fn build_images() {
    IMAGES.call_once(|| {
        let out = Command::new(standins().join("compose/build-images.sh"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    });
}

/// One Compose project (web + db), taken down on drop.
struct Project {
    name: String,
    dir: PathBuf,
    port: u16,
}

impl Project {
    fn start(root: &Path, env: &str, image: &str) -> Project {
        let dir = root.join(env);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            standins().join("compose/docker-compose.yml"),
            dir.join("docker-compose.yml"),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            dir.join(".env"),
            format!("# set by the test\nWEB_PORT={port}\nWEB_IMAGE={image}\n"),
        )
        .unwrap();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("shipdeck-t{}-{n}-{env}", std::process::id());
        let p = Project { name, dir, port };
        let out = p.compose(&["up", "-d"]);
        assert!(out.status.success(), "{}", text(&out));
        p
    }

    fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["-p", &self.name])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    fn container(&self, service: &str) -> String {
        let out = self.compose(&["ps", "-q", service]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn inspect(&self, service: &str, format: &str) -> String {
        let out = Command::new("docker")
            .args(["inspect", "--format", format, &self.container(service)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn wait_health(&self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.inspect("web", "{{.State.Health.Status}}") == want {
                return;
            }
            assert!(Instant::now() < deadline, "{} web never {want}", self.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .args(["-p", &self.name, "down", "-v", "-t", "1"])
            .current_dir(&self.dir)
            .output();
    }
}

/// Fields drop in this order: the projects come down before sshd's folder, which holds them, goes.
struct Fleet {
    staging: Project,
    production: Project,
    home: tempfile::TempDir,
    sshd: Sshd,
}

impl Fleet {
    fn shipdeck(&self, args: &[&str]) -> Output {
        support::cli::run(self.home.path(), args)
    }
}

fn fleet(staging_image: &str) -> Fleet {
    build_images();
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let staging = Project::start(sshd.dir(), "staging", staging_image);
    let production = Project::start(sshd.dir(), "production", "shipdeck-test/app:v1");
    production.wait_health("healthy");
    let mut config = String::new();
    for (env, p) in [("staging", &staging), ("production", &production)] {
        config.push_str(&format!(
            "[[env]]\nname = \"{env}\"\nprovider = \"vps\"\n{}\n[env.vps]\n{}compose_command = \"docker-compose\"\nlock_file = \"{}\"\n\n[env.gates]\nsamples = 2\ninterval = \"200ms\"\nstabilize = \"1s\"\n\n[[env.service]]\nname = \"web\"\nhealth_url = \"http://127.0.0.1:{port}/health\"\nvps = {{ compose = \"web\", dir = \"{dir}\", project = \"{project}\", image_var = \"WEB_IMAGE\", pull = false, start_timeout = \"20s\" }}\n\n",
            if env == "staging" { "promote_to = \"production\"" } else { "protected = true" },
            sshd.vps_table(),
            sshd.dir().join(format!("{env}.lock")).display(),
            port = p.port,
            dir = p.dir.display(),
            project = p.name,
        ));
    }
    std::fs::write(home.path().join("shipdeck.toml"), config).unwrap();
    Fleet {
        sshd,
        home,
        staging,
        production,
    }
}

fn promote(f: &Fleet) -> Output {
    support::cli::promote_confirmed(f.home.path(), "staging", "production")
}

#[test]
fn promote_brings_up_stagings_image_alone_and_leaves_the_database_running() {
    let f = fleet("shipdeck-test/app:v2");
    f.staging.wait_health("healthy");
    let db = f.production.container("db");
    let db_started = f.production.inspect("db", "{{.State.StartedAt}}");
    let out = promote(&f);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        f.production.inspect("web", "{{.Config.Image}}"),
        "shipdeck-test/app:v2"
    );
    assert_eq!(
        f.production.inspect("web", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert_eq!(f.production.container("db"), db, "db never recreated");
    assert_eq!(
        f.production.inspect("db", "{{.State.StartedAt}}"),
        db_started,
        "db never restarted"
    );
    let env = std::fs::read_to_string(f.production.dir.join(".env")).unwrap();
    assert!(env.contains("WEB_IMAGE=shipdeck-test/app:v2"), "{env}");
    assert!(
        env.contains(&format!("WEB_PORT={}", f.production.port)),
        "other lines kept: {env}"
    );
    // History: v2 running, v1 kept to return to; a rollback goes back to it.
    let ids = support::cli::release_ids(f.home.path(), &["production"]);
    assert_eq!(
        ids,
        [
            ("shipdeck-test/app:v2".to_string(), true),
            ("shipdeck-test/app:v1".to_string(), false)
        ]
    );
    let back = f.shipdeck(&[
        "rollback",
        "production",
        "--to",
        "shipdeck-test/app:v1",
        "--confirm",
        "production",
        "--json",
    ]);
    assert!(back.status.success(), "{}", text(&back));
    assert_eq!(
        f.production.inspect("web", "{{.Config.Image}}"),
        "shipdeck-test/app:v1"
    );
    assert_eq!(f.production.container("db"), db, "db never recreated");
    let _ = &f.sshd;
}

#[test]
fn a_container_that_never_turns_healthy_is_put_back_on_the_previous_image() {
    let f = fleet("shipdeck-test/app:bad");
    let db = f.production.container("db");
    let out = promote(&f);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("unhealthy"), "{}", text(&out));
    assert_eq!(
        f.production.inspect("web", "{{.Config.Image}}"),
        "shipdeck-test/app:v1"
    );
    f.production.wait_health("healthy");
    assert_eq!(f.production.container("db"), db, "db never recreated");
}

#[test]
fn an_image_missing_on_the_host_is_refused_before_anything_changes() {
    build_images();
    // Staging runs an image whose tag is then removed from the engine: the
    // container keeps running, but no host has the tag to deploy any more.
    let tag = format!("shipdeck-test/app:gone-{}", std::process::id());
    let tagged = Command::new("docker")
        .args(["tag", "shipdeck-test/app:v2", &tag])
        .output()
        .unwrap();
    assert!(tagged.status.success(), "{}", text(&tagged));
    let f = fleet(&tag);
    f.staging.wait_health("healthy");
    let untagged = Command::new("docker").args(["rmi", &tag]).output().unwrap();
    assert!(untagged.status.success(), "{}", text(&untagged));
    let web = f.production.container("web");
    let out = promote(&f);
    assert!(!out.status.success());
    assert!(text(&out).contains("is not on"), "{}", text(&out));
    assert!(text(&out).contains("pull = false"), "{}", text(&out));
    assert_eq!(f.production.container("web"), web, "web untouched");
    assert_eq!(
        f.production.inspect("web", "{{.Config.Image}}"),
        "shipdeck-test/app:v1"
    );
}
