// Login handoffs signed by the README's snippets, verbatim, with PyJWT and
// with jose, start a session at the built worker; the same snippets under
// another key start none.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { signHandoff } from "../../docs/snippets/sign-handoff.mjs";
import { HANDOFF_KEY, jwtClaims, sessionCookies, cookieValue, startGate, withSession } from "../e2e/harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const python = path.join(root, ".venv/bin/python");

/** Runs the Python snippet; resolves to the handoff it signs. */
async function pyjwtSign(userId, key, claims) {
  const program = `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.join(root, "docs/snippets"))})
from sign_handoff import sign_handoff
print(sign_handoff(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
`;
  const { stdout } = await promisify(execFile)(python, ["-c", program, userId, key, JSON.stringify(claims ?? null)]);
  return stdout.trim();
}

const signers = { PyJWT: pyjwtSign, jose: signHandoff };

let gate;
before(async () => (gate = await startGate()));
after(() => gate.close());

/** The session cookie the gate sets when the origin's login page answers with `handoff`. */
async function loginWith(handoff) {
  gate.origin = () => new Response("welcome", { headers: { "sessiongate-login": handoff } });
  const response = await gate.fetch("/login", { method: "POST", headers: { origin: "https://app.example.com" } });
  gate.origin = () => Response.json({ from: "origin" });
  assert.equal(response.headers.get("sessiongate-login"), null, "the handoff never reaches the browser");
  return sessionCookies(response);
}

test("the README shows the handoff snippets these tests run, verbatim", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  for (const snippet of ["sign_handoff.py", "sign-handoff.mjs"]) {
    assert.ok(readme.includes(readFileSync(path.join(root, "docs/snippets", snippet), "utf8")), snippet);
  }
});

for (const [name, sign] of Object.entries(signers)) {
  describe(name, () => {
    test("a handoff it signs starts a session that carries its claims", async () => {
      const [cookie] = await loginWith(await sign("alice@example.com", HANDOFF_KEY, { role: "admin" }));
      assert.ok(cookie && !/Max-Age=0/.test(cookie), "a session cookie");
      const response = await gate.fetch("/dashboard", { headers: withSession(cookieValue(cookie)) });
      assert.equal(response.status, 200);
      const claims = jwtClaims(gate.received.at(-1).headers["sessiongate-assertion"]);
      assert.equal(claims.sub, "alice@example.com");
      assert.deepEqual(claims.claims, { role: "admin" });
    });

    test("signed under another key, it starts none", async () => {
      const cookies = await loginWith(await sign("mallory", "not-the-handoff-key-not-the-handoff-key"));
      assert.deepEqual(cookies, []);
    });
  });
}
