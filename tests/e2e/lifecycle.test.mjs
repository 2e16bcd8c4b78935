// A session's life from the outside: login handoff, use, re-stamp, expiry,
// logout, and the origin's own directives.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  ASSERTION_KEY, COOKIE, HANDOFF_KEY, cookieValue, handoff, idHash, jwtClaims, jwtVerifies, login, mintToken, now,
  putSession, sessionCookies, signJwt, startGate, tokenParts, withSession,
} from "./harness.mjs";

let gate;
before(async () => (gate = await startGate()));
after(() => gate.close());
beforeEach(() => {
  gate.received.length = 0;
  gate.origin = () => Response.json({ from: "origin" });
});

const status = async (token, path = "/dashboard") =>
  (await gate.fetch(path, { headers: withSession(token) })).status;

describe("login", () => {
  test("sets exactly one cookie with every attribute of DESIGN §7", async () => {
    gate.origin = () => new Response("welcome", { headers: { "sessiongate-login": handoff("alice") } });
    const response = await gate.fetch("/login", { method: "POST" });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "welcome", "the origin's response is otherwise intact");
    assert.equal(response.headers.get("sessiongate-login"), null, "the handoff is stripped");
    const cookies = response.headers.getSetCookie();
    assert.equal(cookies.length, 1);
    assert.match(cookies[0], /^__Host-sg=sg1\.k1\.[A-Za-z0-9_-]{43}\.\d+\.[A-Za-z0-9_-]{22}; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=43200$/);    assert.equal(response.headers.get("cache-control"), "no-store", "a response carrying a session is never cached");
  });

  test("stores only the id's hash, with claims, and the token then authenticates", async () => {
    const token = await login(gate, "alice", { claims: { role: "editor" } });
    const { id } = tokenParts(token);
    const record = JSON.parse(await gate.kv.get(`s:${idHash(id)}`));
    assert.deepEqual(Object.keys(record).sort(), ["abs_exp", "auth_time", "claims", "iat", "uid", "v"]);
    assert.equal(record.uid, "alice");
    assert.equal(record.abs_exp - record.iat, 43200);
    const { keys } = await gate.kv.list();
    assert.ok(keys.every((k) => !k.name.includes(id)), "the raw id is never a key");
    assert.ok(keys.some((k) => k.name === `u:alice:${idHash(id)}`), "indexed under the user");
    assert.equal(await status(token), 200);
  });

  test("ends the session the request came with (no fixation)", async () => {
    const planted = await login(gate, "mallory");
    const fresh = await login(gate, "alice", { cookie: planted });
    assert.notEqual(tokenParts(fresh).id, tokenParts(planted).id);
    assert.equal(await status(planted), 401);
    assert.equal(await status(fresh), 200);
  });

  test("a bad handoff is ignored: no cookie, no session, response intact", async () => {
    const forgeries = [
      signJwt(HANDOFF_KEY, { sub: "alice", exp: now() + 60 }, { alg: "none" }),
      signJwt(HANDOFF_KEY, { sub: "alice", exp: now() + 60 }, { alg: "HS512" }),
      signJwt(ASSERTION_KEY, { sub: "alice", exp: now() + 60 }),
      handoff("alice", { exp: now() - 1 }),
      handoff("alice", { exp: now() + 600 }),
      signJwt(HANDOFF_KEY, { exp: now() + 60 }),
      handoff("alice", { claims: { big: "x".repeat(2000) } }),
    ];
    for (const forged of forgeries) {
      gate.origin = () => new Response("origin body", { status: 201, headers: { "sessiongate-login": forged } });
      const response = await gate.fetch("/login", { method: "POST" });
      assert.equal(response.status, 201);
      assert.equal(await response.text(), "origin body");
      assert.equal(response.headers.get("sessiongate-login"), null);
      assert.deepEqual(response.headers.getSetCookie(), []);
    }
    const rejected = gate.logs.filter((l) => l.event === "login_rejected").map((l) => l.detail);
    assert.deepEqual(rejected.slice(-forgeries.length), [
      "jwt_alg_not_hs256", "jwt_alg_not_hs256", "jwt_bad_signature", "expired", "exp_too_far_ahead", "missing_sub",
      "claims_too_large",
    ]);
  });
});

