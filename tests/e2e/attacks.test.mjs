// The attack suite: what an attacker controls — tokens, cookies, headers,
// paths, the site a request comes from, redirects, handoffs, the admin API,
// the method — never gets a request past the edge unchecked. Every case
// asserts the status, whether the origin was called, and what it received.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  ADMIN_TOKEN, ASSERTION_KEY, COOKIE, HANDOFF_KEY, KEYS, handoff, jwtClaims, login, mintToken, newId, now, putSession,
  signJwt, startGate, withSession,
} from "./harness.mjs";

let gate, token, id;
before(async () => {
  gate = await startGate();
  ({ token, id } = await putSession(gate, { uid: "alice" }));
});
after(() => gate.close());
beforeEach(() => {
  gate.received.length = 0;
  gate.origin = () => Response.json({ from: "origin" });
});

const json = { accept: "application/json" };
const html = { accept: "text/html" };

async function expectRejected(response, status, reason) {
  assert.equal(response.status, status);
  if (reason) assert.equal((await response.json()).reason, reason);
  assert.equal(gate.received.length, 0, "the origin was not called");
}

const forwarded = () => {
  assert.equal(gate.received.length, 1, "the origin was called once");
  return gate.received[0];
};

describe("token and cookie malformations are invalid and never reach the origin", () => {
  const good = () => mintToken({ id });
  const cases = {
    "truncated token": () => good().slice(0, -3),
    "padded token": () => `${good()}==`,
    "padded id": () => good().replace(/\.([A-Za-z0-9_-]{43})\./, ".$1=."),
    "wrong version": () => good().replace(/^sg1\./, "sg2."),
    "unknown kid": () => mintToken({ kid: "k0", secret: KEYS.k0, id }),
    "upper-case kid": () => mintToken({ kid: "K1", secret: KEYS.k1, id }),
    "stamp in the future": () => mintToken({ id, stamp: now() + 3600 }),
    "overflowed stamp": () => mintToken({ id, stamp: "18446744073709551616" }),
    "negative stamp": () => mintToken({ id, stamp: "-1" }),
    "leading-zero stamp": () => mintToken({ id, stamp: `0${now()}` }),
    "tag from another key": () => mintToken({ id, secret: "another-secret-another-secret-another" }),
    "a 10 KB token": () => `sg1.k1.${"A".repeat(10 * 1024)}`,
    "an extra part": () => `${good()}.x`,
    "an empty value": () => "",
    "a quoted token": () => `"${good()}"`,
  };
  for (const [name, make] of Object.entries(cases)) {
    test(name, async () => {
      const response = await gate.fetch("/dashboard", { headers: { ...json, cookie: `${COOKIE}=${make()}` } });
      await expectRejected(response, 401, "invalid");
    });
  }

  test("a duplicated session cookie, even when both copies are valid", async () => {
    const response = await gate.fetch("/dashboard", { headers: { ...json, cookie: `${COOKIE}=${token}; ${COOKIE}=${token}` } });
    await expectRejected(response, 401, "invalid");
  });

  test("the session cookie in a second Cookie header", async () => {
    const raw = `GET /dashboard HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nCookie: a=1\r\nCookie: ${COOKIE}=${token}\r\nCookie: ${COOKIE}=${token}\r\n\r\n`;
    assert.equal(await gate.raw(raw), 401);
    assert.equal(gate.received.length, 0);
  });

  test("control and non-UTF-8 bytes in the cookie", async () => {
    const raw = Buffer.concat([
      Buffer.from(`GET /dashboard HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nCookie: ${COOKIE}=`),
      Buffer.from([0xc3, 0x28, 0xff, 0x01, 0x7f, 0x80]),
      Buffer.from(`${token}\r\n\r\n`),
    ]);
    assert.equal(await gate.raw(raw), 401);
    assert.equal(gate.received.length, 0);
  });

  test("a token in the URL is never accepted", async () => {
    for (const query of [`${COOKIE}=${token}`, `token=${token}`, `session=${token}`]) {
      const response = await gate.fetch(`/dashboard?${query}`, { headers: json });
      await expectRejected(response, 401, "missing");
    }
  });

  test("bytes outside ASCII in the cookie", async () => {
    const response = await gate.fetch("/dashboard", { headers: { ...json, cookie: `${COOKIE}=\u00ff\u00fe${token}` } });
    await expectRejected(response, 401, "invalid");
  });
});

