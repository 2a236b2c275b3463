#!/usr/bin/env python3
"""A plain (unprotected) MCP server built with the official Python MCP SDK, over Streamable HTTP
at http://127.0.0.1:PORT/mcp, used as the upstream of Gatehouse's gateway mode.

    python py_server.py --port PORT

Tools: `echo(text)`; `shred(path)`, which pretends to destroy a file (what a default-deny
policy must keep closed); and `whoami`, which returns the identity headers the gateway sets
(X-Gatehouse-Subject, X-Gatehouse-Client-Id, X-Gatehouse-Scope), whether an Authorization
header arrived (a gateway must not pass the client's token through), and whether the person's
token at the identity provider arrived (X-Gatehouse-Upstream-Token, `forward_upstream_token`),
with what the provider's userinfo endpoint (environment variable USERINFO_URL) says of it. Prints "listening" once
it accepts connections.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

HOST = "127.0.0.1"


def userinfo(token: str) -> dict[str, object]:
    """What the identity provider's userinfo endpoint (USERINFO_URL) says of the token the
    gateway forwarded (X-Gatehouse-Upstream-Token): the proof that it is the person's real,
    fresh token there."""
    url = os.environ.get("USERINFO_URL")
    if not url:
        return {"error": "USERINFO_URL is not set"}
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a test's own URL
            return {"status": response.status, "claims": json.loads(response.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code}


def build(port: int) -> MCPServer:
    server = MCPServer(name="gatehouse-interop-py-upstream", version="1.0.0", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @server.tool()
    def whoami(ctx: Context) -> str:
        """The identity the gateway asserted for this request, as JSON."""
        headers = {k.lower(): v for k, v in (ctx.headers or {}).items()}
        upstream_token = headers.get("x-gatehouse-upstream-token")
        return json.dumps(
            {
                "subject": headers.get("x-gatehouse-subject"),
                "client_id": headers.get("x-gatehouse-client-id"),
                "scope": headers.get("x-gatehouse-scope"),
                "authorization_header": "authorization" in headers,
                "upstream_token": upstream_token is not None,
                "upstream_userinfo": userinfo(upstream_token) if upstream_token else None,
            }
        )

    @server.tool()
    def shred(path: str) -> str:
        """Pretend to destroy a file: the tool a default-deny policy keeps closed."""
        return f"shredded {path}"

    return server


async def serve(port: int) -> None:
    app = build(port).streamable_http_app(
        streamable_http_path="/mcp",
        host=HOST,
        # DNS-rebinding protection stays on, allowing exactly the loopback authority this
        # server listens on (the Host a gateway sends for upstream http://127.0.0.1:PORT/mcp).
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{HOST}:{port}", f"localhost:{port}"],
            allowed_origins=[f"http://{HOST}:{port}", f"http://localhost:{port}"],
        ),
    )
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        while not server.started:
            if server.should_exit:
                return
            await anyio.sleep(0.02)
        print("listening", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    anyio.run(serve, args.port)  # uvicorn exits 1 itself when it cannot bind
    return 0


if __name__ == "__main__":
    sys.exit(main())
