// A protected path, end to end: what reaches the origin and what does not.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  ASSERTION_KEY, AUDIENCE, COOKIE, KEYS, ORIGIN_URL, jwtClaims, jwtVerifies, mintToken, putSession,
  sessionCookies, startGate, withSession,
} from "./harness.mjs";

let gate;
before(async () => (gate = await startGate()));
after(() => gate.close());
beforeEach(() => (gate.received.length = 0));

describe("a request without a session cookie", () => {
  test("from an API client gets 401 JSON with reason missing", async () => {
    const response = await gate.fetch("/api/items", { headers: { accept: "application/json" } });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), "Session");
    assert.deepEqual(await response.json(), { error: "unauthenticated", reason: "missing" });
    assert.deepEqual(sessionCookies(response), [], "nothing to clear");
    assert.equal(gate.received.length, 0);
  });

  test("from a browser navigation is sent to the login page with return_to", async () => {
    const response = await gate.fetch("/dashboard?tab=2", { headers: { accept: "text/html,application/xhtml+xml" } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/login?return_to=/dashboard%3Ftab%3D2");
    assert.equal(gate.received.length, 0);
  });
});

test("a forged token gets 401 invalid, is cleared, and never reaches the origin", async () => {
  const forged = mintToken({ secret: "not-the-key-not-the-key-not-the-key-xx" });
  const response = await gate.fetch("/api/items", { headers: withSession(forged) });
  assert.equal(response.status, 401);
  assert.deepEqual(await response.json(), { error: "unauthenticated", reason: "invalid" });
  const [cleared] = sessionCookies(response);
  assert.match(cleared, /Max-Age=0/);
  assert.equal(gate.received.length, 0);
});

test("a valid token without a KV record gets 401 revoked", async () => {
  const response = await gate.fetch("/api/items", { headers: withSession(mintToken()) });
  assert.equal(response.status, 401);
  assert.equal((await response.json()).reason, "revoked");
  assert.equal(gate.received.length, 0);
});

test("a valid token whose record exists is forwarded with a verifiable assertion", async () => {
  const { token } = await putSession(gate, { uid: "alice", claims: { role: "admin" } });
  const response = await gate.fetch("/api/items?page=2", {
    method: "GET",
    headers: withSession(token, { cookie: `theme=dark; ${COOKIE}=${token}; lang=en` }),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { from: "origin" });
  assert.equal(gate.received.length, 1);
  const [forwarded] = gate.received;
  assert.equal(forwarded.url, `${ORIGIN_URL}/api/items?page=2`);
  assert.equal(forwarded.headers["x-sessiongate-user"], "alice");
  assert.equal(forwarded.headers.cookie, "theme=dark; lang=en", "the session cookie is removed, others kept");
  const assertion = forwarded.headers["sessiongate-assertion"];
  assert.ok(jwtVerifies(assertion, ASSERTION_KEY));
  const claims = jwtClaims(assertion);
  assert.equal(claims.iss, "sessiongate");
  assert.equal(claims.aud, AUDIENCE);
  assert.equal(claims.sub, "alice");
  assert.equal(claims.htm, "GET");
  assert.equal(claims.htu, "/api/items?page=2");
  assert.equal(claims.exp - claims.iat, 60);
  assert.deepEqual(claims.claims, { role: "admin" });
});

test("a key id that is not configured is invalid even with the right shape", async () => {
  const { id } = await putSession(gate);
  const response = await gate.fetch("/api/items", { headers: withSession(mintToken({ kid: "k0", secret: KEYS.k0, id })) });
  assert.equal(response.status, 401);
  assert.equal((await response.json()).reason, "invalid");
  assert.equal(gate.received.length, 0);
});
