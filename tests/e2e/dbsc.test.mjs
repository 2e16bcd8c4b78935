// Device-bound sessions (DESIGN §11) from the outside: a DBSC client that
// follows the spec as Chromium does registers and refreshes against the
// built worker, and a copied cookie jar without the device key gets nowhere.
// Every gate here keeps the records it reads (RECORD_CACHE, issue 19), as
// the ledger's default does: binding must hold with those copies on.

import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, sign as nodeSign, webcrypto } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, beforeEach, describe, test } from "node:test";
import { DbscClient, newKeyPair, parseOffer, publicJwk, signProof } from "./dbsc-client.mjs";
import { COOKIE, KEYS, handoff, idHash, jwtClaims, now, putSession, startGate, tokenParts } from "./harness.mjs";

const BOUND = `${COOKIE}-bound`;
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const hmac = (key, ...parts) => parts.reduce((mac, part) => mac.update(part), createHmac("sha256", key)).digest();

/** A tagged value of DESIGN §11, made independently of the worker: its kind's key is HMAC(session key, label). */
function sealed(label, hash, fields) {
  const signed = `k1.${fields.join(".")}.`;
  return signed + b64url(hmac(hmac(KEYS.k1, label), Buffer.from(hash, "base64url"), signed).subarray(0, 16));
}
const boundCookie = (hash, expires) => sealed("sessiongate dbsc bound cookie v1", hash, [expires]);
const challengeAt = (hash, issued, nonce = "AAAAAAAAAAAAAAAA") => sealed("sessiongate dbsc challenge v1", hash, [issued, nonce]);

/** How long each gate keeps a record it read, in seconds. */
const RECORD_CACHE_S = 1;
const CACHED = { RECORD_CACHE: String(RECORD_CACHE_S) };

let gate;
before(async () => (gate = await startGate({ vars: CACHED })));
after(() => gate.close());
beforeEach(() => {
  gate.received.length = 0;
  gate.origin = () => Response.json({ from: "origin" });
});

/** A browser that logs in through the origin's handoff; returns it and the registration offer. */
async function browserLoggedIn(uid = "alice") {
  const browser = new DbscClient(gate);
  gate.origin = () => new Response("welcome", { headers: { "sessiongate-login": handoff(uid) } });
  const response = await browser.fetch("/login", { method: "POST" });
  gate.origin = () => Response.json({ from: "origin" });
  assert.ok(browser.cookies[COOKIE], "logged in");
  return { browser, offer: response.headers.get("secure-session-registration") };
}

/** A logged-in browser whose session is bound to its key. */
async function boundBrowser(uid = "alice") {
  const { browser, offer } = await browserLoggedIn(uid);
  const response = await browser.register(offer);
  assert.equal(response.status, 200, await response.clone().text());
  return browser;
}

const hashOf = (browser) => idHash(tokenParts(browser.cookies[COOKIE]).id);

/**
 * Moves the browser's registration a minute into the past, past its few
 * seconds of grace (DESIGN §11), behind the edge's back: then waits out
 * any copy of the record the gate read before (DESIGN §14).
 */
async function ageBinding(browser) {
  const key = `s:${hashOf(browser)}`;
  const record = JSON.parse(await gate.kv.get(key));
  record.device_bound_at -= 60;
  await gate.kv.put(key, JSON.stringify(record));
  await sleep(RECORD_CACHE_S * 1000 + 100);
}
const jar = (cookies) => Object.entries(cookies).map(([n, v]) => `${n}=${v}`).join("; ");
const refusal = async (response) => (await response.json()).reason;

