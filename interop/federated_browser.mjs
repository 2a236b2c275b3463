// A scripted person with a browser, for the federation tests of the SDK clients: follows an
// authorization URL through Gatehouse's sign-in page, the identity provider's own sign-in and
// consent pages (oidc-provider's development pages, idp.mjs), back through Gatehouse's callback
// and consent page, to the client's redirect URI. It keeps cookies per origin as a browser
// does, and sends the forms' Origin header as a browser does (Gatehouse's CSRF check wants it).
//
// As a module: `await signInThroughProvider(url, { login, provider })` returns the final
// redirect URL (with the code, or an error). As a program:
//   node federated_browser.mjs AUTHORIZATION_URL LOGIN [PROVIDER]
// prints {"redirect": "..."} or {"error": "...", "status": N, "page": "..."}; with
// --stop-at-callback, {"callback": "...", "cookie": "..."} where the provider sends the person
// back to Gatehouse, before Gatehouse sees it.

const jars = new Map();

function cookieHeader(url) {
  const jar = jars.get(new URL(url).origin);
  return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
}

function keepCookies(url, response) {
  const origin = new URL(url).origin;
  const jar = jars.get(origin) || new Map();
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  jars.set(origin, jar);
}

async function request(url, init = {}) {
  const headers = { ...(init.headers || {}) };
  const cookies = cookieHeader(url);
  if (cookies) headers.cookie = cookies;
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  keepCookies(url, response);
  return response;
}

/** The first form of `html` whose markup contains `marker`: its action and fields. */
function form(html, marker, pageUrl) {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    if (!match[0].includes(marker)) continue;
    const action = /action="([^"]*)"/.exec(match[1])?.[1] ?? pageUrl;
    const fields = new URLSearchParams();
    for (const input of match[2].matchAll(/<input\b([^>]*)>/g)) {
      const name = /name="([^"]*)"/.exec(input[1])?.[1];
      const value = /value="([^"]*)"/.exec(input[1])?.[1] ?? '';
      if (name) fields.append(name, decode(value));
    }
    return { action: new URL(decode(action), pageUrl).href, fields };
  }
  return null;
}

/** What a page says: its text without the head, tags and extra space. */
function text(html) {
  return decode(html.replace(/<head>[\s\S]*<\/head>/, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim().slice(0, 600);
}

function decode(text) {
  return text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'")
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x2F;/g, '/');
}

async function submit(target, pageUrl) {
  return request(target.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(pageUrl).origin },
    body: target.fields.toString(),
  });
}

/**
 * Walks from `url` to the client's redirect URI (`redirectPrefix`), signing in as `login` at the
 * provider `provider` and allowing everything asked.
 */
export async function signInThroughProvider(url, { login, provider = 'corp', redirectPrefix = 'http://localhost', stopAtCallback = false }) {
  let response = await request(url);
  let current = url;
  for (let step = 0; step < 30; step++) {
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, current).href;
      if (next.startsWith(redirectPrefix)) return { redirect: next };
      // For the tests that replay or change the provider's answer: where it was going, and the
      // cookie this browser holds there.
      if (stopAtCallback && /\/login\/[^/]+\/callback/.test(new URL(next).pathname)) {
        return { callback: next, cookie: cookieHeader(next) };
      }
      current = next;
      response = await request(current);
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) {
      return { error: 'page', status: response.status, page: text(html) };
    }
    // Gatehouse's sign-in page: the provider's button.
    const button = form(html, `value="${provider}"`, current);
    if (button && html.includes('gatehouse_action')) {
      button.fields.set('provider', provider);
      response = await submit(button, current);
      continue;
    }
    // Gatehouse's consent page.
    const approve = form(html, 'value="approve"', current);
    if (approve) {
      approve.fields.set('gatehouse_action', 'approve');
      response = await submit(approve, current);
      continue;
    }
    // The provider's development sign-in page, then its consent page.
    const signIn = form(html, 'name="login"', current);
    if (signIn) {
      signIn.fields.set('login', login);
      signIn.fields.set('password', 'any password');
      response = await submit(signIn, current);
      continue;
    }
    const consent = form(html, 'name="prompt" value="consent"', current);
    if (consent) {
      response = await submit(consent, current);
      continue;
    }
    return { error: 'unknown page', status: response.status, page: html.slice(0, 400) };
  }
  return { error: 'too many steps' };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stopAtCallback = process.argv.includes('--stop-at-callback');
  const [url, login, provider] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const redirectPrefix = new URL(url).searchParams.get('redirect_uri') || 'http://localhost';
  console.log(JSON.stringify(await signInThroughProvider(url, { login, provider, redirectPrefix, stopAtCallback })));
}
