#!/usr/bin/env node
// The official TypeScript MCP SDK's machine-to-machine providers (MCP client credentials
// extension, SEP-1046) against a Gatehouse-protected MCP server: discovery (RFC 9728 → RFC 8414),
// the client_credentials grant authenticated with a client secret (ClientCredentialsProvider) or
// with a JWT signed by the client's key (PrivateKeyJwtProvider, RFC 7523 §2.2), then MCP calls
// through the guard. No person, no browser, no registration: the client is declared.
//
//   node ts_machine.mjs MCP_URL CLIENT_ID --issuer ISSUER (--secret SECRET | --key-file PRIVATE_JWK_FILE --alg ALG) [--scope S]
//
// Prints one JSON line per step; exits non-zero on any failure.

import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const [serverUrl, clientId, ...flags] = process.argv.slice(2);
const option = (name) => {
  const index = flags.indexOf(name);
  return index >= 0 ? flags[index + 1] : undefined;
};
if (!serverUrl || !clientId || !option('--issuer') || !(option('--secret') || option('--key-file'))) {
  console.error('usage: node ts_machine.mjs MCP_URL CLIENT_ID --issuer ISSUER (--secret SECRET | --key-file JWK_FILE --alg ALG) [--scope S]');
  process.exit(2);
}
const log = (step, detail = {}) => console.log(JSON.stringify({ client: 'typescript', step, ...detail }));

const scope = option('--scope');
// The authorization server the credentials may go to: the SDK refuses to send them elsewhere.
const expectedIssuer = option('--issuer');
const provider = option('--secret')
  ? new ClientCredentialsProvider({ clientId, clientSecret: option('--secret'), scope, expectedIssuer })
  : new PrivateKeyJwtProvider({
      clientId,
      // A private JWK (as `gatehouse keys generate` prints it), imported by the SDK with jose.
      privateKey: JSON.parse(readFileSync(option('--key-file'), 'utf8')),
      algorithm: option('--alg') ?? 'ES256',
      scope,
      expectedIssuer,
    });

const client = new Client({ name: 'gatehouse-interop-ts-machine', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
await client.connect(transport);
const tokens = provider.tokens();
log('tokens', { scope: tokens?.scope, token_type: tokens?.token_type, has_refresh: !!tokens?.refresh_token });
log('connected', { server: client.getServerVersion()?.name });

const whoami = await client.callTool({ name: 'whoami', arguments: {} });
const text = whoami.content?.[0]?.text;
log('whoami', { text });
if (whoami.isError) throw new Error(`whoami failed: ${JSON.stringify(whoami)}`);

await client.close();
log('done');
process.exit(0);
