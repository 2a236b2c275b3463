// The upstream identity provider of the federation tests: panva's `oidc-provider` (OpenID
// Certified), pinned in package.json, with its development sign-in and consent pages. It speaks
// the real protocol (discovery, JWKS, PKCE, nonce, RFC 9207 `iss`, userinfo, refresh tokens);
// only the people are made up, below.
//
//   node idp.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI [REDIRECT_URI...]
//
// PORT 0 picks a free port.
//
// Prints `ready http://127.0.0.1:PORT` once it listens. The development pages take any password.
// Environment: IDP_ACCESS_TTL sets the access token lifetime in seconds. `POST /test/remove/LOGIN`
// removes a person: from then on the provider knows no such account, and refuses to refresh
// their tokens (invalid_grant), as a real provider does for someone the organisation removed.
import { createServer } from "node:http";
import Provider from "oidc-provider";

const [port, clientId, clientSecret, ...redirectUris] = process.argv.slice(2);
if (!port || !clientId || !clientSecret || redirectUris.length === 0) {
  console.error('usage: node idp.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI...');
  process.exit(2);
}

// The people, by login (which oidc-provider's development pages make the account id and so
// the `sub`). An unknown login is a person with no email and no groups.
const people = {
  alice: { email: 'alice@corp.example', email_verified: true, name: 'Alice Example', groups: ['engineering'] },
  bob: { email: 'bob@elsewhere.example', email_verified: true, name: 'Bob Elsewhere', groups: [] },
  carol: { email: 'carol@corp.example', email_verified: false, name: 'Carol Unverified', groups: ['engineering'] },
  dave: { email: 'dave@corp.example', email_verified: true, name: 'Dave Sales', groups: ['sales'] },
};
const removed = new Set();

// The issuer needs the port; with PORT 0 the listener picks it first.
const server = createServer();
await new Promise((resolve) => server.listen(Number(port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  // Gatehouse as a confidential client, and as a public one (`{CLIENT_ID}-public`: PKCE alone).
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }, {
    client_id: `${clientId}-public`,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }],
  async findAccount(ctx, id) {
    if (removed.has(id)) return undefined;
    const person = people[id] || { groups: [] };
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...person };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  // A refresh token even without a consent screen asking for offline access, as Gatehouse's
  // token vault needs one.
  issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ttl: { AccessToken: Number(process.env.IDP_ACCESS_TTL || 3600) },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  // Development keys are fine for a test provider; silence the reminders.
  cookies: { keys: ['gatehouse-interop-idp'] },
});
provider.on('server_error', (ctx, error) => console.error('idp server_error', error));

const callback = provider.callback();
server.on('request', (req, res) => {
  const removal = req.method === 'POST' && /^\/test\/remove\/([^/]+)$/.exec(req.url);
  if (removal) {
    removed.add(decodeURIComponent(removal[1]));
    res.writeHead(204).end();
    return;
  }
  callback(req, res);
});
console.log(`ready ${issuer}`);
