#!/usr/bin/env bash
# Installs what the tests need beyond Rust: Debian's Chromium and ChromeDriver for the browser
# test of the sign-in and consent pages. Idempotent; prints what it did. Exit status 0 when the
# browser is available afterwards, 1 when it is not (no root, no network).
set -uo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "test-deps: chromium/chromedriver missing and not root; install the Debian packages chromium and chromium-driver" >&2
    exit 1
fi
echo "test-deps: installing chromium and chromium-driver (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1
    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
        echo "test-deps: apt-get could not install chromium" >&2
        exit 1
    }
fi
command -v chromium >/dev/null && command -v chromedriver >/dev/null
