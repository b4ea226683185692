//! Test harness: a real OpenSSH server on a loopback port, with a host key
//! and a client key generated per test, a known_hosts file holding the host
//! key, and a stand-in `systemctl` (tests/support/vps/systemctl) first on
//! the PATH of every session, managing real local processes under
//! `root()`. Stopped on drop, with every unit it started.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running sshd and its fake systemd.
pub struct Sshd {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The user the client logs in as (whoever runs the tests).
    pub user: String,
    dir: TempDir,
}

fn sshd_program() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/bin/sshd"] {
        if Path::new(p).is_file() {
            return p.into();
        }
    }
    panic!("no sshd: install openssh-server (scripts/test.sh does this)");
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run a harness command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
}

/// The folder of the stand-ins (tests/support/vps).
pub fn standins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/vps")
}

impl Sshd {
    /// Generate keys and start sshd on a free loopback port.
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("shipdeck-sshd")
            .tempdir()
            .unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        for sub in ["bin", "systemd/units", "systemd/run", "tmp"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::os::unix::fs::symlink(standins().join("systemctl"), d.join("bin/systemctl")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let user = String::from_utf8(run(Command::new("id").arg("-un")).stdout)
            .unwrap()
            .trim()
            .to_string();
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             MaxSessions 50\nMaxStartups 50:30:100\n\
             SetEnv PATH={d}/bin:/usr/local/bin:/usr/bin:/bin FAKE_SYSTEMD_ROOT={d}/systemd TMPDIR={d}/tmp\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        run(Command::new(sshd_program())
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log")));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let key: Vec<&str> = host_key.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", key.join(" ")),
        )
        .unwrap();
        Sshd { port, user, dir }
    }

    /// The harness's folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The fake systemd's state (`units/`, `run/`).
    pub fn systemd_root(&self) -> PathBuf {
        self.dir().join("systemd")
    }

    /// The client's private key.
    pub fn identity(&self) -> PathBuf {
        self.dir().join("client_key")
    }

    /// A known_hosts file that holds the host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// `[env.vps]` lines reaching this server.
    pub fn vps_table(&self) -> String {
        format!(
            "host = \"{}@127.0.0.1\"\nport = {}\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n",
            self.user,
            self.port,
            self.identity().display(),
            self.known_hosts().display()
        )
    }

    /// Write unit `name`: `exec` with `Environment=` pairs and an optional env file.
    pub fn unit(&self, name: &str, exec: &Path, env: &[(&str, &str)], env_file: Option<&Path>) {
        let mut text = format!("[Service]\nExecStart={}\n", exec.display());
        for (k, v) in env {
            text.push_str(&format!("Environment={k}={v}\n"));
        }
        if let Some(f) = env_file {
            text.push_str(&format!("EnvironmentFile=-{}\n", f.display()));
        }
        text.push_str(&format!(
            "Environment=TMPDIR={}\n",
            self.dir().join("tmp").display()
        ));
        std::fs::write(
            self.systemd_root().join(format!("units/{name}.service")),
            text,
        )
        .unwrap();
    }

    /// Run the stand-in systemctl here, as the server's sessions do.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        Command::new(standins().join("systemctl"))
            .args(args)
            .env("FAKE_SYSTEMD_ROOT", self.systemd_root())
            .output()
            .unwrap()
    }

    /// The environment that makes the stand-in systemctl this server's for
    /// a process on this machine (the local transport).
    pub fn local_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PATH".into(),
                format!(
                    "{}:{}",
                    self.dir().join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
            (
                "FAKE_SYSTEMD_ROOT".into(),
                self.systemd_root().display().to_string(),
            ),
        ]
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(self.systemd_root().join("units")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let _ = self.systemctl(&["stop", &name]);
            }
        }
        if let Ok(pid) = std::fs::read_to_string(self.dir().join("sshd.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

/// Make `dir/releases/NAME/app` from the stand-in app, with `extra` lines run
/// first (`APP_HEALTH=fail`; the name alone gives each release its own checksum), and point `dir/current` at it
/// when `current`.
pub fn release(dir: &Path, name: &str, extra: &str, current: bool) -> PathBuf {
    let folder = dir.join("releases").join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let text = std::fs::read_to_string(standins().join("app"))
        .unwrap()
        .replacen(
            "set -eu\n",
            &format!("set -eu\n# release {name}\n{extra}\n"),
            1,
        );
    let file = folder.join("app");
    std::fs::write(&file, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    if current {
        let link = dir.join("current");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("releases/{name}"), link).unwrap();
    }
    file
}

/// The release `dir/current` points at.
pub fn current(dir: &Path) -> String {
    std::fs::read_link(dir.join("current"))
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("releases/")
        .to_string()
}
