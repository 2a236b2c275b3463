#!/usr/bin/env bash
# Runs a command in a fresh clone of this repository's committed HEAD, made in an empty temporary
# directory with nothing beside it: what a user who clones the project and nothing else gets. A
# test, script or document that reads a file outside the repository (a sibling directory, say)
# fails here. The clone is removed afterwards.
#
#   usage: scripts/fresh-clone.sh COMMAND [ARGS...]      e.g. scripts/fresh-clone.sh cargo xtask ci
#
# CARGO_TARGET_DIR, when set, is passed on, so that a CI machine can reuse its build cache; what
# the run proves is unchanged: no source file outside the clone is needed.
set -euo pipefail
source_dir=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-fresh.XXXXXX")
trap 'rm -rf "$work"' EXIT
git clone --quiet --no-hardlinks "$source_dir" "$work/gatehouse"
if [ -n "$(ls -A "$work" | grep -vx gatehouse)" ]; then
    echo "fresh-clone: $work is not empty beside the clone" >&2
    exit 1
fi
cd "$work/gatehouse"
echo "fresh-clone: $(git log -1 --format='%h %s') in $PWD" >&2
"$@"
