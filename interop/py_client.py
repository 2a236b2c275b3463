#!/usr/bin/env python3
"""The official Python MCP SDK client against a Gatehouse-protected MCP server: discovery
(RFC 9728 -> RFC 8414), dynamic registration, authorization code + PKCE, token, then MCP calls
through the guard. The authorization server must auto-approve (login.mode = "auto-approve"):
"opening the browser" here is one GET whose redirect carries the code.

    python py_client.py MCP_URL [--step-up] [--whoami] [--expect-subject SUBJECT] [--policy]
                        [--mode legacy|2026-07-28] [--federated LOGIN]

With --federated LOGIN the server signs people in through an identity provider (idp.mjs), and
the "browser" is federated_browser.mjs, signing in there as LOGIN.

Prints one JSON line per step; exits non-zero on any failure. The counterpart of ts_client.mjs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from mcp import Client, MCPError
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp_types import Implementation

REDIRECT = "http://127.0.0.1:33418/callback"
ECHO_TEXT = "hello from the Python SDK"


def log(step: str, **detail: object) -> None:
    print(json.dumps({"client": "python", "step": step, **detail}), flush=True)


class MemoryStorage:
    """An in-memory TokenStorage."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        log("tokens", scope=tokens.scope, has_refresh=bool(tokens.refresh_token))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
        log("registered", client_id=client_info.client_id)