describe("registration", () => {
  test("a login offers it, and a browser that takes it is bound with one bound cookie", async () => {
    const { browser, offer } = await browserLoggedIn();
    const parsed = parseOffer(offer);
    assert.deepEqual(parsed.algorithms, ["ES256"], "only ES256 is offered");
    assert.equal(parsed.path, "/.sessiongate/dbsc/register");
    const response = await browser.register(offer);
    assert.equal(response.status, 200);
    const instructions = await response.json();
    assert.equal(instructions.session_identifier, jwtClaimsSid(browser));
    assert.equal(instructions.refresh_url, "/.sessiongate/dbsc/refresh");
    assert.deepEqual(instructions.scope, { include_site: false, scope_specification: [] });
    assert.deepEqual(instructions.credentials, [{ type: "cookie", name: BOUND, attributes: "Path=/; Secure; HttpOnly; SameSite=Lax" }]);
    const [set] = response.headers.getSetCookie();
    assert.match(set, new RegExp(`^${BOUND}=k1\\.\\d+\\.[A-Za-z0-9_-]{22}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600$`));
    assert.equal(browser.cookies[BOUND], boundCookie(hashOf(browser), Number(browser.cookies[BOUND].split(".")[1])), "the tag is as DESIGN §11 says");

    const record = JSON.parse(await gate.kv.get(`s:${hashOf(browser)}`));
    assert.deepEqual(record.device_key, await publicJwk(browser.keyPair), "the record keeps the public key");
    const page = await browser.fetch("/dashboard");
    assert.equal(page.status, 200);
    const seen = gate.received.at(-1);
    assert.equal(jwtClaims(seen.headers["sessiongate-assertion"]).device_bound, true, "the origin is told");
    assert.ok(!(seen.headers.cookie ?? "").includes(BOUND), "the bound cookie never reaches the origin");
    const session = await (await browser.fetch("/.sessiongate/session")).json();
    assert.equal(session.device_bound, true);
    const sessions = await (await browser.fetch("/.sessiongate/sessions")).json();
    assert.equal(sessions.sessions.find((s) => s.current).device_bound, true);
  });

  test("a browser without DBSC ignores the offer and its session works as before", async () => {
    const { browser } = await browserLoggedIn();
    assert.equal((await browser.fetch("/dashboard")).status, 200);
    assert.equal(jwtClaims(gate.received.at(-1).headers["sessiongate-assertion"]).device_bound, false);
  });

  test("happens once: a second registration, with another key, is refused", async () => {
    const browser = await boundBrowser();
    const { challenge } = await browser.challenge();
    const other = await newKeyPair();
    const proof = await signProof(other.privateKey, { alg: "ES256", typ: "dbsc+jwt", jwk: await publicJwk(other) }, { jti: challenge });
    const response = await browser.fetch("/.sessiongate/dbsc/register", { method: "POST", headers: { "secure-session-response": proof } });
    assert.equal(response.status, 403);
    assert.equal(await refusal(response), "already_registered");
    const record = JSON.parse(await gate.kv.get(`s:${hashOf(browser)}`));
    assert.deepEqual(record.device_key, await publicJwk(browser.keyPair), "the first key stays");
  });

  test("a proof the worker's WebCrypto does not verify binds nothing: a key off the curve, a signature by another key", async () => {
    const signer = await newKeyPair();
    const jwk = await publicJwk(signer);
    const offCurve = { ...jwk, y: b64url(Buffer.alloc(32, 7)) };
    const cases = [
      ["a key that is no P-256 point", offCurve, "proof_key_invalid"],
      ["a key other than the signer's", await publicJwk(await newKeyPair()), "proof_bad_signature"],
    ];
    for (const [name, key, reason] of cases) {
      const { browser, offer } = await browserLoggedIn();
      const proof = await signProof(signer.privateKey, { alg: "ES256", typ: "dbsc+jwt", jwk: key }, { jti: parseOffer(offer).challenge });
      const response = await browser.register(offer, { keyPair: signer, proof });
      assert.equal(response.status, 403, name);
      assert.equal(await refusal(response), reason, name);
      assert.equal(JSON.parse(await gate.kv.get(`s:${hashOf(browser)}`)).device_key, undefined, name);
      // The challenge was not spent: the browser's own proof over it still binds.
      assert.equal((await browser.register(offer)).status, 200, name);
    }
  });

  test("is refused after the registration window: a stolen cookie cannot bind the thief's key", async () => {
    const { id, token } = await putSession(gate, { iat: now() - 300 });
    const thief = new DbscClient(gate, { [COOKIE]: token });
    const offer = `(ES256);path="/.sessiongate/dbsc/register";challenge="${challengeAt(idHash(id), now())}"`;
    const response = await thief.register(offer);
    assert.equal(response.status, 403);
    assert.equal(await refusal(response), "registration_window_closed");
    assert.equal(JSON.parse(await gate.kv.get(`s:${idHash(id)}`)).device_key, undefined);
  });
});

