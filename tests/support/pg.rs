//! Test harness: a throwaway real PostgreSQL server per test.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A running Postgres cluster in a temp directory; stopped on drop.
pub struct PgServer {
    /// `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth).
    pub url: String,
    /// The TCP port.
    pub port: u16,
    dir: TempDir,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

/// Directory holding `initdb` and `pg_ctl`.
fn find_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
                return d;
            }
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under \
                 /usr/lib/postgresql/*/bin: install postgresql; scripts/test.sh does this"
            )
        })
}

fn id(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

impl PgServer {
    /// Initialises and starts a fresh cluster on a free port.
    pub fn start() -> PgServer {
        PgServer::start_with(false)
    }

    /// A cluster that only accepts TLS over TCP (`hostssl` trust,
    /// `hostnossl` reject), with a certificate for `localhost` (not for
    /// `127.0.0.1`) signed by a fresh CA; returns the CA certificate's path too.
    pub fn start_tls() -> (PgServer, PathBuf) {
        let server = PgServer::start_with(true);
        let ca = server.dir.path().join("tls/ca.pem");
        (server, ca)
    }

    fn start_with(tls: bool) -> PgServer {
        let bin = find_bin();
        let dir = tempfile::tempdir().expect("create temp dir for Postgres");
        let as_postgres = id(&["-u"]) == Some(0);
        if as_postgres {
            let uid =
                id(&["-u", "postgres"]).expect("running as root but there is no `postgres` user");
            let gid = id(&["-g", "postgres"]).expect("no gid for the `postgres` user");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown temp dir to postgres");
        }
        let data = dir.path().join("data");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("local addr").port()
        };
        let server = PgServer {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            data,
            bin,
            as_postgres,
            dir,
        };
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let mut opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB \
             -c max_connections=30",
            server.dir.path().display()
        );
        if tls {
            let tls_dir = server.dir.path().join("tls");
            make_certificates(&tls_dir);
            let hba = "local all all trust\n\
                       hostssl all all 127.0.0.1/32 trust\n\
                       hostnossl all all 0.0.0.0/0 reject\n";
            std::fs::write(server.data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
            if server.as_postgres {
                server.give_to_postgres(&[
                    &tls_dir,
                    &tls_dir.join("server.key"),
                    &tls_dir.join("server.crt"),
                    &server.data.join("pg_hba.conf"),
                ]);
            }
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                tls_dir.join("server.crt").display(),
                tls_dir.join("server.key").display()
            ));
        }
        let log = server.dir.path().join("server.log");
        server.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
        server
    }

    fn give_to_postgres(&self, paths: &[&Path]) {
        let uid = id(&["-u", "postgres"]).expect("no `postgres` user");
        let gid = id(&["-g", "postgres"]).expect("no gid for the `postgres` user");
        for p in paths {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }

    /// The temp directory (socket and log live here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.current_dir(self.dir.path());
        c
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            panic!(
                "{tool} failed ({}):\n{}\n{}\nserver log:\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "immediate", "-w"])
            .output();
    }
}

/// Run `openssl ARGS` in `dir` (`scripts/test.sh` installs openssl if missing).
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (install the openssl package; scripts/test.sh does)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA (`NAME.key`, `NAME.pem`) on a P-256 key.
fn make_ca(dir: &Path, name: &str, subject: &str) -> PathBuf {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(pem)
}

/// A CA and a server certificate for DNS name `localhost` only.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create tls dir");
    make_ca(dir, "ca", "/CN=shipdeck test CA");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod server.key");
}

/// A second, unrelated CA (for "wrong CA" tests); returns its certificate path.
pub fn other_ca(dir: &Path) -> PathBuf {
    make_ca(dir, "other", "/CN=someone else")
}
