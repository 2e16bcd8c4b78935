// The README's "Machine clients" curl example, pasted into bash as a user
// would, against the servers of `npm run demo:oidc` (started by the same
// function, scripts/servers.mjs's startOidcDemo): the provider's client
// credentials grant gives demo-cli a token, and the token reaches the demo
// origin's /api/me through the edge under wrangler dev. The demo runs on
// free ports, so that a running `npm start` does not get in the way; the
// README's URLs are checked against the demo's own and rewritten to them.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { DEMO_MACHINE_CLIENT, DEMO_PORTS, startOidcDemo } from "../../scripts/servers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const README_EDGE = `http://127.0.0.1:${DEMO_PORTS.edge}`;
const README_PROVIDER = `http://127.0.0.1:${DEMO_PORTS.provider}`;

/** The fenced block of the README's "## Machine clients" that asks for a token. */
function readmeCurl() {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## Machine clients\n");
  assert.ok(start >= 0, 'the README has a "## Machine clients" section');
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]);
  const curl = blocks.find((b) => b.includes("grant_type=client_credentials"));
  assert.ok(curl, "the section shows the client credentials grant with curl");
  return curl;
}

/** A port free now (and, for wrangler dev's inspector, `plus1000` too). */
async function freePort({ plus1000 = false } = {}) {
  const listen = (port) =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(null));
      server.listen(port, "127.0.0.1", () => {
        const { port: bound } = server.address();
        server.close(() => resolve(bound));
      });
    });
  for (let i = 0; i < 20; i++) {
    const port = await listen(0);
    if (port && port < 64000 && (!plus1000 || (await listen(port + 1000)))) return port;
  }
  throw new Error("no free port");
}

/** Runs `script` with bash (asynchronously: the provider answers from this process). */
const bash = (script) =>
  new Promise((resolve, reject) => {
    execFile("bash", ["-c", script], { timeout: 30_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });

let demo, edge, provider, log = "";
const kv = mkdtempSync(path.join(os.tmpdir(), "sessiongate-kv-"));

before(async () => {
  const [edgePort, originPort, providerPort] = [await freePort({ plus1000: true }), await freePort(), await freePort()];
  demo = await startOidcDemo({ edgePort, originPort, providerPort, output: (chunk) => (log += chunk), persistTo: kv });
  edge = demo.servers.edge;
  provider = demo.op.issuer;
});

after(async () => {
  await demo?.stop();
  rmSync(kv, { recursive: true, force: true });
});

test("the README's curl commands get demo-cli a token and reach /api/me through the edge as a machine client", async () => {
  const block = readmeCurl();
  assert.ok(block.includes(README_EDGE) && block.includes(README_PROVIDER), "the README names the demo's edge and provider");
  const script = block.replaceAll(README_EDGE, edge).replaceAll(README_PROVIDER, provider);
  const output = await bash(script);
  let me;
  try {
    me = JSON.parse(output);
  } catch {
    assert.fail(`not /api/me's JSON: ${output.slice(0, 500)}\n${log.slice(-2000)}`);
  }
  assert.equal(me.kind, "bearer");
  assert.equal(me.client_id, DEMO_MACHINE_CLIENT.id);
  assert.equal(me.scope, DEMO_MACHINE_CLIENT.scope);
  assert.equal(me.sub, DEMO_MACHINE_CLIENT.id);
});

test("without the header the same request gets 401, and the token opens only the API", async () => {
  assert.equal((await fetch(`${edge}/api/me`, { headers: { accept: "application/json" } })).status, 401);
  const token = await demo.op.clientCredentialsToken({ resource: edge, scope: DEMO_MACHINE_CLIENT.scope });
  const dashboard = await fetch(`${edge}/dashboard`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
  assert.equal(dashboard.status, 403);
  assert.deepEqual(await dashboard.json(), { error: "forbidden", rule: "default" });
  const write = await fetch(`${edge}/api/me`, { method: "POST", headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
  assert.equal(write.status, 403, "GET and HEAD only");
  assert.deepEqual(await write.json(), { error: "forbidden", rule: "api" });
});

test("a token for another audience, or without the scope, is refused", async () => {
  await assert.rejects(demo.op.clientCredentialsToken({ resource: "http://127.0.0.1:1", scope: "api:read" }), /invalid_target/, "the provider gives demo-cli tokens for the demo only");
  const noScope = await demo.op.clientCredentialsToken({ resource: edge, scope: "openid" });
  const response = await fetch(`${edge}/api/me`, { headers: { authorization: `Bearer ${noScope}`, accept: "application/json" } });
  assert.equal(response.status, 403);
  assert.deepEqual(await response.json(), { error: "forbidden", rule: "api" });
});
