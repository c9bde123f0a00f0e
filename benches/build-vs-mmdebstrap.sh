#!/bin/sh
# Build trixie trees with rdebootstrap (cold and warm .deb cache) and with
# mmdebstrap, from one loopback mirror, RUNS runs each, for each package
# set: minbase, devbox (minbase + the developer set), server (minbase +
# a script-heavy server set) and, when asked for, arm64 (trixie minbase for
# arm64: maintainer scripts under qemu-user, for both tools). Prints each run's wall time, peak RSS and user CPU time,
# then per set the medians and the ratios, the unpack stage of warm
# unpack-only builds against `cp -a` of the tree they made, a warm `update` of the set (its
# time and peak RSS), and one -d build's stage times.
# Run as root.
#
# usage: benches/build-vs-mmdebstrap.sh MIRROR_URL [RUNS] [SETS]
#   MIRROR_URL  a mirror holding trixie and trixie-updates (main, amd64)
#               with the sets' packages, e.g. a partial mirror on loopback:
#                 ../shared/bench/partial-mirror.py OUT --suite trixie \
#                     --suite trixie-updates \
#                     --packages ../shared/bench/packages-devbox.txt \
#                     --packages ../shared/bench/packages-server.txt
#                 ../shared/bench/serve-mirror.sh OUT
#   RUNS        runs per tool and set (default 3; the medians are of them)
#   SETS        which sets, space-separated (default "minbase devbox server";
#               "arm64" needs the mirror's trixie for arm64, e.g.
#               partial-mirror.py OUT --suite trixie --arch arm64 into the
#               same OUT, and an arm64 binfmt_misc handler: arch-test arm64)
# The devbox and server lists are ../shared/bench/packages-{devbox,server}.txt
# (BENCH_LISTS=DIR elsewhere). Every tree is kept until the end (about
# 15 GB for the three default sets and 3 runs; see the loop for why).
# Needs: a release build (cargo build --release), mmdebstrap, GNU time (/usr/bin/time).
set -eu
url=$1; runs=${2:-3}; sets=${3:-minbase devbox server}
here=$(cd "$(dirname "$0")/.." && pwd)
lists=${BENCH_LISTS:-$here/../shared/bench}
bin=$here/target/release/rdebootstrap
# (the sandbox helper is built into rdebootstrap)
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# packages SET: the set's package names, one per line (none for minbase)
packages() {
    case $1 in minbase | arm64) return 0 ;; esac
    [ -f "$lists/packages-$1.txt" ] || { echo "no list $lists/packages-$1.txt" >&2; exit 1; }
    grep -v '^#' "$lists/packages-$1.txt" | grep -v '^$'
}

