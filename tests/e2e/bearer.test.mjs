// Machine clients (issue 18): `Authorization: Bearer` JWT access tokens
// (RFC 9068) from a real issuer — oidc-provider's client credentials grant
// on 127.0.0.1 — checked at the edge in Miniflare. A token reaches only the
// paths whose rule names its client or scopes, the origin gets the same
// assertion as for a session (kind "bearer"), and every forged, misdirected,
// stale or malformed token is refused with 401 invalid_token before the
// origin, without a redirect to login, a session or a KV operation.

import assert from "node:assert/strict";
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, randomUUID, sign } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, beforeEach, describe, test } from "node:test";
import { CompactSign, generateKeyPair } from "jose";
import { unstable_readConfig } from "wrangler";
import { CLIENT_ID, CLIENT_SECRET, edgeOidcVars as oidcVars, startProvider } from "../oidc/provider.mjs";
import {
  ASSERTION_KEY, AUDIENCE, COOKIE, ORIGIN_URL, SITE, jwtClaims, jwtVerifies, login, now, okOrigin, putSession, startGate,
  withSession,
} from "./harness.mjs";

/** BEARER_AUDIENCE: the resource the machine clients ask the provider for. */
const API = "https://api.example.com";
const CALLBACK = `${SITE}/.sessiongate/oidc/callback`;
const REPORTER = { id: "reporting-job", secret: "reporting-job-secret-0123456789", scope: "api:read api:write reports:read" };
const DEPLOYER = { id: "ci-deploy", secret: "ci-deploy-secret-0123456789abcdef", scope: "api:read deploys:write" };

const POLICY = [
  // Users keep the API; the two machine clients read it, and only the reporter writes.
  {
    name: "api",
    paths: ["/api/*"],
    allow: [
      { any_user: true },
      { clients: [REPORTER.id, DEPLOYER.id], scopes: ["api:read"], methods: ["GET", "HEAD"] },
      { clients: [REPORTER.id], scopes: ["api:write"] },
    ],
  },
  // Any client holding both scopes: every listed scope is required.
  { name: "reports", paths: ["/reports/*"], allow: [{ scopes: ["reports:read", "api:read"] }] },
  { name: "deploys", paths: ["/deploys/*"], allow: [{ clients: [DEPLOYER.id] }] },
  // For people only.
  { name: "dashboard", paths: ["/dashboard"], allow: [{ any_user: true }] },
  // Allowed, then denied by name: deny wins.
  { name: "frozen", paths: ["/api/frozen/*"], allow: [{ clients: [REPORTER.id] }], deny: [{ clients: [REPORTER.id] }] },
  // A recent token only.
  { name: "fresh", paths: ["/api/fresh"], allow: [{ clients: [REPORTER.id] }], max_auth_age: "5m" },
];

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const sha256hex = (s) => createHash("sha256").update(s).digest("hex");

let op, gate, jwksUri;
/** Requests the gate made to the provider's jwks_uri. */
let jwksFetches = 0;
/** Answers a provider request instead of the provider (for one case). */
let interceptProvider = null;

/** Sends a request the worker made on to the real provider (Node's fetch takes no Miniflare Request). */
async function passOn(request) {
  const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.text();
  return fetch(request.url, { method: request.method, headers: Object.fromEntries(request.headers), body, redirect: "manual" });
}

/** The gate's outbound traffic: the provider's requests go to it (counted), the rest to the mock origin. */
const outbound = (provider, counted = true) => async (request) => {
  if (!request.url.startsWith(provider.issuer)) return okOrigin(request);
  if (counted && request.url === jwksUri) jwksFetches++;
  return (await interceptProvider?.(request)) ?? passOn(request);
};

/** What reached the origin (not the provider's discovery and keys). */
const atOrigin = (g = gate) => g.received.filter((r) => r.url.startsWith(ORIGIN_URL));

/**
 * KV as a stand-in worker that counts every operation and passes it on to a
 * real namespace (REAL), so a test can say "no KV record read or written".
 */
const countingKv = `
  import { WorkerEntrypoint } from "cloudflare:workers";
  let ops = [];
  export class Kv extends WorkerEntrypoint {
    get(key, o) { ops.push("get " + key); return this.env.REAL.get(key, o); }
    put(key, value, o) { ops.push("put " + key); return this.env.REAL.put(key, value, o); }
    delete(key) { ops.push("delete " + key); return this.env.REAL.delete(key); }
    list(o) { ops.push("list " + (o?.prefix ?? "")); return this.env.REAL.list(o); }
  }
  export default { fetch: () => { const seen = ops; ops = []; return Response.json(seen); } };
`;
/** The KV operations since the last call. */
const kvOps = async (g = gate) => (await (await g.mf.getWorker("kv")).fetch("http://kv/ops")).json();


/** A gate whose SESSIONS is the counting KV; `gate.kv` is the real namespace behind it. */
async function startCountingGate(vars) {
  const g = await startGate({
    vars,
    worker: { kvNamespaces: [], serviceBindings: { SESSIONS: { name: "kv", entrypoint: "Kv" } } },
    workers: [{ name: "kv", modules: true, script: countingKv, compatibilityDate: "2026-04-26", kvNamespaces: ["REAL"] }],
  });
  g.kv = await g.mf.getKVNamespace("REAL", "kv");
  return g;
}