class HeadlessBrowser:
    """The redirect/callback handler pair: the "browser" follows the auto-approved redirect."""

    def __init__(self, federated_login: str | None = None) -> None:
        self.pending: AuthorizationCodeResult | None = None
        self.federated_login = federated_login

    async def through_provider(self, authorization_url: str) -> str | None:
        """Signs in at the identity provider as a person would (federated_browser.mjs)."""
        walker = Path(__file__).with_name("federated_browser.mjs")
        done = await anyio.run_process(
            ["node", str(walker), authorization_url, self.federated_login or "", "corp"]
        )
        report = json.loads(done.stdout)
        if "redirect" not in report:
            raise RuntimeError(f"the sign-in through the provider failed: {report}")
        return report["redirect"]

    async def redirect_handler(self, authorization_url: str) -> None:
        if self.federated_login:
            location = await self.through_provider(authorization_url)
        else:
            async with httpx2.AsyncClient(follow_redirects=False, timeout=10) as http:
                response = await http.get(authorization_url)
            location = response.headers.get("location")
        if not location:
            raise RuntimeError("authorize answered without a redirect to the client")
        back = parse_qs(urlparse(location).query)
        if "error" in back:
            raise RuntimeError(f"authorize refused: {location}")
        sent = parse_qs(urlparse(authorization_url).query)
        self.pending = AuthorizationCodeResult(
            code=back["code"][0], state=back.get("state", [None])[0], iss=back.get("iss", [None])[0]
        )
        log(
            "authorized",
            iss=self.pending.iss,
            scope=sent.get("scope", [None])[0],
            resource=sent.get("resource", [None])[0],
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.pending is None:
            raise RuntimeError("callback without a preceding redirect")
        result, self.pending = self.pending, None
        return result


def text_of(result: object) -> str | None:
    content = getattr(result, "content", None) or []
    return getattr(content[0], "text", None) if content else None


async def run(
    server_url: str,
    step_up: bool,
    whoami: bool,
    expect_subject: str | None,
    policy: bool = False,
    mode: str = "legacy",
    federated: str | None = None,
) -> None:
    storage = MemoryStorage()
    browser = HeadlessBrowser(federated)
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="Gatehouse interop (Python SDK)",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    # Short timeouts: the whole run takes well under a second against a local server, and
    # a hung stream must fail the run rather than stall it.
    http = create_mcp_http_client(timeout=httpx2.Timeout(10, read=15), auth=provider)
    async with http:
        # terminate_on_close=False: nothing to gain from a DELETE at the end of a test run.
        transport = streamable_http_client(server_url, http_client=http, terminate_on_close=False)
        # mode="legacy": the initialize handshake, as ts_client.mjs does (the default "auto"
        # would first probe the 2026 `server/discover` method); "2026-07-28" (--mode): the
        # stateless revision, no handshake, its metadata in `_meta` and headers of every request.
        client = Client(
            transport,
            mode=mode,
            read_timeout_seconds=15,
            client_info=Implementation(name="gatehouse-interop-py", version="1.0.0"),
        )
        async with client:
            log(
                "connected",
                server=client.server_info.name if client.server_info else None,
                protocol_version=client.protocol_version,
            )

            tools = await client.list_tools()
            log("tools", names=sorted(t.name for t in tools.tools))

            echo = await client.call_tool("echo", {"text": ECHO_TEXT})
            echoed = text_of(echo)
            log("echo", text=echoed)
            if echo.is_error or echoed != ECHO_TEXT:
                raise RuntimeError(f"echo returned {echo!r}")

            if whoami:
                who = await client.call_tool("whoami", {})
                raw = text_of(who)
                try:
                    parsed: object = json.loads(raw) if raw else who.structured_content
                except json.JSONDecodeError:
                    parsed = raw
                log("whoami", result=parsed)
                if who.is_error:
                    raise RuntimeError(f"whoami failed: {who!r}")
                # Behind the gateway (py_server.py upstream): the client's token must not reach
                # the upstream, and the asserted subject must be the expected one.
                if isinstance(parsed, dict) and parsed.get("authorization_header"):
                    raise RuntimeError("the upstream received an Authorization header")
                if expect_subject is not None:
                    subject = parsed.get("subject") if isinstance(parsed, dict) else None
                    if subject != expect_subject:
                        raise RuntimeError(f"whoami subject {subject!r}, expected {expect_subject!r}")

            if step_up:
                # SDK 2.3.0 handles the 403 insufficient_scope challenge itself, inside its
                # httpx2 auth flow: it re-runs the authorization-code flow (not a refresh) with
                # the union of the previously granted scope and the challenge's scope (SEP-2350),
                # then retries the request with the new token. No client-side help is needed.
                before = storage.tokens.scope if storage.tokens else None
                reset = await client.call_tool("admin_reset", {})
                after = storage.tokens.scope if storage.tokens else None
                log("admin_reset", text=text_of(reset), scope_before=before, scope=after)
                if reset.is_error:
                    raise RuntimeError(f"admin_reset failed: {reset!r}")
                if "mcp:admin" not in (after or "").split():
                    raise RuntimeError(f"admin_reset succeeded without mcp:admin in the grant ({after!r})")
            if policy:
                await policy_paths(client, storage)
    log("done")


async def policy_paths(client: Client, storage: MemoryStorage) -> None:
    """Behind a policy gateway (unmapped_tools = "deny", whoami needs mcp:admin, a rate limit),
    in front of py_server.py: each path once, each outcome logged for the test to hold the audit
    log to."""
    # SDK 2.3.0 reports any refusal without a JSON-RPC body as one INTERNAL_ERROR, whatever the
    # HTTP status (403, 429); the test reads from the audit log which refusal it was.
    try:
        shred = await client.call_tool("shred", {"path": "/etc/hosts"})
    except MCPError as error:
        log("shred", refused=str(error))
    else:
        if not shred.is_error:
            raise RuntimeError(f"shred, a tool without a scope, ran: {shred!r}")
        log("shred", refused=text_of(shred))

    # The SDK steps up by itself (see --step-up).
    who = await client.call_tool("whoami", {})
    log("whoami", text=text_of(who), scope=storage.tokens.scope if storage.tokens else None)
    if who.is_error:
        raise RuntimeError(f"whoami failed: {who!r}")
    listed = await client.list_tools()
    log("tools_after_step_up", names=sorted(t.name for t in listed.tools))

    allowed = 0
    while True:
        try:
            again = await client.call_tool("echo", {"text": "again"})
        except MCPError as error:
            log("refused", error=str(error))
            break
        if again.is_error:
            log("rate_limited", allowed_before=allowed, error=text_of(again))
            return
        allowed += 1
        if allowed > 200:
            raise RuntimeError("no rate limit after 200 calls")
    log("rate_limited", allowed_before=allowed)


def leaves(error: BaseException) -> list[BaseException]:
    """The real failures inside (nested) exception groups from the SDK's task groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


async def bounded(
    server_url: str,
    step_up: bool,
    whoami: bool,
    expect_subject: str | None,
    policy: bool,
    mode: str,
    federated: str | None,
) -> None:
    with anyio.fail_after(30):
        await run(server_url, step_up, whoami, expect_subject, policy, mode, federated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server_url", metavar="MCP_URL")
    parser.add_argument("--step-up", action="store_true", help="call admin_reset (needs mcp:admin)")
    parser.add_argument("--whoami", action="store_true", help="call whoami and print its result")
    parser.add_argument("--expect-subject", metavar="SUBJECT", help="with --whoami: the subject it must report")
    parser.add_argument("--policy", action="store_true", help="meet a policy gateway: denied, step-up, rate limit")
    parser.add_argument("--mode", default="legacy", help='"legacy" (initialize) or a protocol version such as 2026-07-28')
    parser.add_argument(
        "--federated", metavar="LOGIN", help="sign in through the identity provider (idp.mjs) as LOGIN"
    )
    args = parser.parse_args()
    try:
        anyio.run(
            bounded,
            args.server_url,
            args.step_up,
            args.whoami or args.expect_subject is not None,
            args.expect_subject,
            args.policy,
            args.mode,
            args.federated,
        )
    except BaseException as error:  # noqa: BLE001 - report anything, exit non-zero
        if isinstance(error, KeyboardInterrupt):
            raise
        log("error", error="; ".join(f"{type(e).__name__}: {e}" for e in leaves(error)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
