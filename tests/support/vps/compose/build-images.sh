#!/usr/bin/env bash
# Builds the local Docker images used by shipdeck's VPS/Compose fixtures,
# WITHOUT any network access: every image is a root filesystem made of
# busybox-static (/bin/busybox + applet symlinks) imported with `docker import`.
#
# Images produced:
#   shipdeck-test/app:v1   busybox httpd on :8080, GET /health -> {"status":"ok","version":"v1"}
#   shipdeck-test/app:v2   same, version "v2" (different content => different image id)
#   shipdeck-test/app:bad  httpd runs on :8080 but /health is a 404 => healthcheck fails => "unhealthy"
#   shipdeck-test/db:1     stands in for Postgres: httpd on :5432 as a long-running process, plus
#                          /usr/local/bin/pg_isready printing
#                          "/var/run/postgresql:5432 - accepting connections" and exiting 0.
#
# Idempotent: an image whose tag already exists is skipped unless FORCE=1.
# No arguments. Needs: docker, a static busybox (BUSYBOX=/path overrides the lookup), tar.
#
# PID 1 in every image is `sh -c 'trap "exit 0" TERM INT; echo ...; <server> & wait'` so that
# `docker stop` / compose recreation stops the container immediately (a bare httpd as
# PID 1 ignores SIGTERM and every stop would wait the 10 s grace period before SIGKILL).
set -euo pipefail

FORCE="${FORCE:-0}"

find_busybox() {
    if [[ -n "${BUSYBOX:-}" ]]; then echo "$BUSYBOX"; return; fi
    local c
    for c in /usr/bin/busybox /bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
        [[ -n "$c" && -x "$c" ]] && { echo "$c"; return; }
    done
    echo "build-images.sh: busybox not found (install busybox-static or set BUSYBOX=)" >&2
    exit 1
}
BB="$(find_busybox)"
# Must be static: the image has no libc.
if command -v file >/dev/null 2>&1 && ! file -L "$BB" | grep -q 'statically linked'; then
    echo "build-images.sh: $BB is not statically linked (install busybox-static)" >&2
    exit 1
fi

command -v docker >/dev/null || { echo "build-images.sh: docker not found" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/shipdeck-images.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# make_rootfs DIR: busybox + symlinks for every applet + base dirs.
make_rootfs() {
    local root="$1" applet
    mkdir -p "$root"/{bin,tmp,www,etc,proc,sys,dev,root,usr/local/bin,var/run/postgresql}
    chmod 1777 "$root/tmp"
    cp "$BB" "$root/bin/busybox"
    chmod 0755 "$root/bin/busybox"
    for applet in $("$BB" --list); do
        [[ "$applet" == busybox ]] && continue
        ln -sf busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

# import_image TAG DIR PORT: tar DIR and `docker import` it with CMD/ENV/EXPOSE.
# The CMD prints one startup line (so `docker-compose logs` has something to show;
# httpd itself logs nothing without -v) and runs httpd in the foreground.
import_image() {
    local tag="$1" root="$2" port="$3" old_id new_id
    old_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
    tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$root.tar" .
    docker import \
        --change 'ENV PATH=/usr/local/bin:/bin' \
        --change "EXPOSE ${port}" \
        --change 'WORKDIR /' \
        --change "CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM INT; echo '${tag} listening on :${port}'; httpd -f -p ${port} -h /www & wait\"]" \
        --message "shipdeck test fixture ${tag}" \
        "$root.tar" "$tag" >/dev/null
    rm -f "$root.tar"
    new_id="$(docker image inspect --format '{{.Id}}' "$tag")"
    # FORCE=1 rebuild: drop the now-untagged previous image unless a container uses it.
    if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
        docker rmi "$old_id" >/dev/null 2>&1 || true
    fi
    echo "built $tag"
}

build_app() {
    local tag="$1" version="$2" healthy="$3" root
    if image_exists "$tag" && [[ "$FORCE" != 1 ]]; then echo "skip $tag (exists; FORCE=1 to rebuild)"; return; fi
    root="$WORK/app-$version"
    make_rootfs "$root"
    printf '%s\n' "$version" >"$root/www/version"
    printf '<html><body>shipdeck-test app %s</body></html>\n' "$version" >"$root/www/index.html"
    if [[ "$healthy" == yes ]]; then
        printf '{"status":"ok","version":"%s"}\n' "$version" >"$root/www/health"
    fi
    import_image "$tag" "$root" 8080
}

build_db() {
    local tag="$1" root
    if image_exists "$tag" && [[ "$FORCE" != 1 ]]; then echo "skip $tag (exists; FORCE=1 to rebuild)"; return; fi
    root="$WORK/db"
    make_rootfs "$root"
    printf 'fake postgres\n' >"$root/www/index.html"
    cat >"$root/usr/local/bin/pg_isready" <<'PG'
#!/bin/sh
echo "/var/run/postgresql:5432 - accepting connections"
exit 0
PG
    chmod 0755 "$root/usr/local/bin/pg_isready"
    import_image "$tag" "$root" 5432
}

build_app shipdeck-test/app:v1 v1 yes
build_app shipdeck-test/app:v2 v2 yes
build_app shipdeck-test/app:bad bad no
build_db shipdeck-test/db:1

echo
for t in shipdeck-test/app:v1 shipdeck-test/app:v2 shipdeck-test/app:bad shipdeck-test/db:1; do
    printf '%-24s %s\n' "$t" "$(docker image inspect --format '{{.Id}}' "$t")"
done
