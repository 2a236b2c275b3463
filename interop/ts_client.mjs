#!/usr/bin/env node
// The official TypeScript MCP SDK client against a Gatehouse-protected MCP server: discovery
// (RFC 9728 → RFC 8414), dynamic registration, authorization code + PKCE, token, then MCP calls
// through the guard. The authorization server must auto-approve (login.mode = "auto-approve"):
// "opening the browser" here is one GET whose redirect carries the code.
//
//   node ts_client.mjs MCP_URL [--step-up] [--call TOOL]
//
// Prints one JSON line per step; exits non-zero on any failure.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const [serverUrl, ...flags] = process.argv.slice(2);
if (!serverUrl) {
  console.error('usage: node ts_client.mjs MCP_URL [--step-up] [--call TOOL]');
  process.exit(2);
}
const REDIRECT = 'http://127.0.0.1:33418/callback';
const log = (step, detail = {}) => console.log(JSON.stringify({ client: 'typescript', step, ...detail }));

/** An in-memory OAuthClientProvider whose "browser" follows the auto-approved redirect. */
class HeadlessProvider {
  constructor() {
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.pendingCode = undefined;
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: 'Gatehouse interop (TypeScript SDK)',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; log('registered', { client_id: info.client_id }); }
  // For a step-up, the refresh token is held back: SDK 1.32 answers an insufficient_scope
  // challenge by refreshing when it can, and a refresh cannot widen a grant (RFC 6749 §6), so
  // the server rightly returns the same scopes. Without it the SDK re-authorizes with the
  // challenge's scope, as MCP 2025-11-25 describes.
  tokens() { return this.stepUp && this.saved ? { ...this.saved, refresh_token: undefined } : this.saved; }
  saveTokens(tokens) { this.saved = tokens; this.stepUp = false; log('tokens', { scope: tokens.scope, has_refresh: !!tokens.refresh_token }); }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    if (!location) throw new Error(`authorize answered ${response.status} without a redirect`);
    const back = new URL(location);
    if (back.searchParams.get('error')) throw new Error(`authorize refused: ${location}`);
    this.pendingCode = back.searchParams.get('code');
    log('authorized', { iss: back.searchParams.get('iss'), scope: url.searchParams.get('scope'), resource: url.searchParams.get('resource') });
  }
}

async function connect(provider) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const client = new Client({ name: 'gatehouse-interop-ts', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
    try {
      await client.connect(transport);
      return { client, transport };
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || !provider.pendingCode) throw error;
      await transport.finishAuth(provider.pendingCode);
      provider.pendingCode = undefined;
    }
  }
  throw new Error('could not connect after authorizing');
}

async function callTool(client, transport, provider, name, args) {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await client.callTool({ name, arguments: args });
    } catch (error) {
      if (error instanceof UnauthorizedError && provider.pendingCode) {
        await transport.finishAuth(provider.pendingCode);
        provider.pendingCode = undefined;
      } else if (error?.code === 403 && !provider.stepUp) {
        log('insufficient_scope', { tool: name });
        provider.stepUp = true;
      } else {
        throw error;
      }
    }
  }
  throw new Error(`${name}: still refused after stepping up`);
}

const provider = new HeadlessProvider();
const { client, transport } = await connect(provider);
log('connected', { server: client.getServerVersion()?.name });

const tools = await client.listTools();
log('tools', { names: tools.tools.map((t) => t.name).sort() });

const callIndex = flags.indexOf('--call');
if (callIndex >= 0) {
  // Another server's tool, called without arguments (e.g. the guard example's `hello`).
  const name = flags[callIndex + 1];
  const result = await callTool(client, transport, provider, name, {});
  log('call', { tool: name, text: result.content?.[0]?.text, isError: !!result.isError });
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result)}`);
  await client.close();
  log('done');
  process.exit(0);
}

const echo = await callTool(client, transport, provider, 'echo', { text: 'hello from the TypeScript SDK' });
const echoed = echo.content?.[0]?.text;
log('echo', { text: echoed });
if (echoed !== 'hello from the TypeScript SDK') throw new Error(`echo returned ${JSON.stringify(echo)}`);

if (flags.includes('--step-up')) {
  // A fresh transport: SDK 1.32 tries one up-scoping per challenge header and transport.
  const stepped = await connect(provider);
  let reset;
  try {
    reset = await callTool(stepped.client, stepped.transport, provider, 'admin_reset', {});
  } catch (error) {
    if (error?.code !== 403 || !provider.stepUp) throw error;
    const again = await connect(provider);
    reset = await callTool(again.client, again.transport, provider, 'admin_reset', {});
  }
  log('admin_reset', { text: reset.content?.[0]?.text, scope: provider.saved?.scope });
  if (reset.isError) throw new Error(`admin_reset failed: ${JSON.stringify(reset)}`);
}

await client.close();
log('done');
// The transport may hold a standalone SSE stream open; the run is over.
process.exit(0);
