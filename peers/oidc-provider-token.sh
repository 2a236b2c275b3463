#!/usr/bin/env bash
# Starts node-oidc-provider (panva's OpenID Certified server, pinned) configured like
# `gatehouse serve` for the token endpoint benchmark (`cargo xtask bench-token`): ES256 JWT access
# tokens, refresh rotation, client_credentials, introspection; in-memory adapter.
#   usage: oidc-provider-token.sh PORT CHAINS SECRET     (foreground; kill to stop)
# Prints one JSON line once listening: {"issuer", "refresh_tokens": [CHAINS tokens]}.
set -euo pipefail
D=${PEERS_DIR:-/tmp/gatehouse-peers}
VERSION=9.13.3
if [ "$(node -p "require('$D/node_modules/oidc-provider/package.json').version" 2>/dev/null)" != "$VERSION" ]; then
  mkdir -p "$D" && cd "$D"
  [ -f package.json ] || npm init -y >/dev/null 2>&1
  npm install --no-audit --no-fund --loglevel=error "oidc-provider@$VERSION" >/dev/null
fi
# The script imports oidc-provider from the install directory's node_modules.
cp "$(dirname "$(readlink -f "$0")")/oidc-provider-token.mjs" "$D/oidc-provider-token.mjs"
NODE_ENV=production exec node "$D/oidc-provider-token.mjs" "$@"
