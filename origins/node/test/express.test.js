// The Express middleware on a real server on 127.0.0.1, with the key set
// fetched from a real server standing in for the edge.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import express from "express";

import { AssertionError, ASSERTION_HEADER } from "sessiongate-origin";
import { sessiongate } from "sessiongate-origin/express";

import { AUDIENCE, jwksServer, keyPair, listen, NOW, send, signWith } from "./helpers.js";

let es;
let ed;
let keys;
let app;
let down;

function appFor(options) {
  const app = express();
  app.get("/public", (req, res) => res.json({ public: true, sessiongate: req.sessiongate ?? null }));
  // Mounted, with its own middleware: inside the router req.url is
  // "/deploy"; the assertion is for the path as received, req.originalUrl.
  const api = express.Router();
  api.use(sessiongate(options));
  api.post("/deploy", (req, res) => res.json({ client: req.sessiongate.clientId, deploy: req.sessiongate.hasScope("deploy:write") }));
  app.use("/api", api);
  app.use(sessiongate(options));
  app.get("/orders", (req, res) => res.json(req.sessiongate));
  app.get("/search", (req, res) => res.json({ sub: req.sessiongate.sub }));
  return app;
}

before(async () => {
  [es, ed] = await Promise.all([keyPair("ES256", "es-1"), keyPair("EdDSA", "ed-1")]);
  keys = await jwksServer([es.jwk, ed.jwk]);
  app = await listen(appFor({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW }));
  down = await jwksServer([]);
  down.status = 503;
});

after(async () => {
  await Promise.all([app.close(), keys.close(), down.close()]);
});

const withAssertion = (token) => ({ headers: { [ASSERTION_HEADER]: token } });

describe("sessiongate() for Express", () => {
  test("sets req.sessiongate to the identity of a good assertion", async () => {
    for (const pair of [es, ed]) {
      const token = await signWith(pair, { email: "alice@example.com", groups: ["admins"] });
      const res = await send(app.url, "/orders?page=2", withAssertion(token));
      assert.equal(res.status, 200);
      assert.equal(res.body.sub, "alice");
      assert.equal(res.body.email, "alice@example.com");
      assert.deepEqual(res.body.groups, ["admins"]);
      assert.equal(res.body.authTime, NOW - 300);
    }
    assert.equal(keys.fetches, 1);
  });

  test("answers 401 JSON with the reason, and the handler never runs", async () => {
    const missing = await send(app.url, "/orders?page=2");
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.body, { error: "unauthenticated", reason: "missing" });
    assert.match(missing.headers["content-type"], /^application\/json/);
    assert.equal(missing.headers["cache-control"], "no-store");

    const token = await signWith(es);
    const otherPath = await send(app.url, "/search?q=1", withAssertion(token));
    assert.deepEqual([otherPath.status, otherPath.body], [401, { error: "unauthenticated", reason: "wrong_path" }]);
    const otherMethod = await send(app.url, "/orders?page=2", { method: "POST", ...withAssertion(token) });
    assert.deepEqual([otherMethod.status, otherMethod.body.reason], [401, "wrong_method"]);
    const expired = await send(app.url, "/orders?page=2", withAssertion(await signWith(es, { iat: NOW - 100, exp: NOW - 40 })));
    assert.deepEqual([expired.status, expired.body.reason], [401, "expired"]);
    const forged = await send(app.url, "/orders?page=2", withAssertion(await signWith(await keyPair("ES256", "es-1"))));
    assert.deepEqual([forged.status, forged.body.reason], [401, "bad_signature"]);
  });

  test("leaves routes before it alone", async () => {
    const res = await send(app.url, "/public");
    assert.deepEqual([res.status, res.body], [200, { public: true, sessiongate: null }]);
  });

  test("checks the path as received, through mounted routers", async () => {
    const token = await signWith(ed, {
      kind: "bearer",
      sub: "ci-bot",
      client_id: "ci-bot",
      scope: "deploy:write",
      htm: "POST",
      htu: "/api/deploy",
    });
    const res = await send(app.url, "/api/deploy", { method: "POST", ...withAssertion(token) });
    assert.deepEqual([res.status, res.body], [200, { client: "ci-bot", deploy: true }]);
  });

  test("compares the raw path and query, not a re-encoded one", async () => {
    // Sent as is; a URL parser would make the query q=%22x%22.
    const reencoded = await signWith(es, { htu: "/search?q=%22x%22" });
    const res = await send(app.url, '/search?q="x"', withAssertion(reencoded));
    assert.deepEqual([res.status, res.body.reason], [401, "wrong_path"]);
    const exact = await signWith(es, { htu: '/search?q="x"' });
    const ok = await send(app.url, '/search?q="x"', withAssertion(exact));
    assert.deepEqual([ok.status, ok.body], [200, { sub: "alice" }]);
  });

  test("answers 503 when the edge's key set cannot be had", async () => {
    const server = await listen(appFor({ jwksUrl: down.jwksUrl, audience: AUDIENCE, now: NOW }));
    try {
      const res = await send(server.url, "/orders?page=2", withAssertion(await signWith(es)));
      assert.deepEqual([res.status, res.body], [503, { error: "unavailable", reason: "key_set_unavailable" }]);
    } finally {
      await server.close();
    }
  });

  test("with forwardErrors, passes the AssertionError to next(err)", async () => {
    const forwarding = express();
    forwarding.use(sessiongate({ jwks: { keys: [es.jwk] }, audience: AUDIENCE, now: NOW, forwardErrors: true }));
    forwarding.get("/orders", (req, res) => res.json({ sub: req.sessiongate.sub }));
    forwarding.use((error, req, res, next) => {
      res.status(418).json({ caught: error instanceof AssertionError, code: error.code, status: error.status });
    });
    const bare = express();
    bare.set("env", "test"); // Express logs errors to stderr otherwise
    bare.use(sessiongate({ jwks: { keys: [es.jwk] }, audience: AUDIENCE, now: NOW, forwardErrors: true }));
    bare.get("/orders", (req, res) => res.send("never"));
    const [a, b] = await Promise.all([listen(forwarding), listen(bare)]);
    try {
      const refused = await send(a.url, "/orders?page=2");
      assert.deepEqual([refused.status, refused.body], [418, { caught: true, code: "missing", status: 401 }]);
      const ok = await send(a.url, "/orders?page=2", withAssertion(await signWith(es)));
      assert.deepEqual([ok.status, ok.body], [200, { sub: "alice" }]);
      // Express's own error handler answers with the error's status.
      const fallback = await send(b.url, "/orders?page=2", withAssertion(await signWith(es, { aud: "x" })));
      assert.equal(fallback.status, 401);
      assert.ok(!String(fallback.body).includes("never"));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("refuses bad options when the app is built, not per request", () => {
    assert.throws(() => sessiongate({ audience: AUDIENCE }), /exactly one/);
    assert.throws(() => sessiongate({ hs256Key: "short", audience: AUDIENCE }), /at least 32/);
    assert.throws(() => sessiongate({ jwks: { keys: [es.jwk] }, audience: AUDIENCE, forwardErrors: "yes" }), /forwardErrors/);
  });
});
