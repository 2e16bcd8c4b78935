// The package as installed: its entry points, what they export, and that
// none of them needs Express or Hono to load.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = new URL("..", import.meta.url);

test("the entry points export the public API", async () => {
  const core = await import("sessiongate-origin");
  assert.deepEqual(Object.keys(core).sort(), [
    "ASSERTION_ERROR_CODES",
    "ASSERTION_HEADER",
    "ASSERTION_LIFETIME",
    "AssertionError",
    "DEFAULT_HANDOFF_TTL",
    "DEFAULT_LEEWAY",
    "HandoffError",
    "ISSUER",
    "Identity",
    "JWKS_PATH",
    "LOGIN_HEADER",
    "LOGOUT_HEADER",
    "MAX_ASSERTION_LENGTH",
    "MAX_HANDOFF_TTL",
    "MIN_SECRET_LENGTH",
    "USER_HEADER",
    "UserHeaderError",
    "createVerifier",
    "decodeUserHeader",
    "signHandoff",
    "verifyAssertion",
  ]);
  assert.deepEqual(
    [core.ASSERTION_HEADER, core.USER_HEADER, core.LOGIN_HEADER, core.LOGOUT_HEADER, core.JWKS_PATH],
    ["sessiongate-assertion", "x-sessiongate-user", "sessiongate-login", "sessiongate-logout", "/.sessiongate/jwks.json"],
  );
  const express = await import("sessiongate-origin/express");
  assert.deepEqual(Object.keys(express).sort(), ["default", "sessiongate"]);
  const hono = await import("sessiongate-origin/hono");
  assert.deepEqual(Object.keys(hono).sort(), ["default", "sessiongateHono"]);
});

test("no entry point loads express or hono", async () => {
  // A resolve hook that fails any import of a framework.
  const hook = `data:text/javascript,${encodeURIComponent(
    'export async function resolve(s, c, next) { if (/^(express|hono|@hono\\/)/.test(s)) throw new Error("loaded " + s); return next(s, c); }',
  )}`;
  const script = `
    import { register } from "node:module";
    register(${JSON.stringify(hook)});
    await import("sessiongate-origin");
    await import("sessiongate-origin/express");
    await import("sessiongate-origin/hono");
    let refused = false;
    try { await import("hono"); } catch (e) { refused = /loaded hono/.test(e.message); }
    console.log(refused ? "ok" : "hook inactive");`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: root });
  assert.equal(stdout.trim(), "ok");
});

test("package.json follows the conventions the README promises", async () => {
  const pkg = JSON.parse(await readFile(new URL("package.json", root), "utf8"));
  assert.equal(pkg.name, "sessiongate-origin");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.license, "MIT OR Apache-2.0");
  assert.equal(pkg.dependencies.jose, "6.2.18");
  assert.equal(pkg.engines.node, ">=20");
  for (const entry of [".", "./express", "./hono"]) {
    const { types, default: js } = pkg.exports[entry];
    await readFile(new URL(types, root));
    await readFile(new URL(js, root));
  }
});