before(async () => {
  op = await startProvider({ redirectUris: [CALLBACK], machineClients: [REPORTER, DEPLOYER] });
  jwksUri = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()).jwks_uri;
  gate = await startCountingGate(oidcVars(op, { BEARER_AUDIENCE: API, POLICY: JSON.stringify(POLICY), POLICY_DEFAULT: "allow" }));
});
after(async () => {
  await gate?.close();
  await op?.close();
});
beforeEach(async () => {
  interceptProvider = null;
  gate.received.length = 0;
  gate.origin = outbound(op);
  await kvOps();
});

/** A real token from the provider's token endpoint, for `client` (default the reporter). */
const tokenFor = (client = REPORTER, { resource = API, scope = client.scope, provider = op } = {}) =>
  provider.clientCredentialsToken({ clientId: client.id, secret: client.secret, resource, scope });

/** The claims of a good access token for the reporter, as the provider makes them. */
const accessClaims = (extra = {}) => ({
  iss: op.issuer,
  aud: API,
  sub: REPORTER.id,
  client_id: REPORTER.id,
  scope: "api:read",
  jti: randomUUID(),
  iat: now(),
  exp: now() + 600,
  ...extra,
});

/** An access token signed with the provider's own key: `claims` over accessClaims(), `header` over { alg, kid, typ: "at+jwt" }. */
const forge = (claims = {}, header = {}, provider = op) =>
  provider.signWithProviderKey(provider === op ? accessClaims(claims) : claims, { typ: "at+jwt", ...header });

/** A compact JWS with any header (crit, RS384...), signed by hand with the provider's RSA key. */
function signByHand(header, claims, hash = "sha256") {
  const signed = `${b64url(header)}.${b64url(claims)}`;
  const key = createPrivateKey({ key: op.signingJwk, format: "jwk" });
  return `${signed}.${sign(hash, Buffer.from(signed), key).toString("base64url")}`;
}

/** Every request of the file comes from its own client address, so refusals never add up to a 429. */
let address = 0;
const client = () => `198.51.100.${(address++ % 250) + 1}`;

/** Headers carrying `token` (any string) for a JSON client. */
const bearer = (token, extra = {}) => ({ authorization: `Bearer ${token}`, accept: "application/json", "cf-connecting-ip": client(), ...extra });

/** The session cookies a response set. */
const sessionSet = (response) => response.headers.getSetCookie().filter((c) => c.startsWith(`${COOKIE}=`));

/** Asserts 401 invalid_token as RFC 6750 §3 says, the origin not reached, no session, no KV; and the log's reason. */
async function refused(response, reason, g = gate) {
  assert.equal(response.status, 401, `status (reason expected: ${reason})`);
  assert.deepEqual(await response.json(), { error: "unauthenticated", reason: "invalid_token" });
  assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b.*\berror="invalid_token"/);
  assert.equal(atOrigin(g).length, 0, "the origin was not reached");
  assert.deepEqual(sessionSet(response), [], "no session cookie");
  if (g.mf && g === gate) assert.deepEqual(await kvOps(g), [], "no KV operation");
  if (reason) {
    const line = g.logs.at(-1);
    assert.deepEqual([line?.decision, line?.reason], ["reject", reason], `the log line: ${JSON.stringify(line)}`);
  }
}

/** Asserts 403 forbidden naming `rule`, with insufficient_scope, the origin not reached. */
async function forbidden(response, rule, g = gate) {
  assert.equal(response.status, 403);
  assert.deepEqual(await response.json(), { error: "forbidden", rule });
  assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b.*\berror="insufficient_scope"/);
  assert.equal(atOrigin(g).length, 0, "the origin was not reached");
  if (g === gate) assert.deepEqual(await kvOps(g), [], "no KV operation");
}

/** Asserts the request reached the origin once, as the token's client; returns the assertion's claims and what was sent. */
async function admitted(response, { path, client: id = REPORTER.id, sub = id, g = gate } = {}) {
  assert.equal(response.status, 200, `status; body ${await response.clone().text()}`);
  const sent = atOrigin(g);
  assert.equal(sent.length, 1, "the origin was reached once");
  const [request] = sent;
  if (path) assert.equal(new URL(request.url).pathname, path);
  assert.equal(request.headers.authorization, undefined, "the Authorization header is not forwarded");
  assert.equal(request.headers["x-sessiongate-user"], sub);
  const assertion = request.headers["sessiongate-assertion"];
  assert.ok(assertion && jwtVerifies(assertion, ASSERTION_KEY), "a Sessiongate-Assertion signed with ASSERTION_KEY");
  const claims = jwtClaims(assertion);
  assert.equal(claims.kind, "bearer");
  assert.equal(claims.client_id, id);
  assert.equal(claims.sub, sub);
  assert.deepEqual(sessionSet(response), [], "no session cookie");
  return { claims, request };
}

