// The edge's key set fetched from a URL: a local server on 127.0.0.1
// that counts the fetches stands in for `<edge>/.sessiongate/jwks.json`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createVerifier, verifyAssertion } from "sessiongate-origin";

import { AUDIENCE, hs256, jwksServer, keyPair, listen, NOW, refusal, request, signWith, claims } from "./helpers.js";

let es;
let ed;
let next;
const servers = [];

before(async () => {
  [es, ed, next] = await Promise.all([keyPair("ES256", "es-1"), keyPair("EdDSA", "ed-1"), keyPair("ES256", "es-2")]);
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function edge(keys) {
  const server = await jwksServer(keys);
  servers.push(server);
  return server;
}

describe("a JWKS URL", () => {
  test("is fetched once and cached, for both algs", async () => {
    const keys = await edge([es.jwk, ed.jwk]);
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW });
    assert.equal(keys.fetches, 0, "not fetched before the first request");
    assert.equal((await verify(request(await signWith(es)))).sub, "alice");
    assert.equal((await verify(request(await signWith(ed, { sub: "bob" })))).sub, "bob");
    assert.equal((await verify(request(await signWith(es, { sub: "carol" })))).sub, "carol");
    assert.equal(keys.fetches, 1);
  });

  test("verifyAssertion shares one cached set across calls with fresh options objects", async () => {
    const keys = await edge([es.jwk]);
    for (const sub of ["a", "b", "c"]) {
      const identity = await verifyAssertion(request(await signWith(es, { sub })), { jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW });
      assert.equal(identity.sub, sub);
    }
    assert.equal(keys.fetches, 1);
  });

  test("finds a key added to the set with one refetch, and refuses a kid still unknown", async () => {
    const keys = await edge([es.jwk]);
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW, jwksOptions: { cooldownDuration: 0 } });
    assert.equal((await verify(request(await signWith(es)))).sub, "alice");
    assert.equal(keys.fetches, 1);
    keys.keys = [es.jwk, next.jwk];
    assert.equal((await verify(request(await signWith(next, { sub: "new-key" })))).sub, "new-key");
    assert.equal(keys.fetches, 2, "one refetch for the unknown kid");
    assert.equal((await verify(request(await signWith(next)))).sub, "alice");
    assert.equal(keys.fetches, 2, "known now: no further fetch");
    assert.equal(await refusal(verify(request(await signWith(es, {}, { kid: "nobody" })))), "unknown_kid");
    assert.equal(keys.fetches, 3, "an unknown kid costs one refetch, then is refused");
  });

  test("does not refetch for unknown kids within the cooldown (30 s by default)", async () => {
    const keys = await edge([es.jwk]);
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW });
    assert.equal((await verify(request(await signWith(es)))).sub, "alice");
    keys.keys = [es.jwk, next.jwk];
    for (const kid of ["x1", "x2", "x3"]) {
      assert.equal(await refusal(verify(request(await signWith(es, {}, { kid })))), "unknown_kid");
    }
    assert.equal(await refusal(verify(request(await signWith(next)))), "unknown_kid", "not refetched yet");
    assert.equal(keys.fetches, 1, "no fetch storm from forged kids");
  });

  test("rotation: old and new keys both verify while both are published", async () => {
    const keys = await edge([es.jwk]);
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW, jwksOptions: { cooldownDuration: 0 } });
    const oldToken = await signWith(es, { sub: "old" });
    assert.equal((await verify(request(oldToken))).sub, "old");
    // The edge publishes the new key beside the old one, then signs with it.
    keys.keys = [next.jwk, es.jwk];
    const newToken = await signWith(next, { sub: "new" });
    assert.equal((await verify(request(newToken))).sub, "new");
    assert.equal((await verify(request(oldToken))).sub, "old");
    assert.equal((await verify(request(newToken))).sub, "new");
    assert.equal(keys.fetches, 2);
    // The old key withdrawn: once the set is fetched again, it is refused.
    keys.keys = [next.jwk];
    const refreshing = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW, jwksOptions: { cacheMaxAge: 0 } });
    assert.equal((await refreshing(request(newToken))).sub, "new");
    assert.equal(await refusal(refreshing(request(oldToken))), "unknown_kid");
  });

  test("the set's cache lasts cacheMaxAge", async () => {
    const keys = await edge([es.jwk]);
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW, jwksOptions: { cacheMaxAge: 0 } });
    await verify(request(await signWith(es)));
    await verify(request(await signWith(es)));
    assert.equal(keys.fetches, 2, "stale at once: fetched for each request");
  });

  test("never takes HS256, even signed with a key from the set", async () => {
    const keys = await edge([es.jwk]);
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW });
    for (const secret of [es.spki, JSON.stringify(es.jwk), JSON.stringify({ keys: [es.jwk] })]) {
      const token = hs256(secret, claims(), { alg: "HS256", typ: "JWT", kid: "es-1" });
      assert.equal(await refusal(verify(request(token))), "alg_not_allowed");
    }
    assert.equal(keys.fetches, 0, "refused before any key is looked up");
  });

  test("a set that cannot be had is key_set_unavailable (503), not a client's fault", async () => {
    const keys = await edge([es.jwk]);
    keys.status = 500;
    const verify = createVerifier({ jwksUrl: keys.jwksUrl, audience: AUDIENCE, now: NOW });
    const error = await verify(request(await signWith(es))).catch((e) => e);
    assert.equal(error.code, "key_set_unavailable");
    assert.equal(error.status, 503);
    // Not JSON.
    const garbage = await listen((req, res) => res.end("<html>"));
    servers.push(garbage);
    const fromGarbage = createVerifier({ jwksUrl: `${garbage.url}/.sessiongate/jwks.json`, audience: AUDIENCE, now: NOW });
    assert.equal(await refusal(fromGarbage(request(await signWith(es)))), "key_set_unavailable");
    // Nobody listening.
    const gone = await listen(() => {});
    await gone.close();
    const fromNobody = createVerifier({ jwksUrl: `${gone.url}/.sessiongate/jwks.json`, audience: AUDIENCE, now: NOW });
    assert.equal(await refusal(fromNobody(request(await signWith(es)))), "key_set_unavailable");
  });

  test("a set that answers too slowly is key_set_unavailable", async () => {
    const slow = await listen((req, res) => {
      setTimeout(() => res.end(JSON.stringify({ keys: [es.jwk] })), 500);
    });
    servers.push(slow);
    const verify = createVerifier({
      jwksUrl: `${slow.url}/.sessiongate/jwks.json`,
      audience: AUDIENCE,
      now: NOW,
      jwksOptions: { timeoutDuration: 50 },
    });
    assert.equal(await refusal(verify(request(await signWith(es)))), "key_set_unavailable");
  });
});
