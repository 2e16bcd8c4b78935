// The README's Authorization examples, pasted into wrangler.toml as it
// says (at the end of [vars]) and read by wrangler's own config reader,
// do what the README says they do: both forms, TOML tables and a JSON
// string, each example rule by rule.

import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { unstable_readConfig } from "wrangler";
import { login, now, startGate, withSession } from "./harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(path.join(root, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Authorization"), readme.indexOf("\n## ", readme.indexOf("## Authorization") + 3));
const [tables, jsonString] = [...section.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]);

/** wrangler.toml with `block` pasted at the end of its [vars]; the POLICY wrangler reads from it. */
function pastedPolicy(block) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sessiongate-readme-"));
  try {
    const original = readFileSync(path.join(root, "wrangler.toml"), "utf8");
    const vars = original.indexOf("[vars]");
    const end = original.indexOf("\n[", vars + "[vars]".length);
    writeFileSync(path.join(dir, "wrangler.toml"), `${original.slice(0, end)}\n${block}${original.slice(end)}`);
    copyFileSync(path.join(root, "package.json"), path.join(dir, "package.json"));
    const config = unstable_readConfig({ config: path.join(dir, "wrangler.toml") });
    return { POLICY: config.vars.POLICY, POLICY_DEFAULT: config.vars.POLICY_DEFAULT };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const json = { accept: "application/json" };
const write = { ...json, "sec-fetch-site": "same-origin" };

for (const [form, block] of [
  ["as TOML tables", tables],
  ["as one JSON string", jsonString],
]) {
  describe(`the README's rules ${form}`, () => {
    let gate;
    const as = {};
    before(async () => {
      assert.ok(block, "the README shows this form");
      gate = await startGate({ vars: pastedPolicy(block) });
      as.admin = await login(gate, "ada", { identity: { email: "ada@example.com", groups: ["admins"] } });
      as.staff = await login(gate, "bob", { identity: { email: "bob@example.com" } });
      as.contractor = await login(gate, "cy", { identity: { email: "contractor@example.com" } });
      as.outsider = await login(gate, "olga", { identity: { email: "olga@elsewhere.test" } });
      as.editor = await login(gate, "ed", { identity: { groups: ["editors"] } });
      as.sixMinutesAgo = await login(gate, "sam", { identity: { auth_time: now() - 6 * 60 } });
    });
    after(() => gate.close());

    const status = async (who, pathname, init = {}) =>
      (await gate.fetch(pathname, { ...init, headers: withSession(as[who], init.headers ?? json) })).status;

    test("admins only", async () => {
      assert.equal(await status("admin", "/admin/users"), 200);
      assert.equal(await status("staff", "/admin/users"), 403);
    });

    test("everyone at example.com, except one contractor", async () => {
      assert.equal(await status("staff", "/reports/q3"), 200);
      assert.equal(await status("contractor", "/reports/q3"), 403);
      assert.equal(await status("outsider", "/reports/q3"), 403);
    });

    test("read-only for everyone, writes for editors", async () => {
      assert.equal(await status("outsider", "/wiki/home"), 200);
      assert.equal(await status("outsider", "/wiki/home", { method: "POST", headers: write, body: "x" }), 403);
      assert.equal(await status("editor", "/wiki/home", { method: "POST", headers: write, body: "x" }), 200);
    });

    test("a sensitive page only after a sign-in within the last 5 minutes", async () => {
      assert.equal(await status("staff", "/settings/security"), 200);
      const stale = await gate.fetch("/settings/security", { headers: withSession(as.sixMinutesAgo, json) });
      assert.deepEqual([stale.status, await stale.json()], [401, { error: "unauthenticated", reason: "step_up" }]);
      const page = await gate.fetch("/settings/security", { headers: withSession(as.sixMinutesAgo, { accept: "text/html" }) });
      assert.equal(page.headers.get("location"), "/login?return_to=/settings/security&max_age=300");
    });

    test("paths no rule names stay open to any signed-in user", async () => {
      assert.equal(await status("outsider", "/dashboard"), 200);
    });
  });
}