describe("a token from the provider's client credentials grant", () => {
  test("is an RFC 9068 access token: typ at+jwt, signed with a key of the provider's JWKS, for the resource asked for", async () => {
    const token = await tokenFor(REPORTER, { scope: "api:read reports:read" });
    const [header, claims] = token.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url")));
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "RS256");
    assert.ok(op.jwks.keys.some((k) => k.kid === header.kid), "its kid is in the JWKS");
    assert.equal(claims.iss, op.issuer);
    assert.equal(claims.aud, API);
    assert.equal(claims.client_id, REPORTER.id);
    assert.equal(claims.sub, REPORTER.id, "a client's own token: sub is the client");
    assert.equal(claims.scope, "api:read reports:read");
    assert.equal(typeof claims.jti, "string");
    assert.ok(claims.iat <= now() + 1 && claims.exp > now(), "current");
  });

  test("reaches a path whose rule names its client: the origin gets the assertion, not the token; no session, no KV", async () => {
    const token = await tokenFor(REPORTER, { scope: "api:read reports:read" });
    const { iat, jti } = jwtClaims(token);
    const response = await gate.fetch("/api/me?full=1", { headers: bearer(token) });
    const { claims, request } = await admitted(response, { path: "/api/me" });
    assert.equal(request.url, `${ORIGIN_URL}/api/me?full=1`);
    assert.equal(claims.iss, "sessiongate");
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.scope, "api:read reports:read");
    assert.equal(claims.sid, sha256hex(jti).slice(0, 16), "sid: the token's jti, hashed");
    assert.equal(claims.auth_time, iat, "auth_time: when the token was issued");
    assert.equal(claims.htm, "GET");
    assert.equal(claims.htu, "/api/me?full=1");
    assert.equal(claims.exp - claims.iat, 60);
    assert.deepEqual([claims.claims, claims.groups, claims.device_bound, claims.email], [{}, [], false, undefined]);
    assert.deepEqual(await kvOps(), [], "no KV record read or written");
    assert.equal(await gate.kv.list().then((l) => l.keys.length), 0, "no record in KV");
  });

  test("with only api:read, reads the API but does not write; api:write writes", async () => {
    const reader = await tokenFor(DEPLOYER, { scope: "api:read" });
    await admitted(await gate.fetch("/api/items", { headers: bearer(reader) }), { client: DEPLOYER.id });
    gate.received.length = 0;
    await admitted(await gate.fetch("/api/items", { method: "HEAD", headers: bearer(reader) }), { client: DEPLOYER.id });
    gate.received.length = 0;
    await forbidden(await gate.fetch("/api/items", { method: "POST", headers: bearer(reader), body: "{}" }), "api");
    const writer = await tokenFor(REPORTER, { scope: "api:write" });
    const { request } = await admitted(await gate.fetch("/api/items", { method: "POST", headers: bearer(writer), body: '{"n":1}' }));
    assert.equal(request.body, '{"n":1}', "the body is forwarded");
  });

  test("a rule's scopes: every listed scope must be in the token", async () => {
    await admitted(await gate.fetch("/reports/q1", { headers: bearer(await tokenFor(REPORTER, { scope: "reports:read api:read" })) }));
    gate.received.length = 0;
    await forbidden(await gate.fetch("/reports/q1", { headers: bearer(await tokenFor(REPORTER, { scope: "reports:read" })) }), "reports");
    await forbidden(await gate.fetch("/reports/q1", { headers: bearer(await tokenFor(DEPLOYER, { scope: "api:read" })) }), "reports");
  });

  test("a client the rule does not name gets 403 with the rule", async () => {
    await forbidden(await gate.fetch("/deploys/42", { headers: bearer(await tokenFor(REPORTER)) }), "deploys");
    await admitted(await gate.fetch("/deploys/42", { headers: bearer(await tokenFor(DEPLOYER)) }), { client: DEPLOYER.id });
  });

  test("a rule for users only never admits a machine client (403 with the rule)", async () => {
    await forbidden(await gate.fetch("/dashboard", { headers: bearer(await tokenFor()) }), "dashboard");
  });

  test("a valid token on a path no rule opens gets 403 default, though POLICY_DEFAULT is allow", async () => {
    await forbidden(await gate.fetch("/elsewhere", { headers: bearer(await tokenFor()) }), "default");
  });

  test("a deny condition naming the client refuses it", async () => {
    await forbidden(await gate.fetch("/api/frozen/x", { headers: bearer(await tokenFor()) }), "frozen");
  });

  test("a rule's max_auth_age applies to the token's iat: an older token is invalid", async () => {
    await admitted(await gate.fetch("/api/fresh", { headers: bearer(await forge()) }));
    gate.received.length = 0;
    const old = await forge({ iat: now() - 10 * 60, exp: now() + 10 * 60 });
    await refused(await gate.fetch("/api/fresh", { headers: bearer(old) }), "token_too_old");
  });

  test("the scheme is case-insensitive, typ may be application/at+jwt, aud may be a list", async () => {
    const token = await tokenFor();
    await admitted(await gate.fetch("/api/me", { headers: { ...bearer(token), authorization: `bearer ${token}` } }));
    for (const forged of [
      await forge({}, { typ: "application/at+jwt" }),
      await forge({}, { typ: "AT+JWT" }),
      await forge({ aud: ["https://other.example.com", API] }),
    ]) {
      gate.received.length = 0;
      await admitted(await gate.fetch("/api/me", { headers: bearer(forged) }));
    }
  });

  test("a token without jti: sid is the hash of the whole token", async () => {
    const token = await forge({ jti: undefined });
    const { claims } = await admitted(await gate.fetch("/api/me", { headers: bearer(token) }));
    assert.equal(claims.sid, sha256hex(token).slice(0, 16));
  });

  test("60 s of clock skew are tolerated", async () => {
    await admitted(await gate.fetch("/api/me", { headers: bearer(await forge({ iat: now() - 600, exp: now() - 20 })) }));
    gate.received.length = 0;
    await admitted(await gate.fetch("/api/me", { headers: bearer(await forge({ iat: now() + 20, exp: now() + 600, nbf: now() + 20 })) }));
  });
});

