#!/bin/sh
# Re-fetch the trixie test data into tests/data/ (run from the repository root).
# The mirror is read at runtime from the host's APT sources (deb822 format);
# no mirror host name is stored in this repository.
# NOTE: trixie is a moving stable suite: a re-fetch after a point release yields
# different files/hashes than the ones recorded in tests/data/README.md.
set -eu
MIRROR=$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
OUT=tests/data
TMP=/tmp/apt-trixie

mkdir -p "$OUT/trixie/main/binary-amd64" "$OUT/debs/repacked"
curl -fsSL -o "$OUT/trixie/InRelease" "$MIRROR/dists/trixie/InRelease"
curl -fsSL -o "$OUT/trixie/main/binary-amd64/Packages.xz" \
    "$MIRROR/dists/trixie/main/binary-amd64/Packages.xz"
gpgv --keyring "$KEYRING" "$OUT/trixie/InRelease"
want=$(awk '/^SHA256:/{f=1;next} /^[^ ]/{f=0} f && $3=="main/binary-amd64/Packages.xz" {print $1, $2}' "$OUT/trixie/InRelease")
have="$(sha256sum < "$OUT/trixie/main/binary-amd64/Packages.xz" | cut -d' ' -f1) $(stat -c %s "$OUT/trixie/main/binary-amd64/Packages.xz")"
[ "$want" = "$have" ] || { echo "Packages.xz hash/size mismatch" >&2; exit 1; }

# Temporary APT configuration pointing at trixie.
mkdir -p "$TMP/lists/partial" "$TMP/cache/archives/partial" "$TMP/dl"
echo "deb [signed-by=$KEYRING] $MIRROR trixie main" > "$TMP/sources.list"
apt_t() {
    apt-get -o Dir::Etc::SourceList="$TMP/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$TMP/lists" -o Dir::Cache="$TMP/cache" \
        -o Dir::State::status=/dev/null -o APT::Architecture=amd64 "$@"
}
apt_t update
(cd "$TMP/dl" && apt_t download netbase debconf login mount unzip liblockfile-bin \
    libattr1 debianutils hostname)
# Store under the pool basename (no epoch, no %3a) as listed in Packages' Filename:.
for f in "$TMP"/dl/*.deb; do
    pkg=$(dpkg-deb -f "$f" Package); ver=$(dpkg-deb -f "$f" Version); arch=$(dpkg-deb -f "$f" Architecture)
    cp "$f" "$OUT/debs/${pkg}_${ver#*:}_${arch}.deb"
done

# Repacked compression variants of the real hostname package.
rm -rf "$TMP/rp"; dpkg-deb -R "$OUT"/debs/hostname_*_amd64.deb "$TMP/rp"
v=$(dpkg-deb -f "$OUT"/debs/hostname_*_amd64.deb Version)
export SOURCE_DATE_EPOCH=$(stat -c %Y "$TMP/rp/DEBIAN/control")  # ar member timestamps
for z in zstd gzip none; do
    dpkg-deb --root-owner-group -Z$z -b "$TMP/rp" "$OUT/debs/repacked/hostname_${v}_amd64.$z.deb"
done
