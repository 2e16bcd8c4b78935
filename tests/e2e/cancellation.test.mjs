// Requests that end early (DESIGN §10): when the client of a request goes
// away while the request waits for I/O, the platform aborts the request's
// signal and drops the driver's promise midway. The driver then ends the
// exchange, with its one log line, instead of leaving it waiting in the
// isolate: the health check's in_flight returns to zero.
//
// Miniflare does not pass a client's disconnect on to the worker's
// request.signal, so a wrapper beside the build's unmodified shim does what
// the platform does: it hands the driver a request with a signal of its
// own, lets it wait (on the origin, or on a KV read that never settles),
// aborts the signal, and drops the promise.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { GATE_SCRIPT, putSession, startGate, withSession } from "./harness.mjs";

const build = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../build/worker");

const WRAPPER = `
import worker from "./shim.mjs";

/** The exchanges waiting in this isolate, as the health check reports them. */
async function inFlight(env, ctx) {
  const health = await worker.fetch(new Request("https://app.example.com/.sessiongate/health"), env, ctx);
  return (await health.json()).in_flight;
}

/** KV whose record reads never settle. */
const stalling = (kv) => ({
  get: (key, options) => (key.startsWith("s:") ? new Promise(() => {}) : kv.get(key, options)),
  put: (...args) => kv.put(...args),
  delete: (...args) => kv.delete(...args),
  list: (...args) => kv.list(...args),
});

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname !== "/__abandon") return worker.fetch(request, env, ctx);
    const before = await inFlight(env, ctx);
    const controller = new AbortController();
    const target = new Request(new URL(url.searchParams.get("path"), url), { headers: request.headers, signal: controller.signal });
    const driverEnv = url.searchParams.has("stall") ? { ...env, SESSIONS: stalling(env.SESSIONS) } : env;
    // Never awaited: dropped midway, as the platform drops it.
    worker.fetch(target, driverEnv, ctx).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = await inFlight(env, ctx);
    controller.abort();
    return Response.json({ before, waiting, after: await inFlight(env, ctx) });
  },
};
`;

describe("a client that goes away midway", () => {
  let gate, scratch, token;
  before(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), "sessiongate-cancellation-"));
    const dir = path.join(scratch, "worker");
    mkdirSync(dir);
    for (const file of ["shim.mjs", "index.wasm"]) copyFileSync(path.join(build, file), path.join(dir, file));
    writeFileSync(path.join(dir, "wrapper.mjs"), WRAPPER);
    const modulesRules = [{ type: "ESModule", include: ["**/*.mjs"] }, ...GATE_SCRIPT.modulesRules];
    gate = await startGate({ worker: { scriptPath: path.join(dir, "wrapper.mjs"), modulesRoot: scratch, modulesRules } });
    ({ token } = await putSession(gate));
    // The origin never answers /slow.
    gate.origin = (request) => (new URL(request.url).pathname === "/slow" ? new Promise(() => {}) : Response.json({ from: "origin" }));
  });
  after(async () => {
    await gate.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const [waitsFor, query] of [
    ["the origin", "path=/slow"],
    ["its record's read", "path=/dashboard&stall"],
  ]) {
    test(`while it waits for ${waitsFor}: its exchange is ended at once and logged as cancelled`, async () => {
      const logged = gate.logs.length;
      const response = await gate.fetch(`/__abandon?${query}`, { headers: withSession(token) });
      assert.deepEqual(await response.json(), { before: 0, waiting: 1, after: 0 });
      const line = gate.logs.slice(logged).find((l) => l.reason === "cancelled");
      assert.ok(line, "one log line for the cancelled request");
      assert.deepEqual([line.decision, line.status], ["error", 499]);
      assert.match(line.detail, /client went away/);
      assert.equal((await gate.fetch("/dashboard", { headers: withSession(token) })).status, 200, "the isolate serves on");
    });
  }
});
