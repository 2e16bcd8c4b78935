// A real OpenID Provider for tests and the demo: panva's certified
// `oidc-provider`, on 127.0.0.1 over plain http, with a fixed confidential
// client, three users and test hooks for the attack cases (a headless
// code flow, provider-signed logout tokens, arbitrary provider-signed JWTs).
// Machine clients get RFC 9068 JWT access tokens by the client credentials
// grant, for the resource (audience) they name (resource indicators, RFC 8707).

import http from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from "jose";
import Provider, { errors } from "oidc-provider";

export const CLIENT_ID = "sessiongate-test";
export const CLIENT_SECRET = "sessiongate-test-secret-0123456789abcdef";

/**
 * The accounts. `password` is checked by the login form (see below); the
 * rest are the claims. mallory's email is deliberately unverified.
 */
export const USERS = {
  alice: {
    password: "alice-password",
    claims: { email: "alice@example.com", email_verified: true, name: "Alice Liddell", groups: ["staff"] },
  },
  bob: {
    password: "bob-password",
    claims: { email: "bob@example.org", email_verified: true, name: "Bob", groups: [] },
  },
  mallory: {
    password: "mallory-password",
    claims: { email: "mallory@example.com", email_verified: false, name: "Mallory", groups: [] },
  },
};

/**
 * The edge's settings for signing in with `provider` in Miniflare, over
 * `extra`. LOGIN_URL is unset, so that a browser without a session goes to
 * the edge's own start endpoint (a 303).
 */
export const edgeOidcVars = (provider, extra = {}) => ({
  OIDC_ISSUER: provider.issuer,
  OIDC_CLIENT_ID: CLIENT_ID,
  OIDC_CLIENT_SECRET: CLIENT_SECRET,
  OIDC_ALLOWED_DOMAINS: "example.com",
  OIDC_CLAIMS: "email,name,groups",
  LOGIN_URL: undefined,
  ...extra,
});

/** Artifact lifetimes in seconds (oidc-provider's defaults, made explicit). */
export const TTL = {
  AuthorizationCode: 60,
  AccessToken: 3600,
  IdToken: 3600,
  Interaction: 3600,
  Session: 14 * 24 * 3600,
  Grant: 14 * 24 * 3600,
  ClientCredentials: 600,
};

/** A private signing JWK for `alg` with an RFC 7638 thumbprint as kid. */
async function signingKey(alg) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: "sig", kid: `${alg.toLowerCase()}-${(await calculateJwkThumbprint(jwk)).slice(0, 16)}` };
}

const publicJwk = ({ d, p, q, dp, dq, qi, ...pub }) => pub;

/**
 * Starts the provider. Options (all optional):
 *   port                 listen port; 0/undefined = ephemeral
 *   redirectUris         the client's redirect_uris
 *   postLogoutRedirectUris
 *   backchannelLogoutUri the client's backchannel_logout_uri
 *   alg                  "RS256" (default) or "ES256": the ID token signing alg
 *   idTokenClaims        true = email/name/groups go in the ID token too;
 *                        false (default, oidc-provider's own default) = only
 *                        sub & co. in the ID token, the rest at userinfo
 *   users                replaces USERS
 *   clients              extra client metadata objects, appended
 *   sessionRequired      backchannel_logout_session_required (default false);
 *                        true also puts `sid` in ID tokens and logout tokens
 *   ttl                  lifetimes in seconds, merged over TTL, e.g. { AuthorizationCode: 5 }
 *   machineClients       [{ id, secret, scope, resources }]: confidential clients
 *                        of the client credentials grant (client_secret_basic or
 *                        _post). Each gets JWT access tokens (header typ at+jwt,
 *                        signed like the ID tokens, with `alg`) for a `resource`
 *                        it asks for: aud = that resource, scope = the requested
 *                        scopes that are in its own `scope` (space-separated).
 *                        `resources` (optional) lists the resources it may ask
 *                        for; without it, any absolute URI.
 *   quiet                default true: hides oidc-provider's dev-mode warnings
 */
