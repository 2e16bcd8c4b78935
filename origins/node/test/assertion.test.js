import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { SignJWT } from "jose";

import {
  ASSERTION_ERROR_CODES,
  AssertionError,
  createVerifier,
  Identity,
  verifyAssertion,
} from "sessiongate-origin";

import { AUDIENCE, claims, HS256_KEY, hs256, keyPair, NOW, refusal, request, signWith, unsigned } from "./helpers.js";

let es;
let ed;
let other;
let pinned;

before(async () => {
  es = await keyPair("ES256", "es-1");
  ed = await keyPair("EdDSA", "ed-1");
  other = await keyPair("ES256", "es-1"); // same kid, another key
  pinned = { jwks: { keys: [es.jwk, ed.jwk] }, audience: AUDIENCE, now: NOW };
});

describe("a good assertion", () => {
  for (const alg of ["ES256", "EdDSA"]) {
    test(`verifies under a pinned key set: ${alg}`, async () => {
      const pair = alg === "ES256" ? es : ed;
      const identity = await verifyAssertion(request(await signWith(pair)), pinned);
      assert.ok(identity instanceof Identity);
      assert.equal(identity.sub, "alice");
      assert.equal(identity.sid, "AbCdEfGhIjKlMnOp");
      assert.equal(identity.iat, NOW);
      assert.equal(identity.exp, NOW + 60);
      assert.equal(identity.authTime, NOW - 300);
    });
  }

  test("verifies under the shared secret (HS256, older deployments)", async () => {
    const token = hs256(HS256_KEY, claims());
    const identity = await verifyAssertion(request(token), { hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW });
    assert.equal(identity.sub, "alice");
  });

  test("carries every claim, in camelCase, frozen", async () => {
    const token = await signWith(es, {
      sub: "zoë 日本",
      email: "alice@example.com",
      groups: ["admins", "staff"],
      claims: { role: "admin", tenant: "t1" },
      device_bound: true,
    });
    const identity = await verifyAssertion(request(token), pinned);
    assert.deepEqual(
      { ...identity },
      {
        sub: "zoë 日本",
        sid: "AbCdEfGhIjKlMnOp",
        kind: "session",
        email: "alice@example.com",
        groups: ["admins", "staff"],
        claims: { role: "admin", tenant: "t1" },
        clientId: null,
        scope: null,
        authTime: NOW - 300,
        deviceBound: true,
        iat: NOW,
        exp: NOW + 60,
      },
    );
    assert.ok(identity.inGroup("admins") && identity.inGroup("staff"));
    assert.ok(!identity.inGroup("admin"), "whole group names only");
    assert.ok(!identity.hasScope("admins"), "a session has no scopes");
    assert.ok(Object.isFrozen(identity) && Object.isFrozen(identity.groups) && Object.isFrozen(identity.claims));
    assert.throws(() => {
      identity.sub = "mallory";
    }, TypeError);
  });

  test("a machine client's names the client and its scopes", async () => {
    const token = await signWith(ed, {
      kind: "bearer",
      sub: "ci-bot",
      client_id: "ci-bot",
      scope: "deploy:write reports:read",
      htm: "POST",
      htu: "/api/deploy",
    });
    const identity = await verifyAssertion(request(token, { method: "POST", url: "/api/deploy" }), pinned);
    assert.equal(identity.kind, "bearer");
    assert.equal(identity.clientId, "ci-bot");
    assert.equal(identity.scope, "deploy:write reports:read");
    assert.ok(identity.hasScope("deploy:write") && identity.hasScope("reports:read"));
    assert.ok(!identity.hasScope("deploy") && !identity.hasScope(""), "whole scopes only");
  });

  test("absent claims take their defaults, as from an older edge", async () => {
    const token = await signWith(es, {
      claims: undefined,
      groups: undefined,
      device_bound: undefined,
      kind: undefined,
    });
    const identity = await verifyAssertion(request(token), pinned);
    assert.deepEqual(
      [identity.claims, identity.groups, identity.deviceBound, identity.kind, identity.email],
      [{}, [], false, "session", null],
    );
  });

  test("exp and iat are checked with the leeway, 5 s unless set", async () => {
    const token = await signWith(es);
    const at = (now, leeway) => verifyAssertion(request(token), { ...pinned, now, ...(leeway === undefined ? {} : { leeway }) });
    assert.equal((await at(NOW + 64)).sub, "alice", "4 s past exp, within 5 s");
    assert.equal(await refusal(at(NOW + 65)), "expired");
    assert.equal(await refusal(at(NOW + 60, 0)), "expired");
    assert.equal((await at(NOW + 59, 0)).sub, "alice");
    assert.equal((await at(NOW - 5)).sub, "alice", "issued 5 s ahead of our clock, within the leeway");
    assert.equal(await refusal(at(NOW - 6)), "issued_in_future");
    assert.equal((await at(NOW + 70, 30)).sub, "alice");
  });

  test("now may be a function, and defaults to the clock", async () => {
    const real = Math.floor(Date.now() / 1000);
    const token = await signWith(es, { iat: real, exp: real + 60 });
    assert.equal((await verifyAssertion(request(token), { jwks: pinned.jwks, audience: AUDIENCE })).iat, real);
    assert.equal(await refusal(verifyAssertion(request(token), { ...pinned, now: () => real + 120 })), "expired");
  });
});

