// The isolate's copies of session records (issue 19, DESIGN §14): a record
// read from KV serves the session's later requests for RECORD_CACHE without
// another read. Changes behind the edge's back wait out the copy, never
// longer; whatever this location ends, it ends at once.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { ADMIN_TOKEN, SITE, idHash, login, putSession, startGate, tokenParts, withSession } from "./harness.mjs";

const LEDGER = { durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } } };
const until = (t) => sleep(Math.max(0, t - Date.now()));

/** A request with the session: its status and the error's reason. */
async function check(gate, token) {
  const response = await gate.fetch("/dashboard", { headers: withSession(token, { accept: "application/json" }) });
  return { status: response.status, reason: response.status === 200 ? (await response.text(), undefined) : (await response.json()).reason };
}
const admits = async (gate, token, message) => assert.deepEqual(await check(gate, token), { status: 200, reason: undefined }, message);
const denies = async (gate, token, message) => assert.deepEqual(await check(gate, token), { status: 401, reason: "revoked" }, message);
const health = async (gate) => (await gate.fetch("/.sessiongate/health")).json();
const recordKey = (token) => `s:${idHash(tokenParts(token).id)}`;

/** Every way this location ends a session, each after the session's record was copied. */
async function everyEndingHoldsAtOnce(gate) {
  const logout = (token, query = "") =>
    gate.fetch(`/.sessiongate/logout${query}`, { method: "POST", headers: withSession(token, { origin: SITE }) });
  const copied = async (uid) => {
    const token = await login(gate, uid);
    await admits(gate, token, "read, and copied");
    await admits(gate, token, "from the copy");
    return token;
  };

  let token = await copied("alice");
  assert.equal((await logout(token)).status, 204);
  await denies(gate, token, "the user's logout");

  const [one, two] = [await copied("bob"), await copied("bob")];
  assert.equal((await logout(one, "?scope=all")).status, 204);
  await denies(gate, two, "logging out everywhere");

  token = await copied("carol");
  gate.origin = () => new Response("bye", { headers: { "sessiongate-logout": "current" } });
  await gate.fetch("/account/logout", { headers: withSession(token) });
  gate.origin = () => Response.json({ from: "origin" });
  await denies(gate, token, "the origin's directive");

  token = await copied("dan");
  const revoked = await gate.fetch("/.sessiongate/admin/users/dan/sessions", { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(revoked.status, 200);
  await denies(gate, token, "the admin API");

  token = await copied("erin");
  const replaced = await login(gate, "erin", { cookie: token });
  await denies(gate, token, "a login replacing the session");
  await admits(gate, replaced);
}

describe("with the ledger bound", () => {
  let gate;
  before(async () => (gate = await startGate({ vars: { REVOCATION_STALENESS: "2" }, worker: LEDGER })));
  after(() => gate.close());

  test("records are kept for REVOCATION_STALENESS by default, and the health check says so", async () => {
    assert.deepEqual(await health(gate), { status: "ok", revocation: { mode: "ledger", staleness_s: 2 }, record_cache_s: 2, in_flight: 0 });
  });

  test("a record deleted from KV behind the edge's back keeps serving within RECORD_CACHE, and not past it", async () => {
    const { token } = await putSession(gate, { uid: "frank" });
    const read = Date.now();
    await admits(gate, token, "read, and copied");
    await gate.kv.delete(recordKey(token));
    await admits(gate, token, "the copy does not know");
    await until(read + 1600);
    await admits(gate, token, "nor later within the bound");
    await until(read + 2300);
    await denies(gate, token, "past it, KV is read again");
  });

  test("whatever this location ends, it ends at once", () => everyEndingHoldsAtOnce(gate));

  test("RECORD_CACHE above REVOCATION_STALENESS is refused, naming it", async () => {
    const bad = await startGate({ vars: { REVOCATION_STALENESS: "2", RECORD_CACHE: "3" }, worker: LEDGER });
    try {
      const response = await bad.fetch("/.sessiongate/health");
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "misconfigured" });
      assert.match(bad.logs.at(-1).detail, /^RECORD_CACHE: must not exceed REVOCATION_STALENESS \(2s\)/);
    } finally {
      await bad.close();
    }
  });
});

describe("RECORD_CACHE=0", () => {
  let gate;
  before(async () => (gate = await startGate({ vars: { RECORD_CACHE: "0" }, worker: LEDGER })));
  after(() => gate.close());

  test("reads KV on every request, even with the ledger bound", async () => {
    assert.equal((await health(gate)).record_cache_s, 0);
    const { token } = await putSession(gate, { uid: "gina" });
    await admits(gate, token);
    await admits(gate, token);
    await gate.kv.delete(recordKey(token));
    await denies(gate, token, "the very next request");
  });
});

describe("without the ledger, RECORD_CACHE=60", () => {
  let gate;
  before(async () => (gate = await startGate({ vars: { RECORD_CACHE: "60" } })));
  after(() => gate.close());

  test("the health check says how long records are kept", async () => {
    assert.deepEqual(await health(gate), { status: "ok", revocation: { mode: "kv" }, record_cache_s: 60, in_flight: 0 });
  });

  test("a record deleted behind the edge's back still serves from the copy", async () => {
    const { token } = await putSession(gate, { uid: "hank" });
    await admits(gate, token);
    await gate.kv.delete(recordKey(token));
    await admits(gate, token, "for up to a minute at this isolate");
  });

  test("whatever this location ends, it ends at once, though a copy would live a minute", () => everyEndingHoldsAtOnce(gate));

  test("more than a minute is refused, naming it", async () => {
    const bad = await startGate({ vars: { RECORD_CACHE: "61" } });
    try {
      assert.equal((await bad.fetch("/dashboard")).status, 500);
      assert.match(bad.logs.at(-1).detail, /^RECORD_CACHE: must be at most 60s without the revocation ledger/);
    } finally {
      await bad.close();
    }
  });
});
