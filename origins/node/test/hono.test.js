// The Hono middleware on a real server (@hono/node-server) on 127.0.0.1,
// and through app.request(), where there is no Node request.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";

import { AssertionError } from "sessiongate-origin";
import { sessiongateHono } from "sessiongate-origin/hono";

import { AUDIENCE, claims, HS256_KEY, hs256, keyPair, listen, NOW, send, signWith } from "./helpers.js";

let es;
let ed;
let server;

function appFor(options) {
  const app = new Hono();
  app.get("/public", (c) => c.json({ public: true, sessiongate: c.get("sessiongate") ?? null }));
  app.use("/api/*", sessiongateHono(options));
  app.get("/api/me", (c) => c.json(c.get("sessiongate")));
  app.get("/api/search", (c) => c.json({ sub: c.get("sessiongate").sub }));
  app.post("/api/deploy", (c) => {
    const who = c.get("sessiongate");
    return c.json({ client: who.clientId, deploy: who.hasScope("deploy:write") });
  });
  return app;
}

before(async () => {
  [es, ed] = await Promise.all([keyPair("ES256", "es-1"), keyPair("EdDSA", "ed-1")]);
  const app = appFor({ jwks: { keys: [es.jwk, ed.jwk] }, audience: AUDIENCE, now: NOW });
  server = await listen(createAdaptorServer({ fetch: app.fetch }));
});

after(async () => {
  await server.close();
});

const withAssertion = (token) => ({ headers: { "Sessiongate-Assertion": token } });

describe("sessiongateHono() on @hono/node-server", () => {
  test('sets c.get("sessiongate") to the identity of a good assertion', async () => {
    for (const pair of [es, ed]) {
      const token = await signWith(pair, { htu: "/api/me", claims: { role: "admin" }, device_bound: true });
      const res = await send(server.url, "/api/me", withAssertion(token));
      assert.equal(res.status, 200);
      assert.equal(res.body.sub, "alice");
      assert.deepEqual(res.body.claims, { role: "admin" });
      assert.equal(res.body.deviceBound, true);
    }
  });

  test("answers 401 JSON with the reason", async () => {
    const missing = await send(server.url, "/api/me");
    assert.deepEqual([missing.status, missing.body], [401, { error: "unauthenticated", reason: "missing" }]);
    assert.equal(missing.headers["cache-control"], "no-store");
    const token = await signWith(es, { htu: "/api/me" });
    const replayed = await send(server.url, "/api/search?q=1", withAssertion(token));
    assert.deepEqual([replayed.status, replayed.body.reason], [401, "wrong_path"]);
    const posted = await send(server.url, "/api/me", { method: "POST", ...withAssertion(token) });
    assert.deepEqual([posted.status, posted.body.reason], [401, "wrong_method"]);
    const confused = await send(server.url, "/api/me", withAssertion(hs256(es.spki, claims({ htu: "/api/me" }), { alg: "HS256", typ: "JWT", kid: "es-1" })));
    assert.deepEqual([confused.status, confused.body.reason], [401, "alg_not_allowed"]);
  });

  test("leaves other routes alone", async () => {
    const res = await send(server.url, "/public");
    assert.deepEqual([res.status, res.body], [200, { public: true, sessiongate: null }]);
  });

  test("a machine client's identity", async () => {
    const token = await signWith(ed, { kind: "bearer", sub: "ci-bot", client_id: "ci-bot", scope: "read deploy:write", htm: "POST", htu: "/api/deploy" });
    const res = await send(server.url, "/api/deploy", { method: "POST", ...withAssertion(token) });
    assert.deepEqual([res.status, res.body], [200, { client: "ci-bot", deploy: true }]);
  });

  test("compares the path and query as the Node server received them", async () => {
    // @hono/node-server's Request has the URL re-encoded (q=%22x%22); the
    // middleware reads the Node request's own url.
    const exact = await signWith(es, { htu: '/api/search?q="x"' });
    const ok = await send(server.url, '/api/search?q="x"', withAssertion(exact));
    assert.deepEqual([ok.status, ok.body], [200, { sub: "alice" }]);
    const reencoded = await signWith(es, { htu: "/api/search?q=%22x%22" });
    const refused = await send(server.url, '/api/search?q="x"', withAssertion(reencoded));
    assert.deepEqual([refused.status, refused.body.reason], [401, "wrong_path"]);
  });
});

describe("sessiongateHono() without a Node server", () => {
  test("reads the Request's URL: app.request()", async () => {
    const app = appFor({ hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW });
    const token = hs256(HS256_KEY, claims({ htu: "/api/search?q=1" }));
    const ok = await app.request("/api/search?q=1", withAssertion(token));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { sub: "alice" });
    const other = await app.request("/api/search?q=2", withAssertion(token));
    assert.equal(other.status, 401);
    assert.deepEqual(await other.json(), { error: "unauthenticated", reason: "wrong_path" });
  });

  test("with forwardErrors, throws the AssertionError to app.onError", async () => {
    const app = new Hono();
    app.use("*", sessiongateHono({ hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW, forwardErrors: true }));
    app.get("/x", (c) => c.text(c.get("sessiongate").sub));
    app.onError((error, c) => c.json({ caught: error instanceof AssertionError, code: error.code }, 418));
    const refused = await app.request("/x");
    assert.equal(refused.status, 418);
    assert.deepEqual(await refused.json(), { caught: true, code: "missing" });
    const ok = await app.request("/x", withAssertion(hs256(HS256_KEY, claims({ htu: "/x" }))));
    assert.equal(await ok.text(), "alice");
  });
});