describe("spoofed Sessiongate headers, in every spelling", () => {
  const spoofed = {
    "Sessiongate-Assertion": "forged.jwt.value",
    "X-Sessiongate-User": "admin",
    "x-sessiongate-user-id": "1",
    "X-SESSIONGATE-CLAIMS": "{}",
    "SESSIONGATE-LOGIN": handoff("admin"),
    "sessiongate-logout": "all",
    "SessionGate-Anything": "1",
  };
  const ours = (headers) => Object.keys(headers).filter((name) => /^(x-)?sessiongate-/i.test(name));

  test("are stripped on a public path", async () => {
    const response = await gate.fetch("/static/app.css", { headers: spoofed });
    assert.equal(response.status, 200);
    assert.deepEqual(ours(forwarded().headers), []);
  });

  test("are replaced by the edge's own on a protected path", async () => {
    const response = await gate.fetch("/dashboard", { headers: withSession(token, spoofed) });
    assert.equal(response.status, 200);
    const { headers } = forwarded();
    assert.deepEqual(ours(headers).sort(), ["sessiongate-assertion", "x-sessiongate-user"]);
    assert.equal(headers["x-sessiongate-user"], "alice");
    assert.equal(jwtClaims(headers["sessiongate-assertion"]).sub, "alice");
  });

  test("never authenticate a request on a protected path", async () => {
    await expectRejected(await gate.fetch("/dashboard", { headers: { ...json, ...spoofed } }), 401, "missing");
  });

  test("do nothing on a reserved path", async () => {
    const response = await gate.fetch("/.sessiongate/session", { headers: { ...json, ...spoofed } });
    await expectRejected(response, 401, "missing");
  });

  test("a replayed login handoff in a request starts no session", async () => {
    const response = await gate.fetch("/login", { method: "POST", headers: { "sessiongate-login": handoff("mallory") } });
    assert.equal(response.status, 200);
    assert.deepEqual(response.headers.getSetCookie(), []);
    assert.equal(forwarded().headers["sessiongate-login"], undefined);
  });

  test("a logout directive in a request ends no session", async () => {
    await gate.fetch("/dashboard", { headers: withSession(token, { "sessiongate-logout": "all" }) });
    assert.equal((await gate.fetch("/dashboard", { headers: withSession(token) })).status, 200);
  });
});

