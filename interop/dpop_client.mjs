#!/usr/bin/env node
// The strict client `oauth4webapi` through the whole DPoP flow (RFC 9449) against a
// Gatehouse-protected MCP server, with the library's own DPoP support (`oauth.DPoP`, a key pair
// from `oauth.generateKeyPair('ES256')`, the `DPoP` option of the grant and resource requests):
// the 401 challenge's `resource_metadata` (RFC 9728) → protected resource metadata →
// authorization server metadata (RFC 8414; `dpop_signing_alg_values_supported` must name ES256)
// → dynamic registration (RFC 7591, public client) → authorization request with PKCE S256,
// `resource` (RFC 8707) and `dpop_jkt` (RFC 9449 §10) → code redemption with a proof (§5),
// retried once on `use_dpop_nonce` (§8) → a `DPoP` token whose `cnf.jkt` is the key's thumbprint
// (§6) → MCP `initialize` and `tools/call` with `Authorization: DPoP` and a proof carrying `ath`
// (§7), retried once on the resource's own nonce challenge (§9) → refresh with a proof by the
// same key (§5) → the refreshed token at the resource → attacks: the bound token as a bearer
// token (§7.2), the refresh token with a proof by another key (§5), a proof sent twice (§11.1).
// The authorization server must auto-approve (login.mode = "auto-approve").
//
//   node dpop_client.mjs MCP_URL
//
// Prints one JSON line per step; exits non-zero on any failure.

import * as oauth from 'oauth4webapi';

import { REDIRECT, authorize, discover, fail, insecure, registerPublic, run } from './oauth_flow.mjs';

const [serverUrl] = process.argv.slice(2);
if (!serverUrl) {
  console.error('usage: node dpop_client.mjs MCP_URL');
  process.exit(2);
}
const log = (step, detail = {}) => console.log(JSON.stringify({ client: 'oauth4webapi-dpop', step, ...detail }));


/**
 * `attempt` once, and once more if it failed with a DPoP nonce error, as the oauth4webapi docs
 * describe: the handle has cached the `DPoP-Nonce` of the refusal, so the retry's proof carries
 * it. Returns the result and whether the nonce challenge happened.
 */
async function retryingOnNonce(attempt) {
  try {
    return { result: await attempt(), nonceChallenge: false };
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return { result: await attempt(), nonceChallenge: true };
  }
}

/** The payload of a JWT, unverified (the access token's `cnf`). */
function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** The JSON-RPC messages of an MCP answer, JSON or an SSE stream. */
async function jsonRpcMessages(response) {
  const text = await response.text();
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    return text
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .filter((data) => data.length > 0)
      .map((data) => JSON.parse(data));
  }
  return text.trim() ? [JSON.parse(text)] : [];
}

const PROTOCOL_VERSION = '2025-06-18';

function mcpHeaders(sessionId) {
  const headers = new Headers({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  });
  if (sessionId) {
    headers.set('mcp-session-id', sessionId);
    headers.set('mcp-protocol-version', PROTOCOL_VERSION);
  }
  return headers;
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'gatehouse-interop-oauth4webapi-dpop', version: '1.0.0' },
  },
});
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
const echo = (id, text) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });

