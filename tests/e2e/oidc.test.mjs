// Signing in at the edge with a real OpenID Provider (oidc-provider on
// 127.0.0.1), the built worker in Miniflare: the whole code flow, the
// attack cases, and back-channel logout (DESIGN §12).

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, beforeEach, describe, test } from "node:test";
import { CLIENT_ID, CLIENT_SECRET, edgeOidcVars as oidcVars, startProvider } from "../oidc/provider.mjs";
import { COOKIE, SITE, idHash, jwtClaims, login, okOrigin, startGate, tokenParts } from "./harness.mjs";

const CALLBACK = `${SITE}/.sessiongate/oidc/callback`;
const STATE_COOKIE = "__Host-sg-oidc";
const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

let op, gate;
/** Rewrites the provider's token response (its parsed JSON) for one attack case. */
let tamperTokens = null;
/** Answers a provider request instead of the provider, for one attack case. */
let interceptProvider = null;

/** Sends a request the worker made on to the real provider (Node's fetch takes no Miniflare Request). */
async function passOn(request) {
  const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.text();
  return fetch(request.url, { method: request.method, headers: Object.fromEntries(request.headers), body, redirect: "manual" });
}

/** The gate's outbound traffic: the provider's requests go to it (or a stand-in), the rest to the mock origin. */
function outbound(provider) {
  return async (request) => {
    if (!request.url.startsWith(provider.issuer)) return okOrigin(request);
    const stand_in = await interceptProvider?.(request);
    if (stand_in) return stand_in;
    const response = await passOn(request);
    if (new URL(request.url).pathname === "/token" && response.ok) {
      const tokens = await response.json();
      // The provider's tokens must never be logged (the harness checks at close).
      for (const token of [tokens.id_token, tokens.access_token]) if (token) gate.sensitive.add(token);
      return Response.json(tamperTokens ? await tamperTokens(tokens) : tokens);
    }
    return response;
  };
}


before(async () => {
  op = await startProvider({ redirectUris: [CALLBACK], postLogoutRedirectUris: [`${SITE}/`] });
  gate = await startGate({ vars: oidcVars(op) });
});
after(async () => {
  await gate.close();
  await op.close();
});
beforeEach(() => {
  tamperTokens = null;
  interceptProvider = null;
  gate.received.length = 0;
  gate.origin = outbound(op);
});

/** The state cookie a response set (not cleared), as a Cookie header piece. */
const stateCookieOf = (response) =>
  response.headers.getSetCookie().find((c) => c.startsWith(`${STATE_COOKIE}=`) && !c.includes("Max-Age=0"))?.split(";")[0];

/** `GET /.sessiongate/oidc/start` (with `max_age` when given): the provider URL and the browser's state cookie. */
async function start(returnTo = "/dashboard", g = gate, maxAge = undefined) {
  const step = maxAge === undefined ? "" : `&max_age=${maxAge}`;
  const response = await g.fetch(`/.sessiongate/oidc/start?return_to=${encodeURIComponent(returnTo)}${step}`, { headers: { accept: "text/html" } });
  assert.equal(response.status, 303, await response.clone().text());
  return { location: response.headers.get("location"), cookie: stateCookieOf(response) };
}

/** Back to the edge with the provider's answer. */
const callback = (params, cookie, g = gate) =>
  g.fetch(`/.sessiongate/oidc/callback?${new URLSearchParams(params)}`, { headers: { cookie: cookie ?? "", accept: "text/html" } });

/** The whole flow for `user` (a step-up with `maxAge`); the callback's response. */
async function signIn(user = "alice", { returnTo, cookie: extraCookie, g = gate, provider = op, maxAge } = {}) {
  const { location, cookie } = await start(returnTo, g, maxAge);
  const answer = await provider.authorize(location, { login: user });
  assert.ok(answer.code, `the provider answered ${JSON.stringify(answer.params ?? answer.error)}`);
  g.sensitive.add(answer.code);
  return callback({ code: answer.code, state: answer.state, iss: answer.iss }, [cookie, extraCookie].filter(Boolean).join("; "), g);
}

const sessionOf = (response) => response.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))?.split(";")[0].slice(COOKIE.length + 1);
const reasonOf = async (response) => {
  const text = await response.text();
  return /<code>([^<]*)<\/code>/.exec(text)?.[1] ?? JSON.parse(text).reason;
};

