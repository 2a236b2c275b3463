#!/usr/bin/env node
// A strict OAuth client, `oauth4webapi`, through the whole flow against a Gatehouse-protected MCP
// server: the 401 challenge's `resource_metadata` (RFC 9728) → protected resource metadata →
// authorization server metadata (RFC 8414, `issuer` checked) → dynamic registration (RFC 7591,
// public client) → authorization request with PKCE S256 and `resource` (RFC 8707) → authorization
// response with `iss` checked (RFC 9207) → code redemption → the access token checked as a
// resource server would (RFC 9068) → refresh (rotation; a retry within Gatehouse's reuse grace
// gets the same successor) → MCP `initialize` with the refreshed access token → revocation
// (RFC 7009) of the refresh token, after which neither it nor the grant's access token works.
// The authorization server must auto-approve (login.mode = "auto-approve"): "opening the
// browser" here is one GET whose redirect carries the code.
//
//   node strict_client.mjs MCP_URL [--print-token]
//
// Prints one JSON line per step; with --print-token the `token` step carries the access token
// (for verify_token.mjs / verify_token.py). Exits non-zero on any failure.

import * as oauth from 'oauth4webapi';

import { REDIRECT, authorize, discover, fail, insecure, registerPublic, run } from './oauth_flow.mjs';

const [serverUrl, ...flags] = process.argv.slice(2);
if (!serverUrl) {
  console.error('usage: node strict_client.mjs MCP_URL [--print-token]');
  process.exit(2);
}
const printToken = flags.includes('--print-token');
const log = (step, detail = {}) => console.log(JSON.stringify({ client: 'oauth4webapi', step, ...detail }));

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'gatehouse-interop-oauth4webapi', version: '1.0.0' },
  },
});

/** A raw MCP `initialize` POST, with or without a bearer token. */
function initialize(accessToken) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (accessToken !== undefined) headers.authorization = `Bearer ${accessToken}`;
  return fetch(serverUrl, { method: 'POST', headers, body: INITIALIZE });
}