export async function startProvider(options = {}) {
  const {
    port = 0,
    redirectUris = ["https://app.example.com/.sessiongate/oidc/callback"],
    postLogoutRedirectUris = ["https://app.example.com/"],
    backchannelLogoutUri,
    sessionRequired = false,
    alg = "RS256",
    idTokenClaims = false,
    users = USERS,
    clients: extraClients = [],
    machineClients = [],
    ttl,
    quiet = true,
  } = options;
  if (!["RS256", "ES256"].includes(alg)) throw new Error(`unsupported alg ${alg}`);

  // The issuer contains the port, so bind first and build the provider after.
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  // RS256 is always present; in ES256 mode the EC key is listed first (the
  // provider signs with the first key matching the client's alg anyway), so
  // the JWKS holds two keys and the relying party must select by kid.
  const rsa = await signingKey("RS256");
  const keys = alg === "ES256" ? [await signingKey("ES256"), rsa] : [rsa];
  const signer = keys[0];

  const client = {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    // oidc-provider treats the two secret methods as one: this client may
    // also use client_secret_post.
    token_endpoint_auth_method: "client_secret_basic",
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    response_types: ["code"],
    grant_types: ["authorization_code"],
    id_token_signed_response_alg: alg,
    ...(backchannelLogoutUri
      ? { backchannel_logout_uri: backchannelLogoutUri, backchannel_logout_session_required: sessionRequired }
      : {}),
  };
  const machines = machineClients.map(({ id, secret, scope = "", resources }) => {
    if (!id || !secret) throw new Error("a machine client needs an id and a secret");
    return { id, secret, scope, resources };
  });
  const clients = [
    client,
    ...machines.map(({ id, secret }) => ({
      client_id: id,
      client_secret: secret,
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
    })),
    ...extraClients,
  ];

  const restore = quiet ? silenceWarnings() : () => {};
  let provider;
  try {
    provider = new Provider(issuer, {
      clients,
      jwks: { keys },
      cookies: { keys: [randomBytes(32).toString("base64url")] },
      // PKCE (S256, the only method oidc-provider 9 knows) for every client,
      // not only public ones as by default.
      pkce: { required: () => true },
      conformIdTokenClaims: !idTokenClaims,
      scopes: ["openid", "email", "profile", "groups"],
      // groups rides along with profile so "openid email profile" gets it.
      claims: { email: ["email", "email_verified"], profile: ["name", "groups"], groups: ["groups"] },
      features: {
        devInteractions: { enabled: true },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: { enabled: true, logoutSource },
        clientCredentials: { enabled: true },
        // The client credentials grant's `resource` picks the access token's
        // audience and makes it a JWT (RFC 9068); without one (the code flow's
        // token for userinfo) the access token stays opaque, as before.
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx, _client, oneOf) => oneOf,
          useGrantedResource: async () => false,
          async getResourceServerInfo(_ctx, resource, c) {
            const machine = machines.find(({ id }) => id === c.clientId);
            if (!machine || (machine.resources && !machine.resources.includes(resource))) {
              throw new errors.InvalidTarget(`${c.clientId} may not ask for a token for ${resource}`);
            }
            return { audience: resource, scope: machine.scope, accessTokenFormat: "jwt", jwt: { sign: { alg } } };
          },
        },
      },
      // oidc-provider's outgoing fetch (back-channel logout POSTs) refuses
      // loopback/private addresses (SSRF guard); a test OP must reach a
      // worker on 127.0.0.1, so drop its guarded dispatcher.
      fetch: (url, { dispatcher, ...init }) => fetch(url, init),
      renderError,
      // Explicit numbers: the defaults are functions that print a NOTICE on every use.
      ttl: { ...TTL, ...ttl },
      async findAccount(ctx, sub) {
        const user = Object.hasOwn(users, sub) ? users[sub] : undefined;
        if (!user) return undefined;
        return { accountId: sub, claims: async () => ({ sub, ...user.claims }) };
      },
    });
  } finally {
    restore();
  }

  // devInteractions' login form has a password field but accepts any login
  // and ignores the password. Its submit handler hands the login to
  // interactionFinished(); check the credentials there and, when wrong,
  // send the browser back to the same form (as a real OP would).
  const finish = provider.interactionFinished.bind(provider);
  provider.interactionFinished = async (req, res, result, opts) => {
    const body = Provider.ctx?.oidc?.body; // the request's parsed form (AsyncLocalStorage)
    if (result?.login && body) {
      const user = Object.hasOwn(users, body.login) ? users[body.login] : undefined;
      if (!user || body.password !== user.password) {
        res.statusCode = 303;
        res.setHeader("Location", new URL(req.url, issuer).pathname);
        res.setHeader("Content-Length", "0");
        res.end();
        provider.emit("test.login_rejected", body.login);
        return;
      }
    }
    return finish(req, res, result, opts);
  };

  // Surface 5xx causes and failed logout deliveries; both are otherwise silent.
  provider.on("server_error", (_ctx, err) => console.error("oidc-provider server_error:", err));
  provider.on("backchannel.error", (_ctx, err, c) => console.error(`oidc-provider backchannel logout to ${c.clientId} failed:`, err.message));

  server.on("request", provider.callback());

  const signingKeyObject = await importJWK(signer, signer.alg);

  return {
    issuer,
    port: actualPort,
    provider,
    clients,
    client: { id: CLIENT_ID, secret: CLIENT_SECRET },
    /** The machine clients, as given: { id, secret, scope, resources }. */
    machineClients: machines,
    users,
    alg,
    /** The public JWKS as served at jwks_uri. */
    jwks: { keys: keys.map(publicJwk) },
    /** The current ID token signing key (private JWK, with kid). */
    signingJwk: signer,

    /** Drives the code flow headlessly; see authorize() below. */
    authorize: (url, opts) => authorize(url, { issuer, users, ...opts }),

    /**
     * A compact JWS over `payload` (object, serialised as is) signed with the
     * provider's current ID token key. `header` is merged over
     * { alg, kid } (e.g. { typ: "logout+jwt" } or a foreign kid).
     */
    async signWithProviderKey(payload, header = {}) {
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header })
        .sign(signingKeyObject);
    },

    /**
     * A back-channel logout token for `sub` minted by oidc-provider itself
     * (exactly what it would POST to backchannel_logout_uri), not sent.
     * `sid` is included when given.
     */
    async logoutToken(sub, { sid, clientId = CLIENT_ID } = {}) {
      const c = await provider.Client.find(clientId);
      const token = new provider.IdToken({ sub }, { client: c, ctx: undefined });
      token.mask = { sub: null };
      token.set("events", { "http://schemas.openid.net/event/backchannel-logout": {} });
      token.set("jti", randomUUID());
      if (sid) token.set("sid", sid);
      return token.issue({ use: "logout" });
    },

    /**
     * An access token by the client credentials grant, asked for over HTTP as
     * a real client does (client_secret_basic): POST {issuer}/token with
     * grant_type=client_credentials, resource and scope. Resolves to the
     * access_token; throws with the provider's error when it refuses.
     * clientId and secret default to the first machine client's.
     */
    clientCredentialsToken: (options = {}) =>
      clientCredentialsToken(issuer, { clientId: machines[0]?.id, secret: machines[0]?.secret, ...options }),

    /** Makes the provider really POST a logout token to the client's backchannel_logout_uri. */
    async backchannelLogout(sub, { sid, clientId = CLIENT_ID } = {}) {
      const c = await provider.Client.find(clientId);
      return c.backchannelLogout(sub, sid);
    },

    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The client credentials grant at `issuer`'s token endpoint (its discovery
 * document's token_endpoint): `clientId` and `secret` in HTTP Basic (each
 * form-encoded first, RFC 6749 §2.3.1), `resource` and `scope` (a string or a
 * list) in the form. Resolves to the access_token.
 */
