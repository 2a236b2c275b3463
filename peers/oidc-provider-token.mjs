// node-oidc-provider (panva), configured for the same work as `gatehouse serve` in the token
// endpoint benchmark (`cargo xtask bench-token`): ES256-signed JWT access tokens for one MCP
// resource (RFC 9068 profile, RFC 8707 resource indicators), refresh tokens rotated on every use,
// `client_credentials` for a confidential machine client, and RFC 7662 introspection by a
// resource server's client. Its in-memory adapter (the default) holds everything.
//
//   usage: node oidc-provider-token.mjs PORT CHAINS SECRET
//
// Prints one JSON line on stdout once listening: {"issuer", "refresh_tokens": [CHAINS tokens]}.
// The refresh tokens are minted through the provider's own models (a Grant and a RefreshToken
// each, as its authorization-code grant would), because the interactive login has nothing to do
// with what is measured. Introspection: oidc-provider stores no JWT access tokens, so it can
// introspect only opaque ones; the resource `${issuer}/mcp-opaque` issues those.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, chains, secret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const resource = `${issuer}/mcp`;
const opaqueResource = `${issuer}/mcp-opaque`;
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [
    {
      client_id: 'load-public',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://localhost:33418/callback'],
      response_types: ['code'],
      scope: 'offline_access mcp:tools',
    },
    {
      client_id: 'load-machine',
      client_secret: secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'mcp:tools',
    },
    {
      client_id: 'load-rs',
      client_secret: secret,
      grant_types: [],
      redirect_uris: [],
      response_types: [],
    },
  ],
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  scopes: ['offline_access', 'mcp:tools'],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  rotateRefreshToken: true,
  ttl: { AccessToken: 600, ClientCredentials: 600, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator === opaqueResource) {
          return { scope: 'mcp:tools', accessTokenFormat: 'opaque' };
        }
        return { scope: 'mcp:tools', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
});

const client = await provider.Client.find('load-public');
const now = Math.floor(Date.now() / 1000);
const refreshTokens = [];
for (let i = 0; i < Number(chains); i += 1) {
  const grant = new provider.Grant({ accountId: 'load', clientId: client.clientId });
  grant.addOIDCScope('offline_access');
  grant.addResourceScope(resource, 'mcp:tools');
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    accountId: 'load',
    client,
    grantId,
    gty: 'authorization_code',
    iiat: now,
    authTime: now,
    resource,
    scope: 'offline_access mcp:tools',
  });
  refreshTokens.push(await token.save());
}

provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ issuer, refresh_tokens: refreshTokens })}\n`);
});