async function main() {
  const resource = new URL(serverUrl);

  // 1. The unauthenticated request an MCP client starts with: 401 and a Bearer challenge.
  const anonymous = await initialize(undefined);
  const rawChallenge = anonymous.headers.get('www-authenticate');
  if (anonymous.status !== 401 || !rawChallenge) {
    fail(`unauthenticated initialize answered ${anonymous.status}, WWW-Authenticate ${rawChallenge}`);
  }
  await anonymous.body?.cancel();
  // The same challenge through oauth4webapi's own parser: a request with a token the server cannot
  // accept makes protectedResourceRequest reject with the parsed challenges.
  let challenge;
  try {
    await oauth.protectedResourceRequest(
      'not-a-valid-token',
      'POST',
      resource,
      new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' }),
      INITIALIZE,
      insecure,
    );
    fail('a bogus access token was accepted');
  } catch (error) {
    if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
    challenge = error.cause.find((c) => c.scheme === 'bearer');
    if (!challenge) fail(`no Bearer challenge in ${JSON.stringify(error.cause)}`);
  }
  const resourceMetadataUrl = challenge.parameters.resource_metadata;
  if (!resourceMetadataUrl) fail(`no resource_metadata in ${JSON.stringify(challenge)}`);
  if (!rawChallenge.includes(resourceMetadataUrl)) {
    fail(`the anonymous challenge (${rawChallenge}) names another resource_metadata than ${resourceMetadataUrl}`);
  }
  log('challenge', { error: challenge.parameters.error, scope: challenge.parameters.scope, resource_metadata: resourceMetadataUrl });

  // 2–3. RFC 9728: the protected resource metadata, whose `resource` must be the MCP URL itself;
  //      RFC 8414: its authorization server's metadata (`issuer` checked, S256 offered).
  const { rs, as } = await discover(resource, resourceMetadataUrl);
  log('resource_metadata', { resource: rs.resource, authorization_servers: rs.authorization_servers, scopes_supported: rs.scopes_supported });
  if (as.authorization_response_iss_parameter_supported !== true) fail('authorization_response_iss_parameter_supported is not true');
  if (!as.registration_endpoint) fail('no registration_endpoint');
  log('as_metadata', { issuer: as.issuer, iss_parameter: as.authorization_response_iss_parameter_supported });

  // 4. RFC 7591: register a public client.
  const { registered, client } = await registerPublic(as, 'Gatehouse interop (oauth4webapi)');
  if (registered.client_secret !== undefined) fail('a public client was given a client_secret');
  const clientAuth = oauth.None();
  log('registered', { client_id: client.client_id });

  // 5. The authorization request: PKCE S256, state, scope from the challenge, resource (RFC 8707).
  const scope = challenge.parameters.scope ?? 'mcp:tools';
  const { back, callbackParameters, verifier } = await authorize(as, client, { scope, resource: rs.resource });

  // 6. The authorization response: state, and (RFC 9207) `iss`, since the metadata advertises it.
  log('authorized', { iss: back.searchParams.get('iss'), scope, resource: rs.resource });

  // 7. The code for tokens, with the same resource.
  const tokens = await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callbackParameters, REDIRECT, verifier, {
      additionalParameters: { resource: rs.resource },
      ...insecure,
    }),
  );
  if (tokens.token_type !== 'bearer') fail(`token_type ${tokens.token_type}`);
  if (!tokens.refresh_token) fail('no refresh token');
  if (typeof tokens.expires_in !== 'number' || tokens.expires_in <= 0) fail(`expires_in ${tokens.expires_in}`);

  // 8. The access token as a resource server checks it (RFC 9068): typ at+jwt, iss, aud, exp and
  // the required claims, against the keys at the metadata's jwks_uri.
  const claims = await oauth.validateJwtAccessToken(
    as,
    new Request(serverUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
    rs.resource,
    insecure,
  );
  const alg = JSON.parse(Buffer.from(tokens.access_token.split('.')[0], 'base64url').toString()).alg;
  log('token', {
    alg,
    scope: tokens.scope,
    expires_in: tokens.expires_in,
    has_refresh: true,
    sub: claims.sub,
    aud: claims.aud,
    client_id: claims.client_id,
    ...(printToken ? { access_token: tokens.access_token } : {}),
  });
  if (claims.client_id !== client.client_id) fail(`the token's client_id is ${claims.client_id}`);

  // 9. A refresh, with the resource again; a public client's refresh token must rotate.
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, {
      additionalParameters: { resource: rs.resource },
      ...insecure,
    }),
  );
  if (!refreshed.access_token || !refreshed.refresh_token) fail('the refresh returned no new tokens');
  if (refreshed.refresh_token === tokens.refresh_token) fail('the refresh token did not rotate');
  log('refreshed', { scope: refreshed.scope, rotated: true });

  // A retry of the rotated-away refresh token within Gatehouse's reuse grace period
  // (tokens.refresh_reuse_grace_secs, docs/decisions/0006-refresh-reuse-grace.md) gets the same
  // successor back, not a second live one.
  const retried = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, {
      additionalParameters: { resource: rs.resource },
      ...insecure,
    }),
  );
  if (retried.refresh_token !== refreshed.refresh_token) fail('a retried refresh produced a second successor');
  log('refresh_retry', { same_successor: true });

  // 10. MCP with the refreshed access token: a raw `initialize`.
  const mcp = await initialize(refreshed.access_token);
  const sessionId = mcp.headers.get('mcp-session-id');
  const body = await mcp.text();
  if (mcp.status !== 200) fail(`initialize answered ${mcp.status}: ${body}`);
  if (!sessionId) fail('initialize answered without an mcp-session-id');
  log('mcp', { status: mcp.status, session: true, content_type: mcp.headers.get('content-type') });

  // 11. RFC 7009: revoke the current refresh token; Gatehouse revokes the whole grant with it,
  // access tokens included (RFC 7009 §2.1 SHOULD).
  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token, {
      additionalParameters: { token_type_hint: 'refresh_token' },
      ...insecure,
    }),
  );
  let refreshAfterRevocation;
  try {
    await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token, insecure),
    );
    refreshAfterRevocation = 'accepted';
  } catch (error) {
    if (!(error instanceof oauth.ResponseBodyError)) throw error;
    refreshAfterRevocation = error.error;
  }
  if (refreshAfterRevocation !== 'invalid_grant') fail(`a revoked refresh token: ${refreshAfterRevocation}`);
  const afterRevocation = await initialize(refreshed.access_token);
  await afterRevocation.body?.cancel();
  log('revoked', { refresh: refreshAfterRevocation, mcp_status_after: afterRevocation.status });

  log('done');
}

await run(main, log);
