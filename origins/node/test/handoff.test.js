import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { decodeProtectedHeader, jwtVerify } from "jose";

import { HandoffError, signHandoff } from "sessiongate-origin";

const KEY = "handoff-key-of-at-least-32-chars!";
const NOW = 1_700_000_000;
const secret = new TextEncoder().encode(KEY);

/** The handoff's header and claims, verified with jose as the edge verifies it (HS256 only, at `NOW`). */
async function read(token) {
  const { payload, protectedHeader } = await jwtVerify(token, secret, {
    algorithms: ["HS256"],
    currentDate: new Date(NOW * 1000),
    requiredClaims: ["sub", "exp"],
  });
  return { header: protectedHeader, payload };
}

async function refused(options) {
  const error = await signHandoff(options).catch((e) => e);
  assert.ok(error instanceof HandoffError, `expected a HandoffError, got ${error}`);
  return error.code;
}

describe("signHandoff", () => {
  test("signs sub and exp (now + 60) under HS256, header exactly {alg, typ}", async () => {
    const token = await signHandoff({ sub: "alice", key: KEY, now: NOW });
    const { header, payload } = await read(token);
    assert.deepEqual(header, { alg: "HS256", typ: "JWT" });
    assert.deepEqual(payload, { sub: "alice", exp: NOW + 60 });
    assert.equal(JSON.stringify(decodeProtectedHeader(token)), '{"alg":"HS256","typ":"JWT"}');
    await assert.rejects(jwtVerify(token, new TextEncoder().encode("another-handoff-key-of-32-chars!!")), /signature/);
  });

  test("carries claims, email, groups and auth_time, and a ttl", async () => {
    const token = await signHandoff({
      sub: "zoë",
      key: KEY,
      claims: { role: "admin", tenant: "t1" },
      email: "zoe@example.com",
      groups: ["admins", "staff"],
      authTime: NOW - 120,
      ttl: 120,
      now: NOW,
    });
    const { payload } = await read(token);
    assert.deepEqual(payload, {
      sub: "zoë",
      exp: NOW + 120,
      claims: { role: "admin", tenant: "t1" },
      email: "zoe@example.com",
      groups: ["admins", "staff"],
      auth_time: NOW - 120,
    });
  });

  test("takes authTime as a Date, and defaults now to the clock", async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await signHandoff({ sub: "alice", key: KEY, authTime: new Date((before - 30) * 1000 + 999) });
    const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"] });
    assert.equal(payload.auth_time, before - 30);
    assert.ok(payload.exp >= before + 60 && payload.exp <= before + 62);
  });

  test("refuses a weak key, and a bad ttl or now", async () => {
    assert.equal(await refused({ sub: "alice", key: "x".repeat(31) }), "weak_key");
    assert.equal(await refused({ sub: "alice" }), "weak_key");
    assert.equal(await refused({ sub: "alice", key: KEY, ttl: 121 }), "bad_ttl");
    assert.equal(await refused({ sub: "alice", key: KEY, ttl: 0 }), "bad_ttl");
    assert.equal(await refused({ sub: "alice", key: KEY, ttl: 1.5 }), "bad_ttl");
    assert.equal(await refused({ sub: "alice", key: KEY, now: "now" }), "bad_now");
    assert.ok(await signHandoff({ sub: "alice", key: "x".repeat(32), ttl: 1 }));
  });

  test("refuses a sub the edge would refuse", async () => {
    for (const sub of [undefined, "", 7, "a".repeat(257), "é".repeat(129), "a\u0000b", "a\nb", "a\u007f", " alice", "alice ", "alice\u00a0", "\ud800"]) {
      assert.equal(await refused({ sub, key: KEY }), "bad_sub", JSON.stringify(sub));
    }
    assert.ok(await signHandoff({ sub: "a".repeat(256), key: KEY }), "256 bytes is the limit");
    assert.ok(await signHandoff({ sub: "ada lovelace", key: KEY }), "inner white space is allowed");
  });

  test("refuses claims that are not strings or over 1 KiB", async () => {
    assert.equal(await refused({ sub: "a", key: KEY, claims: { n: 1 } }), "bad_claims");
    assert.equal(await refused({ sub: "a", key: KEY, claims: ["x"] }), "bad_claims");
    assert.equal(await refused({ sub: "a", key: KEY, claims: new Map() }), "bad_claims");
    // {"k":"…"} is 8 bytes beside the value.
    assert.ok(await signHandoff({ sub: "a", key: KEY, claims: { k: "v".repeat(1016) } }));
    assert.equal(await refused({ sub: "a", key: KEY, claims: { k: "v".repeat(1017) } }), "claims_too_large");
    assert.equal(await refused({ sub: "a", key: KEY, claims: { k: "é".repeat(600) } }), "claims_too_large", "counted in bytes");
  });

  test("refuses a bad email", async () => {
    for (const email of ["", "alice", "@example.com", "alice@", "a@b@c", "a lice@example.com", "alice@example.com\n", 5, `${"a".repeat(310)}@example.com`]) {
      assert.equal(await refused({ sub: "a", key: KEY, email }), "bad_email", JSON.stringify(email));
    }
  });

  test("refuses bad, too many or too large groups", async () => {
    assert.equal(await refused({ sub: "a", key: KEY, groups: "admins" }), "bad_groups");
    assert.equal(await refused({ sub: "a", key: KEY, groups: ["ok", 1] }), "bad_groups");
    assert.equal(await refused({ sub: "a", key: KEY, groups: [""] }), "bad_groups");
    assert.equal(await refused({ sub: "a", key: KEY, groups: ["a\tb"] }), "bad_groups");
    assert.equal(await refused({ sub: "a", key: KEY, groups: Array.from({ length: 65 }, (_, i) => `g${i}`) }), "too_many_groups");
    assert.ok(await signHandoff({ sub: "a", key: KEY, groups: Array.from({ length: 64 }, (_, i) => `g${i}`) }));
    assert.equal(await refused({ sub: "a", key: KEY, groups: Array.from({ length: 64 }, () => "g".repeat(40)) }), "groups_too_large");
  });

  test("refuses an auth_time in the future or not whole seconds", async () => {
    assert.equal(await refused({ sub: "a", key: KEY, authTime: NOW + 1, now: NOW }), "auth_time_in_future");
    assert.equal(await refused({ sub: "a", key: KEY, authTime: NOW - 0.5, now: NOW }), "bad_auth_time");
    assert.equal(await refused({ sub: "a", key: KEY, authTime: "yesterday", now: NOW }), "bad_auth_time");
    assert.equal((await read(await signHandoff({ sub: "a", key: KEY, authTime: NOW, now: NOW }))).payload.auth_time, NOW);
  });

  test("refuses unknown options", async () => {
    await assert.rejects(signHandoff({ sub: "a", key: KEY, group: ["admins"] }), /unknown signHandoff option "group"/);
  });
});
