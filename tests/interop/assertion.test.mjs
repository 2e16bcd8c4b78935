// Assertions made by the built worker verify, unmodified, with PyJWT and
// with jose, using the exact snippets the README shows; tampered, foreign
// and expired ones fail in both.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { verifyAssertion } from "../../docs/snippets/verify-assertion.mjs";
import { ASSERTION_KEY, AUDIENCE, jwtClaims, login, now, signJwt, startGate, withSession } from "../e2e/harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const python = path.join(root, ".venv/bin/python");

/** Runs the Python snippet; resolves to its claims or rejects with PyJWT's error. */
async function pyjwtVerify(token, key, audience, method, pathAndQuery) {
  const program = `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.join(root, "docs/snippets"))})
from verify_assertion import verify_assertion
print(json.dumps(verify_assertion(*sys.argv[1:])))
`;
  const { stdout } = await promisify(execFile)(python, ["-c", program, token, key, audience, method, pathAndQuery]);
  return JSON.parse(stdout);
}

const verifiers = { PyJWT: pyjwtVerify, jose: verifyAssertion };

let gate, assertion;
before(async () => {
  gate = await startGate();
  const token = await login(gate, "alice", { claims: { role: "admin" } });
  await gate.fetch("/api/orders?page=2", { headers: withSession(token) });
  assertion = gate.received.at(-1).headers["sessiongate-assertion"];
});
after(() => gate.close());

test("the README shows the snippets these tests run, verbatim", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  for (const snippet of ["verify_assertion.py", "verify-assertion.mjs"]) {
    assert.ok(readme.includes(readFileSync(path.join(root, "docs/snippets", snippet), "utf8")), snippet);
  }
  // Every line of the Rust snippet stands, in order, in the example cargo
  // test compiles (cargo test -p sessiongate-origin --all-features).
  const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);
  const example = lines(readFileSync(path.join(root, "origins/rust/examples/axum_key_set_url.rs"), "utf8"));
  let at = 0;
  for (const line of lines(readme.match(/```rust\n([\s\S]*?)```/)[1])) {
    at = example.indexOf(line, at);
    assert.notEqual(at, -1, `origins/rust/examples/axum_key_set_url.rs lacks, in order: ${line}`);
  }
});

for (const [name, verify] of Object.entries(verifiers)) {
  describe(name, () => {
    test("verifies the worker's assertion unmodified", async () => {
      const claims = await verify(assertion, ASSERTION_KEY, AUDIENCE, "GET", "/api/orders?page=2");
      assert.equal(claims.sub, "alice");
      assert.deepEqual(claims.claims, { role: "admin" });
    });

    test("rejects a tampered assertion", async () => {
      const [header, , signature] = assertion.split(".");
      const forged = Buffer.from(JSON.stringify({ ...jwtClaims(assertion), sub: "mallory" })).toString("base64url");
      await assert.rejects(verify(`${header}.${forged}.${signature}`, ASSERTION_KEY, AUDIENCE, "GET", "/api/orders?page=2"));
    });

    test("rejects a wrong audience", async () => {
      await assert.rejects(verify(assertion, ASSERTION_KEY, "another-app", "GET", "/api/orders?page=2"));
    });

    test("rejects an expired assertion", async () => {
      const expired = signJwt(ASSERTION_KEY, { ...jwtClaims(assertion), iat: now() - 120, exp: now() - 60 });
      await assert.rejects(verify(expired, ASSERTION_KEY, AUDIENCE, "GET", "/api/orders?page=2"));
    });

    test("rejects the assertion on another method or path", async () => {
      await assert.rejects(verify(assertion, ASSERTION_KEY, AUDIENCE, "POST", "/api/orders?page=2"));
      await assert.rejects(verify(assertion, ASSERTION_KEY, AUDIENCE, "GET", "/api/orders"));
    });
  });
}
