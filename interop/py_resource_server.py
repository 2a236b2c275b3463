#!/usr/bin/env python3
"""A resource server written in Python that checks Gatehouse's access tokens by introspection
(RFC 7662), as a team whose MCP server is not written in Rust does: Authlib's ResourceProtector
with its IntrospectTokenValidator, the introspection call made by Authlib's OAuth2Session with
the resource server's own client credentials (client_secret_basic), declared in Gatehouse's
`[[clients]]` with `introspection_resources`.

    python py_resource_server.py --port PORT --introspect URL --resource URI --client-id ID
        (secret in the environment variable RESOURCE_SERVER_SECRET)

GET /api/hello with `Authorization: Bearer TOKEN` answers 200 and {"subject", "client_id",
"scope"} for an active token whose audience is this resource and that carries `api:read`;
401 (invalid_token) or 403 (insufficient_scope) otherwise. Prints "listening" once it accepts
connections.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error, ResourceProtector
from authlib.oauth2.rfc6749.requests import JsonRequest
from authlib.oauth2.rfc7662 import IntrospectTokenValidator


class GatehouseIntrospection(IntrospectTokenValidator):
    """Asks Gatehouse about each token, authenticated as this resource server."""

    def __init__(self, url: str, resource: str, client_id: str, secret: str) -> None:
        super().__init__()
        self.url = url
        self.resource = resource
        self.session = OAuth2Session(
            client_id, secret, token_endpoint_auth_method="client_secret_basic"
        )

    def introspect_token(self, token_string: str) -> dict:
        response = self.session.introspect_token(self.url, token=token_string, timeout=10)
        response.raise_for_status()
        return response.json()

    def validate_token(self, token, scopes, request):
        super().validate_token(token, scopes, request)
        # RFC 7662 section 4: the resource server checks that the token is meant for it.
        audience = token.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.resource not in audiences:
            from authlib.oauth2.rfc6750 import InvalidTokenError

            raise InvalidTokenError()


def serve(port: int, validator: GatehouseIntrospection) -> None:
    protector = ResourceProtector()
    protector.register_token_validator(validator)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            if self.path != "/api/hello":
                self.answer(404, {"error": "not_found"})
                return
            request = JsonRequest("GET", f"http://127.0.0.1:{port}{self.path}", dict(self.headers))
            try:
                token = protector.validate_request(["api:read"], request)
            except OAuth2Error as error:
                status, body, headers = error.status_code, dict(error.get_body()), error.get_headers()
                self.answer(status, body, headers)
                return
            self.answer(
                200,
                {"subject": token.get("sub"), "client_id": token.get("client_id"), "scope": token.get("scope")},
            )

        def answer(self, status: int, body: dict, headers: list | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers or []:
                if name.lower() != "content-type":
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("listening", flush=True)
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--introspect", required=True, help="Gatehouse's introspection endpoint")
    parser.add_argument("--resource", required=True, help="this resource's URI (the aud it accepts)")
    parser.add_argument("--client-id", required=True)
    args = parser.parse_args()
    secret = os.environ.get("RESOURCE_SERVER_SECRET")
    if not secret:
        parser.error("RESOURCE_SERVER_SECRET is not set")
    serve(args.port, GatehouseIntrospection(args.introspect, args.resource, args.client_id, secret))
    return 0


if __name__ == "__main__":
    sys.exit(main())
