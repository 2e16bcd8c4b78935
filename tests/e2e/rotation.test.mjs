// Key rotation: SESSION_KEYS lists kid:secret pairs; the first mints and
// every listed one verifies, so removing a kid ends its sessions at once.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KEYS, cookieValue, login, mintToken, putSession, sessionCookies, startGate, tokenParts, withSession } from "./harness.mjs";

// Both gates see the same sessions: the test writes each record to both.
let rotated, retired;
before(async () => {
  rotated = await startGate({ vars: { SESSION_KEYS: `k1:${KEYS.k1},k0:${KEYS.k0}` } });
  retired = await startGate({ vars: { SESSION_KEYS: `k1:${KEYS.k1}` } });
});
after(async () => Promise.all([rotated.close(), retired.close()]));

test("a token under the old kid still verifies while it is listed, and is re-stamped under the new one", async () => {
  const { id } = await putSession(rotated, { uid: "alice" });
  const old = mintToken({ kid: "k0", id });
  const response = await rotated.fetch("/dashboard", { headers: withSession(old) });
  assert.equal(response.status, 200);
  assert.equal(rotated.received.at(-1).headers["x-sessiongate-user"], "alice");
  const restamped = tokenParts(cookieValue(sessionCookies(response)[0]));
  assert.deepEqual([restamped.kid, restamped.id], ["k1", id]);
});

test("new sessions are minted under the first kid", async () => {
  const token = await login(rotated, "bob");
  assert.equal(tokenParts(token).kid, "k1");
});

test("once the old kid is removed its tokens are invalid", async () => {
  const { id } = await putSession(retired, { uid: "alice" });
  const old = mintToken({ kid: "k0", id });
  const response = await retired.fetch("/dashboard", { headers: withSession(old) });
  assert.equal(response.status, 401);
  assert.equal((await response.json()).reason, "invalid");
  assert.equal(retired.received.length, 0);
  const current = await retired.fetch("/dashboard", { headers: withSession(mintToken({ kid: "k1", id })) });
  assert.equal(current.status, 200, "the same session under the current kid is fine");
});