describe("refusals", () => {
  test("a token signed by another key under the same kid", async () => {
    assert.equal(await refusal(verifyAssertion(request(await signWith(other)), pinned)), "bad_signature");
  });

  test("a tampered payload", async () => {
    const [header, , signature] = (await signWith(es)).split(".");
    const forged = Buffer.from(JSON.stringify(claims({ sub: "mallory" }))).toString("base64url");
    assert.equal(await refusal(verifyAssertion(request(`${header}.${forged}.${signature}`), pinned)), "bad_signature");
  });

  test("HS256 signed with the public key (algorithm confusion)", async () => {
    for (const secret of [es.spki, JSON.stringify(es.jwk), Buffer.from(es.jwk.x, "base64url")]) {
      for (const header of [{ alg: "HS256", typ: "JWT", kid: "es-1" }, { alg: "HS256", typ: "JWT" }]) {
        const token = hs256(secret, claims(), header);
        assert.equal(await refusal(verifyAssertion(request(token), pinned)), "alg_not_allowed");
      }
    }
  });

  test("alg none, with either kind of key", async () => {
    for (const header of [{ alg: "none", typ: "JWT" }, { alg: "none", typ: "JWT", kid: "es-1" }, { alg: "None" }]) {
      const token = unsigned(claims(), header);
      assert.equal(await refusal(verifyAssertion(request(token), pinned)), "alg_not_allowed");
      assert.equal(
        await refusal(verifyAssertion(request(token), { hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW })),
        "alg_not_allowed",
      );
    }
  });

  test("a public-key alg under the shared secret, and other algs under public keys", async () => {
    const hsOptions = { hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW };
    assert.equal(await refusal(verifyAssertion(request(await signWith(es)), hsOptions)), "alg_not_allowed");
    assert.equal(await refusal(verifyAssertion(request(await signWith(ed)), hsOptions)), "alg_not_allowed");
    const hs512 = hs256(HS256_KEY, claims(), { alg: "HS512", typ: "JWT" });
    assert.equal(await refusal(verifyAssertion(request(hs512), hsOptions)), "alg_not_allowed");
    const es384 = await keyPair("ES384", "es384");
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "ES384", kid: "es384" }).sign(es384.privateKey);
    assert.equal(await refusal(verifyAssertion(request(token), pinned)), "alg_not_allowed");
  });

  test("a kid the key set lacks, or none at all", async () => {
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, {}, { kid: "es-9" })), pinned)), "unknown_kid");
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, {}, { kid: undefined })), pinned)), "unknown_kid");
    // The kid of the EdDSA key, on an ES256 token: no key of that kid fits the alg.
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, {}, { kid: "ed-1" })), pinned)), "unknown_kid");
  });

  test("a shared secret other than the edge's", async () => {
    const token = hs256("another-assertion-key-of-32-chars!!!", claims());
    assert.equal(
      await refusal(verifyAssertion(request(token), { hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW })),
      "bad_signature",
    );
  });

  test("wrong aud, wrong iss", async () => {
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, { aud: "other-app" })), pinned)), "wrong_audience");
    assert.equal(await refusal(verifyAssertion(request(await signWith(es)), { ...pinned, audience: "other-app" })), "wrong_audience");
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, { iss: "someone" })), pinned)), "wrong_issuer");
    const hsToken = hs256(HS256_KEY, claims({ iss: "Sessiongate" }));
    assert.equal(
      await refusal(verifyAssertion(request(hsToken), { hs256Key: HS256_KEY, audience: AUDIENCE, now: NOW })),
      "wrong_issuer",
    );
  });

  test("replayed to another path, query or method", async () => {
    const token = await signWith(es);
    const to = (method, url) => verifyAssertion(request(token, { method, url }), pinned);
    assert.equal((await to("GET", "/orders?page=2")).sub, "alice");
    assert.equal(await refusal(to("POST", "/orders?page=2")), "wrong_method");
    assert.equal(await refusal(to("get", "/orders?page=2")), "wrong_method");
    assert.equal(await refusal(to("GET", "/orders")), "wrong_path");
    assert.equal(await refusal(to("GET", "/orders?page=3")), "wrong_path");
    assert.equal(await refusal(to("GET", "/orders?page=%32")), "wrong_path", "compared raw, never decoded");
    assert.equal(await refusal(to("GET", "/orders/?page=2")), "wrong_path");
    assert.equal(await refusal(to("GET", "/admin")), "wrong_path");
  });

  test("expired and issued in the future", async () => {
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, { iat: NOW - 120, exp: NOW - 60 })), pinned)), "expired");
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, { iat: NOW + 30, exp: NOW + 90 })), pinned)), "issued_in_future");
  });

  test("a lifetime over 60 s", async () => {
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, { exp: NOW + 61 })), pinned)), "too_long");
    assert.equal(await refusal(verifyAssertion(request(await signWith(es, { exp: NOW + 3600 })), pinned)), "too_long");
    assert.equal((await verifyAssertion(request(await signWith(es, { iat: NOW - 10, exp: NOW + 50 })), pinned)).exp, NOW + 50);
  });

  test("no assertion", async () => {
    assert.equal(await refusal(verifyAssertion(request(undefined), pinned)), "missing");
    assert.equal(await refusal(verifyAssertion(request(""), pinned)), "missing");
  });

  test("not a JWT, or not the edge's claims", async () => {
    const good = await signWith(es);
    for (const token of ["x", "a.b", "a.b.c.d", `${good}.x`, "!!!.e30.sig", `${good} ${good}`]) {
      assert.equal(await refusal(verifyAssertion(request(token), pinned)), "malformed", token);
    }
    assert.equal(await refusal(verifyAssertion(request("a".repeat(9000)), pinned)), "malformed");
    // Two assertions in one request.
    const twice = { method: "GET", url: "/orders?page=2", headers: { "sessiongate-assertion": [good, good] } };
    assert.equal(await refusal(verifyAssertion(twice, pinned)), "malformed");
    const headers = new Headers();
    headers.append("Sessiongate-Assertion", good);
    headers.append("Sessiongate-Assertion", good);
    assert.equal(await refusal(verifyAssertion(new Request("http://origin/orders?page=2", { headers }), pinned)), "malformed");
    // A crit header, even one the signer marks as understood.
    const crit = await new SignJWT(claims())
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: "es-1", crit: ["x-ext"], "x-ext": 1 })
      .sign(es.privateKey, { crit: { "x-ext": true } });
    assert.equal(await refusal(verifyAssertion(request(crit), pinned)), "malformed");
    // Claims of the wrong shape, each signed properly.
    for (const overrides of [
      { sub: undefined },
      { sid: 7 },
      { htu: undefined },
      { iat: "1700000000" },
      { exp: NOW + 0.5 },
      { auth_time: -1 },
      { auth_time: undefined },
      { groups: "admins" },
      { groups: [1] },
      { groups: null },
      { claims: { role: 1 } },
      { claims: ["a"] },
      { claims: null },
      { device_bound: "true" },
      { kind: "robot" },
      { email: 42 },
      { aud: [AUDIENCE] },
    ]) {
      assert.equal(await refusal(verifyAssertion(request(await signWith(es, overrides)), pinned)), "malformed", JSON.stringify(overrides));
    }
  });

  test("errors never carry the token", async () => {
    const token = await signWith(es, { aud: "other-app" });
    const error = await verifyAssertion(request(token), pinned).catch((e) => e);
    assert.ok(error instanceof AssertionError);
    assert.equal(error.status, 401);
    const [, payload, signature] = token.split(".");
    const shown = `${error.message} ${error.stack} ${JSON.stringify(error)} ${String(error.cause)}`;
    assert.ok(!shown.includes(payload) && !shown.includes(signature) && !shown.includes("other-app"));
  });

  test("every code the errors use is listed", () => {
    assert.deepEqual(
      [...ASSERTION_ERROR_CODES].sort(),
      [
        "alg_not_allowed",
        "bad_signature",
        "expired",
        "issued_in_future",
        "key_set_unavailable",
        "malformed",
        "missing",
        "too_long",
        "unknown_kid",
        "wrong_audience",
        "wrong_issuer",
        "wrong_method",
        "wrong_path",
      ],
    );
  });
});

