// The revocation ledger across locations (issue 10). Two gates, gate-a and
// gate-b, stand for two Cloudflare locations: each has its own KV namespace,
// and B's is a replica the test copies from A's, so a session A deletes is
// still in B's KV (a delete that has not propagated yet). With the LEDGER
// Durable Object shared by both, B must deny what A ended within
// REVOCATION_STALENESS (2 s here); without it, B keeps admitting. A ledger
// that hangs or errs fails closed. Miniflare shares one Cache API among its
// workers, and real locations do not: only B has one (gate-a: cache off).
// With the ledger, each location also keeps the session records it reads
// (RECORD_CACHE, by default REVOCATION_STALENESS: issue 19), so every test
// of the ledger here runs with those copies on.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { Miniflare } from "miniflare";
import { ADMIN_TOKEN, GATE_SCRIPT, VARS, cookieValue, handoff, idHash, putSession, sessionCookies, tokenParts, withSession } from "./harness.mjs";

const STALENESS_MS = 2000;

/** The mock origin: `x-login-as` makes it hand off a login, `x-logout` makes it send a logout directive. */
function origin(request) {
  const headers = new Headers();
  if (request.headers.get("x-logout")) headers.set("sessiongate-logout", request.headers.get("x-logout"));
  if (request.headers.get("x-login-as")) headers.set("sessiongate-login", handoff(request.headers.get("x-login-as")));
  return Response.json({ from: "origin" }, { headers });
}

/**
 * Starts both locations. `ledger`: "shared" (gate-a defines Ledger, gate-b
 * binds it), "none" (KV only), or a stand-in worker's source whose Ledger
 * class both bind.
 */
async function startLocations(ledger) {
  const locations = { output: "", tokens: new Set() };
  const durableObjects = (owner) =>
    ledger === "none" ? {} : { LEDGER: { className: "Ledger", useSQLite: true, ...(ledger === "shared" && owner ? {} : { scriptName: ledger === "shared" ? "gate-a" : "stand-in" }) } };
  const gate = (name, host, staleness, extra) => {
    const site = `https://${host}`;
    const received = [];
    const loc = { name, site, received, fetch: (p, init = {}) => locations.mf.dispatchFetch(site + p, { redirect: "manual", ...init }) };
    locations[name.slice(-1)] = loc;
    return {
      name, ...GATE_SCRIPT, routes: [`${host}/*`], kvNamespaces: { SESSIONS: `kv-${name.slice(-1)}` },
      bindings: { ...VARS, REVOCATION_STALENESS: staleness }, durableObjects: durableObjects(name === "gate-a"),
      outboundService: (request) => (received.push(new URL(request.url).pathname), origin(request)),
      ...extra,
    };
  };
  const workers = [gate("gate-a", "a.example.com", "2", { cache: false }), gate("gate-b", "b.example.com", "2s")];
  if (ledger !== "shared" && ledger !== "none") {
    workers.push({ name: "stand-in", modules: true, script: ledger, compatibilityDate: GATE_SCRIPT.compatibilityDate, durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } } });
  }
  locations.mf = new Miniflare({
    cf: false,
    handleRuntimeStdio: (...streams) => streams.forEach((s) => s.setEncoding("utf8").on("data", (c) => (locations.output += c))),
    workers,
  });
  await locations.mf.ready;
  for (const x of ["a", "b"]) locations[x].kv = await locations.mf.getKVNamespace("SESSIONS", `gate-${x}`);
  /** Copies every key of A's KV to B's, with its metadata and expiration; deletes are not copied. */
  locations.replicate = async () => {
    for (const { name, metadata, expiration } of (await locations.a.kv.list()).keys) {
      await locations.b.kv.put(name, await locations.a.kv.get(name), { metadata, expiration });
    }
  };
  locations.close = async () => {
    await locations.mf.dispose();
    assert.ok(![...locations.tokens].some((t) => locations.output.includes(t)), "no session token is ever logged");
  };
  return locations;
}

let L;
/** Logs `uid` in at a location through the origin's handoff; returns the token. */
async function login(loc, uid) {
  const [set] = sessionCookies(await loc.fetch("/login", { method: "POST", headers: { "x-login-as": uid } }));
  assert.ok(set, `the login at ${loc.name} set a cookie`);
  L.tokens.add(cookieValue(set));
  return cookieValue(set);
}

