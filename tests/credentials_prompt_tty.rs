//! `read_secret` on a real terminal: the test re-executes itself with a
//! pseudo-terminal as stdin, types into the master side, and checks that
//! nothing was echoed, that editing and Ctrl-C work, and that the terminal
//! settings are restored afterwards.

#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shipdeck::credentials::read_secret;

const CHILD_VAR: &str = "SHIPDECK_PROMPT_TTY_CHILD";
const TEST_NAME: &str = "tty_prompt_hides_input_edits_cancels_and_restores";
const PROMPT: &str = "Secret for test: ";

#[test]
fn tty_prompt_hides_input_edits_cancels_and_restores() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return child();
    }
    let typed = run_case(b"hunter2\x7f3\r");
    assert!(typed.stdout.contains("VALUE=hunter3\n"), "{typed:?}");
    assert!(typed.stdout.contains("RESTORED=true"), "{typed:?}");
    assert!(
        !typed.echoed.contains("hunter"),
        "input was echoed: {typed:?}"
    );

    let cancelled = run_case(b"abc\x03");
    assert!(
        cancelled.stdout.contains("ERROR=cancelled at the prompt"),
        "{cancelled:?}"
    );
    assert!(cancelled.stdout.contains("RESTORED=true"), "{cancelled:?}");
    assert!(!cancelled.echoed.contains("abc"), "{cancelled:?}");

    let empty = run_case(b"\r");
    assert!(
        empty.stdout.contains("ERROR=nothing was entered"),
        "{empty:?}"
    );
    assert!(empty.stdout.contains("RESTORED=true"), "{empty:?}");
}

/// In the child: stdin is the pty slave.
fn child() {
    let before = lflag();
    match read_secret(PROMPT) {
        Ok(v) => println!("VALUE={}", v.expose()),
        Err(e) => println!("ERROR={e}"),
    }
    println!("RESTORED={}", lflag() == before && before & libc::ECHO != 0);
}

fn lflag() -> libc::tcflag_t {
    // SAFETY: termios is plain data, filled by tcgetattr on stdin.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    assert_eq!(
        unsafe { libc::tcgetattr(0, &mut t) },
        0,
        "stdin is not a tty"
    );
    t.c_lflag
}

#[derive(Debug)]
struct Outcome {
    stdout: String,
    echoed: String,
}

fn open_pty() -> (File, File) {
    // SAFETY: plain libc pty calls; every return value is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .unwrap()
            .to_string();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&path)
            .unwrap();
        (File::from_raw_fd(master), slave)
    }
}

fn run_case(input: &[u8]) -> Outcome {
    let (mut master, slave) = open_pty();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, "1")
        .stdin(Stdio::from(slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait for the prompt: it is printed after echo is switched off.
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains(PROMPT) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => seen.extend(bytes),
            Err(_) => {
                let _ = child.kill();
                panic!("no prompt; stderr: {}", String::from_utf8_lossy(&seen));
            }
        }
    }
    master.write_all(input).unwrap();

    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success(), "child failed: {stdout}");
    Outcome {
        stdout,
        echoed: drain(&master),
    }
}

/// Whatever the terminal sent back to the "keyboard" side.
fn drain(master: &File) -> String {
    let mut out = Vec::new();
    loop {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, 200) };
        if ready <= 0 || pfd.revents & libc::POLLIN == 0 {
            break;
        }
        let mut buf = [0u8; 256];
        // SAFETY: reads into a valid buffer from an open fd.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}
