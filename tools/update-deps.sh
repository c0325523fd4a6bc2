#!/bin/sh
# Refreshes the lock that set-up installs from: the runtime and dev dependencies in
# pyproject.toml, their dependencies, and the pip and setuptools that install and build
# the project. Every package is pinned to one version, with the sha256 of every file PyPI
# has for it, so one lock installs the same set on x86_64 and on aarch64 Linux.
#
# The set is resolved for aarch64, wheels only, at that architecture's glibc floor: a
# release whose wheel needs a newer glibc is held back. The same pins are then checked to
# resolve for x86_64 at its floor, wheels only. The lock is replaced only if both hold.
#
# Environment (the Makefile sets it): PY, the interpreter (its X.Y is the Python the lock
# is for); UV_VERSION, the resolver's version; LOCK, the lock file; AARCH64_GLIBC and
# X86_64_GLIBC, the floors (e.g. 2_38); UPGRADE, --upgrade to move every pin to the newest
# release that fits, or empty to keep the pins the lock has where they still fit.
set -eu

: "${PY:?}" "${UV_VERSION:?}" "${LOCK:?}" "${AARCH64_GLIBC:?}" "${X86_64_GLIBC:?}"
UPGRADE=${UPGRADE-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The resolver lives in a venv of its own, so the project's venv holds only what the lock
# lists.
"$PY" -m venv "$tmp/tool"
"$tmp/tool/bin/python" -m pip install --quiet "uv==$UV_VERSION"
uv=$tmp/tool/bin/uv

pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# What set-up needs besides the project's dependencies: pip itself, and the build
# backend as pyproject.toml's build-system asks for it (the editable install is built
# without isolation, with the locked setuptools).
"$PY" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("pip")
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
' >"$tmp/setup.in"

# The lock written so far is where the resolver starts from (without --upgrade it keeps
# those pins).
[ -f "$LOCK" ] && cp "$LOCK" "$tmp/lock"

compile() {
    "$uv" pip compile --quiet --no-config --no-build --python-version "$pyver" \
        pyproject.toml --extra dev - <"$tmp/setup.in" "$@"
}

compile --python-platform "aarch64-manylinux_$AARCH64_GLIBC" --generate-hashes $UPGRADE \
    --custom-compile-command 'make update-deps' -o "$tmp/lock"

compile --python-platform "x86_64-manylinux_$X86_64_GLIBC" --constraint "$tmp/lock" \
    --no-header --no-annotate -o "$tmp/x86_64"

pins() { grep -E '^[A-Za-z0-9]' "$1" | sed 's/[ ;].*//' | sort; }
pins "$tmp/lock" >"$tmp/pins.aarch64"
pins "$tmp/x86_64" >"$tmp/pins.x86_64"
if ! cmp -s "$tmp/pins.aarch64" "$tmp/pins.x86_64"; then
    echo "make: x86_64 and aarch64 resolve to different sets:" >&2
    diff "$tmp/pins.aarch64" "$tmp/pins.x86_64" >&2 || true
    exit 1
fi

if [ -f "$LOCK" ]; then
    pins "$LOCK" >"$tmp/pins.old"
    diff "$tmp/pins.old" "$tmp/pins.aarch64" | sed -n 's/^[<>] /  &/p' || true
fi
mkdir -p "$(dirname "$LOCK")"
cp "$tmp/lock" "$LOCK"
echo "$LOCK: $(wc -l <"$tmp/pins.aarch64") packages pinned"
