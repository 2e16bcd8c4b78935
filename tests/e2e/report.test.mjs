// MODE=report: every request enforce mode would refuse reaches the origin,
// with the verdict and without any identity; the log line says so. Each
// kind of refusal, against a gate in each mode. Hygiene is not relaxed:
// inbound Sessiongate-* headers are stripped, malformed paths and misuse
// of the edge's endpoints are refused as ever.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { login, mintToken, newId, now, startGate, withSession } from "./harness.mjs";

let enforce, report;
before(async () => {
  [enforce, report] = await Promise.all([
    startGate({ vars: { BAD_TOKEN_LIMIT: "1/1m" } }),
    startGate({ vars: { MODE: "report", BAD_TOKEN_LIMIT: "1/1m" } }),
  ]);
});
after(() => Promise.all([enforce.close(), report.close()]));
beforeEach(() => {
  for (const gate of [enforce, report]) gate.received.length = 0;
});

const json = { accept: "application/json" };
const html = { accept: "text/html" };

/** Each refusal: how to provoke it at `gate`, and what enforce mode answers. */
const refusals = {
  missing: async (gate) => gate.fetch("/dashboard", { headers: json }),
  "missing (a browser)": async (gate) => gate.fetch("/dashboard", { headers: html }),
  // Its own client address: an invalid token counts against BAD_TOKEN_LIMIT.
  invalid: async (gate) =>
    gate.fetch("/dashboard", {
      headers: withSession(mintToken({ secret: "not-the-key-not-the-key-not-the-key-0" }), { "cf-connecting-ip": "203.0.113.10", ...json }),
    }),
  expired: async (gate) =>
    gate.fetch("/dashboard", { headers: withSession(mintToken({ stamp: now() - 31 * 60 }), json) }),
  revoked: async (gate) => gate.fetch("/dashboard", { headers: withSession(mintToken({ id: newId() }), json) }),
  cross_site: async (gate) =>
    gate.fetch("/api/transfer", {
      method: "POST",
      headers: withSession(await login(gate, "alice"), { origin: "https://evil.example", ...json }),
    }),
  throttled: async (gate) => {
    const client = { "cf-connecting-ip": "203.0.113.9", ...json };
    await gate.fetch("/dashboard", { headers: withSession("sg1.k1.garbage", client) });
    gate.received.length = 0;
    return gate.fetch("/dashboard", { headers: withSession(await login(gate, "alice"), client) });
  },
};
const enforced = { missing: 401, "missing (a browser)": 303, invalid: 401, expired: 401, revoked: 401, cross_site: 403, throttled: 429 };

describe("each refusal", () => {
  for (const [kind, provoke] of Object.entries(refusals)) {
    const reason = kind.split(" ")[0];
    test(`${kind}: enforce answers ${enforced[kind]}; report forwards it with "deny; reason=${reason}"`, async () => {
      const refused = await provoke(enforce);
      assert.equal(refused.status, enforced[kind]);
      assert.equal(enforce.received.filter((r) => r.url.includes("/dashboard") || r.url.includes("/api/")).length, 0);

      const logged = report.logs.length;
      const passed = await provoke(report);
      assert.equal(passed.status, 200, "the origin's answer");
      const sent = report.received.at(-1);
      assert.equal(sent.headers["sessiongate-verdict"], `deny; reason=${reason}`);
      assert.equal(sent.headers["sessiongate-assertion"], undefined, "no assertion without a valid session");
      assert.equal(sent.headers["x-sessiongate-user"], undefined);
      const line = report.logs.slice(logged).at(-1);
      assert.deepEqual([line.decision, line.reason, line.mode, line.status], ["reject", reason, "report", 200]);
    });
  }
});

test("an authenticated request carries its assertion and the verdict allow", async () => {
  const token = await login(report, "alice");
  report.received.length = 0;
  await report.fetch("/dashboard", { headers: withSession(token) });
  const sent = report.received.at(-1);
  assert.equal(sent.headers["sessiongate-verdict"], "allow");
  assert.ok(sent.headers["sessiongate-assertion"]);
  assert.equal(sent.headers["x-sessiongate-user"], "alice");
});

test("spoofed Sessiongate headers are stripped, the verdict included", async () => {
  await report.fetch("/dashboard", {
    headers: { "sessiongate-verdict": "allow", "sessiongate-assertion": "forged", "x-sessiongate-user": "admin", ...json },
  });
  const sent = report.received.at(-1);
  assert.equal(sent.headers["sessiongate-verdict"], "deny; reason=missing");
  assert.equal(sent.headers["sessiongate-assertion"], undefined);
  assert.equal(sent.headers["x-sessiongate-user"], undefined);
});

describe("what report mode does not relax", () => {
  for (const [what, path, init, status] of [
    ["a malformed path", "/static/..%2fadmin", {}, 400],
    ["a Unicode look-alike path", "/static/%EF%BC%8E%EF%BC%8E/admin", {}, 400],
    ["/.sessiongate/session without a session", "/.sessiongate/session", { headers: json }, 401],
    ["a cross-site logout", "/.sessiongate/logout", { method: "POST", headers: { origin: "https://evil.example" } }, 403],
    ["the admin API without its token", "/.sessiongate/admin/users/alice/sessions", {}, 401],
  ]) {
    test(`${what} is refused (${status}) in both modes`, async () => {
      for (const gate of [enforce, report]) {
        const response = await gate.fetch(path, init);
        assert.equal(response.status, status);
        assert.equal(gate.received.length, 0);
      }
    });
  }
});

test("an invalid MODE is misconfigured", async () => {
  const gate = await startGate({ vars: { MODE: "lenient" } });
  try {
    const response = await gate.fetch("/dashboard");
    assert.equal(response.status, 500);
    assert.match(gate.logs.at(-1).detail, /^MODE: "lenient" is not enforce or report$/);
  } finally {
    await gate.close();
  }
});