describe("path tricks against PUBLIC_PATHS (/login, /static/*)", () => {
  // fetch resolves plain and %2e dot segments client-side; the raw cases
  // below send them as they are.
  const cases = [
    ["/static/../admin", 401, "resolved to /admin, protected"],
    ["/static/%2e%2e/admin", 401, "resolved to /admin, protected"],
    ["/static/%252e%252e/admin", 400, "double encoding"],
    ["/static/%25%32%65%25%32%65/admin", 400, "double encoding made by decoding (found by fuzzing)"],
    ["/static/%25%32%66admin", 400, "an encoded slash made by decoding"],
    ["/static/%2e%2e%2fadmin", 400, "encoded slash"],
    ["/static%2F..%2Fadmin", 400, "encoded slash"],
    ["/static/..%5Cadmin", 400, "encoded backslash"],
    ["/static/..;/admin", 400, "dot segment before a ; parameter"],
    ["/static;x/../admin", 401, "resolved, protected"],
    ["/static/x%00.css", 400, "NUL"],
    ["//static/app.css", 401, "empty first segment is not /static/"],
    ["//admin", 401, "protected"],
    ["/STATIC/app.css", 401, "case-sensitive"],
    ["/Login", 401, "case-sensitive"],
    ["/login.", 400, "a trailing dot, which Windows drops: /login to such an origin"],
    ["/static", 401, "the prefix itself is not under it"],
    ["/static/.../admin", 400, "all-dots segment"],
    ["/static/%EF%BC%8E%EF%BC%8E/admin", 400, "fullwidth full stops, .. under NFKC"],
    ["/static/%E2%80%A4%E2%80%A4/admin", 400, "one-dot leaders, .. under NFKC"],
    ["/static/%EF%BC%8F..%EF%BC%8Fadmin", 400, "fullwidth solidus, / under NFKC"],
    ["/static/%E2%80%A5/admin", 400, "two-dot leader, .. under NFKC"],
    ["/static/..%EF%BC%BCadmin", 400, "fullwidth reverse solidus, \\ under NFKC"],
  ];
  for (const [path, status, why] of cases) {
    test(`${path} → ${status} (${why})`, async () => {
      const response = await gate.fetch(path, { headers: json });
      await expectRejected(response, status);
    });
  }

  for (const [path, why] of [
    ["/static/../admin", "plain dot segments"],
    ["/static/%2e%2e/admin", "encoded dot segments"],
    ["/static\\..\\admin", "raw backslashes"],
  ]) {
    test(`${path} sent raw is refused (${why})`, async () => {
      const status = await gate.raw(`GET ${path} HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n`);
      assert.ok([400, 401].includes(status), `status ${status}`);
      assert.equal(gate.received.length, 0);
    });
  }

  test("a look-alike is refused with its reason, a mere non-ASCII name is not", async () => {
    const response = await gate.fetch("/static/%EF%BC%8E%EF%BC%8E/admin", { headers: json });
    assert.deepEqual(await response.json(), { error: "bad_request", reason: "unicode_lookalike" });
    assert.equal((await gate.fetch("/static/caf%C3%A9.css")).status, 200);
  });

  test("the origin receives exactly the normalised path it was classified by", async () => {
    const response = await gate.fetch("/static/%61pp.css?v=%2F");
    assert.equal(response.status, 200);
    assert.equal(forwarded().url, "http://origin.test/static/app.css?v=%2F");
  });
});

describe("cross-site request forgery", () => {
  const post = (headers) => gate.fetch("/api/transfer", { method: "POST", headers: withSession(token, headers), body: "amount=1" });

  for (const [name, headers] of [
    ["cross-site", { "sec-fetch-site": "cross-site", origin: "https://evil.example" }],
    ["same-site sibling", { "sec-fetch-site": "same-site", origin: "https://blog.example.com" }],
    ["sibling Origin without Sec-Fetch-Site", { origin: "https://blog.example.com" }],
    ["null Origin", { origin: "null" }],
    ["http Origin for an https site", { origin: "http://app.example.com" }],
  ]) {
    test(`a ${name} POST gets 403`, async () => {
      const response = await post(headers);
      assert.equal(response.status, 403);
      assert.deepEqual(await response.json(), { error: "forbidden", reason: "cross_site" });
      assert.equal(gate.received.length, 0);
    });
  }

  test("a POST without Sec-Fetch-Site or Origin (not a browser) is forwarded", async () => {
    assert.equal((await post({})).status, 200);
    assert.equal(forwarded().body, "amount=1");
  });

  test("a same-origin POST is forwarded", async () => {
    assert.equal((await post({ "sec-fetch-site": "same-origin", origin: "https://app.example.com" })).status, 200);
    assert.equal(forwarded().method, "POST");
  });

  test("a cross-site logout is refused and the session kept", async () => {
    const response = await gate.fetch("/.sessiongate/logout", { method: "POST", headers: withSession(token, { origin: "https://evil.example" }) });
    assert.equal(response.status, 403);
    assert.equal((await gate.fetch("/dashboard", { headers: withSession(token) })).status, 200);
  });
});

