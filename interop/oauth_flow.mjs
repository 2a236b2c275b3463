// The steps every oauth4webapi client of the interop tests takes against `gatehouse serve`, in
// one place: discovery (RFC 9728, then RFC 8414), registration of a public client (RFC 7591), and
// the authorization request to an auto-approving server (PKCE S256, state, RFC 8707 `resource`,
// RFC 9207 `iss` checked by the library). What each client checks beyond these stays in it.

import * as oauth from 'oauth4webapi';

export const REDIRECT = 'http://127.0.0.1:33418/callback';

// oauth4webapi refuses plain-http endpoints unless told otherwise. The test server listens on
// loopback over http, so every request passes `allowInsecureRequests` (a deprecated-by-design
// option meant for exactly this kind of local testing); nothing else is relaxed.
export const insecure = { [oauth.allowInsecureRequests]: true };

export function fail(message) {
  throw new Error(message);
}

/**
 * The protected resource's metadata at `resourceMetadataUrl` (its `resource` must be `resource`)
 * and the metadata of its first authorization server (its `issuer` must be the one named).
 */
export async function discover(resource, resourceMetadataUrl) {
  const rs = await oauth.processResourceDiscoveryResponse(resource, await fetch(resourceMetadataUrl));
  const authorizationServers = rs.authorization_servers ?? [];
  if (authorizationServers.length === 0) fail('no authorization_servers in the protected resource metadata');
  const issuer = new URL(authorizationServers[0]);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  );
  if (!as.code_challenge_methods_supported?.includes('S256')) fail('S256 is not in code_challenge_methods_supported');
  return { rs, as };
}

/** A public client (`none`) for the loopback redirect: the registration and the client. */
export async function registerPublic(as, clientName) {
  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: clientName,
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      insecure,
    ),
  );
  if (registered.token_endpoint_auth_method !== 'none') fail(`registered as ${registered.token_endpoint_auth_method}`);
  return { registered, client: { client_id: registered.client_id, token_endpoint_auth_method: 'none' } };
}

/**
 * The authorization request for `scope` at `resource` (with `extra` parameters), answered at once
 * by an auto-approving server: the redirect's parameters, validated (state, `iss`), and the PKCE
 * verifier for the code's redemption.
 */
export async function authorize(as, client, { scope, resource, extra = {} }) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const authorizationUrl = new URL(as.authorization_endpoint);
  authorizationUrl.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource,
    ...extra,
  }).toString();
  const authorizeResponse = await fetch(authorizationUrl, { redirect: 'manual' });
  const location = authorizeResponse.headers.get('location');
  if (!location) fail(`authorize answered ${authorizeResponse.status} without a redirect`);
  const back = new URL(location);
  if (`${back.origin}${back.pathname}` !== REDIRECT) fail(`redirected to ${location}, not to ${REDIRECT}`);
  return { back, callbackParameters: oauth.validateAuthResponse(as, client, back, state), verifier };
}

/**
 * Runs a client's `main` and exits: 0 when it finished, 1 with an `error` line (`log`) naming what
 * failed, with the library's OAuth error and status when there is one.
 */
export async function run(main, log) {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    const detail = { error: `${error?.name}: ${error?.message}` };
    if (error?.code) detail.code = error.code;
    if (error?.error) detail.oauth_error = error.error;
    if (error?.status) detail.status = error.status;
    if (error?.cause !== undefined) detail.cause = error.cause;
    log('error', detail);
    process.exit(1);
  }
}
