//! The real binary in a real terminal (tmux): the first frame appears, `q`
//! exits 0, SIGTERM and SIGHUP exit cleanly, and the terminal comes back
//! (alternate screen left, canonical mode and echo restored).

use std::process::Command;
use std::time::{Duration, Instant};

struct Session {
    name: String,
    _dir: tempfile::TempDir,
}

impl Session {
    /// Start shipdeck on the demo fleet in a fresh tmux session.
    fn start(tag: &str) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("shipdeck-test-{tag}-{}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_shipdeck");
        // After shipdeck exits, print its exit code and the tty's line discipline.
        let script = format!(
            "cd {dir} && XDG_CONFIG_HOME={dir} SHIPDECK_STATE_DIR={dir} {bin}; echo __EXITED_$?__; stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo __STTY__; sleep 60",
            dir = dir.path().display()
        );
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "36",
                "sh",
                "-c",
                &script,
            ])
            .status()
            .expect("tmux must be installed (scripts/test.sh installs it)");
        assert!(status.success(), "tmux new-session failed");
        Session { name, _dir: dir }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "{needle:?} did not appear within {timeout:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&self, keys: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.name, keys])
            .status()
            .unwrap();
    }

    /// PID of shipdeck: the child of the pane's shell.
    fn app_pid(&self) -> String {
        let out = Command::new("tmux")
            .args(["list-panes", "-t", &self.name, "-F", "#{pane_pid}"])
            .output()
            .unwrap();
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .expect("shipdeck child process")
            .to_string()
    }

    fn assert_restored(&self) {
        let screen = self.wait_for("__STTY__", Duration::from_secs(10));
        assert!(
            screen.contains("__EXITED_0__"),
            "exit code 0 expected; screen:\n{screen}"
        );
        assert!(
            !screen.contains("DEMO"),
            "alternate screen must be left; screen:\n{screen}"
        );
        assert!(
            screen.contains("icanon echo")
                && !screen.contains("-icanon")
                && !screen.contains("-echo"),
            "tty must be back in canonical mode with echo; screen:\n{screen}"
        );
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

#[test]
fn first_frame_then_q_exits_zero_and_restores_the_terminal() {
    let s = Session::start("q");
    let screen = s.wait_for("DEMO", Duration::from_secs(15));
    assert!(
        screen.contains("Environments") && screen.contains("production"),
        "{screen}"
    );
    // Data arrives from the fleet over loopback.
    s.wait_for("v41", Duration::from_secs(10));
    s.send("?");
    s.wait_for("Keys · any key closes", Duration::from_secs(5));
    s.send("x");
    s.send("q");
    s.assert_restored();
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for signal in ["TERM", "HUP"] {
        let s = Session::start(&signal.to_lowercase());
        s.wait_for("DEMO", Duration::from_secs(15));
        let pid = s.app_pid();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
        s.assert_restored();
    }
}
