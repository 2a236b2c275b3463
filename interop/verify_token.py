#!/usr/bin/env python3
"""Verifies a Gatehouse access token with PyJWT, as a resource server written in Python would:
the key from the authorization server's JWKS URL (by `kid`), the signature with one of the four
algorithms Gatehouse signs with, the issuer, the audience, exp, and RFC 9068's header typ `at+jwt`.

    python verify_token.py TOKEN JWKS_URL ISSUER AUDIENCE

Prints one JSON line: the protected header's alg and the claims. Exits 1 when verification fails.
The counterpart of verify_token.mjs.
"""

from __future__ import annotations

import json
import sys

import jwt

ALGORITHMS = ["ES256", "EdDSA", "RS256", "PS256"]


def log(step: str, **detail: object) -> None:
    print(json.dumps({"verifier": "pyjwt", "step": step, **detail}), flush=True)


def main() -> int:
    if len(sys.argv) != 5:
        print("usage: python verify_token.py TOKEN JWKS_URL ISSUER AUDIENCE", file=sys.stderr)
        return 2
    token, jwks_url, issuer, audience = sys.argv[1:]
    try:
        header = jwt.get_unverified_header(token)
        key = jwt.PyJWKClient(jwks_url, cache_keys=False, timeout=10).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        # PyJWT does not check the header's typ: RFC 9068 §4 requires at+jwt (or
        # application/at+jwt), and a resource server must refuse anything else.
        typ = str(header.get("typ", ""))
        if typ.lower().removeprefix("application/") != "at+jwt":
            raise jwt.InvalidTokenError(f"typ is {typ!r}, not at+jwt")
    except jwt.PyJWTError as error:
        log("rejected", error=f"{type(error).__name__}: {error}")
        return 1
    log("verified", alg=header.get("alg"), typ=header.get("typ"), kid=header.get("kid"), claims=claims)
    return 0


if __name__ == "__main__":
    sys.exit(main())
