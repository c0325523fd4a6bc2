#!/bin/sh
# The refactor gate on a kernel tree's change: run from the tree's top directory.
#   backing-aio-gate.sh BASE [HEAD]
# Diffs the gated files from BASE to HEAD (git), rebuilds BASE's tree of them, and runs
# `backing-aio gate-patch` on the diff. Writes into $OUT (default backing-aio-out/): the
# patch, backing-aio.sarif (findings on the C lines) and backing-aio.xml (JUnit).
# Exit: gate-patch's (0 safe and the contract unchanged, 1 a finding, 2 bad input);
# 0 when the change touches none of the gated files.
set -eu
base=${1:?usage: backing-aio-gate.sh BASE [HEAD]}
head=${2:-HEAD}
out=${OUT:-backing-aio-out}
gate=${BACKING_AIO:-backing-aio}
# the helpers (v6.8 on; fs/backing_file.c in the 2023 series), their callers (overlayfs,
# whose file.c held its own async IO before the helpers, and FUSE passthrough); a patch to
# a caller alone is gated as that caller's file lifted around the tree's helpers
files="fs/backing-file.c fs/backing_file.c fs/overlayfs/file.c fs/fuse/passthrough.c"
present=""
for f in $files; do
    if git cat-file -e "$base:$f" 2>/dev/null; then present="$present $f"; fi
done
# shellcheck disable=SC2086 # the paths are word-split on purpose
if [ -z "$present" ] || git diff --quiet "$base" "$head" -- $present; then
    echo "backing-aio: $head changes none of:$present" >&2
    exit 0
fi
mkdir -p "$out"
# shellcheck disable=SC2086
git diff "$base" "$head" -- $present > "$out/change.patch"
tree="$out/base"
rm -rf "$tree"
mkdir -p "$tree"
# shellcheck disable=SC2086
git archive "$base" -- $present $(git cat-file -e "$base:Makefile" 2>/dev/null && echo Makefile) \
    | tar -x -C "$tree"
exec "$gate" gate-patch --tree "$tree" "$out/change.patch" \
    --sarif "$out/backing-aio.sarif" --junit "$out/backing-aio.xml"
