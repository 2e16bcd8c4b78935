// Public-key assertions (DESIGN §5): with ASSERTION_SIGNING_KEYS the edge
// signs each assertion with its first key (ES256 or EdDSA, through
// WebCrypto) and publishes every key's public half at
// /.sessiongate/jwks.json, on every host, at no KV cost; an origin verifies
// with that key set alone. Without the keys, HS256 under ASSERTION_KEY as
// before.

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { AUDIENCE, SITE, login, startGate, withSession } from "./harness.mjs";

/** A fresh ASSERTION_SIGNING_KEYS entry of `type` ("ec" P-256, or "ed25519"). */
export function signingKey(kid, type = "ec") {
  const { privateKey } = type === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
  return `${kid}:${privateKey.export({ format: "der", type: "pkcs8" }).toString("base64url")}`;
}

/** KV counting its operations, each passed on to a real namespace (REAL). */
const countingKv = `
  import { WorkerEntrypoint } from "cloudflare:workers";
  let ops = 0;
  export class Kv extends WorkerEntrypoint {
    get(key, o) { ops++; return this.env.REAL.get(key, o); }
    put(key, value, o) { ops++; return this.env.REAL.put(key, value, o); }
    delete(key) { ops++; return this.env.REAL.delete(key); }
    list(o) { ops++; return this.env.REAL.list(o); }
  }
  export default { fetch: () => Response.json(ops) };
`;

describe("with ASSERTION_SIGNING_KEYS", () => {
  let gate;
  const keys = [signingKey("p1"), signingKey("e1", "ed25519")];
  const kvOps = async () => (await (await gate.mf.getWorker("kv")).fetch("http://kv/")).json();
  before(async () => {
    gate = await startGate({
      vars: { ASSERTION_SIGNING_KEYS: keys.join(","), ASSERTION_KEY: undefined },
      worker: { kvNamespaces: [], serviceBindings: { SESSIONS: { name: "kv", entrypoint: "Kv" } } },
      workers: [{ name: "kv", modules: true, script: countingKv, compatibilityDate: "2026-04-26", kvNamespaces: ["REAL"] }],
    });
  });
  after(() => gate.close());

  test("the key set holds each key's public half, cacheable for 5 minutes, on every host, at no KV cost", async () => {
    const before = await kvOps();
    for (const host of [SITE, "https://another.example.net"]) {
      const response = await gate.mf.dispatchFetch(`${host}/.sessiongate/jwks.json`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/jwk-set+json");
      assert.equal(response.headers.get("cache-control"), "public, max-age=300");
      const { keys: published } = await response.json();
      assert.deepEqual(published.map((k) => [k.kid, k.kty, k.crv, k.alg, k.use]), [
        ["p1", "EC", "P-256", "ES256", "sig"],
        ["e1", "OKP", "Ed25519", "EdDSA", "sig"],
      ]);
      for (const key of published) assert.equal(key.d, undefined, "never the private key");
    }
    assert.equal(await kvOps(), before, "no KV operation");
    const post = await gate.fetch("/.sessiongate/jwks.json", { method: "POST" });
    assert.equal(post.status, 405);
  });

  test("an authenticated request reaches the origin with an ES256 assertion that the key set verifies", async () => {
    const token = await login(gate, "zoë");
    gate.received.length = 0;
    const response = await gate.fetch("/dashboard?tab=2", { headers: withSession(token) });
    assert.equal(response.status, 200);
    const jwt = gate.received[0].headers["sessiongate-assertion"];
    assert.deepEqual(decodeProtectedHeader(jwt), { alg: "ES256", typ: "JWT", kid: "p1" });
    const set = await (await gate.fetch("/.sessiongate/jwks.json")).json();
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(set), { issuer: "sessiongate", audience: AUDIENCE, algorithms: ["ES256", "EdDSA"] });
    assert.deepEqual([payload.sub, payload.htm, payload.htu], ["zoë", "GET", "/dashboard?tab=2"]);
    assert.equal(gate.received[0].headers["x-sessiongate-user"], "UTF-8''zo%C3%AB");
  });
});

describe("an Ed25519 key first", () => {
  let gate;
  const key = signingKey("ed", "ed25519");
  before(async () => {
    gate = await startGate({ vars: { ASSERTION_SIGNING_KEYS: key } });
  });
  after(() => gate.close());

  test("signs EdDSA", async () => {
    const token = await login(gate, "alice");
    gate.received.length = 0;
    await gate.fetch("/dashboard", { headers: withSession(token) });
    const jwt = gate.received[0].headers["sessiongate-assertion"];
    assert.equal(decodeProtectedHeader(jwt).alg, "EdDSA");
    const set = await (await gate.fetch("/.sessiongate/jwks.json")).json();
    await jwtVerify(jwt, createLocalJWKSet(set), { audience: AUDIENCE, algorithms: ["EdDSA"] });
  });
});

describe("the configuration", () => {
  test("without signing keys there is no key set, and assertions are HS256 as before", async () => {
    const gate = await startGate();
    try {
      const response = await gate.fetch("/.sessiongate/jwks.json");
      assert.equal(response.status, 404);
      assert.deepEqual(await response.json(), { error: "not_found" });
    } finally {
      await gate.close();
    }
  });

  for (const [what, value, problem] of [
    ["an RSA key", () => `old:${generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "der", type: "pkcs8" }).toString("base64url")}`, "key old is an RSA key"],
    ["a P-384 key", () => `old:${generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "der", type: "pkcs8" }).toString("base64url")}`, "key old is an EC key on another curve than P-256"],
    ["a key that is not PKCS#8", () => "old:bm90IGEga2V5IGF0IGFsbA", "key old is not a PKCS#8 private key"],
    ["a duplicate kid", () => `k1:${signingKey("x").split(":")[1]},k1:${signingKey("y").split(":")[1]}`, 'key id "k1" appears twice'],
  ]) {
    test(`${what} is misconfigured, naming the kid and never the key`, async () => {
      const entry = value();
      const gate = await startGate({ vars: { ASSERTION_SIGNING_KEYS: entry } });
      try {
        const response = await gate.fetch("/dashboard");
        assert.equal(response.status, 500);
        assert.deepEqual(await response.json(), { error: "misconfigured" });
        const line = gate.logs.find((l) => l.reason === "misconfigured");
        assert.match(line.detail, new RegExp(`ASSERTION_SIGNING_KEYS: ${problem.replace(/[()#]/g, "\\$&")}`));
        for (const key of entry.split(",").map((e) => e.split(":")[1])) {
          if (key.length > 20) assert.ok(!gate.output.includes(key.slice(0, 20)), "the key is never printed");
        }
      } finally {
        await gate.close();
      }
    });
  }
});
