#!/bin/sh
# Fetches Debian's linux-source-6.1 and linux-source-6.12 packages (apt-get download: no
# installation) into an ignored cache, and extracts the few C files the tests read.
# The project never commits kernel source.
#
# apt runs with a configuration of its own (sources, lists and cache under the cache
# folder), so the machine's apt set-up is not touched: bookworm for 6.1, trixie for 6.12,
# each with its security suite. The versions the tests were written against are asked for
# first; where the archive no longer has them, the newest one is taken and its version
# recorded, and the tests that depend on the exact text skip, naming both versions.
#
# Environment: CACHE (default .cache/kernel). Exit 0 when both trees are there, 2 when
# they cannot be had (no apt-get, no network), with one line saying why.
set -eu

CACHE=${CACHE:-.cache/kernel}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PIN_61=6.1.176-1
PIN_612=6.12.118-1

FILES_COMMON="fs/overlayfs/file.c fs/overlayfs/util.c fs/read_write.c fs/aio.c fs/inode.c
drivers/block/loop.c include/linux/fs.h Makefile"
FILES_612="fs/backing-file.c include/linux/backing-file.h fs/fuse/passthrough.c
fs/erofs/fileio.c"

fail() { echo "kernel-sources: $*" >&2; exit 2; }

command -v apt-get >/dev/null || fail "apt-get not found: Debian's linux-source packages are needed"
command -v dpkg-deb >/dev/null || fail "dpkg-deb not found"
[ -r "$KEYRING" ] || fail "$KEYRING not found (apt-get install debian-archive-keyring)"

mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial"
cat >"$CACHE/apt/sources.list" <<EOF
deb [signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security bookworm-security main
deb [signed-by=$KEYRING] http://deb.debian.org/debian trixie main
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security trixie-security main
EOF
abs=$(cd "$CACHE" && pwd)
case $abs in *" "*) fail "the cache path may not contain a space: $abs" ;; esac
APT="-o Dir::Etc::SourceList=$abs/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists=$abs/apt/lists -o Dir::Cache=$abs/apt/cache
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"

fetch() {  # package, pinned version, files
    pkg=$1 pin=$2 files=$3
    dest="$CACHE/$pkg"
    have=$(cat "$dest/.version" 2>/dev/null || true)
    if [ -n "$have" ] && [ "$have" = "$pin" ]; then
        echo "kernel-sources: $pkg $have already here"
        return 0
    fi
    versions=$(apt-cache $APT madison "$pkg" 2>/dev/null | awk '{print $3}')
    [ -n "$versions" ] || fail "the archive has no $pkg (no network?)"
    if echo "$versions" | grep -qx "$pin"; then
        ver=$pin
    else
        ver=$(echo "$versions" | head -n 1)
        echo "kernel-sources: $pkg $pin is no longer in the archive; taking $ver" >&2
    fi
    [ "$have" = "$ver" ] && { echo "kernel-sources: $pkg $have already here"; return 0; }
    (cd "$CACHE" && apt-get $APT -qq download "$pkg=$ver" 2>/dev/null) \
        || fail "apt-get download $pkg=$ver failed"
    deb=$(ls "$CACHE/${pkg}_"*"_all.deb" | head -n 1)
    tmp="$dest.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    # the package holds one tarball of the whole tree: take only the files asked for
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" \
        | tar -xJ -C "$tmp" --strip-components=1 $(for f in $files; do echo "$pkg/$f"; done) \
        || fail "extracting $pkg failed"
    echo "$ver" >"$tmp/.version"
    rm -rf "$dest" && mv "$tmp" "$dest" && rm -f "$deb"
    echo "kernel-sources: $pkg $ver in $dest"
}

apt-get $APT -qq update 2>/dev/null || fail "apt-get update failed (no network?)"
fetch linux-source-6.1 "$PIN_61" "$FILES_COMMON"
fetch linux-source-6.12 "$PIN_612" "$FILES_COMMON $FILES_612"
