#!/usr/bin/env node
// The official TypeScript MCP SDK client against a Gatehouse-protected MCP server: discovery
// (RFC 9728 → RFC 8414), dynamic registration, authorization code + PKCE, token, then MCP calls
// through the guard. The authorization server must auto-approve (login.mode = "auto-approve"):
// "opening the browser" here is one GET whose redirect carries the code.
//
//   node ts_client.mjs MCP_URL [--step-up] [--call TOOL] [--policy] [--federated LOGIN]
//
// --federated LOGIN: the server signs people in through an identity provider (idp.mjs); the
// "browser" is federated_browser.mjs, signing in there as LOGIN; then `whoami` is called.
//
// Prints one JSON line per step; exits non-zero on any failure.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { signInThroughProvider } from './federated_browser.mjs';

const [serverUrl, ...flags] = process.argv.slice(2);
if (!serverUrl) {
  console.error('usage: node ts_client.mjs MCP_URL [--step-up] [--call TOOL]');
  process.exit(2);
}
const REDIRECT = 'http://127.0.0.1:33418/callback';
const federatedAt = flags.indexOf('--federated');
const federatedLogin = federatedAt >= 0 ? flags[federatedAt + 1] : undefined;
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
    const location = federatedLogin
      ? (await signInThroughProvider(url.href, { login: federatedLogin, redirectPrefix: REDIRECT })).redirect
      : (await fetch(url, { redirect: 'manual' })).headers.get('location');
    if (!location) throw new Error('authorize answered without a redirect to the client');
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

if (federatedLogin) {
  const who = await callTool(client, transport, provider, 'whoami', {});
  log('whoami', { text: who.content?.[0]?.text });
  if (who.isError) throw new Error(`whoami failed: ${JSON.stringify(who)}`);
}

/** Calls `name`, stepping up to the scope its 403 challenge names. */
async function stepUpCall(name) {
  // A fresh transport: SDK 1.32 tries one up-scoping per challenge header and transport.
  const stepped = await connect(provider);
  try {
    return { result: await callTool(stepped.client, stepped.transport, provider, name, {}), ...stepped };
  } catch (error) {
    if (error?.code !== 403 || !provider.stepUp) throw error;
    const again = await connect(provider);
    return { result: await callTool(again.client, again.transport, provider, name, {}), ...again };
  }
}

if (flags.includes('--step-up')) {
  const { result: reset } = await stepUpCall('admin_reset');
  log('admin_reset', { text: reset.content?.[0]?.text, scope: provider.saved?.scope });
  if (reset.isError) throw new Error(`admin_reset failed: ${JSON.stringify(reset)}`);
}

if (flags.includes('--policy')) {
  // Behind a policy gateway (unmapped_tools = "deny", whoami needs mcp:admin, a rate limit),
  // in front of py_server.py: each path once, each outcome logged for the test to hold the
  // audit log to.
  try {
    const shred = await client.callTool({ name: 'shred', arguments: { path: '/etc/hosts' } });
    throw new Error(`shred, a tool without a scope, ran: ${JSON.stringify(shred)}`);
  } catch (error) {
    if (error?.code !== 403) throw error;
    log('shred', { refused: 403 });
  }

  // MCP 2026-07-28: a request whose Mcp-Name says one tool while its body calls another.
  const mismatch = await fetch(serverUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${provider.saved.access_token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 99, method: 'tools/call',
      params: { name: 'shred', arguments: { path: '/etc/hosts' }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    }),
  });
  const refusal = await mismatch.json();
  log('mismatch', { status: mismatch.status, code: refusal?.error?.code });

  const { result: who, client: stepped } = await stepUpCall('whoami');
  log('whoami', { text: who.content?.[0]?.text, scope: provider.saved?.scope });
  if (who.isError) throw new Error(`whoami failed: ${JSON.stringify(who)}`);
  const listed = await stepped.listTools();
  log('tools_after_step_up', { names: listed.tools.map((t) => t.name).sort() });

  // Spend the caller's budget: echo until the gateway answers 429.
  let allowed = 0;
  for (;;) {
    try {
      await stepped.callTool({ name: 'echo', arguments: { text: 'again' } });
      allowed += 1;
      if (allowed > 200) throw new Error('no rate limit after 200 calls');
    } catch (error) {
      if (error?.code !== 429) throw error;
      break;
    }
  }
  log('rate_limited', { allowed_before: allowed });
}

await client.close();
log('done');
// The transport may hold a standalone SSE stream open; the run is over.
process.exit(0);