describe("request shapes", () => {
  test("a Fetch Request: method, absolute URL and Headers", async () => {
    const token = await signWith(es);
    const ok = new Request("https://app.example.com/orders?page=2", { headers: { "Sessiongate-Assertion": token } });
    assert.equal((await verifyAssertion(ok, pinned)).sub, "alice");
    const post = new Request("https://app.example.com/orders?page=2", { method: "POST", headers: { "Sessiongate-Assertion": token } });
    assert.equal(await refusal(verifyAssertion(post, pinned)), "wrong_method");
    const fragment = new Request("https://app.example.com/orders?page=2#top", { headers: { "Sessiongate-Assertion": token } });
    assert.equal((await verifyAssertion(fragment, pinned)).sub, "alice", "a fragment is never part of htu");
  });

  test("an absolute URL with an empty path, or a query only", async () => {
    const root = await signWith(es, { htu: "/" });
    assert.equal((await verifyAssertion({ method: "GET", url: "http://h:8080", headers: { "sessiongate-assertion": root } }, pinned)).sub, "alice");
    const query = await signWith(es, { htu: "/?a=1" });
    assert.equal((await verifyAssertion({ method: "GET", url: new URL("http://h/?a=1"), headers: { "sessiongate-assertion": query } }, pinned)).sub, "alice");
  });

  test("headers as a plain object of any case, or as Node's (arrays for repeated ones)", async () => {
    const token = await signWith(es);
    for (const headers of [{ "SESSIONGATE-ASSERTION": token }, { "Sessiongate-Assertion": [token] }, { "sessiongate-assertion": token, host: "x" }]) {
      assert.equal((await verifyAssertion({ method: "GET", url: "/orders?page=2", headers }, pinned)).sub, "alice");
    }
  });

  test("a path and query are compared as received, not re-encoded", async () => {
    // What a URL parser would rewrite (`'` in a query to %27, `{` in a path to %7B).
    const token = await signWith(es, { htu: "/a{b}?q='x'" });
    assert.equal((await verifyAssertion(request(token, { url: "/a{b}?q='x'" }), pinned)).sub, "alice");
    assert.equal(await refusal(verifyAssertion(request(token, { url: "/a%7Bb%7D?q=%27x%27" }), pinned)), "wrong_path");
  });

  test("not a request", async () => {
    const token = await signWith(es);
    await assert.rejects(verifyAssertion(null, pinned), TypeError);
    await assert.rejects(verifyAssertion({ url: "/", headers: {} }, pinned), TypeError);
    await assert.rejects(verifyAssertion({ method: "GET", url: "orders", headers: { "sessiongate-assertion": token } }, pinned), TypeError);
  });
});

