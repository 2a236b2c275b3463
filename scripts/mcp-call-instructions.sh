#!/usr/bin/env bash
# Instructions per protected `tools/call`, counted by callgrind over the whole server process (every
# thread, the SQLite writer included): `gatehouse serve` with the guard in front of the built-in
# demo MCP server, or the same demo server with no guard (`mcp_load --unguarded`). The steady
# figure beside `cargo xtask bench-mcp`, whose rates move with the machine (docs/performance.md).
#
#   cargo build --release -p gatehouse && cargo build --release -p gatehouse-axum --example mcp_load
#   scripts/mcp-call-instructions.sh guarded      # or: unguarded
#
# Needs valgrind, wrk (scripts/bench-deps.sh), curl and python3. Under valgrind the sha2 crate
# runs its portable SHA-256, not SHA-NI: the guarded count includes about 40,000 instructions of
# it (the token's cache key and the session id's MAC) that the hardware does in a few thousand.
# The load is light (wrk -c4), so the audit writer commits smaller batches than under
# `bench-mcp`, and its share here is an upper bound.
set -euo pipefail
mode=${1:?usage: mcp-call-instructions.sh guarded|unguarded [SECONDS]}
seconds=${2:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
for tool in valgrind callgrind_control callgrind_annotate wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "mcp-call-instructions: $tool missing" >&2; exit 1; }
done
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
case $mode in
guarded)
    cat > "$dir/gatehouse.toml" <<EOF
issuer = "$base"
listen = "127.0.0.1:$port"
database = "sqlite://$dir/gatehouse.db"
[login]
mode = "auto-approve"
auto_approve_subject = "load"
[rate_limits]
enabled = false
[[resources]]
resource = "$base/mcp"
scopes_supported = ["mcp:tools"]
required_scopes = ["mcp:tools"]
builtin = "demo"
EOF
    command=("$target/release/gatehouse" serve --config "$dir/gatehouse.toml") ;;
unguarded) command=("$target/release/examples/mcp_load" --unguarded "$port") ;;
*) echo "usage: mcp-call-instructions.sh guarded|unguarded [SECONDS]" >&2; exit 2 ;;
esac
RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out" \
    "${command[@]}" > "$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 180); do curl -s -o /dev/null "$base/mcp" && break; sleep 1; done

# A token through the server's own OAuth flow (the unguarded server ignores it), then one session.
python3 - "$base" "$mode" > "$dir/session" <<'EOF'
import base64, hashlib, json, sys, urllib.error, urllib.parse, urllib.request
base, mode = sys.argv[1], sys.argv[2]
mcp = base + "/mcp"
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(NoRedirect)
def call(url, data=None, headers={}):
    try:
        return opener.open(urllib.request.Request(url, data=data, headers=headers))
    except urllib.error.HTTPError as answer:
        return answer
token = "unguarded-servers-ignore-it"
if mode == "guarded":
    meta = json.load(call(base + "/.well-known/oauth-authorization-server"))
    redirect = "http://127.0.0.1:9/callback"
    client = json.load(call(meta["registration_endpoint"], json.dumps({
        "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "scope": "mcp:tools"}).encode(), {"content-type": "application/json"}))["client_id"]
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client,
        "redirect_uri": redirect, "code_challenge": challenge, "code_challenge_method": "S256",
        "state": "s", "scope": "mcp:tools", "resource": mcp})
    location = call(meta["authorization_endpoint"] + "?" + query).headers["location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    token = json.load(call(meta["token_endpoint"], urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        "code_verifier": verifier, "client_id": client, "resource": mcp}).encode(),
        {"content-type": "application/x-www-form-urlencoded"}))["access_token"]
headers = {"authorization": "Bearer " + token, "accept": "application/json, text/event-stream",
    "content-type": "application/json", "mcp-protocol-version": "2025-11-25"}
answer = call(mcp, json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "mcp-call-instructions", "version": "1"}}}).encode(), headers)
session = answer.headers["mcp-session-id"]
answer.read()
headers["mcp-session-id"] = session
call(mcp, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(), headers).read()
print(token)
print(session)
EOF
{ read -r token; read -r session; } < "$dir/session"
cat > "$dir/call.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Mcp-Session-Id"] = "$session"
wrk.headers["Mcp-Protocol-Version"] = "2025-11-25"
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"load-test"}}}', counter))
end
bad = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, "load%-test") then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("WRONG %d\n", bad))
end
EOF
# Warm up uncounted (caches, the session, the writer's statements), then count only the load.
wrk -t1 -c4 -d5s -s "$dir/call.lua" "$base/mcp" > /dev/null
callgrind_control -z "$server" > /dev/null 2>&1
callgrind_control -i on "$server" > /dev/null 2>&1
wrk -t1 -c4 -d"${seconds}s" -s "$dir/call.lua" "$base/mcp" > "$dir/wrk.txt"
callgrind_control -i off "$server" > /dev/null 2>&1
callgrind_control -d "$server" > /dev/null 2>&1
sleep 1
calls=$(awk '/ requests in /{print $1}' "$dir/wrk.txt")
wrong=$(awk '/^WRONG /{print $2}' "$dir/wrk.txt")
[ "${wrong:-1}" = 0 ] || { echo "mcp-call-instructions: $wrong calls failed or answered wrongly" >&2; exit 1; }
total=$(callgrind_annotate "$dir/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !/calculated/ {gsub(",", "", $1); print $1}')
echo "$mode: $calls calls, $total instructions, $((total / calls)) per call"
