#!/usr/bin/env bash
# The README's test command: make sure the tools the tests drive are here
# (installing them from Debian's packages when this runs as root, naming the
# command otherwise), then run the whole suite. Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package, and which tests need it.
needs=(
  "tmux:tmux:tests/terminal.rs drives the real binary in a pty"
  "pgrep:procps:finds the app's pid to send it SIGTERM/SIGHUP"
  "runuser:util-linux:runs initdb as an unprivileged user"
  "python3:python3:the stand-in alembic of tests/migrate_tools.rs"
  "openssl:openssl:a throwaway CA for tests/migrate_postgres_tls.rs"
  "keyctl:keyutils:the kernel keyring tests"
  "gnome-keyring-daemon:gnome-keyring:a real Secret Service in a private D-Bus session"
  "dbus-run-session:dbus-daemon:the private D-Bus session"
  "ssh:openssh-client:the VPS tests reach their hosts with the system ssh client"
  "ssh-keygen:openssh-client:host and client keys for the test sshd"
  "flock:util-linux:the VPS host lock and the stand-in systemctl"
  "busybox:busybox-static:the stand-in release binary's HTTP server (tests/support/vps/app) and the test images"
  "docker-compose:docker-compose:tests/vps_compose.rs runs real containers with Compose v1 (the Docker engine itself comes with the machine)"
)
missing=()
why=()
for entry in "${needs[@]}"; do
  IFS=: read -r cmd pkg reason <<<"$entry"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing+=("$pkg")
    why+=("  $cmd ($pkg): $reason")
  fi
done
# tests/migrate_postgres*.rs start real PostgreSQL servers (initdb + pg_ctl).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
  why+=("  initdb (postgresql): real PostgreSQL servers for the migration tests")
fi

# tests/vps.rs starts a real sshd on a loopback port.
if [ ! -x /usr/sbin/sshd ] && ! command -v sshd >/dev/null 2>&1; then
  missing+=(openssh-server)
  why+=("  sshd (openssh-server): the VPS tests' real ssh server")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test: the suite needs these, and they are missing:" >&2
    printf '%s\n' "${why[@]}" >&2
    echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
fi

exec cargo test "$@"