describe("options", () => {
  test("exactly one key source, an audience, a sane leeway", () => {
    const jwks = { keys: [es.jwk] };
    assert.throws(() => createVerifier({ audience: AUDIENCE }), /exactly one/);
    assert.throws(() => createVerifier({ jwks, hs256Key: HS256_KEY, audience: AUDIENCE }), /exactly one/);
    assert.throws(() => createVerifier({ jwks, jwksUrl: "https://e/.sessiongate/jwks.json", audience: AUDIENCE }), /exactly one/);
    assert.throws(() => createVerifier({ jwks }), /audience/);
    assert.throws(() => createVerifier({ jwks, audience: "" }), /audience/);
    assert.throws(() => createVerifier({ jwks, audience: AUDIENCE, leeway: -1 }), /leeway/);
    assert.throws(() => createVerifier({ jwks, audience: AUDIENCE, audiance: AUDIENCE }), /unknown option "audiance"/);
    assert.throws(() => createVerifier({ jwks, audience: AUDIENCE, jwksOptions: {} }), /jwksUrl only/);
  });

  test("a shared secret of at least 32 characters", () => {
    assert.throws(() => createVerifier({ hs256Key: "short", audience: AUDIENCE }), /at least 32/);
    assert.throws(() => createVerifier({ hs256Key: "x".repeat(31), audience: AUDIENCE }), /at least 32/);
    assert.ok(createVerifier({ hs256Key: "x".repeat(32), audience: AUDIENCE }));
  });

  test("a pinned key set of P-256 and Ed25519 public keys with kids", async () => {
    const rsa = await keyPair("RS256", "rsa");
    const priv = { ...es.jwk, d: "AAAA" };
    assert.throws(() => createVerifier({ jwks: { keys: [] }, audience: AUDIENCE }), /at least one key/);
    assert.throws(() => createVerifier({ jwks: [es.jwk], audience: AUDIENCE }), /key set/);
    assert.throws(() => createVerifier({ jwks: { keys: [rsa.jwk] }, audience: AUDIENCE }), /only EC P-256 and OKP Ed25519/);
    assert.throws(() => createVerifier({ jwks: { keys: [priv] }, audience: AUDIENCE }), /public keys only/);
    assert.throws(() => createVerifier({ jwks: { keys: [{ ...es.jwk, kid: undefined }] }, audience: AUDIENCE }), /needs a kid/);
    assert.throws(() => createVerifier({ jwks: { keys: [es.jwk, other.jwk] }, audience: AUDIENCE }), /twice/);
  });

  test("a JWKS URL over http(s)", () => {
    assert.throws(() => createVerifier({ jwksUrl: "/.sessiongate/jwks.json", audience: AUDIENCE }), /absolute URL/);
    assert.throws(() => createVerifier({ jwksUrl: "file:///etc/jwks.json", audience: AUDIENCE }), /http\(s\)/);
    assert.throws(
      () => createVerifier({ jwksUrl: "https://e/.sessiongate/jwks.json", audience: AUDIENCE, jwksOptions: { cooldown: 1 } }),
      /unknown jwksOptions member/,
    );
  });

  test("createVerifier gives a reusable verifier", async () => {
    const verify = createVerifier(pinned);
    assert.equal((await verify(request(await signWith(es)))).sub, "alice");
    assert.equal((await verify(request(await signWith(ed, { sub: "bob" })))).sub, "bob");
    assert.equal(await refusal(verify(request(await signWith(other)))), "bad_signature");
  });
});