describe("an authenticated request", () => {
  test("carries an assertion whose htm and htu match the forwarded request", async () => {
    const token = await login(gate, "alice", { claims: { tenant: "t1" } });
    gate.received.length = 0;
    const response = await gate.fetch("/api/orders/7?expand=lines", {
      method: "PATCH",
      headers: withSession(token, { origin: "https://app.example.com", "content-type": "application/json" }),
      body: JSON.stringify({ qty: 2 }),
    });
    assert.equal(response.status, 200);
    const [forwarded] = gate.received;
    assert.equal(forwarded.method, "PATCH");
    assert.equal(forwarded.body, '{"qty":2}', "the body reaches the origin intact");
    const assertion = forwarded.headers["sessiongate-assertion"];
    assert.ok(jwtVerifies(assertion, ASSERTION_KEY));
    const claims = jwtClaims(assertion);
    assert.equal(claims.htm, "PATCH");
    assert.equal(claims.htu, "/api/orders/7?expand=lines");
    assert.equal(new URL(forwarded.url).pathname + new URL(forwarded.url).search, claims.htu);
    assert.equal(claims.sid, idHash(tokenParts(token).id).slice(0, 16));
    const record = JSON.parse(await gate.kv.get(`s:${idHash(tokenParts(token).id)}`));
    assert.equal(claims.auth_time, record.iat, "auth_time is when the user logged in");
    assert.deepEqual(claims.claims, { tenant: "t1" });
  });

  test("is re-stamped after a quarter of the idle window, keeping its id", async () => {
    const { id } = await putSession(gate, { uid: "alice" });
    const stale = mintToken({ id, stamp: now() - 600 });
    const response = await gate.fetch("/dashboard", { headers: withSession(stale) });
    assert.equal(response.status, 200);
    const [set] = sessionCookies(response);
    const restamped = tokenParts(cookieValue(set));
    assert.equal(restamped.id, id);
    assert.ok(restamped.stamp >= now() - 5);
    const fresh = await gate.fetch("/dashboard", { headers: withSession(cookieValue(set)) });
    assert.deepEqual(sessionCookies(fresh), [], "a fresh stamp is not re-stamped");
  });

  test("keeps the origin's own Set-Cookie headers and appends its own", async () => {
    const { id } = await putSession(gate, { uid: "alice" });
    gate.origin = () => {
      const headers = new Headers();
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/");
      return new Response("ok", { headers });
    };
    const response = await gate.fetch("/dashboard", { headers: withSession(mintToken({ id, stamp: now() - 600 })) });
    const cookies = response.headers.getSetCookie();
    assert.deepEqual(cookies.slice(0, 2), ["a=1; Path=/", "b=2; Path=/"]);
    assert.equal(cookies.length, 3);
    assert.ok(cookies[2].startsWith(`${COOKIE}=`));
  });
});

describe("expiry", () => {
  test("an idle-expired token is rejected as expired without reaching the origin", async () => {
    const { id } = await putSession(gate, { uid: "alice" });
    const response = await gate.fetch("/dashboard", { headers: withSession(mintToken({ id, stamp: now() - 1800 })) });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).reason, "expired");
    assert.match(sessionCookies(response)[0], /Max-Age=0/);
    assert.equal(gate.received.length, 0);
  });

  test("an absolute-expired session is rejected as expired and its record deleted", async () => {
    const { id, token } = await putSession(gate, { uid: "alice", iat: now() - 43300, absExp: now() - 100 });
    const response = await gate.fetch("/dashboard", { headers: withSession(token) });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).reason, "expired");
    assert.equal(await gate.kv.get(`s:${idHash(id)}`), null);
    assert.equal(await gate.kv.get(`u:alice:${idHash(id)}`), null);
    assert.equal(gate.received.length, 0);
  });
});