describe("attack cases: 401 invalid_token, never the origin", () => {
  // First in this block: no other case of the file may have refetched the keys within the minute.
  test("an unknown kid: the JWKS is fetched once more, then not again for another unknown kid within the minute", async () => {
    await admitted(await gate.fetch("/api/me", { headers: bearer(await tokenFor()) })); // the keys are known
    gate.received.length = 0;
    const before = jwksFetches;
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({}, { kid: "rotated-1" })) }), "token_unknown_kid");
    assert.equal(jwksFetches - before, 1, "one refetch of the jwks_uri");
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({}, { kid: "rotated-2" })) }), "token_unknown_kid");
    assert.equal(jwksFetches - before, 1, "no second refetch within the minute");
    await admitted(await gate.fetch("/api/me", { headers: bearer(await tokenFor()) }));
    assert.equal(jwksFetches - before, 1, "the known keys still serve");
  });

  test("a token for another audience (a real one from the provider)", async () => {
    const token = await tokenFor(REPORTER, { resource: "https://other.example.com" });
    assert.equal(jwtClaims(token).aud, "https://other.example.com");
    await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_wrong_audience");
  });

  test("an aud list without the edge's audience", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ aud: ["https://other.example.com", CLIENT_ID] })) }), "token_wrong_audience");
  });

  test("an expired token (past the 60 s skew)", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ iat: now() - 900, exp: now() - 120 })) }), "token_expired");
  });

  test("a token without exp", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ exp: undefined })) }), "token_no_expiry");
  });

  test("a token not valid yet (nbf ahead)", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ nbf: now() + 300 })) }), "token_not_yet_valid");
  });

  test("a token issued in the future", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ iat: now() + 300, exp: now() + 900 })) }), "token_issued_in_future");
  });

  test("a token without iat", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ iat: undefined })) }), "token_no_issue_time");
  });

  test("a lifetime past BEARER_MAX_LIFETIME (default 1h)", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ iat: now(), exp: now() + 2 * 3600 })) }), "token_lifetime_too_long");
  });

  test("typ JWT: an ID token-like token, every claim right, signed by the provider", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({}, { typ: "JWT" })) }), "token_not_access_token");
    await refused(await gate.fetch("/api/me", { headers: bearer(await op.signWithProviderKey(accessClaims())) }), "token_not_access_token");
  });

  test("a real ID token from the provider", async () => {
    const idToken = await realIdToken();
    assert.equal(JSON.parse(Buffer.from(idToken.split(".")[0], "base64url")).typ, undefined);
    await refused(await gate.fetch("/api/me", { headers: bearer(idToken) }), "token_not_access_token");
  });

  test("alg none", async () => {
    const token = `${b64url({ alg: "none", typ: "at+jwt" })}.${b64url(accessClaims())}.`;
    await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_alg_unsupported");
  });

  test("HS256 keyed with the provider's public key", async () => {
    const [jwk] = op.jwks.keys;
    const pem = createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" });
    for (const secret of [pem, JSON.stringify(jwk)]) {
      const signed = `${b64url({ alg: "HS256", typ: "at+jwt", kid: jwk.kid })}.${b64url(accessClaims())}`;
      const token = `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
      await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_alg_unsupported");
    }
  });

  test("RS384 by the provider's own key, and a crit header: not on the allow-list", async () => {
    const kid = op.signingJwk.kid;
    await refused(await gate.fetch("/api/me", { headers: bearer(signByHand({ alg: "RS384", typ: "at+jwt", kid }, accessClaims(), "sha384")) }), "token_alg_unsupported");
    const crit = signByHand({ alg: "RS256", typ: "at+jwt", kid, crit: ["exp"], exp: now() + 60 }, accessClaims());
    await refused(await gate.fetch("/api/me", { headers: bearer(crit) }), "token_alg_unsupported");
  });

  test("the provider's kid with another key's signature", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(accessClaims())))
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: op.signingJwk.kid })
      .sign(privateKey);
    await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_bad_signature");
  });

  test("a real token whose claims were changed after signing", async () => {
    const real = await tokenFor(DEPLOYER, { scope: "api:read" });
    const [header, , signature] = real.split(".");
    const claims = { ...jwtClaims(real), client_id: REPORTER.id, scope: "api:write" };
    await refused(await gate.fetch("/api/me", { headers: bearer(`${header}.${b64url(claims)}.${signature}`) }), "token_bad_signature");
  });

  test("another issuer: iss changed, and a real token of another provider with the same client and audience", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ iss: "https://evil.example" })) }), "token_wrong_issuer");
    const other = await startProvider({ machineClients: [REPORTER] });
    try {
      const token = await tokenFor(REPORTER, { provider: other });
      await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_wrong_issuer");
    } finally {
      await other.close();
    }
  });

  test("no client_id, or one that is not a string", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ client_id: undefined })) }), "token_no_client_id");
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ client_id: 42 })) }), "token_no_client_id");
  });

  test("a sender-constrained token (cnf: DPoP or mTLS), whose proof the edge does not check", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ cnf: { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } })) }), "token_sender_constrained");
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ cnf: { "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" } })) }), "token_sender_constrained");
  });

  test("no sub", async () => {
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({ sub: undefined })) }), "token_no_subject");
  });

  test("an oversized token (over 16 KiB)", async () => {
    const token = await forge({ padding: "x".repeat(17 * 1024) });
    assert.ok(token.length > 16 * 1024);
    await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_too_long");
  });

  test("malformed: not three parts, not base64url, not JSON, empty", async () => {
    const claims = b64url(accessClaims());
    const header = b64url({ alg: "RS256", typ: "at+jwt", kid: op.signingJwk.kid });
    for (const token of [
      "not-a-jwt",
      `${header}.${claims}`,
      `${header}.${claims}.sig.extra`,
      `${header}.${claims}.***`,
      `!!.${claims}.sig`,
      `${b64url("{not json")}.${claims}.sig`,
      `${b64url("[1,2]")}.${claims}.sig`,
      `${header}.${b64url("not json")}.sig`,
    ]) {
      await refused(await gate.fetch("/api/me", { headers: bearer(token) }), "token_malformed");
    }
    await refused(await gate.fetch("/api/me", { headers: { ...bearer(""), authorization: "Bearer" } }), "token_malformed");
  });

  test("two Authorization headers, each with a valid token (sent raw)", async () => {
    const [a, b] = [await tokenFor(), await tokenFor()];
    gate.sensitive.add(a).add(b);
    const answer = await raw(
      `GET /api/me HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nAccept: application/json\r\n` +
        `Authorization: Bearer ${a}\r\nAuthorization: Bearer ${b}\r\n\r\n`,
    );
    assert.equal(answer.status, 401);
    assert.deepEqual(JSON.parse(answer.body), { error: "unauthenticated", reason: "invalid_token" });
    assert.match(answer.headers["www-authenticate"] ?? "", /error="invalid_token"/);
    assert.equal(atOrigin().length, 0);
    assert.equal(gate.logs.at(-1).reason, "token_malformed");
    // What Workers makes of them: one header, joined with ", ".
    await refused(await gate.fetch("/api/me", { headers: { ...bearer(a), authorization: `Bearer ${a}, Bearer ${b}` } }), "token_malformed");
  });
});

describe("the token decides", () => {
  test("a valid token with a session cookie: the token's client reaches the origin, the cookie is stripped, KV is not read", async () => {
    const { token: session } = await putSession(gate, { uid: "alice" });
    await kvOps();
    const response = await gate.fetch("/api/me", { headers: bearer(await tokenFor(), { cookie: `${COOKIE}=${session}; theme=dark` }) });
    const { request } = await admitted(response);
    assert.equal(request.headers.cookie, "theme=dark", "the session cookie is not forwarded");
    assert.deepEqual(await kvOps(), []);
  });

  test("a bad token with a valid session cookie is refused", async () => {
    const { token: session } = await putSession(gate, { uid: "alice" });
    await kvOps();
    const expired = await forge({ iat: now() - 900, exp: now() - 120 });
    await refused(await gate.fetch("/api/me", { headers: bearer(expired, withSession(session)) }), "token_expired");
    // The session alone still works, as a session.
    const alone = await gate.fetch("/api/me", { headers: withSession(session, { accept: "application/json" }) });
    assert.equal(alone.status, 200);
    assert.equal(jwtClaims(atOrigin()[0].headers["sessiongate-assertion"]).kind, "session");
    assert.ok((await kvOps()).some((o) => o.startsWith("get s:")), "a session's record is read from KV (the counter sees it)");
  });

  test("a navigation with a bad token gets 401, not a redirect to sign in", async () => {
    const navigation = { accept: "text/html", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" };
    const without = await gate.fetch("/api/me", { headers: navigation });
    assert.equal(without.status, 303, "without a token a browser is sent to sign in");
    await refused(await gate.fetch("/api/me", { headers: bearer("not-a-jwt", navigation) }), "token_malformed");
    await refused(await gate.fetch("/api/me", { headers: bearer(await forge({}, { typ: "JWT" }), navigation) }), "token_not_access_token");
  });

  test("public paths and the edge's own endpoints do not look at the token", async () => {
    const response = await gate.fetch("/static/app.css", { headers: bearer("not-a-jwt") });
    assert.equal(response.status, 200);
    assert.equal(atOrigin().length, 1);
    assert.equal((await gate.fetch("/.sessiongate/health", { headers: bearer("not-a-jwt") })).status, 200);
  });
});

describe("the issuer", () => {
  test("unreachable, or its discovery document or keys unusable: 503 token_issuer_unavailable, never the origin", async () => {
    const issuer = "http://127.0.0.1:9";
    const discovery = {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
    };
    const answers = {
      down: () => {
        throw new Error("connection refused");
      },
      "a 500": () => new Response("oops", { status: 500 }),
      "a document naming another issuer": (url) =>
        url.endsWith("/.well-known/openid-configuration") ? Response.json({ ...discovery, issuer: op.issuer }) : Response.json(op.jwks),
      "a document without jwks_uri": (url) =>
        url.endsWith("/.well-known/openid-configuration") ? Response.json({ ...discovery, jwks_uri: undefined }) : Response.json(op.jwks),
      "keys that are not a JWKS": (url) => (url.endsWith("/.well-known/openid-configuration") ? Response.json(discovery) : new Response("<html>")),
    };
    // A fresh isolate for each: a failure is remembered for 30 s (DESIGN §12).
    for (const [what, answer] of Object.entries(answers)) {
      const g = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: issuer, POLICY: JSON.stringify(POLICY) } });
      try {
        g.origin = (request) => (request.url.startsWith(issuer) ? answer(request.url) : okOrigin(request));
        const token = await op.signWithProviderKey({ ...accessClaims(), iss: issuer }, { typ: "at+jwt" });
        const response = await g.fetch("/api/me", { headers: bearer(token) });
        assert.equal(response.status, 503, what);
        assert.deepEqual(await response.json(), { error: "token_issuer_unavailable" }, what);
        assert.equal(atOrigin(g).length, 0, what);
        assert.equal(g.logs.at(-1)?.decision, "error", what);
        // The issuer back, within 30 s of the failure: not asked again.
        g.origin = (request) =>
          request.url.startsWith(issuer) ? (request.url.endsWith("/jwks") ? Response.json(op.jwks) : Response.json(discovery)) : okOrigin(request);
        const asked = g.received.length;
        const again = await g.fetch("/api/me", { headers: bearer(token) });
        assert.equal(again.status, 503, what);
        assert.equal(g.received.length, asked, `${what}: asked again within 30 s`);
      } finally {
        await g.close();
      }
    }
    // An issuer that serves its keys from the start: its tokens pass.
    const g = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: issuer, POLICY: JSON.stringify(POLICY) } });
    try {
      g.origin = (request) =>
        request.url.startsWith(issuer) ? (request.url.endsWith("/jwks") ? Response.json(op.jwks) : Response.json(discovery)) : okOrigin(request);
      const token = await op.signWithProviderKey({ ...accessClaims(), iss: issuer }, { typ: "at+jwt" });
      await admitted(await g.fetch("/api/me", { headers: bearer(token) }), { g });
    } finally {
      await g.close();
    }
  });

  test("an ES256 provider: its tokens pass; its RSA key's kid under ES256 does not", async () => {
    const es = await startProvider({ alg: "ES256", machineClients: [REPORTER] });
    const g = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: es.issuer, POLICY: JSON.stringify(POLICY) } });
    g.origin = outbound(es, false);
    try {
      const token = await tokenFor(REPORTER, { provider: es, scope: "api:read" });
      assert.equal(JSON.parse(Buffer.from(token.split(".")[0], "base64url")).alg, "ES256");
      await admitted(await g.fetch("/api/me", { headers: bearer(token) }), { g });
      g.received.length = 0;
      const rsa = es.jwks.keys.find((k) => k.kty === "RSA");
      const claims = { ...jwtClaims(token), jti: randomUUID() };
      // Signed by the EC key, named as the RSA key.
      await refused(await g.fetch("/api/me", { headers: bearer(await es.signWithProviderKey(claims, { typ: "at+jwt", kid: rsa.kid })) }), null, g);
    } finally {
      await g.close();
      await es.close();
    }
  });
});

describe("configuration", () => {
  test("BEARER_AUDIENCE unset: the Authorization header is ignored, and forwarded untouched with a session", async () => {
    const g = await startGate({ vars: oidcVars(op, { POLICY: JSON.stringify(POLICY) }) });
    g.origin = outbound(op, false);
    try {
      const token = await tokenFor();
      const alone = await g.fetch("/api/me", { headers: bearer(token) });
      assert.equal(alone.status, 401);
      assert.equal((await alone.json()).reason, "missing", "the request needs a session");
      assert.equal(atOrigin(g).length, 0);
      const session = await login(g, "alice", { identity: { email: "alice@example.com" } });
      g.received.length = 0;
      const both = await g.fetch("/api/me", { headers: bearer(token, withSession(session)) });
      assert.equal(both.status, 200);
      const [sent] = atOrigin(g);
      assert.equal(sent.headers.authorization, `Bearer ${token}`);
      const claims = jwtClaims(sent.headers["sessiongate-assertion"]);
      assert.deepEqual([claims.kind, claims.sub, claims.client_id], ["session", "alice", undefined]);
    } finally {
      await g.close();
    }
  });

  test("BEARER_AUDIENCE set without a POLICY: every bearer request is refused (403 default)", async () => {
    const g = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: op.issuer } });
    g.origin = outbound(op, false);
    try {
      await forbidden(await g.fetch("/api/me", { headers: bearer(await tokenFor()) }), "default", g);
    } finally {
      await g.close();
    }
  });

  test("BEARER_MAX_LIFETIME: a shorter maximum refuses a token the default allows", async () => {
    const g = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: op.issuer, BEARER_MAX_LIFETIME: "5m", POLICY: JSON.stringify(POLICY) } });
    g.origin = outbound(op, false);
    try {
      await refused(await g.fetch("/api/me", { headers: bearer(await tokenFor()) }), "token_lifetime_too_long", g);
      await admitted(await g.fetch("/api/me", { headers: bearer(await forge({ exp: now() + 240 })) }), { g });
    } finally {
      await g.close();
    }
  });

  test("bad tokens count against BAD_TOKEN_LIMIT as bad session cookies do; past it, 429 before any check", async () => {
    const g = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: op.issuer, POLICY: JSON.stringify(POLICY), BAD_TOKEN_LIMIT: "3/1m" } });
    g.origin = outbound(op, false);
    try {
      const sender = { "cf-connecting-ip": "203.0.113.77" };
      // Only too old for the rule: the client fetches a fresh one, it is not guessing.
      for (let i = 0; i < 4; i++) {
        const old = await forge({ iat: now() - 10 * 60, exp: now() + 10 * 60 });
        await refused(await g.fetch("/api/fresh", { headers: bearer(old, sender) }), "token_too_old", g);
      }
      for (let i = 0; i < 3; i++) {
        await refused(await g.fetch("/api/me", { headers: bearer(await forge({ aud: "https://other.example.com" }), sender) }), "token_wrong_audience", g);
      }
      const throttled = await g.fetch("/api/me", { headers: bearer(await tokenFor(), sender) });
      assert.equal(throttled.status, 429, "even a good token, once past the limit");
      assert.deepEqual(await throttled.json(), { error: "too_many_requests" });
      assert.ok(Number(throttled.headers.get("retry-after")) > 0, "Retry-After");
      assert.equal(atOrigin(g).length, 0);
      await admitted(await g.fetch("/api/me", { headers: bearer(await tokenFor(), { "cf-connecting-ip": "203.0.113.78" }) }), { g });
    } finally {
      await g.close();
    }
  });

  for (const [what, vars] of [
    ["BEARER_ISSUER without BEARER_AUDIENCE", { BEARER_ISSUER: "https://issuer.example" }],
    ["BEARER_MAX_LIFETIME without BEARER_AUDIENCE", { BEARER_MAX_LIFETIME: "30m" }],
    ["BEARER_AUDIENCE without an issuer", { BEARER_AUDIENCE: API }],
    ["BEARER_AUDIENCE with an http issuer off the loopback", { BEARER_AUDIENCE: API, BEARER_ISSUER: "http://issuer.example" }],
    ["a BEARER_MAX_LIFETIME that is not a duration", { BEARER_AUDIENCE: API, BEARER_ISSUER: "https://issuer.example", BEARER_MAX_LIFETIME: "soon" }],
  ]) {
    test(`${what} is misconfigured (500), naming the variable`, async () => {
      const g = await startGate({ vars });
      try {
        const response = await g.fetch("/api/me", { headers: bearer("not-a-jwt") });
        assert.equal(response.status, 500);
        assert.deepEqual(await response.json(), { error: "misconfigured" });
        assert.equal(atOrigin(g).length, 0);
        assert.match(g.logs.find((l) => l.reason === "misconfigured")?.detail ?? "", /BEARER_/);
      } finally {
        await g.close();
      }
    });
  }
});

describe("report mode", () => {
  let g;
  before(async () => {
    g = await startGate({ vars: { MODE: "report", BEARER_AUDIENCE: API, BEARER_ISSUER: op.issuer, POLICY: JSON.stringify(POLICY) } });
  });
  after(() => g.close());
  beforeEach(() => {
    g.received.length = 0;
    g.origin = outbound(op, false);
  });

  test("an invalid token is forwarded with the verdict (the log's reason) and no identity", async () => {
    const response = await g.fetch("/api/me", { headers: bearer(await forge({ aud: "https://other.example.com" })) });
    assert.equal(response.status, 200, "the origin's answer");
    const [sent] = atOrigin(g);
    assert.equal(sent.headers["sessiongate-verdict"], "deny; reason=token_wrong_audience");
    assert.equal(sent.headers["sessiongate-assertion"], undefined);
    assert.equal(sent.headers["x-sessiongate-user"], undefined);
    const line = g.logs.at(-1);
    assert.deepEqual([line.decision, line.reason, line.mode], ["reject", "token_wrong_audience", "report"]);
  });

  test("a policy refusal is forwarded with the client's identity, the verdict and the rule", async () => {
    const response = await g.fetch("/dashboard", { headers: bearer(await tokenFor()) });
    assert.equal(response.status, 200);
    const [sent] = atOrigin(g);
    assert.equal(sent.headers["sessiongate-verdict"], "deny; reason=forbidden; rule=dashboard");
    const claims = jwtClaims(sent.headers["sessiongate-assertion"]);
    assert.deepEqual([claims.kind, claims.client_id], ["bearer", REPORTER.id]);
  });

  test("an admitted token carries the verdict allow", async () => {
    await g.fetch("/api/me", { headers: bearer(await tokenFor()) });
    assert.equal(atOrigin(g)[0].headers["sessiongate-verdict"], "allow");
  });
});

describe("the README's Machine clients example, pasted into wrangler.toml", () => {
  const CI = { id: "ci-deployer", secret: "ci-deployer-secret-0123456789abcdef", scope: "deploy:write" };
  const BOT = { id: "reports-bot", secret: "reports-bot-secret-0123456789abcdef", scope: "reports:read" };
  let provider, g, config;
  before(async () => {
    config = readmeMachineConfig();
    provider = await startProvider({ machineClients: [CI, BOT] });
    g = await startGate({ vars: { ...config, BEARER_ISSUER: provider.issuer } });
  });
  after(async () => {
    await g?.close();
    await provider?.close();
  });
  beforeEach(() => {
    g.received.length = 0;
    g.origin = outbound(provider, false);
  });
  const token = (c, scope = c.scope) => provider.clientCredentialsToken({ clientId: c.id, secret: c.secret, resource: config.BEARER_AUDIENCE, scope });
  /** One request by client `c` (what reached the origin before is forgotten). */
  const call = async (c, method, pathname, scope) => {
    const headers = bearer(await token(c, scope));
    g.received.length = 0;
    return g.fetch(pathname, { method, headers });
  };

  test("the CI job POSTs to the deploy hook with deploy:write, and only that", async () => {
    await admitted(await call(CI, "POST", "/api/deploy"), { client: CI.id, g });
    await forbidden(await call(CI, "GET", "/api/deploy"), "deploy", g);
    await forbidden(await call(CI, "POST", "/api/deploy", "openid"), "deploy", g);
    await forbidden(await call(BOT, "POST", "/api/deploy"), "deploy", g);
  });

  test("a client holding reports:read reads the reports, the analysts too; nobody else", async () => {
    await admitted(await call(BOT, "GET", "/api/reports/q3"), { client: BOT.id, g });
    await forbidden(await call(BOT, "POST", "/api/reports/q3"), "reports-api", g);
    await forbidden(await call(CI, "GET", "/api/reports/q3"), "reports-api", g);
    const analyst = await login(g, "ann", { identity: { groups: ["analysts"] } });
    g.received.length = 0;
    assert.equal((await g.fetch("/api/reports/q3", { headers: withSession(analyst, { accept: "application/json" }) })).status, 200);
  });

  test("BEARER_AUDIENCE alone opens nothing: another path refuses every client", async () => {
    await forbidden(await call(CI, "GET", "/api/other"), "default", g);
  });
});

/** BEARER_AUDIENCE and POLICY as wrangler reads them from the Machine clients section's TOML block, pasted at the end of [vars]. */
function readmeMachineConfig() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## Machine clients\n");
  assert.ok(start >= 0, 'the README has a "## Machine clients" section');
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const block = /```toml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block?.includes("BEARER_AUDIENCE"), "the section shows the settings in TOML");
  // The block starts with its own [vars]; pasted at the end of wrangler.toml's [vars], that header is already there.
  const pasted = block.replace(/^\[vars\]\n/m, "");
  const dir = mkdtempSync(path.join(os.tmpdir(), "sessiongate-readme-"));
  try {
    const original = readFileSync(path.join(root, "wrangler.toml"), "utf8");
    const vars = original.indexOf("[vars]");
    const end = original.indexOf("\n[", vars + "[vars]".length);
    writeFileSync(path.join(dir, "wrangler.toml"), `${original.slice(0, end)}\n${pasted}${original.slice(end)}`);
    copyFileSync(path.join(root, "package.json"), path.join(dir, "package.json"));
    const { vars: read } = unstable_readConfig({ config: path.join(dir, "wrangler.toml") });
    return { BEARER_AUDIENCE: read.BEARER_AUDIENCE, POLICY: read.POLICY };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A real ID token: the code flow with the edge's client (PKCE), done by hand against the provider. */
async function realIdToken() {
  const discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: "code",
    scope: "openid",
    redirect_uri: CALLBACK,
    state: randomBytes(16).toString("base64url"),
    nonce: randomBytes(16).toString("base64url"),
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  });
  const { code } = await op.authorize(url.href, { login: "alice" });
  const response = await fetch(discovery.token_endpoint, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: verifier }),
  });
  const { id_token: idToken } = await response.json();
  assert.ok(idToken, "the provider issued an ID token");
  gate.sensitive.add(idToken);
  return idToken;
}

/** Sends raw bytes over HTTP/1.1 to the gate; resolves to { status, headers, body } (chunked bodies decoded). */
function raw(bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(gate.url.port), gate.url.hostname, () => socket.end(bytes));
    const chunks = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      let body = text.slice(split + 4);
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        let decoded = "";
        for (let rest = body; ; ) {
          const eol = rest.indexOf("\r\n");
          const size = parseInt(rest.slice(0, eol), 16);
          if (!size) break;
          decoded += rest.slice(eol + 2, eol + 2 + size);
          rest = rest.slice(eol + 2 + size + 2);
        }
        body = decoded;
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
  });
}
