// Fail closed: an invalid config, an unusable KV or an unreachable origin
// never lets a request through unchecked. KV is made to fail by binding
// SESSIONS to a stand-in worker; the deployed worker has no test switch.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mintToken, startGate, withSession } from "./harness.mjs";

describe("an invalid configuration", () => {
  let gate;
  const secret = "short-secret";
  before(async () => (gate = await startGate({ vars: { SESSION_KEYS: `k1:${secret}`, IDLE_TIMEOUT: "soon", AUDIENCE: undefined } })));
  after(() => gate.close());

  for (const path of ["/dashboard", "/login", "/static/app.css", "/.sessiongate/health", "/.sessiongate/logout"]) {
    test(`answers 500 misconfigured on ${path}`, async () => {
      const response = await gate.fetch(path);
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "misconfigured" });
      assert.equal(gate.received.length, 0);
    });
  }

  test("logs every problem by variable, never the secret", () => {
    const line = gate.logs.find((l) => l.reason === "misconfigured");
    assert.match(line.detail, /AUDIENCE: is not set/);
    assert.match(line.detail, /IDLE_TIMEOUT: "soon" is not a duration/);
    assert.match(line.detail, /SESSION_KEYS: the secret of key id k1 is shorter than 32 characters/);
    assert.ok(!gate.output.includes(secret));
  });
});

/** A worker standing in for KV whose every operation throws or never settles. */
const brokenKv = (behaviour) => `
  import { WorkerEntrypoint } from "cloudflare:workers";
  const fail = () => ${behaviour === "hang" ? "new Promise(() => {})" : 'Promise.reject(new Error("KV is down"))'};
  export class Kv extends WorkerEntrypoint {
    get() { return fail(); } put() { return fail(); } delete() { return fail(); } list() { return fail(); }
  }
  export default { fetch: () => new Response(null, { status: 404 }) };
`;

for (const behaviour of ["throw", "hang"]) {
  describe(`a KV that ${behaviour}s`, () => {
    let gate;
    before(async () => {
      gate = await startGate({
        worker: { kvNamespaces: [], serviceBindings: { SESSIONS: { name: "kv", entrypoint: "Kv" } } },
        workers: [{ name: "kv", modules: true, script: brokenKv(behaviour), compatibilityDate: "2026-04-26" }],
      });
    });
    after(() => gate.close());

    test("gets 503 for a request with a valid token, and the origin is not called", async () => {
      const started = Date.now();
      const response = await gate.fetch("/dashboard", { headers: withSession(mintToken()) });
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { error: "session_store_unavailable" });
      assert.ok(Date.now() - started < 10_000, "within a bounded time");
      assert.equal(gate.received.length, 0);
      assert.equal(gate.logs.at(-1).reason, "store_unavailable");
    });

    test("fails the health check with 503", async () => {
      assert.equal((await gate.fetch("/.sessiongate/health")).status, 503);
    });

    test("a throttled client gets 429 without KV being asked", async () => {
      const client = { "cf-connecting-ip": "203.0.113.99" };
      for (let i = 0; i < 30; i++) {
        const forged = mintToken({ secret: "guess-guess-guess-guess-guess-guess" });
        assert.equal((await gate.fetch("/dashboard", { headers: withSession(forged, client) })).status, 401);
      }
      assert.equal((await gate.fetch("/dashboard", { headers: withSession(mintToken(), client) })).status, 429);
    });
  });
}

describe("an unreachable origin", () => {
  let gate;
  before(async () => (gate = await startGate({ vars: { ORIGIN_URL: "http://127.0.0.1:9" }, worker: { outboundService: undefined } })));
  after(() => gate.close());

  test("gets 502 JSON", async () => {
    const response = await gate.fetch("/login");
    assert.equal(response.status, 502);
    assert.deepEqual(await response.json(), { error: "origin_unreachable" });
    assert.equal(gate.logs.at(-1).reason, "origin_unreachable");
  });
});

test("every request gets exactly one JSON log line with decision, status and duration", async () => {
  const gate = await startGate();
  try {
    await gate.fetch("/dashboard");
    await gate.fetch("/login");
    const lines = gate.logs.filter((l) => "decision" in l);
    assert.equal(lines.length, 2);
    assert.deepEqual(lines.map((l) => [l.decision, l.reason, l.status]), [["reject", "missing", 401], ["forward", "public", 200]]);
    assert.ok(lines.every((l) => Number.isInteger(l.ms)));
  } finally {
    await gate.close();
  }
});
