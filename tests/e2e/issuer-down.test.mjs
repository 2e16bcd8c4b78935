// An issuer that is down is not asked again for every forged token
// (DESIGN §15): a failed fetch of its documents is remembered for 30 s,
// concurrent fetches of one document are one, and each 503 for a token
// that could not be checked counts against the sender's BAD_TOKEN_LIMIT.
// The issuer here answers 502, slowly, through the harness's outbound.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SignJWT, generateKeyPair } from "jose";
import { now, startGate } from "./harness.mjs";

const ISSUER = "https://id.example.com";
const API = "https://api.example.com";
const POLICY = [{ name: "api", paths: ["/api/*"], allow: [{ clients: ["ci"] }] }];

describe("an issuer answering 502", () => {
  let gate, forged;
  const issuerFetches = () => gate.received.filter((r) => r.url.startsWith(ISSUER)).length;
  const send = (client) =>
    gate.fetch("/api/x", { headers: { authorization: `Bearer ${forged}`, accept: "application/json", "cf-connecting-ip": client } });

  before(async () => {
    gate = await startGate({ vars: { BEARER_AUDIENCE: API, BEARER_ISSUER: ISSUER, POLICY: JSON.stringify(POLICY), BAD_TOKEN_LIMIT: "5/1m" } });
    gate.origin = async (request) => {
      if (!request.url.startsWith(ISSUER)) return Response.json({ from: "origin" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      return new Response("bad gateway", { status: 502 });
    };
    const { privateKey } = await generateKeyPair("RS256");
    forged = await new SignJWT({ client_id: "ci", scope: "" })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(API)
      .setSubject("ci")
      .setIssuedAt(now() - 10)
      .setExpirationTime(now() + 600)
      .sign(privateKey);
  });
  after(() => gate.close());

  test("ten concurrent forged tokens make one fetch, and each gets 503", async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`198.51.100.${i + 1}`)));
    for (const answer of answers) {
      assert.equal(answer.status, 503);
      assert.deepEqual(await answer.json(), { error: "token_issuer_unavailable" });
    }
    assert.equal(issuerFetches(), 1);
  });

  test("thirty more from one sender within 30 s: no fetch, five 503s, then 429", async () => {
    const statuses = [];
    for (let i = 0; i < 30; i++) statuses.push((await send("203.0.113.9")).status);
    assert.deepEqual(statuses.slice(0, 5), [503, 503, 503, 503, 503]);
    assert.ok(statuses.slice(5).every((s) => s === 429), statuses.join(" "));
    assert.equal(issuerFetches(), 1, "the failure was remembered");
    const line = gate.logs.filter((l) => l.status === 503).at(-1);
    assert.deepEqual([line.decision, line.reason], ["error", "provider_unavailable"]);
    assert.match(line.detail, /failed within the last 30 s/);
    assert.equal(gate.received.filter((r) => !r.url.startsWith(ISSUER)).length, 0, "nothing reached the origin");
  });
});
