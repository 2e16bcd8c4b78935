#!/usr/bin/env node
// Where sessiongate's cold start goes: `node bench/cold-breakdown.mjs
// [--build build]... [--samples 25] [--port-base 9500]` (after `npm run
// build`). See bench/README.md ("Where a cold start goes"). The first
// --build is broken down; each further one (another commit's build, say)
// has its full cold start timed in the same passes, for an A/B that the
// machine's drift between two runs cannot skew.
//
// Time cannot be read inside an isolate (it stands still between I/O), so
// each stage is measured as its own cold start, through bench/cold.mjs: a
// wrapper module beside the build's unmodified shim.mjs and index.wasm
// does a little more of the first request each time. Every variant gets a
// fresh isolate per sample, as the bench's cold start does, and each
// figure is net of the empty worker's in the same pass; the differences
// between consecutive variants are the stages:
//
//   compile      the wasm module imported and never instantiated: V8
//                decodes and validates it (function bodies are compiled
//                later, each on its first call)
//   instantiate  the shim evaluated: the wasm-bindgen glue, the instance,
//                its start function
//   configure    one request with no SESSIONS bound: configure reads and
//                checks every variable, then the gate answers 500
//                misconfigured (and the first log line is printed)
//   decide       the authenticated request with its I/O answered inside
//                the isolate (the record from memory, the origin's answer
//                made there): the whole first decision, no I/O
//   full         the authenticated request as the bench's cold start
//                sends it: one KV read and the origin, for real
//
// `decide, no log` is `decide` with console.log a no-op: the first log
// line's share. The floor is timed alongside for scale.

import { fork } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, "..");
const { values: opts } = parseArgs({
  options: {
    build: { type: "string", multiple: true, default: [path.join(root, "build")] },
    samples: { type: "string", default: "25" },
    "port-base": { type: "string", default: "9500" },
  },
});
const builds = opts.build.map((b) => path.resolve(b));
const buildDir = builds[0];
const SAMPLES = Number(opts.samples);
const PORT = Number(opts["port-base"]);
const ORIGIN = `http://127.0.0.1:${PORT + 1}`;
const COMPATIBILITY_DATE = "2026-04-26";
const PATH = "/app/data?x=1";
for (const dir of builds) {
  for (const file of ["worker/shim.mjs", "worker/index.wasm"]) {
    if (!existsSync(path.join(dir, file))) {
      console.error(`cold-breakdown: no ${file} in ${dir}: run \`npm run build\` first`);
      process.exit(1);
    }
  }
}

const { Miniflare, Log, LogLevel } = await import("miniflare");
const { measureCold } = await import(pathToFileURL(path.join(benchDir, "cold.mjs")).href);
const h = await import(pathToFileURL(path.join(root, "tests/e2e/harness.mjs")).href);

// The wrappers: each imports the build's own modules, unmodified.
const ANSWERED = "new Response('{\"from\":\"origin\"}', { headers: { 'content-type': 'application/json' } })";
const WRAPPERS = {
  compile: `import wasm from "./index.wasm";
export default { fetch() { return new Response(wasm ? null : "no module", { status: 204 }); } };`,
  instantiate: `import worker from "./shim.mjs";
export default { fetch() { return new Response(worker ? null : "no worker", { status: 204 }); } };`,
  configure: `import worker from "./shim.mjs";
export default { fetch(request, env, ctx) { const { SESSIONS, ...rest } = env; return worker.fetch(request, rest, ctx); } };`,
  decide: `import worker from "./shim.mjs";
globalThis.fetch = async () => ${ANSWERED};
export default { fetch(request, env, ctx) { const SESSIONS = { get: async () => env.BENCH_RECORD }; return worker.fetch(request, { ...env, SESSIONS }, ctx); } };`,
  "decide, no log": `import worker from "./shim.mjs";
globalThis.fetch = async () => ${ANSWERED};
console.log = () => {};
export default { fetch(request, env, ctx) { const SESSIONS = { get: async () => env.BENCH_RECORD }; return worker.fetch(request, { ...env, SESSIONS }, ctx); } };`,
};
const STATUS = { compile: 204, instantiate: 204, configure: 500, decide: 200, "decide, no log": 200, full: 200 };