export async function clientCredentialsToken(issuer, { clientId, secret, resource, scope } = {}) {
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (resource !== undefined) form.set("resource", resource);
  if (scope !== undefined) form.set("scope", Array.isArray(scope) ? scope.join(" ") : scope);
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64");
  const response = await fetch(discovery.token_endpoint, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: form,
  });
  const answer = await response.json();
  if (!response.ok || typeof answer.access_token !== "string") {
    throw new Error(`client credentials grant refused (${response.status}): ${answer.error} ${answer.error_description ?? ""}`.trim());
  }
  return answer.access_token;
}

/**
 * The end_session confirmation page. `form` is oidc-provider's hidden form
 * (action /session/end/confirm, field xsrf); the buttons submit it with
 * logout=yes (end the OP session, notify every client) or without.
 * Replacing the default only silences its per-use NOTICE.
 */
async function logoutSource(ctx, form) {
  ctx.body = `<!DOCTYPE html><title>Sign out</title>${form}
<p>Sign out of the test OpenID Provider?</p>
<button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`;
}

/** The OP's own error page (bad redirect_uri, unknown client...); the default prints a NOTICE. */
async function renderError(ctx, { error, error_description: description }) {
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  ctx.type = "html";
  ctx.body = `<!DOCTYPE html><title>${esc(error)}</title><h1>${esc(error)}</h1><p>${esc(description)}</p>`;
}

