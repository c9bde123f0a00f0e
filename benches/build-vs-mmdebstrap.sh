#!/bin/sh
# Build trixie minbase with rdebootstrap (cold and warm .deb cache) and with
# mmdebstrap, from one loopback mirror, 3 runs each; prints each run's wall
# time and peak RSS, then the medians and the ratios. Run as root.
#
# usage: benches/build-vs-mmdebstrap.sh MIRROR_URL [RUNS]
#   MIRROR_URL  a mirror holding trixie and trixie-updates (main, amd64),
#               e.g. a partial mirror served on loopback:
#                 ../shared/bench/partial-mirror.py OUT --suite trixie \
#                     --suite trixie-updates --packages ../shared/bench/packages-devbox.txt
#                 ../shared/bench/serve-mirror.sh OUT
# Needs: a release build of the workspace (cargo build --release --workspace),
# mmdebstrap, GNU time (/usr/bin/time).
set -eu
url=$1; runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/rdebootstrap
[ -x "$bin" ] && [ -x "$here/target/release/rdebootstrap-sandbox-helper" ] || {
    echo "build first: cargo build --release --workspace" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" init -q --url "$url" --suite trixie,trixie-updates --components main \
    --signed-by /usr/share/keyrings/debian-archive-keyring.gpg
"$bin" update -q --cache-dir "$work/cache"

# run NAME COMMAND...: one timed run, "NAME seconds kilobytes" to results
run() {
    name=$1; shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    echo "$name $(cat "$work/time")" | tee -a "$work/results"
}
for i in $(seq "$runs"); do
    rm -rf "$work/cache-cold" "$work/t"
    run cold "$bin" build -q --cache-dir "$work/cache-cold" -p "$work/t"
    rm -rf "$work/t"
    run warm "$bin" build -q --cache-dir "$work/cache" -p "$work/t"
    rm -rf "$work/t"
    run mmdebstrap mmdebstrap --variant=minbase --mode=root trixie "$work/t" \
        "deb $url trixie main" "deb $url trixie-updates main"
done
rm -rf "$work/t"
# One more warm build with -d, for where the time goes.
"$bin" build -d --cache-dir "$work/cache" -p "$work/t" 2>&1 | grep '^built' || true
median() { grep "^$1 " "$work/results" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxrss() { grep "^$1 " "$work/results" | awk '{print $3}' | sort -n | tail -1; }
c=$(median cold); w=$(median warm); m=$(median mmdebstrap)
echo "median wall: rdebootstrap cold ${c}s, warm ${w}s; mmdebstrap ${m}s"
echo "peak RSS: rdebootstrap cold $(maxrss cold) KB, warm $(maxrss warm) KB; mmdebstrap $(maxrss mmdebstrap) KB"
awk -v c="$c" -v w="$w" -v m="$m" 'BEGIN { printf "mmdebstrap / rdebootstrap: warm %.1fx, cold %.1fx\n", m / w, m / c }'
