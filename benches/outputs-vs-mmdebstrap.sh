#!/bin/sh
# Write trixie minbase as each output format with rdebootstrap (warm .deb
# cache) and as a tar with mmdebstrap, from one loopback mirror, with one
# SOURCE_DATE_EPOCH; prints each run's wall time and the output's size,
# and the medians. Run as root.
#
# usage: benches/outputs-vs-mmdebstrap.sh MIRROR_URL [RUNS]
#   MIRROR_URL  a mirror holding trixie (main, amd64), e.g. a partial
#               mirror served on loopback (see build-vs-mmdebstrap.sh).
# Needs: a release build of the workspace (cargo build --release --workspace),
# mmdebstrap, GNU time (/usr/bin/time).
set -eu
url=$1; runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/rdebootstrap
[ -x "$bin" ] || { echo "build first: cargo build --release --workspace" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" init -q --url "$url" --suite trixie --components main \
    --signed-by /usr/share/keyrings/debian-archive-keyring.gpg
"$bin" update -q --cache-dir "$work/cache"
# Warm the cache, and learn the lock's SOURCE_DATE_EPOCH for mmdebstrap.
"$bin" build --cache-dir "$work/cache" -o "$work/first.tar" 2>"$work/err"
epoch=$(sed -n 's/.*SOURCE_DATE_EPOCH=\([0-9]*\).*/\1/p' "$work/err" | tail -1)
rm -f "$work/first.tar"

# run NAME OUTPUT COMMAND...: one timed run, "NAME seconds bytes" to results
run() {
    name=$1; out=$2; shift 2
    rm -rf "$out"
    /usr/bin/time -f "%e" -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    size=$(du -sb "$out" | cut -f1)
    echo "$name $(cat "$work/time") $size" | tee -a "$work/results"
    rm -rf "$out"
}
for i in $(seq "$runs"); do
    for f in tar tar.gz tar.xz tar.zst oci oci.tar; do
        run "$f" "$work/out.$f" "$bin" build -q --cache-dir "$work/cache" -o "$work/out.$f"
    done
    run mmdebstrap-tar "$work/mm.tar" env SOURCE_DATE_EPOCH="$epoch" \
        mmdebstrap --variant=minbase --mode=root --format=tar trixie "$work/mm.tar" \
        "deb $url trixie main"
done
median() { grep "^$1 " "$work/results" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
size() { grep "^$1 " "$work/results" | awk '{print $3}' | tail -1; }
m=$(median mmdebstrap-tar)
echo "SOURCE_DATE_EPOCH=$epoch; median wall (s), size (bytes), mmdebstrap tar's time / ours:"
for f in tar tar.gz tar.xz tar.zst oci oci.tar mmdebstrap-tar; do
    t=$(median "$f")
    awk -v f="$f" -v t="$t" -v s="$(size "$f")" -v m="$m" \
        'BEGIN { printf "%-15s %6.2f %11d %5.1fx\n", f, t, s, m / t }'
done
