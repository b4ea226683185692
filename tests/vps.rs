//! The VPS provider end to end: the real `shipdeck` binary against a real
//! sshd on loopback (generated host and client keys, strict known_hosts),
//! whose sessions run a stand-in `systemctl` that manages real local
//! processes: each release is a small HTTP server with a health endpoint.
//! Seed 002's shape: a `backend` and a `frontend` unit per env, deployed
//! backend first, each gated on its health.

mod support {
    pub mod cli;
    pub mod output;
    pub mod sshd;
}

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use support::output::text;
use support::sshd::{Sshd, current, release};

struct Fleet {
    sshd: Sshd,
    home: tempfile::TempDir,
    /// Per env, per service: (dir, port).
    apps: Vec<(String, String, PathBuf, u16)>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Fleet {
    fn dir(&self, env: &str, service: &str) -> &Path {
        &self.app(env, service).2
    }

    fn port(&self, env: &str, service: &str) -> u16 {
        self.app(env, service).3
    }

    fn app(&self, env: &str, service: &str) -> &(String, String, PathBuf, u16) {
        self.apps
            .iter()
            .find(|(e, s, _, _)| e == env && s == service)
            .unwrap()
    }

    fn unit(env: &str, service: &str) -> String {
        format!("{env}-{service}")
    }

    fn start(&self, env: &str, service: &str) {
        let out = self.sshd.systemctl(&["start", &Fleet::unit(env, service)]);
        assert!(out.status.success(), "{}", text(&out));
        wait_version(self.port(env, service), None);
    }

    fn shipdeck(&self, args: &[&str]) -> Output {
        support::cli::run(self.home.path(), args)
    }

    fn health(&self, env: &str, service: &str) -> Option<String> {
        health(self.port(env, service))
    }
}

/// GET /health on 127.0.0.1:PORT.
fn health(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /health HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.split("\r\n\r\n").nth(1).map(str::to_string)
}

/// Wait until the app on PORT answers (with `version`, when given).
fn wait_version(port: u16, version: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(body) = health(port)
            && version.is_none_or(|v| body.contains(&format!("\"version\":\"{v}\"")))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} never served {version:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// staging runs backend `stg_backend` / frontend f2; production runs v1 / f1.
fn fleet(stg_backend: (&str, &str), extra_env: &str) -> Fleet {
    fleet_with(stg_backend, extra_env, false)
}

/// As [`fleet`]; with `backups`, production's backend keeps seed 002's
/// layout: the running `DIR/app` and timestamped copies in `DIR/backups/`.
fn fleet_with(stg_backend: (&str, &str), extra_env: &str, backups: bool) -> Fleet {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let mut apps = Vec::new();
    let mut config = String::new();
    for env in ["staging", "production"] {
        config.push_str(&format!(
            "[[env]]\nname = \"{env}\"\nprovider = \"vps\"\n{}\n[env.vps]\n{}lock_file = \"{}\"\ncommand_timeout = \"20s\"\n{extra_env}\n[env.gates]\nsamples = 2\ninterval = \"200ms\"\nstabilize = \"1s\"\nmax_error_rate = 1.0\n\n[env.rollout]\nstages = [[\"backend\"], [\"frontend\"]]\n\n",
            if env == "staging" {
                "promote_to = \"production\""
            } else {
                "protected = true"
            },
            sshd.vps_table(),
            sshd.dir().join(format!("{env}.lock")).display(),
        ));
        for service in ["backend", "frontend"] {
            let dir = sshd.dir().join("opt").join(env).join(service);
            let port = free_port();
            let releases: Vec<(&str, &str, bool)> = match (env, service) {
                ("staging", "backend") => {
                    vec![("v1", "", false), (stg_backend.0, stg_backend.1, true)]
                }
                ("staging", "frontend") => vec![("f1", "", false), ("f2", "", true)],
                (_, "backend") => vec![("v1", "", true)],
                _ => vec![("f1", "", true)],
            };
            let seed_layout = backups && (env, service) == ("production", "backend");
            if seed_layout {
                let made = release(&sshd.dir().join("build"), "v1", "APP_VERSION=v1", false);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::copy(made, dir.join("app")).unwrap();
            } else {
                for (name, extra, is_current) in releases {
                    release(&dir, name, extra, is_current);
                }
            }
            std::fs::write(dir.join(".env"), "PORT_UNUSED=1\nJWT_SECRET=first\n").unwrap();
            sshd.unit(
                &Fleet::unit(env, service),
                &dir.join(if seed_layout { "app" } else { "current/app" }),
                &[("PORT", &port.to_string())],
                Some(&dir.join(".env")),
            );
            config.push_str(&format!(
                "[[env.service]]\nname = \"{service}\"\nhealth_url = \"http://127.0.0.1:{port}/health\"\nvps = {{ systemd = \"{unit}\", dir = \"{dir}\", binary = \"app\", env_file = \".env\", start_timeout = \"10s\"{layout} }}\n\n",
                unit = Fleet::unit(env, service),
                dir = dir.display(),
                layout = if seed_layout { ", layout = \"backups\"" } else { "" }
            ));
            apps.push((env.to_string(), service.to_string(), dir, port));
        }
    }
    std::fs::write(home.path().join("shipdeck.toml"), config).unwrap();
    let fleet = Fleet { sshd, home, apps };
    for env in ["staging", "production"] {
        for service in ["backend", "frontend"] {
            if (env, service) == ("staging", "backend") {
                // It may be a release that never serves: started, not waited for.
                let out = fleet.sshd.systemctl(&["start", &Fleet::unit(env, service)]);
                assert!(out.status.success(), "{}", text(&out));
            } else {
                fleet.start(env, service);
            }
        }
    }
    fleet
}

fn promote(f: &Fleet) -> Output {
    support::cli::promote_confirmed(f.home.path(), "staging", "production")
}

#[test]
fn promote_deploys_stagings_exact_binaries_backend_first_over_ssh() {
    let f = fleet(("v2", ""), "");
    let out = promote(&f);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(current(f.dir("production", "backend")), "v2");
    assert_eq!(current(f.dir("production", "frontend")), "f2");
    wait_version(f.port("production", "backend"), Some("v2"));
    wait_version(f.port("production", "frontend"), Some("f2"));
    // The exact bytes staging runs.
    let same = |service: &str, name: &str| {
        std::fs::read(
            f.dir("staging", service)
                .join("releases")
                .join(name)
                .join("app"),
        )
        .unwrap()
            == std::fs::read(
                f.dir("production", service)
                    .join("releases")
                    .join(name)
                    .join("app"),
            )
            .unwrap()
    };
    assert!(same("backend", "v2") && same("frontend", "f2"));
    // Backend went live before the frontend was touched (seed 002's order).
    let events = text(&out);
    let backend = events.find("production-backend").unwrap();
    let frontend = events.find("production-frontend").unwrap();
    assert!(backend < frontend, "{events}");
    // History: v2 current, v1 kept as the backup.
    let ids = support::cli::release_ids(f.home.path(), &["production", "--service", "backend"]);
    assert_eq!(ids, [("v2".to_string(), true), ("v1".to_string(), false)]);
    let audit = std::fs::read_to_string(f.home.path().join("state/audit.jsonl")).unwrap();
    assert!(audit.contains("promote"), "{audit}");

    // A rollback by command switches back to the backup binary and restarts.
    let back = f.shipdeck(&[
        "rollback",
        "production",
        "--service",
        "backend",
        "--to",
        "v1",
        "--confirm",
        "production",
        "--json",
    ]);
    assert!(back.status.success(), "{}", text(&back));
    assert_eq!(current(f.dir("production", "backend")), "v1");
    wait_version(f.port("production", "backend"), Some("v1"));
    assert_eq!(
        current(f.dir("production", "frontend")),
        "f2",
        "frontend untouched"
    );
}

#[test]
fn a_failing_health_gate_rolls_back_to_the_backup_binary() {
    let f = fleet(("v3", "APP_HEALTH=fail"), "");
    let out = promote(&f);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(current(f.dir("production", "backend")), "v1");
    wait_version(f.port("production", "backend"), Some("v1"));
    assert!(
        f.health("production", "backend")
            .unwrap()
            .contains("\"ok\"")
    );
    assert_eq!(
        current(f.dir("production", "frontend")),
        "f1",
        "the frontend stage never ran"
    );
    // The bad release stays on the host, not current.
    assert!(
        f.dir("production", "backend")
            .join("releases/v3/app")
            .is_file()
    );
}

#[test]
fn a_binary_that_will_not_stay_up_is_reverted_without_waiting_for_the_gate() {
    let f = fleet(("v4", "APP_CRASH=1"), "");
    let out = promote(&f);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("production-backend"), "{}", text(&out));
    assert_eq!(current(f.dir("production", "backend")), "v1");
    wait_version(f.port("production", "backend"), Some("v1"));
}

#[test]
fn a_release_name_with_shell_metacharacters_is_only_a_folder_name() {
    let name = "v5;touch PWNED$(touch PWNED2)`touch PWNED3`'\"";
    let f = fleet((name, ""), "");
    let out = promote(&f);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(current(f.dir("production", "backend")), name);
    for dir in [f.home.path(), f.sshd.dir(), f.dir("production", "backend")] {
        for pwned in ["PWNED", "PWNED2", "PWNED3"] {
            assert!(!dir.join(pwned).exists(), "{pwned} in {}", dir.display());
        }
    }
}

#[test]
fn an_unknown_host_key_is_refused_with_how_to_verify_it() {
    let f = fleet(("v2", ""), "");
    std::fs::write(f.sshd.known_hosts(), "").unwrap();
    let out = f.shipdeck(&["releases", "production", "--service", "backend"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("not in known_hosts"), "{said}");
    assert!(
        said.contains(&format!("ssh-keyscan -p {} 127.0.0.1", f.sshd.port)),
        "{said}"
    );
    let promoted = promote(&f);
    assert!(!promoted.status.success());
    assert_eq!(current(f.dir("production", "backend")), "v1");
}

#[test]
fn a_second_operator_is_refused_while_the_host_lock_is_held_and_told_by_whom() {
    let f = fleet(("v2", ""), "");
    // Another operator holds the host's lock (a flock through ssh, as shipdeck takes it).
    let lock = f.sshd.dir().join("production.lock");
    let mut holder = std::process::Command::new("ssh")
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", f.sshd.known_hosts().display()))
        .arg("-i")
        .arg(f.sshd.identity())
        .args(["-p", &f.sshd.port.to_string()])
        .arg(format!("{}@127.0.0.1", f.sshd.user))
        .arg(format!(
            "exec 9>>{l}; flock -n 9 && echo 'alice@laptop (pid 1) since 10:00: deploy' > {l}.holder && echo locked && sleep 30",
            l = lock.display()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "locked");
    let out = promote(&f);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!out.status.success());
    assert!(text(&out).contains("alice@laptop"), "{}", text(&out));
    assert_eq!(current(f.dir("production", "backend")), "v1");
}

#[test]
fn secrets_are_names_and_digests_and_a_set_restarts_the_unit() {
    let f = fleet(("v2", ""), "");
    let env_file = f.dir("production", "backend").join(".env");
    let list = f.shipdeck(&[
        "secrets",
        "production",
        "list",
        "--service",
        "backend",
        "--json",
    ]);
    assert!(list.status.success(), "{}", text(&list));
    assert!(text(&list).contains("JWT_SECRET"));
    assert!(!text(&list).contains("first"), "no value is printed");
    let before = f
        .sshd
        .systemctl(&["show", "production-backend", "-p", "MainPID"]);
    let out = f.shipdeck(&[
        "secrets",
        "production",
        "rotate",
        "JWT_SECRET",
        "--service",
        "backend",
        "--generate",
        "40",
        "--envs",
        "production",
        "--confirm",
        "production",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(&env_file).unwrap();
    let value = written
        .lines()
        .find_map(|l| l.strip_prefix("JWT_SECRET="))
        .unwrap()
        .to_string();
    assert_ne!(value, "first");
    assert_eq!(value.len(), 40);
    assert!(
        written.contains("PORT_UNUSED=1"),
        "other lines kept: {written}"
    );
    assert!(!text(&out).contains(&value), "the value is never printed");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let backup = std::fs::read_to_string(f.dir("production", "backend").join(".env.bak")).unwrap();
    assert!(
        backup.contains("JWT_SECRET=first"),
        "one backup of the old file: {backup}"
    );
    let after = f
        .sshd
        .systemctl(&["show", "production-backend", "-p", "MainPID"]);
    assert_ne!(
        before.stdout, after.stdout,
        "the unit was restarted to read it"
    );
    support::output::assert_nowhere(&value, &f.home.path().join("state"), &[&out, &list]);
}

#[test]
fn the_seeds_backup_binaries_are_the_history_and_a_rollback_restores_one() {
    let f = fleet_with(("v2", "APP_VERSION=v2"), "", true);
    let dir = f.dir("production", "backend").to_path_buf();
    let v1 = std::fs::read(dir.join("app")).unwrap();
    let out = promote(&f);
    assert!(out.status.success(), "{}", text(&out));
    wait_version(f.port("production", "backend"), Some("v2"));
    let staged = std::fs::read(f.dir("staging", "backend").join("releases/v2/app")).unwrap();
    assert_eq!(
        std::fs::read(dir.join("app")).unwrap(),
        staged,
        "the exact binary"
    );
    let backups: Vec<PathBuf> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let name = backups[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(name.starts_with("app.backup.2"), "seed 002's name: {name}");
    assert_eq!(
        std::fs::read(&backups[0]).unwrap(),
        v1,
        "the running one was kept"
    );
    // History: the running binary and the backup, by checksum.
    let ids = support::cli::release_ids(f.home.path(), &["production", "--service", "backend"]);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].1, "the running one first: {ids:?}");
    let old = ids[1].0.clone();
    let back = f.shipdeck(&[
        "rollback",
        "production",
        "--service",
        "backend",
        "--to",
        &old,
        "--confirm",
        "production",
    ]);
    assert!(back.status.success(), "{}", text(&back));
    wait_version(f.port("production", "backend"), Some("v1"));
    assert_eq!(std::fs::read(dir.join("app")).unwrap(), v1);
}