async function main() {
  const resource = new URL(serverUrl);

  // 1. The unauthenticated request an MCP client starts with: 401 and a challenge naming the
  //    resource metadata (RFC 9728 §5.1).
  let challenge;
  try {
    await oauth.protectedResourceRequest('not-a-valid-token', 'POST', resource, mcpHeaders(), INITIALIZE, insecure);
    fail('a bogus access token was accepted');
  } catch (error) {
    if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
    challenge = error.cause.find((c) => c.parameters.resource_metadata);
    if (!challenge) fail(`no challenge with resource_metadata in ${JSON.stringify(error.cause)}`);
    log('challenge', {
      schemes: error.cause.map((c) => c.scheme),
      resource_metadata: challenge.parameters.resource_metadata,
      scope: challenge.parameters.scope,
    });
  }

  // 2. RFC 9728: the protected resource metadata.
  const { rs, as } = await discover(resource, challenge.parameters.resource_metadata);
  log('resource_metadata', {
    resource: rs.resource,
    dpop_signing_alg_values_supported: rs.dpop_signing_alg_values_supported,
    dpop_bound_access_tokens_required: rs.dpop_bound_access_tokens_required,
  });

  // 3. RFC 8414 + RFC 9449 §5.1: the AS metadata advertises the proof algorithms; ES256 is ours.
  if (!as.dpop_signing_alg_values_supported?.includes('ES256')) {
    fail(`dpop_signing_alg_values_supported is ${JSON.stringify(as.dpop_signing_alg_values_supported)}`);
  }
  log('as_metadata', { issuer: as.issuer, dpop_signing_alg_values_supported: as.dpop_signing_alg_values_supported });

  // 4. RFC 7591: a public client.
  const { client } = await registerPublic(as, 'Gatehouse interop (oauth4webapi, DPoP)');
  const clientAuth = oauth.None();
  log('registered', { client_id: client.client_id });

  // The client's DPoP key: an ES256 key pair, and the library's handle that signs proofs with it
  // and remembers the servers' nonces.
  const keyPair = await oauth.generateKeyPair('ES256');
  const dpop = oauth.DPoP(client, keyPair);
  const jkt = await dpop.calculateThumbprint();

  // 5. The authorization request: PKCE S256, state, resource, and `dpop_jkt` (RFC 9449 §10),
  //    which binds the code to the key.
  const scope = challenge.parameters.scope ?? 'mcp:tools';
  const { back, callbackParameters, verifier } = await authorize(as, client, {
    scope,
    resource: rs.resource,
    extra: { dpop_jkt: jkt },
  });
  log('authorized', { iss: back.searchParams.get('iss'), dpop_jkt: jkt });

  // 6. The code for tokens with a proof (RFC 9449 §5); under nonces the first proof has none and
  //    is refused with `use_dpop_nonce` and a `DPoP-Nonce` header (§8), the retry carries it.
  let rawTokenType;
  const { result: tokens, nonceChallenge: tokenNonce } = await retryingOnNonce(async () => {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth,
      callbackParameters,
      REDIRECT,
      verifier,
      { DPoP: dpop, additionalParameters: { resource: rs.resource }, ...insecure },
    );
    if (response.ok) rawTokenType = (await response.clone().json()).token_type;
    return oauth.processAuthorizationCodeResponse(as, client, response);
  });
  // oauth4webapi 3.8.8 lowercases token_type and accepts either `bearer` or `dpop` whether or not
  // a DPoP handle was used, so the binding is checked here: `DPoP` (§5) and `cnf.jkt` (§6.1).
  if (tokens.token_type !== 'dpop') fail(`token_type ${rawTokenType}`);
  if (!tokens.refresh_token) fail('no refresh token');
  const claims = jwtPayload(tokens.access_token);
  if (claims.cnf?.jkt !== jkt) fail(`cnf ${JSON.stringify(claims.cnf)}, expected jkt ${jkt}`);
  log('token', {
    token_type: rawTokenType,
    nonce_challenge: tokenNonce,
    cnf_jkt_matches: true,
    has_refresh: true,
    scope: tokens.scope,
  });

  // 7. MCP with the bound token (RFC 9449 §7): `Authorization: DPoP`, a proof with `ath`, htm and
  //    htu the resource's. The resource requires nonces too (§9). Gatehouse's nonces are per
  //    origin, as oauth4webapi keeps them, so one handle would carry the token endpoint's nonce
  //    here and pass at once; this client keeps a handle per server (same key), so its first
  //    proof to the resource has no nonce and meets the resource's challenge.
  const resourceDpop = oauth.DPoP(client, keyPair);
  let captured;
  const capturing = {
    ...insecure,
    DPoP: resourceDpop,
    [oauth.customFetch]: (url, init) => {
      captured = { url, init };
      return fetch(url, init);
    },
  };
  const resourceCall = (accessToken, body, sessionId) =>
    retryingOnNonce(() =>
      oauth.protectedResourceRequest(accessToken, 'POST', resource, mcpHeaders(sessionId), body, capturing),
    );

  const { result: initialized, nonceChallenge: mcpNonce } = await resourceCall(tokens.access_token, INITIALIZE);
  const sessionId = initialized.headers.get('mcp-session-id');
  const initMessages = await jsonRpcMessages(initialized);
  if (initialized.status !== 200) fail(`initialize answered ${initialized.status}: ${JSON.stringify(initMessages)}`);
  if (!sessionId) fail('initialize answered without an mcp-session-id');
  const serverName = initMessages.find((m) => m.id === 1)?.result?.serverInfo?.name;

  // The request just accepted, checked as an RFC 9449 resource server would with the library's
  // own validator: the JWT access token (RFC 9068) and its proof (`cnf.jkt`, htm, htu, ath).
  const acceptedRequest = new Request(captured.url, { method: 'POST', headers: captured.init.headers });
  const validated = await oauth.validateJwtAccessToken(as, acceptedRequest, rs.resource, { ...insecure, requireDPoP: true });
  if (validated.cnf?.jkt !== jkt) fail(`validated cnf ${JSON.stringify(validated.cnf)}`);

  const { result: notified } = await resourceCall(tokens.access_token, INITIALIZED, sessionId);
  await notified.body?.cancel();
  if (notified.status !== 202 && notified.status !== 200) fail(`notifications/initialized answered ${notified.status}`);

  const { result: called, nonceChallenge: callNonce } = await resourceCall(
    tokens.access_token,
    echo(2, 'hello with DPoP'),
    sessionId,
  );
  const callMessages = await jsonRpcMessages(called);
  if (called.status !== 200) fail(`tools/call answered ${called.status}: ${JSON.stringify(callMessages)}`);
  const echoed = callMessages.find((m) => m.id === 2)?.result?.content?.[0]?.text;
  if (echoed !== 'hello with DPoP') fail(`echo answered ${JSON.stringify(callMessages)}`);
  log('mcp', {
    status: called.status,
    nonce_challenge: mcpNonce,
    call_nonce_challenge: callNonce,
    server: serverName,
    session: true,
    text: echoed,
    validated_by_library: true,
  });

  // 8. Refresh with a proof by the same key (§5): the public client's refresh token is bound to
  //    it. The token endpoint's handle still holds the nonce of step 6 (a challenge comes only if
  //    the nonce changed its step since).
  let refreshedTokenType;
  const { result: refreshed, nonceChallenge: refreshNonce } = await retryingOnNonce(async () => {
    const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, {
      DPoP: dpop,
      additionalParameters: { resource: rs.resource },
      ...insecure,
    });
    if (response.ok) refreshedTokenType = (await response.clone().json()).token_type;
    return oauth.processRefreshTokenResponse(as, client, response);
  });
  if (refreshed.token_type !== 'dpop') fail(`refreshed token_type ${refreshedTokenType}`);
  if (!refreshed.refresh_token || refreshed.refresh_token === tokens.refresh_token) fail('the refresh token did not rotate');
  if (jwtPayload(refreshed.access_token).cnf?.jkt !== jkt) fail('the refreshed access token is bound to another key');

  // 9. The refreshed token at the resource, in the same session.
  const { result: again, nonceChallenge: againNonce } = await resourceCall(
    refreshed.access_token,
    echo(3, 'refreshed'),
    sessionId,
  );
  const againMessages = await jsonRpcMessages(again);
  if (again.status !== 200) fail(`tools/call with the refreshed token answered ${again.status}: ${JSON.stringify(againMessages)}`);
  if (againMessages.find((m) => m.id === 3)?.result?.content?.[0]?.text !== 'refreshed') {
    fail(`echo with the refreshed token answered ${JSON.stringify(againMessages)}`);
  }
  log('refreshed', {
    token_type: refreshedTokenType,
    rotated: true,
    cnf_jkt_matches: true,
    nonce_challenge: refreshNonce,
    mcp_status: again.status,
    mcp_nonce_challenge: againNonce,
  });

  // 10. Attacks.
  // a. The bound token as a bearer token, no proof, as its thief would send it (§7.2: MUST NOT
  //    be accepted).
  const asBearer = mcpHeaders(sessionId);
  asBearer.set('authorization', `Bearer ${refreshed.access_token}`);
  const bearer = await fetch(resource, { method: 'POST', headers: asBearer, body: echo(4, 'stolen') });
  await bearer.body?.cancel();
  log('bearer_refused', { status: bearer.status, www_authenticate: bearer.headers.get('www-authenticate') });
  if (bearer.status !== 401) fail(`the bound token as Bearer answered ${bearer.status}`);

  // b. The same proof twice (§11.1): one accepted request, then its exact headers (the same
  //    `DPoP` header value) and body sent again.
  const replayBody = echo(5, 'once');
  const { result: first } = await resourceCall(refreshed.access_token, replayBody, sessionId);
  await first.body?.cancel();
  if (first.status !== 200) fail(`the proof's first use answered ${first.status}`);
  const replayed = await fetch(captured.url, { method: 'POST', headers: captured.init.headers, body: replayBody });
  const replayBodyText = await replayed.text();
  log('replay_refused', {
    first_status: first.status,
    status: replayed.status,
    www_authenticate: replayed.headers.get('www-authenticate'),
    error: JSON.parse(replayBodyText || '{}').error,
  });
  if (replayed.status !== 401) fail(`a replayed proof answered ${replayed.status}: ${replayBodyText}`);

  // c. The refresh token with a proof by another key (§5): invalid_grant, and the token is not
  //    burnt for its holder.
  const otherDpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  const otherKeyRefresh = async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token, {
        DPoP: otherDpop,
        additionalParameters: { resource: rs.resource },
        ...insecure,
      }),
    );
  let otherKeyError = 'accepted';
  let otherKeyStatus;
  let otherKeyNonce = false;
  try {
    try {
      await otherKeyRefresh();
    } catch (error) {
      // The new handle has no nonce yet: the first refusal may be `use_dpop_nonce` (§8). Not
      // `retryingOnNonce`: the retry is expected to fail, and the log says a challenge came.
      if (!oauth.isDPoPNonceError(error)) throw error;
      otherKeyNonce = true;
      await otherKeyRefresh();
    }
  } catch (error) {
    if (!(error instanceof oauth.ResponseBodyError)) throw error;
    otherKeyError = error.error;
    otherKeyStatus = error.status;
  }
  log('other_key_refresh', { error: otherKeyError, status: otherKeyStatus, nonce_challenge: otherKeyNonce });
  if (otherKeyError !== 'invalid_grant') fail(`a refresh with another key: ${otherKeyError}`);

  const { result: stillBound, nonceChallenge: stillNonce } = await retryingOnNonce(async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token, {
        DPoP: dpop,
        additionalParameters: { resource: rs.resource },
        ...insecure,
      }),
    ),
  );
  if (stillBound.token_type !== 'dpop') fail(`token_type ${stillBound.token_type} after the attack`);
  log('holder_still_refreshes', { token_type: stillBound.token_type, nonce_challenge: stillNonce });

  log('done');
}

await run(main, log);