describe("logout", () => {
  test("POST /.sessiongate/logout ends the session and sends a browser to /", async () => {
    const token = await login(gate, "alice");
    gate.received.length = 0;
    const response = await gate.fetch("/.sessiongate/logout", {
      method: "POST",
      headers: withSession(token, { accept: "text/html", origin: "https://app.example.com" }),
    });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/");
    assert.match(sessionCookies(response)[0], /Max-Age=0/);
    assert.equal(response.headers.get("clear-site-data"), '"cache"');
    assert.equal(await status(token), 401);
    assert.equal(gate.received.length, 0, "the edge answers it itself");
  });

  test("?scope=all ends every session of that user and none of another's", async () => {
    const [a1, a2, b] = [await login(gate, "alice"), await login(gate, "alice"), await login(gate, "bob")];
    const response = await gate.fetch("/.sessiongate/logout?scope=all", { method: "POST", headers: withSession(a1) });
    assert.equal(response.status, 204);
    assert.equal(await status(a1), 401);
    assert.equal(await status(a2), 401);
    assert.equal(await status(b), 200);
  });

  test("the origin's Sessiongate-Logout directive ends the current session or all", async () => {
    const [a1, a2] = [await login(gate, "carol"), await login(gate, "carol")];
    gate.origin = () => new Response("bye", { headers: { "sessiongate-logout": "current" } });
    let response = await gate.fetch("/account/logout", { headers: withSession(a1) });
    assert.equal(response.headers.get("sessiongate-logout"), null);
    assert.match(sessionCookies(response)[0], /Max-Age=0/);
    gate.origin = () => Response.json({});
    assert.equal(await status(a1), 401);
    assert.equal(await status(a2), 200);

    const a3 = await login(gate, "carol");
    gate.origin = () => new Response("bye", { headers: { "sessiongate-logout": "all" } });
    response = await gate.fetch("/account/logout", { headers: withSession(a3) });
    gate.origin = () => Response.json({});
    assert.equal(await status(a2), 401);
    assert.equal(await status(a3), 401);
  });

  test("the directive on a public page ends the session its cookie names, not just the cookie", async () => {
    const [d1, d2, e] = [await login(gate, "dora"), await login(gate, "dora"), await login(gate, "erin")];
    gate.origin = () => new Response("bye", { headers: { "sessiongate-logout": "current" } });
    let response = await gate.fetch("/login", { headers: withSession(d1) });
    assert.match(sessionCookies(response)[0], /Max-Age=0/);
    gate.origin = () => Response.json({});
    assert.equal(await status(d1), 401, "a copy of the cookie is no use afterwards");
    assert.equal(await status(d2), 200);

    gate.origin = () => new Response("bye", { headers: { "sessiongate-logout": "all" } });
    response = await gate.fetch("/static/logout.html", { headers: withSession(d2) });
    gate.origin = () => Response.json({});
    assert.equal(await status(d2), 401);
    assert.equal(await status(e), 200, "another user's session stays");
  });
});

test("a password change can end every other session and start a fresh one in one response", async () => {
  const [laptop, phone] = [await login(gate, "gina"), await login(gate, "gina")];
  gate.origin = () =>
    new Response("password changed", { headers: { "sessiongate-logout": "all", "sessiongate-login": handoff("gina") } });
  const response = await gate.fetch("/account/password", {
    method: "POST",
    headers: withSession(laptop, { origin: "https://app.example.com" }),
  });
  const [fresh] = sessionCookies(response);
  assert.ok(fresh && !/Max-Age=0/.test(fresh), "a new session cookie");
  gate.origin = () => Response.json({});
  assert.equal(await status(laptop), 401);
  assert.equal(await status(phone), 401);
  assert.equal(await status(cookieValue(fresh)), 200);
});

test("GET /.sessiongate/session describes the current session, 401 without one", async () => {
  const token = await login(gate, "dave", { claims: { role: "viewer" } });
  const response = await gate.fetch("/.sessiongate/session", { headers: withSession(token) });
  assert.equal(response.status, 200);
  const session = await response.json();
  assert.equal(session.uid, "dave");
  assert.deepEqual(session.claims, { role: "viewer" });
  assert.equal(session.abs_exp - session.iat, 43200);
  assert.ok(session.idle_exp > now() + 1700);
  const anonymous = await gate.fetch("/.sessiongate/session");
  assert.equal(anonymous.status, 401);
});

test("a user sees their sessions and can end one of the others", async () => {
  const [here, there] = [await login(gate, "hank"), await login(gate, "hank")];
  const listed = await (await gate.fetch("/.sessiongate/sessions", { headers: withSession(here) })).json();
  assert.equal(listed.sessions.length, 2);
  const other = listed.sessions.find((s) => !s.current);
  assert.equal(other.sid, idHash(tokenParts(there).id).slice(0, 16));
  const ended = await gate.fetch(`/.sessiongate/sessions/${other.sid}`, {
    method: "DELETE",
    headers: withSession(here, { "sec-fetch-site": "same-origin" }),
  });
  assert.equal(ended.status, 204);
  assert.equal(await status(there), 401);
  assert.equal(await status(here), 200);
});

