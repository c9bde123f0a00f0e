#!/usr/bin/env bash
# The project builds its own Debian package in a tree it built, and runs it:
#
#   a. builds rdebootstrap on the host (cargo build --release), to drive the rest;
#   b. builds the buildd tree of debian-build.toml (its committed lock) with
#      `rdebootstrap build`;
#   c. vendors the crates of Cargo.lock on the host (`cargo vendor`), then
#      builds the .deb inside that tree with `rdebootstrap run` and no network:
#      dpkg-buildpackage on a copy of the source, cargo offline against the
#      vendored crates (bound in read-only);
#   d. serves a loopback partial mirror of trixie (the tests' one, made by the
#      workplace's partial-mirror.py), builds a fresh minbase tree from it with
#      that .deb as a [[local]] package, and inside that tree runs
#      `rdebootstrap --version` and `rdebootstrap update` of the repository's
#      Manifest.toml against the loopback mirror; the lock it writes must be
#      the one the host's rdebootstrap writes;
#   e. runs lintian on the package inside the buildd tree and prints its tags
#      (lintian's errors fail the run).
#
# usage: scripts/self-host.sh [--update] [--noopt]
#   --update  lock a copy of debian-build.toml afresh first (when the mirror
#             has moved past the committed lock); the repository's lock is
#             left as it is, and the summary says whether it moved.
#   --noopt   build the package with DEB_BUILD_OPTIONS=noopt (debian/rules:
#             the release profile at opt-level 0): the same steps and
#             checks in a fraction of the compile time (CI runs this; an
#             optimized package build was its longest step).
# As root. Work files go to $SELF_HOST_DIR (default target/self-host): the
# trees, the vendored crates, the build and its cargo target directory (kept
# between runs, so a second run recompiles only what changed), the packages.
# The Debian mirror comes from the host's APT sources, or
# RDEBOOTSTRAP_MIRROR_DEBIAN / DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

update=()
noopt=
for arg in "$@"; do
    case $arg in
        --update) update=(--update) ;;
        --noopt) noopt=noopt ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "self-host.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "self-host.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root: the trees are built and entered as root"
for tool in cargo git python3 tar cmp; do
    command -v "$tool" >/dev/null || die "$tool is needed on the host"
done
if [ -n "${DEBIAN_MIRROR:-}" ] && [ -z "${RDEBOOTSTRAP_MIRROR_DEBIAN:-}" ]; then
    export RDEBOOTSTRAP_MIRROR_DEBIAN=$DEBIAN_MIRROR
fi
pmscript=${RDEBOOTSTRAP_PARTIAL_MIRROR_PY:-$repo/../shared/bench/partial-mirror.py}
# The host's Debian mirror (RDEBOOTSTRAP_MIRROR_DEBIAN, else the first
# non-security URIs of the host's APT sources): step d reads it directly
# when there is no partial-mirror.py to make a loopback copy with.
host_mirror() {
    if [ -n "${RDEBOOTSTRAP_MIRROR_DEBIAN:-}" ]; then
        echo "$RDEBOOTSTRAP_MIRROR_DEBIAN"
        return
    fi
    { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && !/security/ {print $2}'
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
          awk '$1 == "deb" && !/security/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; break } }'
    } 2>/dev/null | head -1 || true
}
if ! [ -f "$pmscript" ]; then
    echo "self-host.sh: partial-mirror.py not found (at $pmscript; RDEBOOTSTRAP_PARTIAL_MIRROR_PY): step d reads the host's Debian mirror directly" >&2
    pmscript=
    [ -n "$(host_mirror)" ] || die "no partial-mirror.py and no Debian mirror in the host's APT sources (set RDEBOOTSTRAP_MIRROR_DEBIAN)"
fi