describe("the code flow", () => {
  test("start sends the browser to the provider with state, nonce and PKCE S256, and sets the state cookie", async () => {
    const { location, cookie } = await start();
    const url = new URL(location);
    assert.equal(url.origin, op.issuer);
    const params = Object.fromEntries(url.searchParams);
    assert.equal(params.response_type, "code");
    assert.equal(params.client_id, CLIENT_ID);
    assert.equal(params.redirect_uri, CALLBACK);
    assert.equal(params.scope, "openid email profile");
    assert.equal(params.code_challenge_method, "S256");
    for (const name of ["state", "nonce", "code_challenge"]) assert.match(params[name], /^[A-Za-z0-9_-]{43}$/, name);
    assert.ok(cookie, "a state cookie");
    const { location: again } = await start();
    assert.notEqual(new URL(again).searchParams.get("state"), params.state, "fresh per sign-in");
  });

  test("a user signs in, and lands on return_to with a session as a handoff starts one", async () => {
    const response = await signIn("alice");
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/dashboard");
    const token = sessionOf(response);
    assert.ok(token, "a session cookie");
    assert.ok(response.headers.getSetCookie().some((c) => c.startsWith(`${STATE_COOKIE}=;`)), "the state cookie is cleared");
    const record = JSON.parse(await gate.kv.get(`s:${idHash(tokenParts(token).id)}`));
    const sub = record.uid;
    assert.ok(sub.length > 0);
    assert.deepEqual(record.claims, { email: "alice@example.com", name: "Alice Liddell", groups: "staff" }, "claims from userinfo, as the provider keeps them there");
    assert.ok(await gate.kv.get(`u:${sub}:${idHash(tokenParts(token).id)}`) !== null, "indexed under the user");
    const page = await gate.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${token}` } });
    assert.equal(page.status, 200);
    const assertion = jwtClaims(gate.received.at(-1).headers["sessiongate-assertion"]);
    assert.equal(assertion.sub, sub);
    assert.equal(assertion.claims.email, "alice@example.com");
  });

  test("the session keeps the verified email, the groups and when the user logged in; the assertion carries them", async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await signIn("alice");
    assert.equal(response.status, 303);
    const token = sessionOf(response);
    const record = JSON.parse(await gate.kv.get(`s:${idHash(tokenParts(token).id)}`));
    assert.equal(record.email, "alice@example.com");
    assert.deepEqual(record.groups, ["staff"]);
    assert.ok(record.auth_time >= before - 5 && record.auth_time <= record.iat, `auth_time ${record.auth_time}`);
    await gate.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${token}` } });
    const assertion = jwtClaims(gate.received.at(-1).headers["sessiongate-assertion"]);
    assert.equal(assertion.email, "alice@example.com");
    assert.deepEqual(assertion.groups, ["staff"]);
    assert.equal(assertion.auth_time, record.auth_time);
  });

  test("a start with max_age (a step-up) asks the provider for a fresh login, and the session keeps its auth_time", async () => {
    const { location } = await start("/admin", gate, 300);
    const params = new URL(location).searchParams;
    assert.equal(params.get("prompt"), "login");
    assert.equal(params.get("max_age"), "300");
    assert.equal(new URL((await start()).location).searchParams.get("prompt"), null, "not without max_age");
    const before = Math.floor(Date.now() / 1000);
    const response = await signIn("alice", { returnTo: "/admin", maxAge: 300 });
    assert.equal(response.status, 303, await reasonOf(response.clone()).catch(() => ""));
    assert.equal(response.headers.get("location"), "/admin");
    const record = JSON.parse(await gate.kv.get(`s:${idHash(tokenParts(sessionOf(response)).id)}`));
    assert.ok(record.auth_time >= before - 5, "the provider's auth_time of the login just made");
  });

  test("a start with a max_age it cannot read is refused, not signed in without it", async () => {
    for (const bad of ["abc", "-1", "5m", "99999999999"]) {
      const response = await gate.fetch(`/.sessiongate/oidc/start?return_to=/admin&max_age=${bad}`, { headers: { accept: "text/html" } });
      assert.equal(response.status, 400, bad);
      assert.equal(await reasonOf(response), "max_age_invalid");
      assert.equal(stateCookieOf(response), undefined);
    }
  });

  test("the session the browser came with ends (no fixation)", async () => {
    const old = await login(gate, "someone");
    gate.origin = outbound(op);
    const response = await signIn("alice", { cookie: `${COOKIE}=${old}` });
    assert.equal(response.status, 303);
    assert.equal((await gate.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${old}` } })).status, 401);
  });

  test("claims in the ID token are used without asking userinfo", async () => {
    const withClaims = await startProvider({ redirectUris: [CALLBACK], idTokenClaims: true, alg: "ES256" });
    const g = await startGate({ vars: oidcVars(withClaims) });
    let userinfo = 0;
    g.origin = async (request) => {
      if (new URL(request.url).pathname === "/me") userinfo++;
      return outbound(withClaims)(request);
    };
    try {
      const response = await signIn("alice", { g, provider: withClaims });
      assert.equal(response.status, 303, await reasonOf(response.clone()).catch(() => ""));
      assert.equal(userinfo, 0);
    } finally {
      await g.close();
      await withClaims.close();
    }
  });
});

describe("attack cases: each is refused and starts no session", () => {
  /** Asserts a refused callback: its status and reason, no session cookie. */
  async function refusedWith(response, status, reason) {
    assert.equal(response.status, status);
    assert.equal(await reasonOf(response), reason);
    assert.equal(sessionOf(response), undefined);
  }

  test("a callback without state, with another state, without the state cookie, or with another browser's", async () => {
    const mine = await start();
    const theirs = await start();
    const answer = await op.authorize(mine.location, { login: "alice" });
    await refusedWith(await callback({ code: answer.code }, mine.cookie), 400, "state_mismatch");
    await refusedWith(await callback({ code: answer.code, state: "x".repeat(43) }, mine.cookie), 400, "state_mismatch");
    await refusedWith(await callback({ code: answer.code, state: answer.state }), 400, "state_cookie_missing");
    await refusedWith(await callback({ code: answer.code, state: answer.state }, theirs.cookie), 400, "state_mismatch");
    const [name, value] = mine.cookie.split("=");
    await refusedWith(await callback({ code: answer.code, state: answer.state }, `${name}=A${value}`), 400, "state_cookie_invalid");
  });

  test("a code used twice", async () => {
    const { location, cookie } = await start();
    const answer = await op.authorize(location, { login: "alice" });
    const params = { code: answer.code, state: answer.state, iss: answer.iss };
    assert.equal((await callback(params, cookie)).status, 303);
    await refusedWith(await callback(params, cookie), 400, "token_exchange_refused");
  });

  test("an answer naming another issuer (mix-up)", async () => {
    const { location, cookie } = await start();
    const answer = await op.authorize(location, { login: "alice" });
    await refusedWith(await callback({ code: answer.code, state: answer.state, iss: "https://evil.example" }, cookie), 400, "issuer_mismatch");
    await refusedWith(await callback({ code: answer.code, state: answer.state }, cookie), 400, "issuer_mismatch");
  });

  test("the provider's error answer (the user cancelled)", async () => {
    const { location, cookie } = await start();
    const answer = await op.authorize(location, { login: "alice", consent: false });
    await refusedWith(await callback({ error: answer.error, state: answer.state, iss: answer.iss }, cookie), 400, "provider_refused");
  });

  /** Signs in with the token response's id_token replaced by `forge(realClaims, realHeader)`. */
  async function forged(forge, options = {}) {
    tamperTokens = async (tokens) => {
      const [header, payload] = tokens.id_token.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url")));
      return { ...tokens, id_token: await forge(payload, header) };
    };
    return signIn("alice", options);
  }
  const now = () => Math.floor(Date.now() / 1000);
  const resign = (changes, header = {}) => (claims) => op.signWithProviderKey({ ...claims, ...changes }, header);

  const idTokenCases = [
    ["a wrong nonce", resign({ nonce: "not-the-nonce" }), "token_wrong_nonce"],
    ["a wrong iss", resign({ iss: "https://evil.example" }), "token_wrong_issuer"],
    ["a wrong aud", resign({ aud: "another-client" }), "token_wrong_audience"],
    ["another audience without azp", resign({ aud: [CLIENT_ID, "another-client"] }), "token_wrong_audience"],
    ["an expired ID token", resign({ exp: now() - 120, iat: now() - 300 }), "token_expired"],
    ["an ID token issued in the future", resign({ iat: now() + 600, exp: now() + 900 }), "token_issued_in_future"],
    ["alg none", (claims) => `${b64url({ alg: "none" })}.${b64url(claims)}.`, "token_alg_unsupported"],
    [
      "HS256 keyed with the provider's public key",
      (claims) => {
        const signed = `${b64url({ alg: "HS256", kid: op.jwks.keys[0].kid })}.${b64url(claims)}`;
        return `${signed}.${createHmac("sha256", JSON.stringify(op.jwks.keys[0])).update(signed).digest("base64url")}`;
      },
      "token_alg_unsupported",
    ],
    ["a kid not in the JWKS", resign({}, { kid: "no-such-key" }), "token_unknown_kid"],
    [
      "a signature by another key under the provider's kid",
      (claims, header) => `${b64url(header)}.${b64url({ ...claims, sub: "someone-else" })}.${"A".repeat(342)}`,
      "token_bad_signature",
    ],
    ["an oversized token", resign({ padding: "x".repeat(20_000) }), "token_too_long"],
  ];
  for (const [name, forge, reason] of idTokenCases) {
    test(name, async () => refusedWith(await forged(forge), 400, reason));
  }

  test("a step-up answered with a login older than its max_age, or without auth_time", async () => {
    await refusedWith(await forged(resign({ auth_time: now() - 3600 }), { maxAge: 300 }), 400, "auth_time_too_old");
    await refusedWith(await forged(resign({ auth_time: undefined }), { maxAge: 300 }), 400, "auth_time_missing");
    assert.ok(gate.logs.some((l) => l.reason === "auth_time_too_old" && l.decision === "reject"), "logged");
    // The same old login is fine where no max_age was asked for.
    assert.equal((await forged(resign({ auth_time: now() - 3600 }))).status, 303);
  });

  test("an unverified email", async () => refusedWith(await signIn("mallory"), 403, "email_not_verified"));

  test("a domain not allowed", async () => refusedWith(await signIn("bob"), 403, "not_allowed"));

  test("a group rule admits its members only", async () => {
    const g = await startGate({ vars: oidcVars(op, { OIDC_ALLOWED_DOMAINS: undefined, OIDC_ALLOWED_GROUPS: "staff" }) });
    g.origin = outbound(op);
    try {
      assert.equal((await signIn("alice", { g })).status, 303, "alice is staff");
      await refusedWith(await signIn("bob", { g }), 403, "not_allowed");
    } finally {
      await g.close();
    }
  });

  test("an open redirect in return_to ends at /", async () => {
    for (const evil of ["//evil.example/x", "https://evil.example", "/\\evil.example", "/%2F%2Fevil.example"]) {
      const response = await signIn("alice", { returnTo: evil });
      assert.equal(response.status, 303, evil);
      assert.equal(response.headers.get("location"), "/", evil);
    }
  });

  test("a kid the keys lack makes the edge fetch them again, at most once a minute", async () => {
    const g = await startGate({ vars: oidcVars(op) });
    let fetches = 0;
    g.origin = async (request) => {
      if (new URL(request.url).pathname === "/jwks") fetches++;
      return outbound(op)(request);
    };
    try {
      assert.equal((await signIn("alice", { g })).status, 303);
      assert.equal(fetches, 1, "the keys, once");
      assert.equal((await signIn("alice", { g })).status, 303);
      assert.equal(fetches, 1, "then from the isolate's copy");
      tamperTokens = async (tokens) => ({ ...tokens, id_token: await resign({}, { kid: "rotated-key" })(jwtClaims(tokens.id_token)) });
      await refusedWith(await signIn("alice", { g }), 400, "token_unknown_kid");
      assert.equal(fetches, 2, "one refetch for the unknown kid");
      await refusedWith(await signIn("alice", { g }), 400, "token_unknown_kid");
      assert.equal(fetches, 2, "and no second within the minute");
    } finally {
      await g.close();
    }
  });

  test("a JWKS that cannot be fetched: 502, logged, no session", async () => {
    const g = await startGate({ vars: oidcVars(op) });
    g.origin = async (request) => (new URL(request.url).pathname === "/jwks" ? new Response("down", { status: 503 }) : outbound(op)(request));
    try {
      const response = await signIn("alice", { g });
      await refusedWith(response, 502, "provider_unavailable");
      assert.ok(g.logs.some((l) => l.reason === "provider_unavailable" && l.decision === "error"));
    } finally {
      await g.close();
    }
  });

  test("a provider that is down, or answers nonsense, or claims another issuer: a clear error and no session", async () => {
    const cases = [
      [() => Promise.reject(new Error("connection refused")), "provider_unavailable"],
      [() => new Response("<html>maintenance</html>", { headers: { "content-type": "text/html" } }), "provider_metadata_invalid"],
      [async (request) => Response.json({ ...(await (await passOn(request)).json()), issuer: "https://evil.example" }), "provider_issuer_mismatch"],
    ];
    for (const [discovery, reason] of cases) {
      const g = await startGate({ vars: oidcVars(op) });
      g.origin = async (request) => (request.url.endsWith("/.well-known/openid-configuration") ? discovery(request) : outbound(op)(request));
      try {
        const response = await g.fetch("/.sessiongate/oidc/start?return_to=/", { headers: { accept: "text/html" } });
        assert.equal(response.status, 502, reason);
        assert.match(await response.text(), new RegExp(`<code>${reason}</code>`));
        assert.equal(stateCookieOf(response), undefined);
      } finally {
        await g.close();
      }
    }
  });
});

describe("logout", () => {
  test("a browser's logout ends the session, then goes on to the provider's logout and back", async () => {
    const token = sessionOf(await signIn("alice"));
    const logout = await gate.fetch("/.sessiongate/logout", { method: "POST", headers: { cookie: `${COOKIE}=${token}`, accept: "text/html" } });
    assert.equal(logout.status, 303);
    assert.equal(logout.headers.get("location"), "/.sessiongate/oidc/end-session");
    assert.equal((await gate.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${token}` } })).status, 401, "ended before the provider is asked");
    const onward = await gate.fetch("/.sessiongate/oidc/end-session", { headers: { accept: "text/html" } });
    assert.equal(onward.status, 303);
    const url = new URL(onward.headers.get("location"));
    assert.equal(`${url.origin}${url.pathname}`, `${op.issuer}/session/end`);
    assert.deepEqual(Object.fromEntries(url.searchParams), { client_id: CLIENT_ID, post_logout_redirect_uri: `${SITE}/` });
  });
});