describe("the user's own sessions", () => {
  test("past MAX_SESSIONS_PER_USER a login ends the user's oldest session", async () => {
    const limited = await startGate({ vars: { MAX_SESSIONS_PER_USER: "2" } });
    try {
      // Login times are whole seconds: these two began a minute apart.
      const { token: oldest } = await putSession(limited, { uid: "ida", iat: now() - 120 });
      const { token: older } = await putSession(limited, { uid: "ida", iat: now() - 60 });
      const newest = await login(limited, "ida");
      const status = async (token) => (await limited.fetch("/dashboard", { headers: withSession(token) })).status;
      assert.equal(await status(oldest), 401, "the oldest made room");
      assert.equal(await status(older), 200);
      assert.equal(await status(newest), 200);
      const listed = await (await limited.fetch("/.sessiongate/sessions", { headers: withSession(newest) })).json();
      assert.equal(listed.sessions.length, 2);
    } finally {
      await limited.close();
    }
  });

  test("ending another session after REAUTH_AFTER sends the user to log in again", async () => {
    const { token: stale } = await putSession(gate, { uid: "jan", iat: now() - 16 * 60 });
    const fresh = await login(gate, "jan");
    const listed = await (await gate.fetch("/.sessiongate/sessions", { headers: withSession(stale) })).json();
    const other = listed.sessions.find((s) => !s.current).sid;
    const same = { origin: "https://app.example.com" };
    let response = await gate.fetch(`/.sessiongate/sessions/${other}`, { method: "DELETE", headers: withSession(stale, same) });
    assert.equal(response.status, 403);
    assert.equal((await response.json()).reason, "reauthentication_required");
    response = await gate.fetch(`/.sessiongate/sessions/${other}`, { method: "POST", headers: withSession(stale, { ...same, accept: "text/html" }) });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/login?return_to=/.sessiongate/sessions&max_age=900");
    assert.equal(await status(fresh), 200, "nothing ended");
    // After logging in again, the same request ends the other session.
    const again = await login(gate, "jan");
    const mine = await (await gate.fetch("/.sessiongate/sessions", { headers: withSession(again) })).json();
    const target = mine.sessions.find((s) => !s.current && s.iat < now() - 60).sid;
    response = await gate.fetch(`/.sessiongate/sessions/${target}`, { method: "DELETE", headers: withSession(again, same) });
    assert.equal(response.status, 204);
    assert.equal(await status(stale), 401);
  });

  test("a browser gets a page: each session's device and start, this device, and forms", async () => {
    const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36";
    gate.origin = () => new Response("welcome", { headers: { "sessiongate-login": handoff("kim") } });
    const response = await gate.fetch("/login", { method: "POST", headers: { "user-agent": ua } });
    const token = cookieValue(sessionCookies(response)[0]);
    gate.origin = () => Response.json({});
    const other = await login(gate, "kim");
    const page = await gate.fetch("/.sessiongate/sessions", { headers: withSession(other, { accept: "text/html" }) });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /^text\/html/);
    assert.match(page.headers.get("content-security-policy"), /frame-ancestors 'none'/);
    const html = await page.text();
    assert.match(html, /Chrome on Windows/);
    assert.match(html, /\(this device\)/);
    assert.ok(!html.includes(ua), "the raw User-Agent is never shown");
    assert.match(html, /action="\/\.sessiongate\/logout\?scope=all"/);
    const sid = html.match(/action="\/\.sessiongate\/sessions\/([A-Za-z0-9_-]{16})"/)[1];
    const end = await gate.fetch(`/.sessiongate/sessions/${sid}`, {
      method: "POST",
      headers: withSession(other, { origin: "https://app.example.com", accept: "text/html" }),
    });
    assert.equal(end.status, 303);
    assert.equal(end.headers.get("location"), "/.sessiongate/sessions");
    assert.equal(await status(token), 401);
    assert.ok(!gate.output.includes(ua), "nor logged");
  });
});
