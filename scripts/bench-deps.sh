#!/usr/bin/env bash
# Installs what the load comparison (`cargo xtask bench-mcp`) needs beyond Rust: Debian's wrk.
# The TypeScript SDK peer installs itself (peers/ts-sdk-oauth-example.sh). Idempotent.
set -uo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "bench-deps: wrk missing and not root; install the Debian package wrk" >&2
    exit 1
fi
echo "bench-deps: installing wrk (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; }
command -v wrk >/dev/null