describe("back-channel logout", () => {
  const post = (token) =>
    gate.fetch("/.sessiongate/oidc/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: token }),
    });

  async function signedInSub() {
    const token = sessionOf(await signIn("alice"));
    const { uid } = JSON.parse(await gate.kv.get(`s:${idHash(tokenParts(token).id)}`));
    return { token, sub: uid };
  }
  const works = async (token) => (await gate.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${token}` } })).status;

  test("the provider's logout token ends every session of that user", async () => {
    const first = await signedInSub();
    const second = await signedInSub();
    const response = await post(await op.logoutToken(first.sub));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(await works(first.token), 401);
    assert.equal(await works(second.token), 401);
  });

  test("forged, mistyped or replayed logout tokens are refused (400) and end nothing", async () => {
    const { token, sub } = await signedInSub();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: op.issuer, aud: CLIENT_ID, sub, iat: now, exp: now + 120, jti: "j-" + now, events: { "http://schemas.openid.net/event/backchannel-logout": {} } };
    const replayed = await op.logoutToken(sub);
    assert.equal((await post(replayed)).status, 200);
    const fresh = await signedInSub();
    const cases = [
      ["untyped", await op.signWithProviderKey(claims)],
      ["with a nonce", await op.signWithProviderKey({ ...claims, nonce: "n" }, { typ: "logout+jwt" })],
      ["without the event", await op.signWithProviderKey({ ...claims, events: {} }, { typ: "logout+jwt" })],
      ["for another client", await op.signWithProviderKey({ ...claims, aud: "another-client" }, { typ: "logout+jwt" })],
      ["naming only a provider session", await op.signWithProviderKey({ ...claims, sub: undefined, sid: "s1" }, { typ: "logout+jwt" })],
      ["old", await op.signWithProviderKey({ ...claims, iat: now - 900, exp: undefined }, { typ: "logout+jwt" })],
      ["unsigned", `${b64url({ alg: "none", typ: "logout+jwt" })}.${b64url(claims)}.`],
      ["replayed", replayed],
      ["empty", ""],
    ];
    for (const [name, logoutToken] of cases) {
      const response = await post(logoutToken);
      assert.equal(response.status, 400, name);
      assert.equal((await response.json()).error, "invalid_request", name);
    }
    assert.equal(await works(fresh.token), 200, "no forged token ended the session");
    assert.equal(await works(token), 401, "the genuine one did, once");
  });
});

describe("configuration", () => {
  test("a half configuration is misconfigured, naming the variables", async () => {
    const g = await startGate({ vars: { OIDC_ISSUER: op.issuer } });
    try {
      assert.equal((await g.fetch("/dashboard")).status, 500);
      const detail = g.logs.find((l) => l.reason === "misconfigured")?.detail ?? "";
      for (const name of ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_ALLOWED_EMAILS"]) assert.match(detail, new RegExp(name));
    } finally {
      await g.close();
    }
  });

  test("with OIDC_ISSUER set, browsers without a session are sent to sign in at the edge", async () => {
    const response = await gate.fetch("/dashboard", { headers: { accept: "text/html" } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/.sessiongate/oidc/start?return_to=/dashboard");
  });
});