work=${SELF_HOST_DIR:-$repo/target/self-host}
mkdir -p "$work"
work=$(cd "$work" && pwd)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
summary=()
started=$(date +%s)
step_start=$started
step_name=
end_step() {
    local now
    now=$(date +%s)
    if [ -n "$step_name" ]; then
        summary+=("$(printf '%-58s %5ss' "$step_name" $((now - step_start)))")
    fi
    step_name=
    step_start=$now
}
step() {
    end_step
    step_name=$1
    echo
    echo "== $1"
}
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

step "a. rdebootstrap on the host (cargo build --release)"
cargo build --release --locked --quiet -p rdebootstrap
host_rdb=${CARGO_TARGET_DIR:-$repo/target}/release/rdebootstrap
"$host_rdb" --version

step "b. the buildd tree of debian-build.toml"
# A copy of the manifest and its lock: --update rewrites the copy only.
rm -rf "$work/manifest"
mkdir -p "$work/manifest"
cp debian-build.toml "debian-build.$arch.lock" "$work/manifest/"
buildd=$work/buildd
rm -rf "$buildd"
"$host_rdb" -q -m "$work/manifest/debian-build.toml" build "${update[@]}" -p "$buildd"
lock_moved=no
cmp -s "debian-build.$arch.lock" "$work/manifest/debian-build.$arch.lock" || lock_moved=yes
"$host_rdb" run -p "$buildd" -- sh -c 'rustc --version; cargo --version; dpkg-buildpackage --version | head -1; lintian --version'

step "c. the .deb, built in the buildd tree without network"
# The crates, vendored on the host (the registry, or cargo's cache of it).
vendor=$work/vendor
if [ ! -f "$vendor/.lock-sha256" ] || [ "$(cat "$vendor/.lock-sha256")" != "$(sha256sum <Cargo.lock)" ]; then
    rm -rf "$vendor"
    cargo vendor --locked --versioned-dirs --quiet "$vendor" >/dev/null
    sha256sum <Cargo.lock >"$vendor/.lock-sha256"
fi
# The build directory, bound at /build: a copy of the source (tracked and
# untracked files, not what .gitignore ignores), cargo's home with the
# vendored source, and cargo's target directory (kept between runs).
build=$work/build
rm -rf "$build/src" "$build/cargo-home"
find "$build" -maxdepth 1 -type f -delete 2>/dev/null || true
mkdir -p "$build/src" "$build/cargo-home" "$build/target"
# (safe.directory: a clone that is not root's, run with sudo)
git -c safe.directory="$repo" ls-files -z --cached --others --exclude-standard |
    tar --null -T - -cf - | tar -xf - -C "$build/src"
cat >"$build/cargo-home/config.toml" <<'EOF'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/vendor"
EOF
"$host_rdb" run -p "$buildd" --bind "$build:/build" --bind "$vendor:/vendor:ro" -- \
    env -C /build/src CARGO_HOME=/build/cargo-home CARGO_TARGET_DIR=/build/target \
    DEB_BUILD_OPTIONS="$noopt" dpkg-buildpackage -us -uc -b
