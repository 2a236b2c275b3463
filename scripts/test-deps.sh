#!/usr/bin/env bash
# Installs what the tests need beyond Rust, from Debian's packages: Chromium and ChromeDriver for
# the browser test of the sign-in and consent pages, and Prometheus (promtool and the server) for
# the metrics test. Idempotent; prints what it did. Exit status 0 when all of them are available
# afterwards, 1 when they are not (no root, no network).
set -uo pipefail

have_all() {
    command -v chromium >/dev/null && command -v chromedriver >/dev/null \
        && command -v promtool >/dev/null && command -v prometheus >/dev/null
}
if have_all; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "test-deps: missing some of chromium, chromedriver, promtool, prometheus and not root; install the Debian packages chromium, chromium-driver and prometheus" >&2
    exit 1
fi
echo "test-deps: installing chromium, chromium-driver and prometheus (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
packages="chromium chromium-driver prometheus"
if ! apt-get install -y -q $packages >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1
    apt-get install -y -q $packages >/dev/null 2>&1 || {
        echo "test-deps: apt-get could not install $packages" >&2
        exit 1
    }
fi
# The package starts a Prometheus service where an init system runs; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus >/dev/null 2>&1 || true
fi
have_all