const scratch = mkdtempSync(path.join(os.tmpdir(), "sessiongate-cold-breakdown-"));
const origin = fork(path.join(benchDir, "origin.mjs"), [String(PORT + 1)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
try {
  await new Promise((resolve, reject) => {
    origin.once("message", (m) => (m.type === "listening" ? resolve() : reject(new Error(m.message))));
    origin.once("exit", (code) => reject(new Error(`the origin exited (${code})`)));
  });

  const session = { id: h.newId() };
  session.hash = h.idHash(session.id);
  const iat = h.now();
  const record = JSON.stringify({ v: 1, uid: "alice", iat, abs_exp: iat + 12 * 3600, claims: {} });
  const vars = { ...h.VARS, ORIGIN_URL: ORIGIN, BAD_TOKEN_LIMIT: "off", BENCH_RECORD: record };
  const gateRequest = () => ({ path: PATH, headers: { cookie: `${h.COOKIE}=${h.mintToken({ id: session.id })}`, accept: "application/json" } });
  const kv = { kvNamespaces: { SESSIONS: "bench-sessions" } };
  const gate = (scriptPath, modulesRoot) => ({
    options: {
      modules: true,
      scriptPath,
      modulesRoot,
      modulesRules: [
        { type: "ESModule", include: ["**/*.js"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: vars,
      ...kv,
    },
    request: gateRequest,
  });
  const workers = {
    floor: {
      options: { modules: true, scriptPath: path.join(benchDir, "workers/floor.mjs"), compatibilityDate: COMPATIBILITY_DATE, bindings: { ORIGIN_URL: ORIGIN }, ...kv },
      request: () => ({ path: PATH, headers: { cookie: `fl=${session.hash}` } }),
      status: 200,
    },
  };
  for (const [name, text] of Object.entries(WRAPPERS)) {
    const dir = path.join(scratch, name.replace(/\W+/g, "-"), "worker");
    mkdirSync(dir, { recursive: true });
    for (const file of ["shim.mjs", "index.wasm"]) copyFileSync(path.join(buildDir, "worker", file), path.join(dir, file));
    writeFileSync(path.join(dir, "wrapper.mjs"), text);
    workers[name] = { ...gate(path.join(dir, "wrapper.mjs"), path.dirname(dir)), status: STATUS[name] };
  }
  workers.full = { ...gate(path.join(buildDir, "worker/shim.mjs"), buildDir), status: STATUS.full };
  const others = builds.slice(1).map((dir, i) => [`full: ${path.basename(dir)} (${i + 2})`, dir]);
  for (const [name, dir] of others) workers[name] = { ...gate(path.join(dir, "worker/shim.mjs"), dir), status: STATUS.full };

  console.log(`cold-breakdown: ${buildDir}, ${readFileSync(path.join(buildDir, "worker/index.wasm")).length} B of wasm, ${SAMPLES} fresh isolates per variant`);
  const cold = await measureCold({
    Miniflare,
    log: new Log(LogLevel.WARN),
    workers,
    samples: SAMPLES,
    port: PORT,
    compatibilityDate: COMPATIBILITY_DATE,
    prepare: async (namespace) => (await namespace("bench-sessions")).put(`s:${session.hash}`, record),
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
  });
  const net = (name) => cold.workers[name].net_ms;
  const line = (label, ms, stage) => console.log(`${label.padEnd(16)}${ms.toFixed(2).padStart(8)} ms${stage === undefined ? "" : `   ${stage >= 0 ? "+" : ""}${stage.toFixed(2)} ms`}`);
  console.log(`median net of the empty worker (${cold.empty.median_ms} ms), and each stage's share:`);
  line("floor", net("floor"));
  let before = 0;
  for (const name of ["compile", "instantiate", "configure", "decide", "full"]) {
    line(name, net(name), net(name) - before);
    before = net(name);
  }
  line("decide, no log", net("decide, no log"), net("decide, no log") - net("decide"));
  for (const [name, dir] of others) {
    console.log(`${name}: ${readFileSync(path.join(dir, "worker/index.wasm")).length} B of wasm, ${dir}`);
    line(name.split(" (")[0], net(name), net(name) - net("full"));
  }
  writeFileSync(path.join(benchDir, "cold-breakdown.json"), JSON.stringify({ build: buildDir, ...cold }, null, 1));
} finally {
  origin.kill();
  rmSync(scratch, { recursive: true, force: true });
}
