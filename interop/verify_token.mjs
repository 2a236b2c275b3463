#!/usr/bin/env node
// Verifies a Gatehouse access token with `jose`, as a resource server written in JavaScript would:
// the keys from the authorization server's JWKS URL, then RFC 9068's typ `at+jwt`, the issuer and
// the audience (and exp/nbf, which jwtVerify always checks).
//
//   node verify_token.mjs TOKEN JWKS_URL ISSUER AUDIENCE
//
// Prints one JSON line: the protected header's alg and the claims. Exits 1 when verification fails.

import { createRemoteJWKSet, jwtVerify } from 'jose';

const [token, jwksUrl, issuer, audience] = process.argv.slice(2);
if (!audience) {
  console.error('usage: node verify_token.mjs TOKEN JWKS_URL ISSUER AUDIENCE');
  process.exit(2);
}
const log = (step, detail) => console.log(JSON.stringify({ verifier: 'jose', step, ...detail }));

try {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    typ: 'at+jwt',
    issuer,
    audience,
    algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
  });
  log('verified', { alg: protectedHeader.alg, typ: protectedHeader.typ, kid: protectedHeader.kid, claims: payload });
} catch (error) {
  log('rejected', { error: `${error?.code ?? error?.name}: ${error?.message}` });
  process.exit(1);
}
