// The admin API and the health check.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN_TOKEN, idHash, login, startGate, tokenParts, withSession } from "./harness.mjs";

let gate;
before(async () => (gate = await startGate()));
after(() => gate.close());

const path = (uid) => `/.sessiongate/admin/users/${encodeURIComponent(uid)}/sessions`;
const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });

test("without the bearer token the admin API answers 401, with a wrong one 403", async () => {
  assert.equal((await gate.fetch(path("alice"))).status, 401);
  assert.equal((await gate.fetch(`${path("alice")}?token=${ADMIN_TOKEN}`)).status, 401, "a token in the query is ignored");
  assert.equal((await gate.fetch(path("alice"), { headers: bearer(`${ADMIN_TOKEN}x`) })).status, 403);
});

test("lists a user's sessions and revokes them all", async () => {
  const mine = [await login(gate, "erin@example.com"), await login(gate, "erin@example.com")];
  const other = await login(gate, "frank");
  const listed = await (await gate.fetch(path("erin@example.com"), { headers: bearer() })).json();
  assert.equal(listed.uid, "erin@example.com");
  assert.deepEqual(
    listed.sessions.map((s) => s.sid).sort(),
    mine.map((t) => idHash(tokenParts(t).id).slice(0, 16)).sort(),
  );
  assert.ok(listed.sessions.every((s) => s.abs_exp - s.iat === 43200));

  const revoked = await gate.fetch(path("erin@example.com"), { method: "DELETE", headers: bearer() });
  assert.deepEqual(await revoked.json(), { uid: "erin@example.com", revoked: 2 });
  for (const token of mine) assert.equal((await gate.fetch("/x", { headers: withSession(token) })).status, 401);
  assert.equal((await gate.fetch("/x", { headers: withSession(other) })).status, 200);
});

test("GET /.sessiongate/health answers 200 while KV is usable, and says revocation is KV's alone and records are read every time", async () => {
  const response = await gate.fetch("/.sessiongate/health");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok", revocation: { mode: "kv" }, record_cache_s: 0, in_flight: 0 });
});
