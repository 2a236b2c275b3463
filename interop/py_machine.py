#!/usr/bin/env python3
"""The official Python MCP SDK's machine-to-machine providers (MCP client credentials extension,
SEP-1046) against a Gatehouse-protected MCP server: discovery (RFC 9728 -> RFC 8414), the
client_credentials grant authenticated with a client secret (ClientCredentialsOAuthProvider) or
with a JWT signed by the client's key (PrivateKeyJWTOAuthProvider with the SDK's own
SignedJWTParameters, RFC 7523 section 2.2), then an MCP call through the guard.

    python py_machine.py MCP_URL CLIENT_ID --issuer ISSUER (--secret SECRET | --key-file JWK --alg ALG) [--scope S]

Prints one JSON line per step; exits non-zero on any failure. The counterpart of ts_machine.mjs.
"""

from __future__ import annotations

import argparse
import json
import sys

import anyio
import httpx2
import jwt
from mcp import Client
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp_types import Implementation


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
        log("tokens", scope=tokens.scope, token_type=tokens.token_type, has_refresh=bool(tokens.refresh_token))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def pem_of(private_jwk: str) -> str:
    """The PKCS#8 PEM that the SDK's SignedJWTParameters signs with, from a private JWK (as
    `gatehouse keys generate` prints it)."""
    from cryptography.hazmat.primitives import serialization

    key = jwt.PyJWK(json.loads(private_jwk)).key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def run(args: argparse.Namespace) -> None:
    storage = MemoryStorage()
    if args.secret:
        provider = ClientCredentialsOAuthProvider(
            server_url=args.server_url,
            storage=storage,
            client_id=args.client_id,
            client_secret=args.secret,
            scope=args.scope,
            issuer=args.issuer,
        )
    else:
        with open(args.key_file, encoding="utf-8") as file:
            key = pem_of(file.read())
        signer = SignedJWTParameters(
            issuer=args.client_id, subject=args.client_id, signing_key=key, signing_algorithm=args.alg
        )
        provider = PrivateKeyJWTOAuthProvider(
            server_url=args.server_url,
            storage=storage,
            client_id=args.client_id,
            assertion_provider=signer.create_assertion_provider(),
            scope=args.scope,
            issuer=args.issuer,
        )
    http = create_mcp_http_client(timeout=httpx2.Timeout(10, read=15), auth=provider)
    async with http:
        transport = streamable_http_client(args.server_url, http_client=http, terminate_on_close=False)
        client = Client(
            transport,
            mode="legacy",
            read_timeout_seconds=15,
            client_info=Implementation(name="gatehouse-interop-py-machine", version="1.0.0"),
        )
        async with client:
            log("connected", server=client.server_info.name if client.server_info else None)
            who = await client.call_tool("whoami", {})
            content = getattr(who, "content", None) or []
            text = getattr(content[0], "text", None) if content else None
            log("whoami", text=text)
            if who.is_error:
                raise RuntimeError(f"whoami failed: {who!r}")
    log("done")


async def bounded(args: argparse.Namespace) -> None:
    with anyio.fail_after(30):
        await run(args)


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server_url", metavar="MCP_URL")
    parser.add_argument("client_id")
    parser.add_argument("--issuer", required=True, help="the authorization server the credentials may go to")
    parser.add_argument("--secret")
    parser.add_argument("--key-file")
    parser.add_argument("--alg", default="ES256")
    parser.add_argument("--scope")
    args = parser.parse_args()
    if not args.secret and not args.key_file:
        parser.error("give --secret or --key-file")
    try:
        anyio.run(bounded, args)
    except BaseException as error:  # noqa: BLE001 - report anything, exit non-zero
        if isinstance(error, KeyboardInterrupt):
            raise
        log("error", error="; ".join(f"{type(e).__name__}: {e}" for e in leaves(error)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