describe("a copied cookie jar", () => {
  test("without the bound cookie is let in only in the seconds after registration", async () => {
    const browser = await boundBrowser();
    const copy = new DbscClient(gate, { [COOKIE]: browser.cookies[COOKIE] });
    assert.equal((await copy.fetch("/dashboard")).status, 200, "a request sent while the browser registered");
    await ageBinding(browser);
    assert.equal((await copy.fetch("/dashboard")).status, 401);
  });

  test("without the bound cookie is refused before the origin", async () => {
    const browser = await boundBrowser();
    await ageBinding(browser);
    gate.received.length = 0;
    const thief = new DbscClient(gate, { [COOKIE]: browser.cookies[COOKIE] });
    const api = await thief.fetch("/dashboard");
    assert.equal(api.status, 401);
    assert.equal(await refusal(api), "unbound");
    const page = await thief.fetch("/dashboard", { headers: { accept: "text/html" } });
    assert.equal(page.status, 303);
    assert.match(page.headers.get("location"), /^\/login\?return_to=/);
    assert.equal(gate.received.length, 0, "nothing reached the origin");
    assert.equal((await browser.fetch("/dashboard")).status, 200, "the owner's browser is unaffected");
  });

  test("with an expired bound cookie, or another session's, is refused", async () => {
    const browser = await boundBrowser();
    const other = await boundBrowser("bob");
    await ageBinding(browser);
    gate.received.length = 0;
    const expired = now() - 10;
    for (const bound of [boundCookie(hashOf(browser), expired), other.cookies[BOUND], "k1.1.garbage"]) {
      const response = await gate.fetch("/dashboard", { headers: { cookie: jar({ [COOKIE]: browser.cookies[COOKIE], [BOUND]: bound }) } });
      assert.equal(response.status, 401, bound);
      assert.equal(await refusal(response), "unbound");
    }
    assert.equal(gate.received.length, 0);
  });

  test("cannot refresh the bound cookie without the device key", async () => {
    const browser = await boundBrowser();
    const thief = new DbscClient(gate, { [COOKIE]: browser.cookies[COOKIE] });
    thief.session = browser.session;
    thief.keyPair = await newKeyPair();
    const response = await thief.refresh();
    assert.equal(response.status, 403);
    assert.equal(await refusal(response), "proof_bad_signature");
    assert.equal(thief.cookies[BOUND], undefined, "no bound cookie");
  });
});