/** oidc-provider prints dev-mode warnings (devInteractions, default keys...) at construction. */
function silenceWarnings() {
  const warn = console.warn;
  console.warn = (...args) => {
    if (!String(args[0]).includes("oidc-provider WARNING")) warn(...args);
  };
  return () => {
    console.warn = warn;
  };
}

/**
 * A tiny cookie jar: enough for oidc-provider's cookies (path-scoped
 * _interaction/_interaction_resume, root _session and their .sig twins).
 */
export class CookieJar {
  cookies = new Map(); // `${path}\n${name}` -> { name, value, path }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) || "/";
      const expired = attrs.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now()) ||
        attrs.some((a) => /^max-age=/i.test(a) && Number(a.slice(8)) <= 0);
      const key = `${path}\n${name}`;
      if (expired || value === "") this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter(({ path }) => pathname === path || pathname.startsWith(path.endsWith("/") ? path : `${path}/`))
      .map(({ name, value }) => `${name}=${value}`)
      .join("; ");
  }
}

/**
 * Runs the authorization code flow against the provider without a browser:
 * GET the authorization URL, follow redirects with cookies, submit the login
 * form (login/password) and the consent form, and stop at the first redirect
 * that leaves the issuer (the client's redirect_uri).
 *
 * Options: login (default "alice"), password (default the user's own, looked
 * up in `users`, default USERS),
 * consent (default true; false clicks nothing and aborts → access_denied),
 * jar (a CookieJar to reuse an OP session, e.g. for prompt=none),
 * issuer (defaults to the URL's origin).
 *
 * Resolves to { code, state, iss, error, params, redirect, jar }; `code` is
 * absent when the provider redirected back with an error. Throws if the
 * login is rejected (wrong password/unknown user) or the flow loops.
 */
export async function authorize(authorizationUrl, options = {}) {
  const {
    login = "alice",
    users = USERS,
    password = users[login]?.password,
    consent = true,
    jar = new CookieJar(),
    issuer = new URL(authorizationUrl).origin,
  } = options;
  const origin = new URL(issuer).origin;

  const request = async (url, init = {}) => {
    const headers = { ...init.headers, cookie: jar.header(url) };
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    jar.store(response);
    return response;
  };

  let url = authorizationUrl;
  let logins = 0;
  for (let hop = 0; hop < 20; hop++) {
    if (new URL(url).origin !== origin) {
      const params = new URL(url).searchParams;
      return {
        code: params.get("code") ?? undefined,
        state: params.get("state") ?? undefined,
        iss: params.get("iss") ?? undefined,
        error: params.get("error") ?? undefined,
        params,
        redirect: url,
        jar,
      };
    }
    let response = await request(url);
    if (response.status === 200 && /\/interaction\/[^/]+$/.test(new URL(url).pathname)) {
      // devInteractions' page: the hidden `prompt` field says which form it is.
      const html = await response.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      let form;
      if (prompt === "login") {
        if (++logins > 1) throw new Error(`login rejected for ${JSON.stringify(login)}`);
        form = { prompt: "login", login, password: password ?? "" };
      } else if (prompt === "consent") {
        if (!consent) {
          url = new URL(`${new URL(url).pathname}/abort`, origin).href;
          continue;
        }
        form = { prompt: "consent" };
      } else {
        throw new Error(`unexpected interaction page at ${url}: ${html.slice(0, 300)}`);
      }
      response = await request(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form),
      });
    }
    const location = response.headers.get("location");
    if (!(response.status >= 300 && response.status < 400) || !location) {
      throw new Error(`authorize: ${response.status} at ${url}: ${(await response.text()).slice(0, 500)}`);
    }
    url = new URL(location, url).href;
  }
  throw new Error("authorize: too many redirects");
}
