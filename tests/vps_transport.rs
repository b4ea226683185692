//! The VPS transport and its remote scripts against a real sshd on
//! loopback: a command that outlives its timeout is killed and says so,
//! exit codes and output come back as they were, one master connection
//! serves many calls, a held host lock names its holder and is released when
//! its holder goes, and an env-file write killed before its rename leaves the
//! old file intact.

mod support {
    pub mod sshd;
}

use std::path::Path;
use std::time::{Duration, Instant};

use shipdeck::provider::ProviderError;
use shipdeck::provider::vps::transport::{SshTarget, Transport, script};
use shipdeck::provider::vps::{env_file, lock};
use support::sshd::Sshd;

fn ssh(sshd: &Sshd) -> Transport {
    Transport::Ssh(SshTarget {
        destination: format!("{}@127.0.0.1", sshd.user),
        port: Some(sshd.port),
        identity_file: Some(sshd.identity()),
        known_hosts: Some(sshd.known_hosts()),
    })
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_string()).collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn exit_codes_output_and_stdin_come_back_as_they_were() {
    let sshd = Sshd::start();
    rt().block_on(async {
        for t in [ssh(&sshd), Transport::Local] {
            let out = t
                .run(
                    &script("cat; echo \"$1\" >&2; exit 7", &["it's $HOME"]),
                    Some(b"from stdin"),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
            assert_eq!(out.code, 7, "{t:?}");
            assert_eq!(out.stdout, b"from stdin");
            assert_eq!(out.stderr.trim(), "it's $HOME", "the value is not expanded");
            let err = t
                .check(&words(&["false"]), None, Duration::from_secs(10))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("exit code 1"), "{err}");
        }
    });
}

#[test]
fn a_command_past_its_timeout_is_killed_and_named() {
    let sshd = Sshd::start();
    rt().block_on(async {
        let t = ssh(&sshd);
        let mark = sshd.dir().join("still-ran");
        let started = Instant::now();
        let err = t
            .run(
                &script("sleep 3; touch \"$1\"", &[mark.to_str().unwrap()]),
                None,
                Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, ProviderError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("sleep 3"), "{err}");
        // The host stopped it too: nothing it would have done later happens.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!mark.exists(), "the command went on running on the host");
    });
}

#[test]
fn many_calls_ride_one_master_connection() {
    let sshd = Sshd::start();
    rt().block_on(async {
        let t = ssh(&sshd);
        for _ in 0..20 {
            t.check(&words(&["true"]), None, Duration::from_secs(10))
                .await
                .unwrap();
        }
    });
    let log = std::fs::read_to_string(sshd.dir().join("sshd.log")).unwrap();
    let logins = log.matches("Accepted publickey").count();
    assert_eq!(logins, 1, "one connection for 20 commands:\n{log}");
}

#[test]
fn a_changed_host_key_is_refused() {
    let sshd = Sshd::start();
    let other = tempfile::tempdir().unwrap();
    let key = other.path().join("k");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let fake: Vec<&str> = public.split_whitespace().take(2).collect();
    std::fs::write(
        sshd.known_hosts(),
        format!("[127.0.0.1]:{} {}\n", sshd.port, fake.join(" ")),
    )
    .unwrap();
    let err = rt()
        .block_on(ssh(&sshd).check(&words(&["true"]), None, Duration::from_secs(10)))
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::HostKey { changed: true, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ssh-keygen -f"), "{err}");
}

#[test]
fn the_host_lock_names_its_holder_and_frees_when_the_holder_goes() {
    let sshd = Sshd::start();
    let file = sshd.dir().join("env.lock");
    let file = file.to_str().unwrap();
    rt().block_on(async {
        let t = ssh(&sshd);
        let held = lock::acquire(
            &t,
            file,
            "alice@laptop (pid 1): deploy",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let err = lock::acquire(&t, file, "bob@desk", Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Held { .. }), "{err}");
        assert!(err.to_string().contains("alice@laptop"), "{err}");
        drop(held);
        // The holder's shell sees its stdin close and exits.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match lock::acquire(&t, file, "bob@desk", Duration::from_secs(10)).await {
                Ok(_) => break,
                Err(e) => assert!(Instant::now() < deadline, "never released: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[test]
fn an_env_file_write_killed_before_its_rename_leaves_the_old_file() {
    let sshd = Sshd::start();
    let file = sshd.dir().join(".env.production");
    std::fs::write(&file, "JWT_SECRET=old\n").unwrap();
    let sum = shipdeck::provider::vps::hex_sha256(b"JWT_SECRET=old\n");
    let new = shipdeck::provider::vps::hex_sha256(b"JWT_SECRET=new\n");
    let argv = script(env_file::WRITE, &[file.to_str().unwrap(), &sum, &new]);
    rt().block_on(async {
        let mut cmd = ssh(&sshd).command(&argv);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        // Half of the new file, then the sender dies: the remote end sees its stdin close.
        stdin.write_all(b"JWT_SECRET=n").await.unwrap();
        stdin.flush().await.unwrap();
        // The temp file exists: the write is under way, not yet renamed.
        let dir = sshd.dir().to_path_buf();
        let temp = wait_for_temp(&dir).await;
        child.kill().await.unwrap();
        drop(stdin);
        // The remote script ends (its temp file goes with it): only then is the outcome final.
        let deadline = Instant::now() + Duration::from_secs(15);
        while temp.exists() {
            assert!(Instant::now() < deadline, "the remote write never ended");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "JWT_SECRET=old\n");
        assert!(
            !dir.join(".env.production.bak").exists(),
            "no backup: nothing was replaced"
        );
    });
    // A complete write replaces it, keeps one backup, 0600.
    let out = rt()
        .block_on(ssh(&sshd).run(&argv, Some(b"JWT_SECRET=new\n"), Duration::from_secs(10)))
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "JWT_SECRET=new\n");
    assert_eq!(
        std::fs::read_to_string(sshd.dir().join(".env.production.bak")).unwrap(),
        "JWT_SECRET=old\n"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A write based on a stale read is refused and changes nothing.
    let stale = rt()
        .block_on(ssh(&sshd).run(&argv, Some(b"JWT_SECRET=new\n"), Duration::from_secs(10)))
        .unwrap();
    assert_eq!(stale.code, 6);
    assert!(
        stale.stderr.contains("changed since shipdeck read it"),
        "{}",
        stale.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "JWT_SECRET=new\n");
}

async fn wait_for_temp(dir: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(p) = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".shipdeck-env.")
            })
        {
            return p;
        }
        assert!(Instant::now() < deadline, "the write never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