out=$work/out
rm -rf "$out"
mkdir -p "$out"
cp "$build"/*.deb "$build"/*.changes "$build"/*.buildinfo "$out/"
deb=$(find "$out" -name 'rdebootstrap_*.deb' | head -1)
[ -n "$deb" ] || die "no rdebootstrap .deb was built"
dpkg-deb --info "$deb" 2>/dev/null | sed -n '/Package:/,$p' || true
dpkg-deb --contents "$deb" 2>/dev/null | awk '{print $1, $NF}' || true

step "d. the .deb installed in a fresh minbase tree, run there"
if [ -n "$pmscript" ]; then
mirror_dir=${RDEBOOTSTRAP_LOOPBACK_MIRROR_DIR:-$repo/target/tmp/partial-mirror}
mkdir -p "$mirror_dir"
printf '%s\n' ca-certificates curl less uidmap >"$work/mirror-packages.txt"
python3 "$pmscript" "$mirror_dir" --suite trixie --suite trixie-updates \
    --packages "$work/mirror-packages.txt"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$mirror_dir" "$port" >"$work/http.log" 2>&1 &
server_pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 50); do
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "$url/dists/trixie/InRelease" 2>/dev/null && break
    sleep 0.1
done
echo "loopback mirror at $url ($mirror_dir)"
else
url=$(host_mirror)
echo "the host's Debian mirror: $url"
fi
# The small manifest: trixie minbase and the .deb, a [[local]] package.
m=$work/minbase-manifest
rm -rf "$m"
mkdir -p "$m"
cp "$deb" "$m/"
cat >"$m/Manifest.toml" <<'EOF'
# trixie minbase with the rdebootstrap package scripts/self-host.sh built.
[[archive]]
mirror = "debian"
suites = ["trixie", "trixie-updates"]
components = ["main"]

[spec]
variant = "minbase"
include = ["rdebootstrap"]
EOF
"$host_rdb" -q -m "$m/Manifest.toml" deb add "$m/$(basename "$deb")"
minbase=$work/minbase
rm -rf "$minbase"
"$host_rdb" -q -m "$m/Manifest.toml" build --update --mirror "debian=$url" -p "$minbase"
"$host_rdb" run -p "$minbase" -- dpkg-query -W rdebootstrap
"$host_rdb" run -p "$minbase" -- dpkg --audit
inner_version=$("$host_rdb" run -p "$minbase" -- rdebootstrap --version)
echo "inside the tree: $inner_version"
# The repository's own manifest, locked inside the tree by the packaged
# rdebootstrap (the host's loopback reached through --network) and on the
# host by the host's: the same lock.
rm -rf "$work/inner" "$work/outer"
mkdir -p "$work/inner" "$work/outer"
cp Manifest.toml "$work/inner/"
cp Manifest.toml "$work/outer/"
"$host_rdb" run -p "$minbase" --network --bind "$work/inner:/mnt/manifest" -- \
    rdebootstrap --cache-dir /var/cache/rdebootstrap -m /mnt/manifest/Manifest.toml update --mirror "debian=$url"
"$host_rdb" -q --no-cache -m "$work/outer/Manifest.toml" update --mirror "debian=$url"
cmp "$work/inner/Manifest.$arch.lock" "$work/outer/Manifest.$arch.lock" ||
    die "the lock written inside the tree differs from the host's"
inner_packages=$(grep -c '{ name = ' "$work/inner/Manifest.$arch.lock")
echo "the tree's rdebootstrap locked $inner_packages packages, the same lock as the host's"

step "e. lintian on the package, in the buildd tree"
changes=$(find "$out" -name '*.changes' | head -1)
set +e
# As nobody (lintian warns when run as root); overridden tags are shown
# too, with O:, and do not count.
"$host_rdb" run -p "$buildd" --bind "$out:/out:ro" -- \
    setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp \
    lintian --display-info --display-experimental --pedantic --show-overrides \
    --tag-display-limit 0 "/out/$(basename "$changes")" | tee "$work/lintian.txt"
lintian_status=${PIPESTATUS[0]}
set -e
end_step
summary+=("$(printf '%-58s %5ss' "total" $(($(date +%s) - started)))")

echo
echo "== summary"
echo "package:   $deb ($(du -k "$deb" | cut -f1) KiB$([ -n "$noopt" ] && echo ", DEB_BUILD_OPTIONS=noopt"))"
echo "in minbase: $inner_version; update locked $inner_packages packages (same lock as the host's)"
echo "buildd lock: $([ "$lock_moved" = yes ] && echo "moved (--update; the committed one is stale)" || echo "the committed debian-build.$arch.lock")"
errors=$(grep -c '^E: ' "$work/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$work/lintian.txt" || true)
echo "lintian:   $errors errors, $warnings warnings, $(grep -c -E '^[IPX]: ' "$work/lintian.txt" || true) info/pedantic/experimental tags, $(grep -c '^O: ' "$work/lintian.txt" || true) overridden (exit status $lintian_status)"
printf '%s\n' "${summary[@]}"
[ "$lintian_status" = 0 ] || die "lintian reported errors"
echo "self-host: OK"
