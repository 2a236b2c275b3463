#!/usr/bin/env bash
# Installs the real MCP clients the interop tests run, and the federation tests' OpenID provider
# (oidc-provider): the official TypeScript SDK and oidc-provider (npm, pinned
# by interop/package-lock.json) into interop/node_modules, and the Python SDK (PyPI, pinned by
# interop/requirements.txt) into the virtual environment interop/.venv. Idempotent: does nothing
# when both are in place and match their pins. Exit status 0 when both are available afterwards.
set -uo pipefail
cd "$(dirname "$0")/../interop" || exit 1

status=0
if [ ! -f node_modules/@modelcontextprotocol/sdk/package.json ] || [ package-lock.json -nt node_modules/.installed ]; then
    echo "interop-deps: npm ci (TypeScript MCP SDK)" >&2
    if npm ci --no-audit --no-fund --loglevel=error >/dev/null; then
        touch node_modules/.installed
    else
        echo "interop-deps: npm ci failed" >&2
        status=1
    fi
fi
if [ ! -x .venv/bin/python ] || [ requirements.txt -nt .venv/.installed ]; then
    echo "interop-deps: python venv + pip install (Python MCP SDK)" >&2
    if python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt; then
        touch .venv/.installed
    else
        echo "interop-deps: the Python SDK could not be installed" >&2
        status=1
    fi
fi
exit $status