describe("open redirect through return_to", () => {
  for (const [value, why] of [
    ["//evil.example", "scheme-relative"],
    ["/\\evil.example", "backslash"],
    ["https://evil.example", "absolute"],
    ["%2F%2Fevil.example", "encoded scheme-relative"],
    ["/%2F/evil.example", "encoded slash after the first"],
    ["%252F%252Fevil.example", "double-encoded"],
    ["javascript:alert(1)", "not a path"],
  ]) {
    test(`${value} is dropped on the way to the login page (${why})`, async () => {
      const response = await gate.fetch(`/login?return_to=${encodeURIComponent(value)}&lang=en`);
      assert.equal(response.status, 200);
      assert.equal(forwarded().url, "http://origin.test/login?lang=en");
    });
  }

  test("a local path survives", async () => {
    await gate.fetch(`/login?return_to=${encodeURIComponent("/orders?page=2")}`);
    assert.equal(new URL(forwarded().url).searchParams.get("return_to"), "/orders?page=2");
  });

  test("the edge's own redirect carries only the local path", async () => {
    const response = await gate.fetch("/orders?page=2", { headers: html });
    assert.equal(response.headers.get("location"), "/login?return_to=/orders%3Fpage%3D2");
  });

  for (const path of ["//evil.example/x", "///evil.example/x", "//evil.example", "/%2F/evil.example"]) {
    test(`the edge never sends a browser at ${path} to log in with that return_to`, async () => {
      const response = await gate.fetch(path, { headers: html });
      const location = response.headers.get("location") ?? "";
      if (response.status === 303) {
        assert.equal(location, "/login", "no return_to: the request's path is not a local one");
      } else {
        assert.equal(response.status, 400, "or the path is refused outright");
      }
      assert.ok(!/evil/.test(location), location);
      assert.equal(gate.received.length, 0);
    });
  }
});

describe("login handoff forgery", () => {
  const forgeries = {
    "alg none": signJwt(HANDOFF_KEY, { sub: "mallory", exp: now() + 60 }, { alg: "none" }),
    "alg none, unsigned": `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "mallory", exp: now() + 60 })).toString("base64url")}.`,
    HS512: signJwt(HANDOFF_KEY, { sub: "mallory", exp: now() + 60 }, { alg: "HS512", typ: "JWT" }),
    "wrong key": signJwt(ASSERTION_KEY, { sub: "mallory", exp: now() + 60 }),
    expired: handoff("mallory", { exp: now() - 1 }),
    "exp too far ahead": handoff("mallory", { exp: now() + 3600 }),
    "missing exp": signJwt(HANDOFF_KEY, { sub: "mallory" }),
    "missing sub": signJwt(HANDOFF_KEY, { exp: now() + 60 }),
    "oversized claims": handoff("mallory", { claims: { blob: "x".repeat(1100) } }),
    "non-string claims": handoff("mallory", { claims: { admin: true } }),
  };
  for (const [name, forged] of Object.entries(forgeries)) {
    test(`${name}: no session, response otherwise intact`, async () => {
      gate.origin = () => new Response("origin page", { status: 200, headers: { "sessiongate-login": forged, "x-kept": "1" } });
      const response = await gate.fetch("/login", { method: "POST" });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "origin page");
      assert.equal(response.headers.get("x-kept"), "1");
      assert.equal(response.headers.get("sessiongate-login"), null);
      assert.deepEqual(response.headers.getSetCookie(), []);
      assert.equal(gate.logs.at(-1).event, "login_rejected");
    });
  }
});

