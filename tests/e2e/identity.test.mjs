// Who the user is, beyond the id (#17 part 5): a login handoff's email,
// groups and auth_time reach the session record, the origin's assertion and
// /.sessiongate/session; a handoff past the bounds starts nothing; records
// written before the change keep working.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import {
  ASSERTION_KEY, cookieValue, handoff, idHash, jwtClaims, jwtVerifies, login, now, okOrigin, putSession,
  sessionCookies, startGate, tokenParts, withSession,
} from "./harness.mjs";

let gate;
before(async () => (gate = await startGate()));
after(() => gate.close());
beforeEach(() => {
  gate.received.length = 0;
  gate.origin = okOrigin;
});

/** The response to a login POST whose origin answers with the handoff `token`. */
async function loginWith(token) {
  gate.origin = () => new Response("welcome", { headers: { "sessiongate-login": token } });
  try {
    return await gate.fetch("/login", { method: "POST" });
  } finally {
    gate.origin = okOrigin;
  }
}

const recordOf = async (token) => JSON.parse(await gate.kv.get(`s:${idHash(tokenParts(token).id)}`));

/** The claims of the assertion the origin got for a GET of `path` with `token`. */
async function assertionFor(token, path = "/api/orders") {
  const response = await gate.fetch(path, { headers: withSession(token) });
  assert.equal(response.status, 200);
  const assertion = gate.received.at(-1).headers["sessiongate-assertion"];
  assert.ok(jwtVerifies(assertion, ASSERTION_KEY));
  return jwtClaims(assertion);
}

const describeSession = async (token) =>
  (await gate.fetch("/.sessiongate/session", { headers: withSession(token) })).json();

test("a handoff's email, groups and auth_time reach the record, the assertion and /.sessiongate/session", async () => {
  const authTime = now() - 600;
  const response = await loginWith(
    handoff("alice", { email: "alice@example.com", groups: ["admins", "staff"], auth_time: authTime, claims: { role: "admin" } }),
  );
  const [set] = sessionCookies(response);
  assert.ok(set, "a session cookie");
  const token = cookieValue(set);

  const record = await recordOf(token);
  assert.equal(record.email, "alice@example.com");
  assert.deepEqual(record.groups, ["admins", "staff"]);
  assert.equal(record.auth_time, authTime);
  assert.ok(record.iat >= authTime + 600, "the session began at the login, after the authentication");

  const claims = await assertionFor(token);
  assert.equal(claims.email, "alice@example.com");
  assert.deepEqual(claims.groups, ["admins", "staff"]);
  assert.equal(claims.auth_time, authTime);
  assert.deepEqual(claims.claims, { role: "admin" });

  const session = await describeSession(token);
  assert.equal(session.email, "alice@example.com");
  assert.deepEqual(session.groups, ["admins", "staff"]);
  assert.equal(session.auth_time, authTime);
  assert.equal(session.iat, record.iat);
});

test("without them, auth_time is the login, groups are [] and there is no email", async () => {
  const token = await login(gate, "bob");
  const record = await recordOf(token);
  assert.equal(record.auth_time, record.iat, "every new record stores auth_time");
  assert.deepEqual([record.email, record.groups], [undefined, undefined], "nothing stored for none");
  const claims = await assertionFor(token);
  assert.equal("email" in claims, false);
  assert.deepEqual(claims.groups, []);
  assert.equal(claims.auth_time, record.iat);
  const session = await describeSession(token);
  assert.deepEqual([session.email, session.groups, session.auth_time], [null, [], record.iat]);
});

test("a handoff past the bounds, or of the wrong shape, starts nothing and the log says why", async () => {
  const cases = [
    [{ email: "not-an-address" }, "bad_email"],
    [{ email: `${"a".repeat(320)}@example.com` }, "bad_email"],
    [{ email: ["alice@example.com"] }, "bad_email"],
    [{ groups: Array.from({ length: 65 }, (_, i) => `g${i}`) }, "too_many_groups"],
    [{ groups: Array.from({ length: 64 }, (_, i) => String(i).padStart(40, "0")) }, "groups_too_large"],
    [{ groups: "admins" }, "bad_groups"],
    [{ groups: ["staff", ""] }, "bad_groups"],
    [{ auth_time: now() + 120 }, "auth_time_in_future"],
    [{ auth_time: "yesterday" }, "bad_auth_time"],
  ];
  const keysBefore = (await gate.kv.list()).keys.map((k) => k.name).sort();
  for (const [extra, reason] of cases) {
    const response = await loginWith(handoff("mallory", extra));
    assert.equal(response.status, 200, reason);
    assert.equal(await response.text(), "welcome", "the origin's response is otherwise intact");
    assert.equal(response.headers.get("sessiongate-login"), null, "the handoff is stripped");
    assert.deepEqual(response.headers.getSetCookie(), [], `no cookie: ${reason}`);
  }
  const keysAfter = (await gate.kv.list()).keys.map((k) => k.name).sort();
  assert.deepEqual(keysAfter, keysBefore, "no session was written");
  const rejected = gate.logs.filter((l) => l.event === "login_rejected").map((l) => l.detail);
  assert.deepEqual(rejected.slice(-cases.length), cases.map(([, reason]) => reason));
});

test("a record written before identity still authenticates: auth_time is its iat, no email, no groups", async () => {
  const iat = now() - 300;
  const { token, id } = await putSession(gate, { uid: "carol", iat, claims: { role: "viewer" } });
  const stored = await gate.kv.get(`s:${idHash(id)}`);
  assert.equal("auth_time" in JSON.parse(stored), false, "the old format");
  const claims = await assertionFor(token);
  assert.equal(claims.sub, "carol");
  assert.equal(claims.auth_time, iat);
  assert.equal("email" in claims, false);
  assert.deepEqual(claims.groups, []);
  const session = await describeSession(token);
  assert.deepEqual([session.email, session.groups, session.auth_time], [null, [], iat]);
  assert.equal(await gate.kv.get(`s:${idHash(id)}`), stored, "read, never rewritten");
});

test("ending another session needs a recent authentication, not just a recent session", async () => {
  // A session begun now from a single sign-on login of an hour ago (REAUTH_AFTER is 15m).
  const response = await loginWith(handoff("dora", { auth_time: now() - 3600 }));
  const token = cookieValue(sessionCookies(response)[0]);
  const other = await login(gate, "dora");
  const same = { origin: "https://app.example.com" };
  const sid = idHash(tokenParts(other).id).slice(0, 16);
  const api = await gate.fetch(`/.sessiongate/sessions/${sid}`, { method: "DELETE", headers: withSession(token, same) });
  assert.equal(api.status, 403);
  assert.equal((await api.json()).reason, "reauthentication_required");
  const page = await gate.fetch(`/.sessiongate/sessions/${sid}`, { method: "POST", headers: withSession(token, { ...same, accept: "text/html" }) });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get("location"), "/login?return_to=/.sessiongate/sessions&max_age=900", "the login is asked for a fresh one");
  assert.equal((await gate.fetch("/dashboard", { headers: withSession(other) })).status, 200, "nothing ended");
});