# run NAME COMMAND...: one timed run, "NAME seconds kilobytes user-seconds"
# to results (user CPU, the command's and its waited-for descendants':
# where the host steals CPU, the same cold unpack-only build's system time
# moved by up to 4x from run to run, its wall time by 40 %, its user time
# by 5 %)
run() {
    name=$1; shift
    # What the run before left to write back is not this run's cost.
    sync
    /usr/bin/time -f "%e %M %U" -o "$work/time" "$@" >/dev/null 2>"$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    awk -v n="$name" '{ print n, $1, $2, $3 }' "$work/time" |
        tee -a "$work/results"
}
# median NAME [FIELD]: the median of NAME's results (FIELD 2, the wall
# time, unless given: 4 is the user CPU)
median() { grep "^$1 " "$work/results" | awk -v f="${2:-2}" '{print $f}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxrss() { grep "^$1 " "$work/results" | awk '{print $3}' | sort -n | tail -1; }

for set in $sets; do
    dir=$work/$set; mkdir -p "$dir"; cd "$dir"
    # arm64: trixie only (the partial mirror has no arm64 trixie-updates).
    arch=amd64; suites="trixie trixie-updates"
    [ "$set" = arm64 ] && { arch=arm64; suites=trixie; }
    sources=""; for s in $suites; do sources="${sources}deb $url $s main|"; done
    include=$(packages "$set" | paste -sd, -)
    pkgargs=$(packages "$set" | sed 's/^/--package /' | tr '\n' ' ')
    # shellcheck disable=SC2086
    "$bin" init -q --url "$url" --suite "$(echo $suites | tr ' ' ,)" --components main \
        --signed-by /usr/share/keyrings/debian-archive-keyring.gpg $pkgargs
    "$bin" update -q --arch "$arch" --cache-dir "$work/cache"
    # The warm cache gets the set's packages, downloaded and decoded, from
    # one untimed build: otherwise the first "warm" build is a cold one
    # (and its peak RSS, a cold build's, the warm figure).
    "$bin" build -q --unpack-only --arch "$arch" --cache-dir "$work/cache" -p "$dir/prime" \
        >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    for i in $(seq "$runs"); do
        # A warm update: the indices from the cache, verified and parsed,
        # the set solved again (the lock is left as it is).
        run "$set-update" "$bin" update -q --arch "$arch" --cache-dir "$work/cache"
        # Every tree and cold cache is new and none is removed before the
        # end: on an ext4 without a journal, creating inodes right after
        # removing many is slow (the allocator steps over recently deleted
        # inodes), and would bill one run for the removal before it.
        run "$set-cold" "$bin" build -q --arch "$arch" --cache-dir "$dir/cold$i" -p "$dir/c$i"
        run "$set-warm" "$bin" build --arch "$arch" --cache-dir "$work/cache" -p "$dir/w$i"
        # The unpacker alone (a full build configures the essential set
        # beside the unpack, which shares the CPUs): the unpack stage of
        # a warm unpack-only build, against copying the tree it made.
        run "$set-unpackonly" "$bin" build --unpack-only --arch "$arch" --cache-dir "$work/cache" -p "$dir/u$i"
        grep -E '^ *unpack .* in ' "$work/err" | awk -v s="$set" '{ t = $NF;
            if (t ~ /ms$/) { sub(/ms$/, "", t); t /= 1000 } else sub(/s$/, "", t);
            print s "-unpack " t " 0" }' >> "$work/results"
        run "$set-cpa" cp -a "$dir/u$i" "$dir/copy$i"
        # shellcheck disable=SC2086
        IFS='|'; set -- $sources; unset IFS
        run "$set-mmdebstrap" mmdebstrap --variant=minbase --mode=root --architectures="$arch" \
            ${include:+--include=$include} trixie "$dir/m$i" "$@"
    done
    # One more warm build with -d: where the time goes, per stage.
    "$bin" build -d --arch "$arch" --cache-dir "$work/cache" -p "$dir/d" 2>&1 |
        grep -E '^ *(fetch|unpack|database|configure|artifacts|scripts|finish) .* in |^built' || true
done

echo "== medians of $runs runs"
for set in $sets; do
    c=$(median "$set-cold"); w=$(median "$set-warm"); m=$(median "$set-mmdebstrap")
    u=$(median "$set-unpack"); cpa=$(median "$set-cpa"); up=$(median "$set-update")
    awk -v s="$set" -v c="$c" -v w="$w" -v m="$m" -v rc="$(maxrss "$set-cold")" \
        -v rw="$(maxrss "$set-warm")" -v rm="$(maxrss "$set-mmdebstrap")" -v u="$u" -v cpa="$cpa" \
        -v up="$up" -v ru="$(maxrss "$set-update")" -v cc="$(median "$set-cold" 4)" \
        -v cw="$(median "$set-warm" 4)" -v cm="$(median "$set-mmdebstrap" 4)" 'BEGIN {
        printf "%-8s rdebootstrap cold %6.2fs warm %6.2fs | mmdebstrap %6.2fs | warm %.1fx cold %.1fx | peak RSS KB: cold %s warm %s mmdebstrap %s\n",
            s, c, w, m, m / w, m / c, rc, rw, rm
        printf "%-8s user CPU cold %6.2fs warm %6.2fs | mmdebstrap %6.2fs | warm %.1fx cold %.1fx\n",
            s, cc, cw, cm, cm / cw, cm / cc
        printf "%-8s unpack (warm) %5.2fs | cp -a of the tree %5.2fs | %.2fx cp -a\n", s, u, cpa, u / cpa
        printf "%-8s update (warm) %5.2fs | peak RSS KB %s\n", s, up, ru }'
done