describe("admin API", () => {
  const path = "/.sessiongate/admin/users/alice/sessions";
  test("no token → 401", async () => expectRejected(await gate.fetch(path), 401, "missing"));
  test("wrong token → 403", async () =>
    expectRejected(await gate.fetch(path, { headers: { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}x` } }), 403, "bad_token"));
  test("token in the query → 401", async () => expectRejected(await gate.fetch(`${path}?token=${ADMIN_TOKEN}`), 401, "missing"));
  test("token as a session cookie → 401", async () =>
    expectRejected(await gate.fetch(path, { headers: { cookie: `${COOKIE}=${ADMIN_TOKEN}` } }), 401, "missing"));
  test("the right token lists sessions, and nothing is forwarded", async () => {
    const response = await gate.fetch(path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).uid, "alice");
    assert.equal(gate.received.length, 0);
  });
});

describe("method override headers do not change the decision", () => {
  for (const header of ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]) {
    test(`a cross-site POST with ${header}: GET is still refused`, async () => {
      const response = await gate.fetch("/api/transfer", { method: "POST", headers: withSession(token, { origin: "https://evil.example", [header]: "GET" }) });
      await expectRejected(response, 403, "cross_site");
    });

    test(`${header}: DELETE on a cross-site GET is stripped before the origin`, async () => {
      const response = await gate.fetch("/api/items/1", { headers: withSession(token, { "sec-fetch-site": "cross-site", [header]: "DELETE" }) });
      assert.equal(response.status, 200);
      const { method, headers } = forwarded();
      assert.equal(method, "GET");
      assert.equal(headers[header.toLowerCase()], undefined);
      assert.equal(jwtClaims(headers["sessiongate-assertion"]).htm, "GET");
    });
  }
});

describe("HEAD is treated like GET", () => {
  test("without a session a HEAD navigation is redirected to login", async () => {
    const response = await gate.fetch("/dashboard", { method: "HEAD", headers: html });
    await expectRejected(response, 303);
    assert.equal(response.headers.get("location"), "/login?return_to=/dashboard");
  });

  test("with a forged token it is 401 invalid", async () => {
    const response = await gate.fetch("/dashboard", { method: "HEAD", headers: { cookie: `${COOKIE}=${mintToken({ secret: "x".repeat(40) })}` } });
    assert.equal(response.status, 401);
    assert.equal(gate.received.length, 0);
  });

  test("with a session it is forwarded with an assertion for HEAD", async () => {
    const response = await gate.fetch("/dashboard", { method: "HEAD", headers: withSession(token) });
    assert.equal(response.status, 200);
    const { method, headers } = forwarded();
    assert.equal(method, "HEAD");
    assert.equal(jwtClaims(headers["sessiongate-assertion"]).htm, "HEAD");
  });
});

describe("bad-token throttling", () => {
  const client = { "cf-connecting-ip": "203.0.113.66" };

  test("a client past BAD_TOKEN_LIMIT gets 429, even with a valid session, until the window ends", async () => {
    for (let i = 0; i < 30; i++) {
      const forged = mintToken({ id: newId(), secret: "guess-guess-guess-guess-guess-guess" });
      const response = await gate.fetch("/dashboard", { headers: { ...client, cookie: `${COOKIE}=${forged}` } });
      assert.equal(response.status, 401);
    }
    const response = await gate.fetch("/dashboard", { headers: withSession(token, client) });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get("retry-after")) > 0);
    assert.deepEqual(await response.json(), { error: "too_many_requests" });
    assert.equal(gate.received.length, 0);
    const other = await gate.fetch("/dashboard", { headers: withSession(token, { "cf-connecting-ip": "198.51.100.9" }) });
    assert.equal(other.status, 200, "other clients are unaffected");
  });
});

test("the log-redaction guard itself catches a leak", async () => {
  const probe = await startGate();
  const session = await login(probe, "zoe");
  probe.output += `{"detail":"${session}"}\n`;
  await assert.rejects(probe.close(), /logged 1 sensitive value/);
});