describe("refresh", () => {
  test("a 403 challenge from the cookie alone, then a signed retry, renews the bound cookie", async () => {
    const browser = await boundBrowser();
    const before = browser.cookies[BOUND];
    const first = await browser.challenge();
    assert.equal(first.response.status, 403);
    assert.equal(first.id, browser.session.session_identifier);
    assert.match(first.challenge, /^k1\.\d+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(first.response.headers.getSetCookie(), [], "the 403 sets nothing");
    const response = await browser.answer(await signProof(browser.keyPair.privateKey, { alg: "ES256", typ: "dbsc+jwt" }, { jti: first.challenge }));
    assert.equal(response.status, 200);
    assert.equal((await response.json()).credentials[0].name, BOUND);
    assert.ok(Number(browser.cookies[BOUND].split(".")[1]) >= Number(before.split(".")[1]), "a fresh bound cookie");
    assert.equal((await browser.fetch("/dashboard")).status, 200);
    // Issuing a challenge reads nothing: it comes even with the record gone.
    await gate.kv.delete(`s:${hashOf(browser)}`);
    assert.equal((await browser.challenge()).response.status, 403);
  });

  test("the proofs of the attack cases are refused and set no cookie", async () => {
    const browser = await boundBrowser();
    const hash = hashOf(browser);
    const other = await boundBrowser("bob");
    const key = browser.keyPair.privateKey;
    const es256 = (jti, header = {}) => signProof(key, { alg: "ES256", typ: "dbsc+jwt", ...header }, { jti });
    const unsigned = (header, jti) => `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify({ jti }))}.`;
    const jwk = await publicJwk(browser.keyPair);
    const hs256 = (jti) => {
      const signed = `${b64url(JSON.stringify({ alg: "HS256", typ: "dbsc+jwt" }))}.${b64url(JSON.stringify({ jti }))}`;
      return `${signed}.${b64url(hmac(JSON.stringify(jwk), signed))}`;
    };
    const rs256 = (jti) => {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const signed = `${b64url(JSON.stringify({ alg: "RS256", typ: "dbsc+jwt" }))}.${b64url(JSON.stringify({ jti }))}`;
      return `${signed}.${b64url(nodeSign("sha256", Buffer.from(signed), privateKey))}`;
    };
    const cases = [
      ["a proof signed by another key", async (c) => signProof((await newKeyPair()).privateKey, { alg: "ES256", typ: "dbsc+jwt" }, { jti: c }), "proof_bad_signature"],
      ["alg none", async (c) => unsigned({ alg: "none", typ: "dbsc+jwt" }, c), "proof_alg_unsupported"],
      ["HS256 keyed with the public key", async (c) => hs256(c), "proof_alg_unsupported"],
      ["RS256, which is not offered", async (c) => rs256(c), "proof_alg_unsupported"],
      ["a typ other than dbsc+jwt", async (c) => signProof(key, { alg: "ES256", typ: "JWT" }, { jti: c }), "proof_typ_unsupported"],
      ["an expired challenge", async () => es256(challengeAt(hash, now() - 120)), "challenge_expired"],
      ["another session's challenge", async () => es256((await other.challenge()).challenge), "challenge_invalid"],
      ["a made-up challenge", async () => es256("k1.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"), "challenge_invalid"],
      ["an oversized proof", async () => "a".repeat(5000), "proof_too_long"],
    ];
    for (const [name, sign, reason] of cases) {
      delete browser.cookies[BOUND];
      const response = await browser.refresh({ sign });
      assert.equal(response.status, 403, name);
      assert.equal(await refusal(response), reason, name);
      assert.equal(browser.cookies[BOUND], undefined, `${name}: no bound cookie`);
    }
  });

  test("a reused challenge is refused", async () => {
    const browser = await boundBrowser();
    const { challenge } = await browser.challenge();
    const proof = await signProof(browser.keyPair.privateKey, { alg: "ES256", typ: "dbsc+jwt" }, { jti: challenge });
    assert.equal((await browser.answer(proof)).status, 200);
    const replay = await browser.answer(proof);
    assert.equal(replay.status, 403);
    assert.equal(await refusal(replay), "challenge_reused");
  });

  test("after logout ends the DBSC session and sets no bound cookie", async () => {
    const browser = await boundBrowser();
    const { challenge } = await browser.challenge();
    const proof = await signProof(browser.keyPair.privateKey, { alg: "ES256", typ: "dbsc+jwt" }, { jti: challenge });
    const session = browser.session;
    const token = browser.cookies[COOKIE];
    const logout = await browser.fetch("/.sessiongate/logout", { method: "POST" });
    assert.equal(logout.status, 204);
    assert.equal(browser.cookies[BOUND], undefined, "logout clears the bound cookie");
    // The logged-out cookie, replayed with a valid proof.
    browser.cookies[COOKIE] = token;
    browser.session = session;
    const response = await browser.answer(proof);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { continue: false });
    assert.equal(browser.cookies[BOUND], undefined);
  });
});

describe("DEVICE_BOUND", () => {
  test("require refuses a session that did not bind a key within the window", async () => {
    const strict = await startGate({ vars: { ...CACHED, DEVICE_BOUND: "require" } });
    try {
      const young = await putSession(strict, { iat: now() - 10 });
      const old = await putSession(strict, { iat: now() - 300 });
      const get = (token) => strict.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${token}` } });
      assert.equal((await get(young.token)).status, 200);
      const refused = await get(old.token);
      assert.equal(refused.status, 401);
      assert.equal(await refusal(refused), "unregistered");
    } finally {
      await strict.close();
    }
  });

  test("off offers nothing and has no DBSC endpoints", async () => {
    const off = await startGate({ vars: { ...CACHED, DEVICE_BOUND: "off" } });
    try {
      off.origin = () => new Response("welcome", { headers: { "sessiongate-login": handoff("alice") } });
      const login = await off.fetch("/login", { method: "POST" });
      assert.equal(login.headers.get("secure-session-registration"), null);
      assert.equal((await off.fetch("/.sessiongate/dbsc/refresh", { method: "POST" })).status, 404);
    } finally {
      await off.close();
    }
  });

  test("a bad value is misconfigured, naming the variable", async () => {
    const bad = await startGate({ vars: { ...CACHED, DEVICE_BOUND: "always" } });
    try {
      const response = await bad.fetch("/dashboard");
      assert.equal(response.status, 500);
      assert.ok(bad.logs.some((l) => String(l.detail).includes("DEVICE_BOUND")));
    } finally {
      await bad.close();
    }
  });
});

/** The session's public id, as the assertion names it. */
function jwtClaimsSid(browser) {
  return hashOf(browser).slice(0, 16);
}