/** A request with the session: its status, the error's reason, and whether the origin saw it. */
async function check(loc, token) {
  const before = loc.received.length;
  const response = await loc.fetch("/dashboard", { headers: withSession(token) });
  const { error, reason } = response.status === 200 ? (await response.text(), {}) : await response.json();
  return { status: response.status, reason: reason ?? error, forwarded: loc.received.length > before };
}
const admits = async (loc, token, message) =>
  assert.deepEqual(await check(loc, token), { status: 200, reason: undefined, forwarded: true }, message);
const denies = async (loc, token, message) =>
  assert.deepEqual(await check(loc, token), { status: 401, reason: "revoked", forwarded: false }, message);
const logout = (loc, token, query = "") =>
  loc.fetch(`/.sessiongate/logout${query}`, { method: "POST", headers: withSession(token, { origin: loc.site }) });
const until = (t) => sleep(Math.max(0, t - Date.now()));
/** The gate counts whole seconds (a record's iat, a state's age): this waits until just after the next one begins. */
const nextSecond = () => until(Math.ceil(Date.now() / 1000) * 1000 + 20);

describe("with the ledger shared by two locations", () => {
  before(async () => (L = await startLocations("shared")));
  after(() => L.close());

  test("each location's health check says it revokes through the ledger, and with which bound, and keeps records that long", async () => {
    for (const loc of [L.a, L.b]) {
      const response = await loc.fetch("/.sessiongate/health");
      assert.deepEqual(await response.json(), { status: "ok", revocation: { mode: "ledger", staleness_s: 2 }, record_cache_s: 2, in_flight: 0 });
    }
  });

  test("a logout at A is denied at B within REVOCATION_STALENESS, though B's KV still holds the session", async () => {
    const token = await login(L.a, "alice");
    await L.replicate();
    await admits(L.b, token, "B admits before the logout");
    const started = Date.now();
    assert.equal((await logout(L.a, token)).status, 204);
    await denies(L.a, token, "A denies at once");
    let seen;
    while (Date.now() - started < STALENESS_MS + 1500) {
      if ((seen = await check(L.b, token)).status !== 200) break;
      await sleep(100);
    }
    const took = Date.now() - started;
    assert.deepEqual(seen, { status: 401, reason: "revoked", forwarded: false });
    assert.ok(took <= STALENESS_MS + 500, `B denied ${took} ms after the logout`);
    assert.ok(await L.b.kv.get(`s:${idHash(tokenParts(token).id)}`), "B's replica still holds the record");
    assert.equal((await L.b.fetch("/.sessiongate/session", { headers: withSession(token) })).status, 401, "the edge's own endpoints too");
  });

  test("a state B cached is never used past the bound: the first request after it waits for the ledger", async () => {
    const token = await login(L.a, "frank");
    await L.replicate();
    const read = Date.now();
    await admits(L.b, token, "B reads the ledger and caches what it says");
    assert.equal((await logout(L.a, token)).status, 204);
    await until(read + STALENESS_MS + 300);
    await denies(L.b, token, "denied as soon as the bound has passed");
  });

  test("past half the bound B refreshes its state in the background, so it denies before the bound", async () => {
    const token = await login(L.a, "grace");
    await L.replicate();
    await nextSecond(); // so that at 0.6 of the bound the state is past half of it, not past all of it
    const read = Date.now();
    await admits(L.b, token);
    assert.equal((await logout(L.a, token)).status, 204);
    await until(read + STALENESS_MS * 0.6);
    await check(L.b, token); // answered from the cached state; starts the refresh
    await until(read + STALENESS_MS * 0.8);
    await denies(L.b, token, "the refreshed state is used");
  });

  test("logging out everywhere at A ends every session of that user at B, and no one else's", async () => {
    await nextSecond(); // the sessions begin in the same second as the logout: they end all the same
    const [bob1, bob2, carol] = [await login(L.a, "bob"), await login(L.a, "bob"), await login(L.a, "carol")];
    await L.replicate();
    await admits(L.b, bob1);
    assert.equal((await logout(L.a, bob1, "?scope=all")).status, 204);
    await sleep(STALENESS_MS + 300);
    await denies(L.b, bob1, "though it began in the same second as the logout");
    await denies(L.b, bob2, "a session B had not seen yet");
    await admits(L.b, carol);
  });

  test("after a password change at A ends all sessions and begins a fresh one, B denies the old and admits the fresh", async () => {
    await nextSecond(); // all within one second: the old sessions end, the fresh one works
    const [laptop, phone] = [await login(L.a, "gina"), await login(L.a, "gina")];
    await L.replicate();
    await admits(L.b, phone);
    const changed = await L.a.fetch("/account/password", {
      method: "POST",
      headers: withSession(laptop, { origin: L.a.site, "x-logout": "all", "x-login-as": "gina" }),
    });
    const [set] = sessionCookies(changed);
    assert.ok(set && !/Max-Age=0/.test(set), "the response carries the fresh session's cookie");
    const fresh = cookieValue(set);
    L.tokens.add(fresh);
    await L.replicate();
    await sleep(STALENESS_MS + 300);
    await denies(L.b, laptop, "though it began in the same second as the change");
    await denies(L.b, phone);
    await admits(L.b, fresh, "a session begun after the \"revoked before\" time works");
  });

  test("an admin's revocation at A reaches B, and a later login still works there", async () => {
    await nextSecond();
    const [dan1, dan2] = [await login(L.a, "dan"), await login(L.a, "dan")];
    await L.replicate();
    await admits(L.b, dan1);
    const admin = { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
    const revoked = await L.a.fetch("/.sessiongate/admin/users/dan/sessions", admin);
    assert.deepEqual(await revoked.json(), { uid: "dan", revoked: 2 });
    const later = await login(L.a, "dan");
    await L.replicate();
    await sleep(STALENESS_MS + 300);
    await denies(L.b, dan1, "though it began in the same second as the revocation");
    await denies(L.b, dan2);
    await admits(L.b, later);
  });

  test("ending one session at A (from the sessions list, or by the origin's directive) ends only that one at B", async () => {
    const [kept, listed, directed] = [await login(L.a, "hank"), await login(L.a, "hank"), await login(L.a, "hank")];
    await L.replicate();
    await admits(L.b, kept);
    const sid = idHash(tokenParts(listed).id).slice(0, 16);
    const ended = await L.a.fetch(`/.sessiongate/sessions/${sid}`, { method: "DELETE", headers: withSession(kept, { origin: L.a.site }) });
    assert.equal(ended.status, 204);
    await L.a.fetch("/account/logout", { headers: withSession(directed, { "x-logout": "current" }) });
    await sleep(STALENESS_MS + 300);
    await denies(L.b, listed);
    await denies(L.b, directed);
    await admits(L.b, kept, "the user's other sessions stay");
  });
});

describe("without the ledger (KV only)", () => {
  let K;
  before(async () => (K = L = await startLocations("none")));
  after(() => K.close());

  test("B keeps admitting a session A logged out, well past the window: what the ledger is for", async () => {
    assert.deepEqual(await (await K.b.fetch("/.sessiongate/health")).json(), { status: "ok", revocation: { mode: "kv" }, record_cache_s: 0, in_flight: 0 });
    const token = await login(K.a, "alice");
    await K.replicate();
    await admits(K.b, token);
    assert.equal((await logout(K.a, token)).status, 204);
    await denies(K.a, token);
    await sleep(STALENESS_MS + 1000);
    await admits(K.b, token, "B's replica has not seen the delete");
  });
});

/** A worker whose Ledger objects never answer, throw, or answer 500, whatever they are asked. */
const standIn = (behaviour) => `
  import { DurableObject } from "cloudflare:workers";
  const fail = () => ${behaviour === "hangs" ? "new Promise(() => {})" : 'Promise.reject(new Error("the ledger is down"))'};
  export class Ledger extends DurableObject {
    constructor(ctx, env) {
      super(ctx, env);
      return new Proxy(this, { get: (t, p, r) => (typeof p !== "string" || p in t ? Reflect.get(t, p, r) : fail) });
    }
    fetch() { return ${behaviour === "answers 500" ? 'new Response("ledger error", { status: 500 })' : "fail()"}; }
  }
  export default { fetch: () => new Response(null, { status: 404 }) };
`;

for (const behaviour of ["hangs", "throws", "answers 500"]) {
  describe(`a ledger that ${behaviour}`, () => {
    let F;
    before(async () => (F = L = await startLocations(standIn(behaviour))));
    after(() => F.close());

    test("gets 503 within about 3 s for a session KV still holds, and the origin is never called", async () => {
      const { token } = await putSession({ kv: F.b.kv }, { uid: "ivan" });
      F.tokens.add(token);
      for (const attempt of ["first", "second"]) {
        const started = Date.now();
        const seen = await check(F.b, token);
        assert.deepEqual(seen, { status: 503, reason: "revocation_ledger_unavailable", forwarded: false }, `${attempt} request`);
        assert.ok(Date.now() - started < 3500, `${attempt} answer after ${Date.now() - started} ms`);
      }
      assert.equal(F.b.received.length, 0);
    });
  });
}
