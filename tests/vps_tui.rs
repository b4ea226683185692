//! A VPS rollback by key, in the real binary in a real terminal (tmux),
//! over a real sshd on loopback: `R` on a protected env opens the plan, the
//! env's name typed confirms it, and the backup binary runs again.

mod support {
    pub mod sshd;
}

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use support::sshd::{Sshd, current, release};

struct Tmux(String);

impl Tmux {
    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{needle:?} never appeared; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn rollback_by_key_puts_the_backup_binary_back_over_ssh() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let dir = sshd.dir().join("opt/api");
    release(&dir, "v1", "", false);
    release(&dir, "v2", "", true);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    sshd.unit(
        "production-api",
        &dir.join("current/app"),
        &[("PORT", &port.to_string())],
        None,
    );
    let started = sshd.systemctl(&["start", "production-api"]);
    assert!(started.status.success());
    std::fs::write(
        home.path().join("shipdeck.toml"),
        format!(
            "[[env]]\nname = \"production\"\nprovider = \"vps\"\nprotected = true\n\n[env.vps]\n{}lock_file = \"{}\"\n\n[[env.service]]\nname = \"api\"\nhealth_url = \"http://127.0.0.1:{port}/health\"\nvps = {{ systemd = \"production-api\", dir = \"{}\", binary = \"app\", start_timeout = \"10s\" }}\n",
            sshd.vps_table(),
            sshd.dir().join("production.lock").display(),
            dir.display()
        ),
    )
    .unwrap();
    let name = format!("shipdeck-vps-{}", std::process::id());
    let script = format!(
        "cd {h} && HOME={h} XDG_CONFIG_HOME={h}/config SHIPDECK_STATE_DIR={h}/state SHIPDECK_KEYRING=keyutils {bin}; sleep 60",
        h = home.path().display(),
        bin = env!("CARGO_BIN_EXE_shipdeck")
    );
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "150",
            "-y",
            "45",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .expect("tmux must be installed (scripts/test.sh installs it)");
    assert!(status.success());
    let tui = Tmux(name);
    // The history comes from the host: v2 runs, v1 is the backup.
    tui.wait_for("releases/v1/app");
    tui.send(&["R"]);
    tui.wait_for("is protected");
    tui.send(&["production", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while current(&dir) != "v1" {
        assert!(
            Instant::now() < deadline,
            "never rolled back; screen:\n{}",
            tui.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The screen says it is done (the restart waited for and the env
    // pinned); only then is the unit's state final: active, on v1.
    tui.wait_for("PINNED");
    let show = sshd.systemctl(&["is-active", "production-api"]);
    assert!(show.status.success(), "the unit is active on v1");
}
