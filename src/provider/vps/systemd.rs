//! The shell scripts shipdeck runs on a VPS for a systemd service, and the
//! parsing of what they print. Each script is fixed text: every value (a
//! folder, a release name, a file name, a checksum) reaches it as a
//! positional argument, so a release named `v1; rm -rf /` is a folder name
//! and nothing else.
//!
//! Layout on the host: `DIR/releases/NAME/BINARY` (with `NAME/.sha256`
//! written at upload), and `DIR/current` a symlink to `releases/NAME`,
//! switched atomically (a new link renamed over the old one).

use chrono::{DateTime, TimeZone, Utc};

/// Lists `current` and each release with its mtime and checksum, NUL-separated.
/// Args: DIR BINARY.
pub const LIST: &str = r#"cd -- "$1" 2>/dev/null || { echo "the folder $1 does not exist" >&2; exit 3; }
printf 'current\t%s\0' "$(readlink current 2>/dev/null)"
for d in releases/*/; do
  [ -d "$d" ] || continue
  n=${d#releases/}; n=${n%/}
  f="releases/$n/$2"
  [ -f "$f" ] || continue
  if [ -f "releases/$n/.sha256" ]; then s=$(head -c 64 "releases/$n/.sha256"); else s=$(sha256sum < "$f" | cut -c1-64); fi
  printf 'release\t%s\t%s\t%s\0' "$(stat -c %Y -- "$f")" "$s" "$n"
done
"#;

/// Receives a release on stdin, checks its checksum, and files it.
/// Args: DIR SHA256 NAME BINARY.
pub const UPLOAD: &str = r#"set -e
cd -- "$1"
mkdir -p releases
t=$(mktemp releases/.incoming.XXXXXX)
trap 'rm -f "$t"' EXIT
cat > "$t"
s=$(sha256sum < "$t" | cut -c1-64)
if [ "$s" != "$2" ]; then echo "the upload arrived with checksum $s, not $2" >&2; exit 4; fi
chmod 755 "$t"
mkdir -p -- "releases/$3"
mv -f -- "$t" "releases/$3/$4"
printf '%s\n' "$2" > "releases/$3/.sha256"
"#;

/// Points `current` at a release, atomically. Args: DIR NAME BINARY.
pub const SWITCH: &str = r#"set -e
cd -- "$1"
[ -f "releases/$2/$3" ] || { echo "release $2 has no file $3" >&2; exit 4; }
ln -sfn -- "releases/$2" .current.shipdeck
mv -fT -- .current.shipdeck current
"#;

/// The seed's layout: lists `DIR/BINARY` (the running one) and its
/// timestamped backups `DIR/backups/BINARY.backup.*`, NUL-separated.
/// Args: DIR BINARY.
pub const BACKUPS_LIST: &str = r#"cd -- "$1" 2>/dev/null || { echo "the folder $1 does not exist" >&2; exit 3; }
if [ -f "$2" ]; then printf 'running\t%s\t%s\t%s\0' "$(stat -c %Y -- "$2")" "$(sha256sum < "$2" | cut -c1-64)" "$2"; fi
for f in backups/"$2".backup.*; do
  [ -f "$f" ] || continue
  printf 'backup\t%s\t%s\t%s\0' "$(stat -c %Y -- "$f")" "$(sha256sum < "$f" | cut -c1-64)" "$f"
done
"#;

/// The seed's layout: puts a new binary in place from stdin (checksum
/// checked), the running one first copied to `backups/BINARY.backup.STAMP`,
/// then renamed over it. Args: DIR SHA256 BINARY.
pub const BACKUPS_UPLOAD: &str = r#"set -e
cd -- "$1"
t=$(mktemp .shipdeck-new.XXXXXX)
trap 'rm -f "$t"' EXIT
cat > "$t"
s=$(sha256sum < "$t" | cut -c1-64)
if [ "$s" != "$2" ]; then echo "the upload arrived with checksum $s, not $2" >&2; exit 4; fi
chmod 755 "$t"
mkdir -p backups
if [ -f "$3" ]; then cp -p -- "$3" "backups/$3.backup.$(date +%Y%m%d_%H%M%S)"; fi
mv -f -- "$t" "$3"
"#;

/// The seed's layout: puts a kept backup back in place, the running one
/// first backed up itself. Args: DIR BACKUP-PATH BINARY.
pub const BACKUPS_RESTORE: &str = r#"set -e
cd -- "$1"
[ -f "$2" ] || { echo "$2 is gone" >&2; exit 4; }
t=$(mktemp .shipdeck-new.XXXXXX)
trap 'rm -f "$t"' EXIT
cp -p -- "$2" "$t"
mkdir -p backups
if [ -f "$3" ]; then cp -p -- "$3" "backups/$3.backup.$(date +%Y%m%d_%H%M%S)"; fi
touch -- "$t"
mv -f -- "$t" "$3"
"#;

/// Removes backups by path. Args: DIR PATH….
pub const BACKUPS_PRUNE: &str = r#"cd -- "$1" || exit 3
shift
for p in "$@"; do case "$p" in backups/*) rm -f -- "$p";; esac; done
"#;

/// Removes releases. Args: DIR NAME….
pub const PRUNE: &str = r#"cd -- "$1" || exit 3
shift
for n in "$@"; do rm -rf -- "releases/$n"; done
"#;

/// A time printed as seconds since the epoch (`stat -c %Y`, `date +%s`).
pub fn epoch(text: &str) -> Option<DateTime<Utc>> {
    let seconds = text.trim().parse::<i64>().ok()?;
    Utc.timestamp_opt(seconds, 0).single()
}

/// A release kept on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its folder name under `releases/`.
    pub name: String,
    /// When its binary was written.
    pub written: DateTime<Utc>,
    /// Hex SHA-256 of its binary.
    pub sha256: String,
    /// Its file, relative to the app's folder, in the seed's backups layout
    /// (None in the releases layout: `releases/NAME/BINARY`).
    pub path: Option<String>,
}

/// What `LIST` found: the release `current` points at, and every release,
/// newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The folder name `current` points at.
    pub current: Option<String>,
    /// The releases, newest first.
    pub releases: Vec<Kept>,
}

impl Listing {
    /// Parse `LIST`'s output.
    pub fn parse(out: &[u8]) -> Listing {
        let mut listing = Listing::default();
        for record in out.split(|b| *b == 0) {
            let record = String::from_utf8_lossy(record);
            let mut fields = record.splitn(4, '\t');
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some("current"), Some(link), None, None) => {
                    // `releases/v2`, or absolute (`/opt/app/releases/v2`, Capistrano's way).
                    let name = link.trim_end_matches('/');
                    let name = name.rsplit_once("releases/").map_or(name, |(_, n)| n);
                    if !name.is_empty() {
                        listing.current = Some(name.to_string());
                    }
                }
                (Some("release"), Some(mtime), Some(sha), Some(name)) => {
                    let written = epoch(mtime).unwrap_or_default();
                    listing.releases.push(Kept {
                        name: name.to_string(),
                        written,
                        sha256: sha.trim().to_string(),
                        path: None,
                    });
                }
                _ => {}
            }
        }
        listing
            .releases
            .sort_by(|a, b| b.written.cmp(&a.written).then(b.name.cmp(&a.name)));
        listing
    }

    /// Parse `BACKUPS_LIST`'s output: each distinct binary is a release
    /// named by its checksum's first 12 digits; the running one is current.
    pub fn parse_backups(out: &[u8]) -> Listing {
        let mut listing = Listing::default();
        for record in out.split(|b| *b == 0) {
            let record = String::from_utf8_lossy(record);
            let mut fields = record.splitn(4, '\t');
            let (Some(kind @ ("running" | "backup")), Some(mtime), Some(sha), Some(path)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let sha = sha.trim().to_string();
            let name: String = sha.chars().take(12).collect();
            if kind == "running" {
                listing.current = Some(name.clone());
            }
            if listing.releases.iter().any(|k| k.sha256 == sha) {
                continue;
            }
            listing.releases.push(Kept {
                name,
                written: epoch(mtime).unwrap_or_default(),
                sha256: sha,
                path: Some(path.to_string()),
            });
        }
        let current = listing.current.clone();
        listing.releases.sort_by(|a, b| {
            (Some(&b.name) == current.as_ref())
                .cmp(&(Some(&a.name) == current.as_ref()))
                .then(b.written.cmp(&a.written))
        });
        listing
    }

    /// The release `current` points at.
    pub fn current(&self) -> Option<&Kept> {
        let name = self.current.as_deref()?;
        self.releases.iter().find(|k| k.name == name)
    }

    /// The release whose binary has checksum `sha256`.
    pub fn by_sha(&self, sha256: &str) -> Option<&Kept> {
        self.releases
            .iter()
            .find(|k| k.sha256.eq_ignore_ascii_case(sha256))
    }

    /// The releases to remove to keep `keep` (the current one always kept).
    pub fn surplus(&self, keep: usize) -> Vec<String> {
        // Without knowing what runs, nothing is safe to remove.
        if self.current().is_none() {
            return Vec::new();
        }
        let current = self.current.as_deref();
        let mut kept = usize::from(current.is_some());
        let mut out = Vec::new();
        for k in &self.releases {
            if Some(k.name.as_str()) == current {
                continue;
            }
            if kept < keep {
                kept += 1;
            } else {
                out.push(k.name.clone());
            }
        }
        out
    }
}

/// What `systemctl show -p ActiveState -p SubState -p MainPID -p
/// ExecMainStartTimestamp` said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    /// `active`, `activating`, `failed`, `inactive`, …
    pub active: String,
    /// `running`, `dead`, `failed`, `auto-restart`, …
    pub sub: String,
    /// The main process, 0 when none.
    pub pid: u32,
    /// When the main process started, as systemd prints it.
    pub since: String,
}

impl UnitState {
    /// Parse `KEY=VALUE` lines.
    pub fn parse(out: &[u8]) -> UnitState {
        let text = String::from_utf8_lossy(out);
        let mut s = UnitState::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("ActiveState", v)) => s.active = v.trim().to_string(),
                Some(("SubState", v)) => s.sub = v.trim().to_string(),
                Some(("MainPID", v)) => s.pid = v.trim().parse().unwrap_or(0),
                Some(("ExecMainStartTimestamp", v)) => s.since = v.trim().to_string(),
                _ => {}
            }
        }
        s
    }

    /// Running now.
    pub fn running(&self) -> bool {
        self.active == "active" && self.sub == "running" && self.pid != 0
    }

    /// Gave up (no restart will follow).
    pub fn failed(&self) -> bool {
        self.active == "failed" || (self.active == "inactive" && self.sub != "running")
    }

    /// `active (running)`.
    pub fn word(&self) -> String {
        format!("{} ({})", self.active, self.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_reads_names_with_tabs_and_keeps_what_it_must() {
        let absolute = Listing::parse(b"current\t/opt/app/releases/v2/\0");
        assert_eq!(absolute.current.as_deref(), Some("v2"));
        let out = b"current\treleases/v2\0release\t100\taaa\tv1\0release\t300\tccc\tv3 \t;x\0release\t200\tbbb\tv2\0";
        let l = Listing::parse(out);
        assert_eq!(l.current.as_deref(), Some("v2"));
        let names: Vec<&str> = l.releases.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["v3 \t;x", "v2", "v1"]);
        assert_eq!(l.current().unwrap().sha256, "bbb");
        assert_eq!(l.by_sha("AAA").unwrap().name, "v1");
        assert_eq!(l.surplus(2), ["v1"]);
        assert_eq!(l.surplus(3), Vec::<String>::new());
    }

    #[test]
    fn the_seeds_backups_are_releases_named_by_checksum_the_running_one_current() {
        let out = b"running\t300\tbbbbbbbbbbbbbbbb\tapp\0backup\t100\taaaaaaaaaaaaaaaa\tbackups/app.backup.20261201_100000\0backup\t200\tbbbbbbbbbbbbbbbb\tbackups/app.backup.20261202_100000\0";
        let l = Listing::parse_backups(out);
        assert_eq!(l.current.as_deref(), Some("bbbbbbbbbbbb"));
        let paths: Vec<&str> = l
            .releases
            .iter()
            .map(|k| k.path.as_deref().unwrap())
            .collect();
        assert_eq!(
            paths,
            ["app", "backups/app.backup.20261201_100000"],
            "one per binary"
        );
        assert_eq!(l.current().unwrap().path.as_deref(), Some("app"));
    }

    #[test]
    fn unit_state_says_running_and_failed() {
        let s = UnitState::parse(b"ActiveState=active\nSubState=running\nMainPID=42\nExecMainStartTimestamp=Wed 2026-12-02 10:31:07 UTC\n");
        assert!(s.running());
        assert_eq!(s.word(), "active (running)");
        let f = UnitState::parse(b"ActiveState=failed\nSubState=failed\nMainPID=0\n");
        assert!(f.failed() && !f.running());
        let starting =
            UnitState::parse(b"ActiveState=activating\nSubState=auto-restart\nMainPID=0\n");
        assert!(!starting.failed() && !starting.running());
    }
}
