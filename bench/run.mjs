#!/usr/bin/env node
// The sessiongate benchmark: `node bench/run.mjs [--rounds 5] [--requests 3000]
// [--connections 16]`. See bench/README.md for what it measures and how.
//
// One workerd (Miniflare) hosts three workers in front of one local origin
// (a Node process of its own) over one shared SESSIONS KV namespace:
//   floor        bench/workers/floor.mjs: one KV read, then forward
//   sessiongate  build/worker/shim.mjs, the release build
//   peer         bench/workers/peer.mjs: Hono + @hono/session over KV
// Each has its own loopback port (a Miniflare direct socket, no entry
// worker in between). autocannon drives them in interleaved rounds; the
// workerd process's utime+stime over a round, divided by its requests, is
// the CPU per request. KV operations are counted separately, by copies of
// the three workers whose SESSIONS goes through a counting proxy worker.
// sessiongate also gets rounds of forged tokens (401, no KV, no origin),
// rounds with the revocation ledger bound, rounds with a 20-rule POLICY
// (bench/policy.json), rounds served from the isolate's copy of the
// record (RECORD_CACHE, with the ledger: no KV read) and rounds of a
// machine client's RS256 access token (BEARER_AUDIENCE, a stand-in issuer:
// no session, no KV); 100 users at 2 requests a second count the KV reads
// the record's copy leaves; and bench/cold.mjs times each worker's first
// response in a fresh isolate.

import { execFileSync, fork, spawnSync } from "node:child_process";
import { createCipheriv, generateKeyPairSync, hkdfSync, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import http from "node:http";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, "..");
const outDir = path.join(benchDir, "build");
const WORKERS = ["floor", "sessiongate", "peer"];
const COMPATIBILITY_DATE = "2026-04-26";
const PEER_SECRET = "bench-peer-auth-secret-bench-peer-auth-secret";
/** The `sg policy` case's POLICY: 20 rules, one of which admits the session. */
const POLICY = readFileSync(path.join(benchDir, "policy.json"), "utf8");
const POLICY_RULES = JSON.parse(POLICY).length;
/**
 * The `sg bearer` case: a machine client's access token (RFC 9068) for
 * BEARER_AUDIENCE, with the scope its POLICY rule asks for. The rule
 * admits the client on the benchmarked path (machine access is opt-in per
 * path: without it every bearer request is refused).
 */
const BEARER_AUDIENCE = "https://api.bench.example";
const BEARER_CLIENT = "bench-client";
const BEARER_SCOPE = "data:read data:write";
const BEARER_KID = "bench-rs256";
const BEARER_LIFETIME_S = 600;
const BEARER_POLICY = JSON.stringify([
  { name: "machines", paths: ["/app/*"], allow: [{ clients: [BEARER_CLIENT], scopes: ["data:read"] }] },
]);

// ---------------------------------------------------------------- options

const { values: opts } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    requests: { type: "string", default: "3000" },
    connections: { type: "string", default: "16" },
    warmup: { type: "string", default: "1000" },
    "time-cap": { type: "string", default: "60" },
    "kv-requests": { type: "string", default: "20" },
    "cold-samples": { type: "string", default: "15" },
    "port-base": { type: "string", default: "9100" },
    build: { type: "string", default: path.join(root, "build") },
    decision: { type: "string", default: path.join(benchDir, "decision.json") },
    out: { type: "string", default: path.join(benchDir, "results.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  console.log(`usage: node bench/run.mjs [options]
  --rounds N        interleaved rounds per worker (5)
  --requests N      requests per worker per round (3000)
  --connections N   concurrent connections (16)
  --warmup N        unrecorded requests per worker before the rounds (1000)
  --time-cap S      a round stops after S seconds whatever its count (60)
  --kv-requests N   requests per KV-count case (20)
  --cold-samples N  fresh isolates per worker for the cold start; 0 skips it (15)
  --port-base P     ports P..P+19 on 127.0.0.1 (9100)
  --build DIR       sessiongate's build to measure (build/), e.g. an older commit's
  --decision FILE   the decision figures for the summary line (bench/decision.json)
  --out FILE        results JSON (bench/results.json)`);
  process.exit(0);
}
const int = (name, min, max) => {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    console.error(`bench: --${name} must be an integer in ${min}..${max}, not ${opts[name]}`);
    process.exit(2);
  }
  return v;
};
const ROUNDS = int("rounds", 1, 100);
const REQUESTS = int("requests", 10, 10_000_000);
const CONNECTIONS = int("connections", 1, 1024);
const WARMUP = int("warmup", 0, 10_000_000);
const TIME_CAP = int("time-cap", 1, 3600);
const KV_REQUESTS = int("kv-requests", 1, 1000);
const COLD_SAMPLES = int("cold-samples", 0, 1000);
const PORT_BASE = int("port-base", 1024, 65500);
const buildDir = path.resolve(opts.build);
if ([8787, 8788].some((p) => p >= PORT_BASE && p <= PORT_BASE + 19)) {
  console.error("bench: ports 8787/8788 are taken by `npm start`; pick another --port-base");
  process.exit(2);
}

const PORTS = {
  entry: PORT_BASE,
  floor: PORT_BASE + 1,
  sessiongate: PORT_BASE + 2,
  peer: PORT_BASE + 3,
  kvcount: PORT_BASE + 4,
  "floor-kv": PORT_BASE + 5,
  "sessiongate-kv": PORT_BASE + 6,
  "peer-kv": PORT_BASE + 7,
  cold: PORT_BASE + 8,
  "sessiongate-ledger": PORT_BASE + 9,
  origin: PORT_BASE + 10,
  "sessiongate-ledger-count": PORT_BASE + 11,
  ledgercount: PORT_BASE + 12,
  "sessiongate-policy": PORT_BASE + 13,
  "sessiongate-cached": PORT_BASE + 14,
  "sessiongate-cached-kv": PORT_BASE + 15,
  "sessiongate-bearer": PORT_BASE + 16,
  "bearer-issuer": PORT_BASE + 17,
  "sessiongate-es256": PORT_BASE + 18,
  "sessiongate-apps": PORT_BASE + 19,
};
/** The revocation ledger's bound in the ledger cases (the default). */
const STALENESS_S = 10;
/** The steady rate and length of the ledger-count case. */
const LEDGER_RATE = 100;
const LEDGER_REQUESTS = 1000;
/** The KV-per-request case of the record cache: users, each at a steady rate for so long. */
const CACHE_USERS = 100;
const CACHE_RATE = 2;
const CACHE_SECONDS = 10;
const ORIGIN = `http://127.0.0.1:${PORTS.origin}`;
/** The stand-in identity provider of `sg bearer`: its own worker on its own socket. */
const BEARER_ISSUER = `http://127.0.0.1:${PORTS["bearer-issuer"]}`;

// ---------------------------------------------------------------- lifecycle

let mf;
let coldMf;
let origin;
let workerdPids = [];
let cleaning;

function fail(message) {
  const error = new Error(message);
  error.benchFailure = true;
  throw error;
}

async function cleanup() {
  cleaning ??= (async () => {
    for (const instance of [mf, coldMf]) {
      if (instance) await Promise.race([instance.dispose().catch(() => {}), sleep(10_000)]);
    }
    // Whatever Miniflare left behind, by the ids we saw.
    for (const pid of new Set([...workerdPids, ...findWorkerd()])) {
      if (commOf(pid) === "workerd") {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    if (origin && origin.exitCode === null && origin.signalCode === null) {
      origin.kill("SIGKILL");
    }
  })();
  return cleaning;
}

async function abort(error, code = 1) {
  const message = error?.benchFailure ? error.message : error?.stack ?? String(error);
  console.error(`bench: FAILED: ${message}`);
  const tail = runtimeTail
    .split("\n")
    .filter((line) => line && !line.startsWith('{"decision":"forward"'))
    .slice(-20)
    .join("\n");
  if (tail) console.error(`--- workerd output (last lines, forwards left out) ---\n${tail}`);
  await cleanup();
  process.exit(code);
}

process.on("SIGINT", () => abort(Object.assign(new Error("interrupted"), { benchFailure: true }), 130));
process.on("SIGTERM", () => abort(Object.assign(new Error("terminated"), { benchFailure: true }), 143));
process.on("uncaughtException", (e) => abort(e));
process.on("unhandledRejection", (e) => abort(e));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- /proc

function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

/** [ppid, utime + stime] of a process from /proc/<pid>/stat, or null. */
function statOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after "(comm)": state ppid ... utime(14) stime(15), 1-based overall.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

/** Every workerd process descended from this one. */
function findWorkerd() {
  const parent = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(Number(entry));
    if (stat) parent.set(Number(entry), stat.ppid);
  }
  const descends = (pid) => {
    for (let p = parent.get(pid), hops = 0; p && hops < 64; p = parent.get(p), hops++) {
      if (p === process.pid) return true;
    }
    return false;
  };
  return [...parent.keys()].filter((pid) => descends(pid) && commOf(pid) === "workerd");
}

function workerdTicks() {
  let total = 0;
  for (const pid of workerdPids) {
    const stat = statOf(pid);
    if (!stat) fail(`workerd process ${pid} is gone`);
    total += stat.ticks;
  }
  return total;
}

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

// ---------------------------------------------------------------- setup

/**
 * The built wasm: build/worker/index.wasm (worker-build's custom shim,
 * imported by the shim next to it) if there is one, else build/index_bg.wasm
 * (the default shim's layout, with build/index.js beside it). Used for the
 * size, checkBuild() and the cold start.
 */
function builtWasm() {
  const custom = path.join(buildDir, "worker/index.wasm");
  return existsSync(custom) ? custom : path.join(buildDir, "index_bg.wasm");
}

function checkBuild() {
  const wasm = builtWasm();
  const needed = [path.join(buildDir, "worker/shim.mjs"), wasm];
  if (wasm === path.join(buildDir, "index_bg.wasm")) needed.push(path.join(buildDir, "index.js"));
  const missing = needed.filter((f) => !existsSync(f));
  if (missing.length) {
    fail(`the worker is not built (missing ${missing.map((f) => path.relative(root, f)).join(", ")}): run \`npm run build\` first`);
  }
}

function ensureBenchDeps() {
  const pkg = JSON.parse(readFileSync(path.join(benchDir, "package.json"), "utf8"));
  const installed = Object.entries(pkg.dependencies).every(([name, version]) => {
    const file = path.join(benchDir, "node_modules", name, "package.json");
    return existsSync(file) && JSON.parse(readFileSync(file, "utf8")).version === version;
  });
  if (installed) return;
  console.log("bench: installing bench/ dependencies (npm ci --prefix bench)");
  const result = spawnSync("npm", ["ci", "--prefix", benchDir, "--no-audit", "--no-fund"], {
    stdio: "inherit",
    timeout: 300_000,
  });
  if (result.status !== 0) fail(`npm ci --prefix bench failed (${result.error?.message ?? `exit ${result.status}`})`);
}

async function importFromRoot(name) {
  try {
    return await import(name);
  } catch (e) {
    fail(`cannot load ${name} (${e.message}): run \`npm install\` in the project root`);
  }
}

async function importFromBench(name) {
  const url = pathToFileURL(path.join(benchDir, "node_modules", name, "package.json"));
  const { createRequire } = await import("node:module");
  return import(pathToFileURL(createRequire(url).resolve(name)).href);
}

async function bundlePeer(esbuild) {
  mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, "peer.mjs");
  await esbuild.build({
    entryPoints: [path.join(benchDir, "workers/peer.mjs")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    external: ["cloudflare:*"],
    nodePaths: [path.join(benchDir, "node_modules")],
    logLevel: "warning",
  });
  return outfile;
}

function startOrigin() {
  origin = fork(path.join(benchDir, "origin.mjs"), [String(PORTS.origin)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the origin did not start within 10 s")), 10_000);
    origin.once("message", (m) => {
      clearTimeout(timer);
      if (m.type === "listening") resolve();
      else reject(new Error(`the origin failed: ${m.message}`));
    });
    origin.once("exit", (code) => reject(new Error(`the origin exited (${code})`)));
  });
}

let countId = 0;
/** How many requests the origin has served. */
function originServed() {
  const id = ++countId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the origin did not answer its count")), 5_000);
    const onMessage = (m) => {
      if (m.type === "count" && m.id === id) {
        clearTimeout(timer);
        origin.off("message", onMessage);
        resolve(m.served);
      }
    };
    origin.on("message", onMessage);
    origin.send({ type: "count", id });
  });
}

let runtimeTail = "";

function handleRuntimeStdio(stdout, stderr) {
  for (const stream of [stdout, stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      runtimeTail = (runtimeTail + chunk).slice(-8192);
    });
  }
}

const KV = { kvNamespaces: { SESSIONS: "bench-sessions" } };

/**
 * Each benchmarked worker's Miniflare options, without SESSIONS: the timed
 * workers, their KV-counted copies and the cold start all start from these.
 * sessiongate's work for either build layout: Miniflare follows the shim's
 * imports (./index.wasm, or ../index.js and its index_bg.wasm) by the rules.
 */
function workerOptions(gateVars, peerScript) {
  const floor = {
    modules: true,
    scriptPath: path.join(benchDir, "workers/floor.mjs"),
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { ORIGIN_URL: ORIGIN },
  };
  const gate = {
    modules: true,
    scriptPath: path.join(buildDir, "worker/shim.mjs"),
    modulesRoot: buildDir,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: gateVars,
  };
  const peer = {
    modules: true,
    scriptPath: peerScript,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { ORIGIN_URL: ORIGIN, AUTH_SECRET: PEER_SECRET },
  };
  return { floor, sessiongate: gate, peer };
}

function miniflareOptions(Log, LogLevel, workers, bearerJwks, signingKey) {
  const socket = (name) => [{ host: "127.0.0.1", port: PORTS[name] }];
  const kv = KV;
  const counted = { serviceBindings: { SESSIONS: { name: "kvcount", entrypoint: "Kv" } } };
  const { floor, sessiongate: gate, peer } = workers;
  // sessiongate as deployed: the ledger bound, and so RECORD_CACHE on by
  // default (REVOCATION_STALENESS).
  const cached = {
    ...gate,
    bindings: { ...gate.bindings, REVOCATION_STALENESS: String(STALENESS_S) },
    durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
  };
  return {
    cf: false,
    host: "127.0.0.1",
    port: PORTS.entry,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio,
    workers: [
      { name: "floor", ...floor, ...kv, unsafeDirectSockets: socket("floor") },
      { name: "sessiongate", ...gate, ...kv, unsafeDirectSockets: socket("sessiongate") },
      { name: "peer", ...peer, ...kv, unsafeDirectSockets: socket("peer") },
      {
        name: "kvcount",
        modules: true,
        scriptPath: path.join(benchDir, "workers/kvcount.mjs"),
        compatibilityDate: COMPATIBILITY_DATE,
        kvNamespaces: { KV: "bench-sessions" },
        unsafeDirectSockets: socket("kvcount"),
      },
      // sessiongate with the revocation ledger bound (its own Ledger class),
      // reading the record on every request as before the record cache
      // (RECORD_CACHE=0), so that ledger_cpu_ratio keeps its meaning.
      {
        name: "sessiongate-ledger",
        ...gate,
        ...kv,
        bindings: { ...gate.bindings, REVOCATION_STALENESS: String(STALENESS_S), RECORD_CACHE: "0" },
        durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
        unsafeDirectSockets: socket("sessiongate-ledger"),
      },
      // Its counting copy: LEDGER is a stand-in that counts requests. No
      // Cache API, so the count is one isolate's, an upper bound for a location.
      {
        name: "sessiongate-ledger-count",
        ...gate,
        ...kv,
        cache: false,
        bindings: { ...gate.bindings, REVOCATION_STALENESS: String(STALENESS_S), RECORD_CACHE: "0" },
        durableObjects: { LEDGER: { className: "Ledger", scriptName: "ledgercount", useSQLite: true } },
        unsafeDirectSockets: socket("sessiongate-ledger-count"),
      },
      {
        name: "ledgercount",
        modules: true,
        scriptPath: path.join(benchDir, "workers/ledgercount.mjs"),
        compatibilityDate: COMPATIBILITY_DATE,
        durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
        unsafeDirectSockets: socket("ledgercount"),
      },
      // sessiongate with the bench's 20-rule POLICY, which admits the session.
      {
        name: "sessiongate-policy",
        ...gate,
        ...kv,
        bindings: { ...gate.bindings, POLICY },
        unsafeDirectSockets: socket("sessiongate-policy"),
      },
      // After the first, every request of the session is served from the
      // isolate's copy of its record.
      { name: "sessiongate-cached", ...cached, ...kv, unsafeDirectSockets: socket("sessiongate-cached") },
      // Its KV-counted copy, for kv_per_auth.
      { name: "sessiongate-cached-kv", ...cached, ...counted, unsafeDirectSockets: socket("sessiongate-cached-kv") },
      // sessiongate accepting a machine client's access token on PATH:
      // BEARER_AUDIENCE, its issuer the stand-in below, and a POLICY rule
      // that names the client. The issuer is reached on its own socket,
      // not through an outboundService: that would carry every forward to
      // the origin too, through another worker or Miniflare's Node
      // loopback, and time that instead of what the floor's forward costs.
      {
        name: "sessiongate-bearer",
        ...gate,
        ...kv,
        bindings: { ...gate.bindings, BEARER_AUDIENCE, BEARER_ISSUER, POLICY: BEARER_POLICY },
        unsafeDirectSockets: socket("sessiongate-bearer"),
      },
      {
        name: "bearer-issuer",
        modules: true,
        scriptPath: path.join(benchDir, "workers/issuer.mjs"),
        compatibilityDate: COMPATIBILITY_DATE,
        bindings: { ISSUER: BEARER_ISSUER, JWKS: JSON.stringify(bearerJwks) },
        unsafeDirectSockets: socket("bearer-issuer"),
      },
      // sessiongate signing its assertions ES256 with its own key
      // (ASSERTION_SIGNING_KEYS, through WebCrypto) instead of HS256.
      {
        name: "sessiongate-es256",
        ...gate,
        ...kv,
        bindings: { ...gate.bindings, ASSERTION_SIGNING_KEYS: signingKey },
        unsafeDirectSockets: socket("sessiongate-es256"),
      },
      // sessiongate guarding 20 apps (APPS), signing alike: the request
      // comes to one of them with that app's session.
      {
        name: "sessiongate-apps",
        ...gate,
        ...kv,
        bindings: { ...singleAppless(gate.bindings), APPS: BENCH_APPS, AUTH_HOST: "app1.bench.test", ASSERTION_SIGNING_KEYS: signingKey },
        unsafeDirectSockets: socket("sessiongate-apps"),
      },
      { name: "floor-kv", ...floor, ...counted, unsafeDirectSockets: socket("floor-kv") },
      { name: "sessiongate-kv", ...gate, ...counted, unsafeDirectSockets: socket("sessiongate-kv") },
      { name: "peer-kv", ...peer, ...counted, unsafeDirectSockets: socket("peer-kv") },
    ],
  };
}

/** The 20 apps of `sg apps`, each on its own host, all in front of the bench's origin. */
const BENCH_APPS = Array.from({ length: 20 }, (_, i) => ({
  name: `app${i + 1}`,
  hosts: [`app${i + 1}.bench.test`],
  origin: ORIGIN,
  public_paths: ["/static/*"],
}));
/** The app `sg apps` is asked at. */
const BENCH_APP = "app7";

/** A gate's bindings without the single app's variables, which APPS forbids. */
function singleAppless(bindings) {
  const { ORIGIN_URL, AUDIENCE, PUBLIC_PATHS, ...rest } = bindings;
  return rest;
}

// ---------------------------------------------------------------- cookies

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** @hono/session's cookie: a JWE (dir, A256GCM) under HKDF-SHA256(secret). */
function peerJwe(claims, { forge = false } = {}) {
  const key = Buffer.from(hkdfSync("sha256", PEER_SECRET, Buffer.alloc(0), "session jwe cek", 32));
  const header = b64url(JSON.stringify({ enc: "A256GCM", alg: "dir" }));
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(header, "ascii"));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(claims)), cipher.final()]);
  const tag = cipher.getAuthTag();
  if (forge) tag[0] ^= 1;
  return `${header}..${b64url(iv)}.${b64url(ciphertext)}.${b64url(tag)}`;
}

/**
 * The Cookie header each worker gets, per case: a live session, a forged
 * one (right shape, wrong tag) and an idle-expired one. The floor has no
 * token: its forged and expired cases are an id KV does not hold.
 */
function makeCookies(h, session) {
  const now = h.now();
  const unknown = h.idHash(h.newId());
  return {
    floor: {
      authenticated: () => `fl=${session.hash}`,
      forged: () => `fl=${unknown}`,
      expired: () => `fl=${unknown}`,
    },
    sessiongate: {
      authenticated: () => `${h.COOKIE}=${h.mintToken({ id: session.id })}`,
      forged: () => `${h.COOKIE}=${h.mintToken({ id: session.id, secret: "not-the-key-not-the-key-not-the-key-0" })}`,
      expired: () => `${h.COOKIE}=${h.mintToken({ id: session.id, stamp: h.now() - 31 * 60 })}`,
    },
    peer: {
      authenticated: () => {
        const iat = h.now();
        return `sid=${peerJwe({ sid: session.hash, iat, exp: iat + 30 * 60 })}`;
      },
      forged: () => `sid=${peerJwe({ sid: session.hash, iat: now, exp: now + 30 * 60 }, { forge: true })}`,
      expired: () => `sid=${peerJwe({ sid: session.hash, iat: h.now() - 31 * 60, exp: h.now() - 60 })}`,
    },
  };
}

/**
 * A machine client's access token as an RFC 9068 issuer signs it: header
 * {alg RS256, typ at+jwt, kid}, claims iss, aud, sub (the client, as a
 * client-credentials grant gives it), client_id, scope, iat, exp (iat +
 * BEARER_LIFETIME_S) and a fresh jti. `key` signs: another key under the
 * same kid makes a forgery.
 */
function mintBearer(jose, key) {
  const iat = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ client_id: BEARER_CLIENT, scope: BEARER_SCOPE, jti: randomUUID() })
    .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: BEARER_KID })
    .setIssuer(BEARER_ISSUER)
    .setAudience(BEARER_AUDIENCE)
    .setSubject(BEARER_CLIENT)
    .setIssuedAt(iat)
    .setExpirationTime(iat + BEARER_LIFETIME_S)
    .sign(key);
}

// ---------------------------------------------------------------- load

const PATH = "/app/data?x=1";

/**
 * One bounded run of autocannon against a worker, every request with
 * `headers` (a Cookie, or an Authorization). It fails on any status
 * other than `expect.status` (200), and on an origin count other than
 * the responses if `expect.forwarded` (true), else other than zero.
 */
async function drive(autocannon, worker, headers, requests, label, expect = { status: 200, forwarded: true }) {
  const latencies = new Float64Array(requests);
  const statuses = {};
  let n = 0;
  let capped = false;
  let tLast = 0n;
  const served0 = await originServed();
  const ticks0 = workerdTicks();
  const t0 = process.hrtime.bigint();
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${PORTS[worker]}${PATH}`,
        connections: CONNECTIONS,
        amount: requests,
        timeout: 10,
        headers: { ...headers, accept: "application/json" },
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on("response", (_client, status, _bytes, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (n < requests) latencies[n] = ms;
      n++;
      tLast = process.hrtime.bigint();
    });
    const timer = setTimeout(() => {
      capped = true;
      instance.stop();
    }, TIME_CAP * 1000);
    instance.on("done", () => clearTimeout(timer));
  });
  // From the start to the last response: autocannon reports "done" only at
  // its next 1 s tick.
  const seconds = Number((tLast || process.hrtime.bigint()) - t0) / 1e9;
  await sleep(50); // let trailing work (logs, waitUntil) land in this round
  const ticks = workerdTicks() - ticks0;
  const served = (await originServed()) - served0;
  const bad = Object.entries(statuses).filter(([s]) => s !== String(expect.status));
  const servedOk = served === (expect.forwarded ? n : 0);
  if (bad.length || result.errors || result.timeouts || !servedOk || (!capped && n !== requests)) {
    fail(
      `${label}: ${worker} round is invalid: ${n}/${requests} responses, statuses ${JSON.stringify(statuses)}, ` +
        `${result.errors} errors, ${result.timeouts} timeouts, origin served ${served}`,
    );
  }
  const sorted = latencies.slice(0, n).sort();
  const pct = (p) => sorted[Math.max(0, Math.ceil(p * n) - 1)];
  return {
    requests: n,
    capped,
    seconds: round(seconds, 3),
    cpu_ticks: ticks,
    cpu_us_per_req: round(((ticks / CLK_TCK) * 1e6) / n, 1),
    rps: round(n / seconds, 0),
    p50_ms: round(pct(0.5), 3),
    p99_ms: round(pct(0.99), 3),
  };
}

/** KV operations per request for one worker and case, via the counting proxy. */
async function countKv(worker, makeCookie, expectStatus, expectReason) {
  const counter = `http://127.0.0.1:${PORTS.kvcount}`;
  await fetch(`${counter}/reset`, { method: "POST" });
  const statuses = {};
  for (let i = 0; i < KV_REQUESTS; i++) {
    const response = await fetch(`http://127.0.0.1:${PORTS[`${worker}-kv`]}${PATH}`, {
      headers: { cookie: makeCookie(), accept: "application/json" },
      redirect: "manual",
    });
    const body = await response.text();
    let reason;
    if (expectReason) {
      try {
        reason = JSON.parse(body).reason;
      } catch {
        reason = "(not JSON)";
      }
    }
    const key = reason ? `${response.status} ${reason}` : String(response.status);
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  await sleep(300); // waitUntil writes
  const counts = await (await fetch(`${counter}/counts`)).json();
  const expected = expectReason ? `${expectStatus} ${expectReason}` : String(expectStatus);
  if (statuses[expected] !== KV_REQUESTS) {
    fail(`KV count: ${worker} answered ${JSON.stringify(statuses)}, expected ${KV_REQUESTS} × ${expected}`);
  }
  const per = (x) => round(x / KV_REQUESTS, 2);
  return {
    status: expected,
    reads: per(counts.get + counts.getWithMetadata),
    writes: per(counts.put),
    other: per(counts.delete + counts.list),
    raw: counts,
  };
}

/**
 * Ledger requests per 1000 authenticated requests at a steady rate, one
 * user, through the counting copy: LEDGER_REQUESTS at LEDGER_RATE per
 * second spans LEDGER_REQUESTS / LEDGER_RATE seconds of the bound.
 */
async function countLedger(autocannon, cookie) {
  const counter = `http://127.0.0.1:${PORTS.ledgercount}`;
  await fetch(`${counter}/reset`, { method: "POST" });
  const result = await new Promise((resolve, reject) =>
    autocannon(
      {
        url: `http://127.0.0.1:${PORTS["sessiongate-ledger-count"]}${PATH}`,
        // One user's requests, one at a time: together, the first few of a
        // cold isolate would each read the ledger before any copy exists.
        connections: 1,
        amount: LEDGER_REQUESTS,
        overallRate: LEDGER_RATE,
        headers: { cookie, accept: "application/json" },
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    ),
  );
  if (result.non2xx || result.errors) fail(`ledger count: ${result.non2xx} non-2xx, ${result.errors} errors`);
  await sleep(300); // background refreshes land
  const { requests } = await (await fetch(`${counter}/counts`)).json();
  return {
    ledger_requests: requests,
    per_1k: round((requests * 1000) / LEDGER_REQUESTS, 1),
    seconds: LEDGER_REQUESTS / LEDGER_RATE,
    staleness_s: STALENESS_S,
    // At most one read per half window, plus the first.
    bound_per_1k: round(((Math.floor(LEDGER_REQUESTS / LEDGER_RATE / (STALENESS_S / 2)) + 1) * 1000) / LEDGER_REQUESTS, 1),
  };
}

/**
 * KV reads per authenticated request with the record cache: CACHE_USERS
 * users, each with a session of its own, each sending CACHE_RATE requests a
 * second for CACHE_SECONDS, to the KV-counted copy of sessiongate with the
 * ledger bound (RECORD_CACHE by default, STALENESS_S). The users start
 * evenly spread over one period, so the load is steady.
 */
async function countCachedKv(users) {
  const counter = `http://127.0.0.1:${PORTS.kvcount}`;
  await fetch(`${counter}/reset`, { method: "POST" });
  const url = `http://127.0.0.1:${PORTS["sessiongate-cached-kv"]}${PATH}`;
  const period = 1000 / CACHE_RATE;
  const perUser = CACHE_RATE * CACHE_SECONDS;
  const statuses = {};
  const t0 = performance.now() + 100;
  await Promise.all(
    users.map(async (cookie, i) => {
      const offset = (i * period) / users.length;
      for (let k = 0; k < perUser; k++) {
        await sleep(Math.max(0, t0 + offset + k * period - performance.now()));
        const response = await fetch(url, { headers: { cookie: cookie(), accept: "application/json" } });
        await response.arrayBuffer();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await sleep(300); // background work lands
  const counts = await (await fetch(`${counter}/counts`)).json();
  const requests = users.length * perUser;
  if (statuses[200] !== requests) fail(`record cache KV count: answers ${JSON.stringify(statuses)}, expected ${requests} × 200`);
  const reads = counts.get + counts.getWithMetadata;
  return {
    users: users.length,
    rate_per_user: CACHE_RATE,
    seconds: round(seconds, 2),
    requests,
    reads,
    per_auth: round(reads / requests, 4),
    // One read per user, each copy then serving the whole run.
    floor_per_auth: round(users.length / requests, 4),
    raw: counts,
  };
}

// ---------------------------------------------------------------- output

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/0$/, ""));
const kvText = (k) => `${num(k.reads)}r ${num(k.writes)}w ${num(k.other)}o`;

function pad(s, n, left = false) {
  s = String(s);
  return left ? s.padStart(n) : s.padEnd(n);
}

function readDecision() {
  const file = path.resolve(opts.decision);
  if (!existsSync(file)) return { wasm_us: null, native_us: null };
  try {
    const d = JSON.parse(readFileSync(file, "utf8"));
    const ok = (x) => (typeof x === "number" && Number.isFinite(x) ? x : null);
    return { wasm_us: ok(d.wasm_us), native_us: ok(d.native_us) };
  } catch (e) {
    console.error(`bench: ignoring unreadable bench/decision.json (${e.message})`);
    return { wasm_us: null, native_us: null };
  }
}

function cpuModel() {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  checkBuild();
  ensureBenchDeps();
  const { Miniflare, Log, LogLevel } = await importFromRoot("miniflare");
  const esbuild = await importFromRoot("esbuild");
  const autocannon = (await importFromBench("autocannon")).default;
  const h = await import(pathToFileURL(path.join(root, "tests/e2e/harness.mjs")).href);
  const jose = await importFromRoot("jose");

  // Whatever the sizes, the whole run is bounded.
  const budget = (ROUNDS * 8 + 4) * (TIME_CAP + 5) * 1000 + COLD_SAMPLES * 5 * 2_000 + (CACHE_SECONDS + 30) * 1000 + 240_000;
  setTimeout(() => abort(new Error(`the run took longer than its budget of ${Math.round(budget / 1000)} s`)), budget).unref();

  const peerScript = await bundlePeer(esbuild);
  await startOrigin();

  // BAD_TOKEN_LIMIT=off: the forged-token rounds send thousands of bad
  // tokens from one client; throttled, they would time the 429 path.
  const gateVars = { ...h.VARS, ORIGIN_URL: ORIGIN, BAD_TOKEN_LIMIT: "off" };
  const options = workerOptions(gateVars, peerScript);
  // The stand-in issuer's signing key; its public half is the JWKS.
  const bearerKey = await jose.generateKeyPair("RS256");
  const bearerJwks = { keys: [{ ...(await jose.exportJWK(bearerKey.publicKey)), kid: BEARER_KID, alg: "RS256", use: "sig" }] };
  const { privateKey: es256Key } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signingKey = `k1:${es256Key.export({ format: "der", type: "pkcs8" }).toString("base64url")}`;
  mf = new Miniflare(miniflareOptions(Log, LogLevel, options, bearerJwks, signingKey));
  await mf.ready;
  workerdPids = findWorkerd();
  if (!workerdPids.length) fail("found no workerd process under this one");

  // One session, one record, read by all three: s:<hash of id>, as putSession writes it.
  // Its email and groups, as a login hands them over, are what POLICY's rule for PATH admits.
  const session = { id: h.newId() };
  session.hash = h.idHash(session.id);
  const iat = h.now();
  const absExp = iat + 12 * 3600;
  const record = { v: 1, uid: "alice", iat, abs_exp: absExp, claims: {}, email: "alice@example.com", groups: ["staff", "engineering"] };
  const putSession = async (kv) => {
    await kv.put(`s:${session.hash}`, JSON.stringify(record));
    await kv.put(`u:alice:${session.hash}`, "", { metadata: JSON.stringify({ iat, abs_exp: absExp }) });
  };
  await putSession(await mf.getKVNamespace("SESSIONS", "floor"));
  const cookies = makeCookies(h, session);
  // An app's session at BENCH_APP (DESIGN §16): the same user, started by a sign-in.
  const appSession = { id: h.newId() };
  appSession.hash = h.idHash(appSession.id);
  {
    const kv = await mf.getKVNamespace("SESSIONS", "floor");
    const appRecord = { ...record, app: BENCH_APP, signin: session.hash };
    await kv.put(`s:${appSession.hash}`, JSON.stringify(appRecord));
  }
  const appCookie = () => `${h.COOKIE}=${h.mintToken({ id: appSession.id })}`;
  const appHost = (app) => `${app}.bench.test:${PORTS["sessiongate-apps"]}`;

  // Each worker once, through to the origin.
  for (const worker of WORKERS) {
    const served = await originServed();
    const response = await fetch(`http://127.0.0.1:${PORTS[worker]}${PATH}`, {
      headers: { cookie: cookies[worker].authenticated(), accept: "application/json" },
    });
    const body = await response.text();
    if (response.status !== 200 || (await originServed()) !== served + 1) {
      fail(`${worker} did not forward a valid session: ${response.status} ${body.slice(0, 200)}`);
    }
  }
  // And a forged token: 401 invalid, nothing forwarded.
  {
    const served = await originServed();
    const response = await fetch(`http://127.0.0.1:${PORTS.sessiongate}${PATH}`, {
      headers: { cookie: cookies.sessiongate.forged(), accept: "application/json" },
    });
    const body = await response.text();
    let reason;
    try {
      reason = JSON.parse(body).reason;
    } catch {}
    if (response.status !== 401 || reason !== "invalid" || (await originServed()) !== served) {
      fail(`sessiongate did not refuse a forged token as invalid: ${response.status} ${body.slice(0, 200)}`);
    }
  }

  // And the policy: its rule for PATH admits the session, and it refuses what
  // the session's groups do not reach (so POLICY is read, not ignored).
  {
    const served = await originServed();
    const cookie = cookies.sessiongate.authenticated();
    const allowed = await fetch(`http://127.0.0.1:${PORTS["sessiongate-policy"]}${PATH}`, {
      headers: { cookie, accept: "application/json" },
    });
    const allowedBody = await allowed.text();
    if (allowed.status !== 200 || (await originServed()) !== served + 1) {
      fail(`sessiongate with POLICY did not forward a session its rule admits: ${allowed.status} ${allowedBody.slice(0, 200)}`);
    }
    const refused = await fetch(`http://127.0.0.1:${PORTS["sessiongate-policy"]}/admin/users`, {
      headers: { cookie, accept: "application/json" },
    });
    const refusedBody = await refused.text();
    if (refused.status !== 403 || !refusedBody.includes('"admin"') || (await originServed()) !== served + 1) {
      fail(`sessiongate did not apply POLICY (expected 403 by rule admin): ${refused.status} ${refusedBody.slice(0, 200)}`);
    }
  }

  // And the record cache: on by default with the ledger (the health check
  // says for how long). A build from before it has no such field, and is
  // measured all the same: its "cached" rounds read KV, as they did then.
  {
    const health = await (await fetch(`http://127.0.0.1:${PORTS["sessiongate-cached"]}/.sessiongate/health`)).json();
    if (health.record_cache_s === undefined) {
      console.log("bench: this build has no record cache (no record_cache_s in its health check): sg cached reads KV");
    } else if (health.record_cache_s !== STALENESS_S) {
      fail(`sessiongate-cached keeps records ${health.record_cache_s} s, expected ${STALENESS_S} (REVOCATION_STALENESS)`);
    }
  }

  // And a machine client: its access token reaches the origin through the
  // rule that names it (no cookie: a build that ignored BEARER_AUDIENCE
  // would refuse it), and the gate asked the issuer for its documents (this
  // first request is also the isolate's warm-up: it keeps them in memory).
  // The same token signed by another key under the same kid is refused.
  const issuerCounts = async () => (await fetch(`${BEARER_ISSUER}/counts`)).json();
  const bearerUrl = `http://127.0.0.1:${PORTS["sessiongate-bearer"]}${PATH}`;
  {
    const served = await originServed();
    const allowed = await fetch(bearerUrl, {
      headers: { authorization: `Bearer ${await mintBearer(jose, bearerKey.privateKey)}`, accept: "application/json" },
    });
    const allowedBody = await allowed.text();
    if (allowed.status !== 200 || (await originServed()) !== served + 1) {
      fail(
        `sessiongate-bearer did not forward an access token its rule admits: ${allowed.status} ` +
          `www-authenticate=${JSON.stringify(allowed.headers.get("www-authenticate"))} ${allowedBody.slice(0, 300)}`,
      );
    }
    const asked = await issuerCounts();
    if (asked.discovery < 1 || asked.jwks < 1) {
      fail(`sessiongate-bearer forwarded an access token without asking the issuer for its keys: ${JSON.stringify(asked)}`);
    }
    const other = await jose.generateKeyPair("RS256");
    const forged = await fetch(bearerUrl, {
      headers: { authorization: `Bearer ${await mintBearer(jose, other.privateKey)}`, accept: "application/json" },
    });
    const forgedBody = await forged.text();
    if (forged.status !== 401 || !/invalid_token/.test(forged.headers.get("www-authenticate") ?? "") || (await originServed()) !== served + 1) {
      fail(`sessiongate-bearer did not refuse an access token under a foreign key: ${forged.status} ${forgedBody.slice(0, 300)}`);
    }
    console.log(`bench: sg bearer: an access token forwarded (200), a foreign signature refused (401); issuer asked ${JSON.stringify(asked)}`);
  }
  // And the apps: the app's session is forwarded at its host, refused at another's.
  for (const [app, status] of [[BENCH_APP, 200], ["app8", 401]]) {
    const served = await originServed();
    // Not fetch: it names the host from the URL, whatever Host says.
    const response = await new Promise((resolve, reject) => {
      const headers = { cookie: appCookie(), host: appHost(app), accept: "application/json" };
      http
        .get({ host: "127.0.0.1", port: PORTS["sessiongate-apps"], path: PATH, headers }, (r) => {
          let text = "";
          r.on("data", (chunk) => (text += chunk));
          r.on("end", () => resolve({ status: r.statusCode, text }));
        })
        .on("error", reject);
    });
    const body = response.text;
    if (response.status !== status || (await originServed()) !== served + (status === 200 ? 1 : 0)) {
      fail(`sessiongate with APPS answered ${response.status} at ${app}, not ${status}: ${body.slice(0, 200)}`);
    }
  }
  const keySet = await fetch(`http://127.0.0.1:${PORTS["sessiongate-es256"]}/.sessiongate/jwks.json`);
  const published = keySet.ok ? (await keySet.json()).keys : [];
  if (published.length !== 1 || published[0].alg !== "ES256") {
    fail(`sessiongate-es256 does not publish its ES256 key: ${keySet.status} ${JSON.stringify(published)}`);
  }
  const issuerBefore = await issuerCounts();

  // Each round: the three workers with a live session, then sessiongate
  // with a forged one (401, no KV, no origin), with the ledger bound, with
  // POLICY, with the ledger and the record cache (served from the copy), and
  // with a machine client's access token (a new one each round).
  const FORGED = { status: 401, forwarded: false };
  const rounds = Object.fromEntries(WORKERS.map((w) => [w, []]));
  const forgedRounds = [];
  const ledgerRounds = [];
  const policyRounds = [];
  const cachedRounds = [];
  const bearerRounds = [];
  const es256Rounds = [];
  const appsRounds = [];
  const authenticated = async () => ({ cookie: cookies.sessiongate.authenticated() });
  const cases = [
    ...WORKERS.map((worker) => ({ worker, label: worker, headers: async () => ({ cookie: cookies[worker].authenticated() }), into: rounds[worker] })),
    { worker: "sessiongate", label: "sg forged", headers: async () => ({ cookie: cookies.sessiongate.forged() }), expect: FORGED, into: forgedRounds },
    { worker: "sessiongate-ledger", label: "sg ledger", headers: authenticated, into: ledgerRounds },
    { worker: "sessiongate-policy", label: "sg policy", headers: authenticated, into: policyRounds },
    { worker: "sessiongate-cached", label: "sg cached", headers: authenticated, into: cachedRounds },
    {
      worker: "sessiongate-bearer",
      label: "sg bearer",
      headers: async () => ({ authorization: `Bearer ${await mintBearer(jose, bearerKey.privateKey)}` }),
      into: bearerRounds,
    },
    { worker: "sessiongate-es256", label: "sg es256", headers: authenticated, into: es256Rounds },
    { worker: "sessiongate-apps", label: "sg apps", headers: async () => ({ cookie: appCookie(), host: appHost(BENCH_APP) }), into: appsRounds },
  ];
  console.log(
    `bench: ${ROUNDS} rounds × ${REQUESTS} requests × ${cases.length} cases, ${CONNECTIONS} connections, ` +
      `warm-up ${WARMUP}; workerd pid ${workerdPids.join(",")}, CLK_TCK ${CLK_TCK}`,
  );
  if (WARMUP > 0) {
    for (const c of cases) await drive(autocannon, c.worker, await c.headers(), WARMUP, "warm-up", c.expect);
  }

  for (let r = 1; r <= ROUNDS; r++) {
    for (const c of cases) {
      const result = await drive(autocannon, c.worker, await c.headers(), REQUESTS, `round ${r}`, c.expect);
      c.into.push(result);
      console.log(
        `  round ${r} ${pad(c.label, 11)} ${pad(result.cpu_us_per_req.toFixed(1), 7, true)} µs/req  ` +
          `${pad(result.rps, 6, true)} req/s  p50 ${result.p50_ms.toFixed(2)} ms  p99 ${result.p99_ms.toFixed(2)} ms` +
          (result.capped ? "  (time cap)" : ""),
      );
    }
  }

  const summarise = (rs) => {
    const cpu = rs.map((r) => r.cpu_us_per_req);
    return {
      cpu_us_per_req: round(median(cpu), 1),
      cpu_us_min: Math.min(...cpu),
      cpu_us_max: Math.max(...cpu),
      rps: round(median(rs.map((r) => r.rps)), 0),
      p50_ms: round(median(rs.map((r) => r.p50_ms)), 3),
      p99_ms: round(median(rs.map((r) => r.p99_ms)), 3),
    };
  };
  const summary = Object.fromEntries(WORKERS.map((worker) => [worker, summarise(rounds[worker])]));
  const forged = summarise(forgedRounds);
  const ratios = {
    sessiongate_over_floor: round(summary.sessiongate.cpu_us_per_req / summary.floor.cpu_us_per_req, 2),
    sessiongate_over_peer: round(summary.sessiongate.cpu_us_per_req / summary.peer.cpu_us_per_req, 2),
    sessiongate_minus_floor_us: round(summary.sessiongate.cpu_us_per_req - summary.floor.cpu_us_per_req, 1),
    // sessiongate refusing a forged token against the floor serving a live session.
    forged_cpu_ratio: round(forged.cpu_us_per_req / summary.floor.cpu_us_per_req, 2),
  };
  const ledgered = summarise(ledgerRounds);
  // sessiongate with the ledger bound against without, same rounds.
  ratios.ledger_cpu_ratio = round(ledgered.cpu_us_per_req / summary.sessiongate.cpu_us_per_req, 2);
  const ledgerCount = await countLedger(autocannon, cookies.sessiongate.authenticated());
  const policed = summarise(policyRounds);
  // sessiongate with the 20-rule POLICY against without, same rounds.
  ratios.policy_cpu_ratio = round(policed.cpu_us_per_req / summary.sessiongate.cpu_us_per_req, 2);
  const cached = summarise(cachedRounds);
  // A request served from the isolate's copy of its record against the
  // floor's (one KV read), same rounds: CPU, and median latency.
  ratios.cached_cpu_ratio = round(cached.cpu_us_per_req / summary.floor.cpu_us_per_req, 2);
  ratios.cached_p50_ratio = round(cached.p50_ms / summary.floor.p50_ms, 2);
  const bearer = summarise(bearerRounds);
  // A machine client's access token (no KV; the issuer's keys from memory)
  // against the floor's authenticated request (one KV read), same rounds.
  ratios.bearer_cpu_ratio = round(bearer.cpu_us_per_req / summary.floor.cpu_us_per_req, 2);
  const es256 = summarise(es256Rounds);
  // The same authenticated request, its assertion signed ES256 against HS256, same rounds.
  ratios.es256_cpu_ratio = round(es256.cpu_us_per_req / summary.sessiongate.cpu_us_per_req, 2);
  const apps = summarise(appsRounds);
  // An app's session at one of 20 apps against the single app's, both signing ES256, same rounds.
  ratios.apps_cpu_ratio = round(apps.cpu_us_per_req / es256.cpu_us_per_req, 2);
  const issuerAfter = await issuerCounts();
  const issuerDuringRounds = Object.fromEntries(Object.keys(issuerAfter).map((k) => [k, issuerAfter[k] - issuerBefore[k]]));

  // KV operations per request.
  const kvOps = {};
  // sessiongate's 401 names its reason: the cases must be the intended ones.
  for (const worker of WORKERS) {
    const gate = worker === "sessiongate";
    kvOps[worker] = {
      authenticated: await countKv(worker, cookies[worker].authenticated, 200),
      forged: await countKv(worker, cookies[worker].forged, 401, gate ? "invalid" : undefined),
      expired: await countKv(worker, cookies[worker].expired, 401, gate ? "expired" : undefined),
    };
  }

  // KV reads per authenticated request with the record cache: many users.
  const cacheUsers = [];
  {
    const kv = await mf.getKVNamespace("SESSIONS", "floor");
    for (let i = 0; i < CACHE_USERS; i++) {
      const id = h.newId();
      const hash = h.idHash(id);
      const uid = `user-${i}`;
      await kv.put(`s:${hash}`, JSON.stringify({ ...record, uid }));
      await kv.put(`u:${uid}:${hash}`, "", { metadata: JSON.stringify({ iat, abs_exp: absExp }) });
      cacheUsers.push(() => `${h.COOKIE}=${h.mintToken({ id })}`);
    }
  }
  console.log(`bench: KV reads per request, ${CACHE_USERS} users × ${CACHE_RATE} requests/s × ${CACHE_SECONDS} s (sessiongate, ledger bound)`);
  const cacheCount = await countCachedKv(cacheUsers);

  // Cold start: each worker's first response in a fresh isolate.
  let cold = null;
  if (COLD_SAMPLES > 0) {
    const { collectModules, measureCold } = await import(pathToFileURL(path.join(benchDir, "cold.mjs")).href);
    const coldWorkers = Object.fromEntries(
      WORKERS.map((worker) => [
        worker,
        {
          options: { ...options[worker], ...KV },
          request: () => ({ path: PATH, headers: { cookie: cookies[worker].authenticated(), accept: "application/json" } }),
          status: 200,
        },
      ]),
    );
    // The cold start must load the very wasm the size is measured on.
    const gateModules = collectModules(coldWorkers.sessiongate.options).modules.map((m) => m.path);
    if (!gateModules.includes(builtWasm())) {
      fail(`cold start: sessiongate's modules (${gateModules.map((f) => path.relative(root, f)).join(", ")}) do not include ${path.relative(root, builtWasm())}`);
    }
    console.log(`bench: cold start, ${COLD_SAMPLES} fresh isolates per worker (Worker Loader)`);
    const served0 = await originServed();
    cold = await measureCold({
      Miniflare,
      log: new Log(LogLevel.WARN),
      workers: coldWorkers,
      samples: COLD_SAMPLES,
      port: PORTS.cold,
      compatibilityDate: COMPATIBILITY_DATE,
      prepare: async (kv) => putSession(await kv("bench-sessions")),
      started: (instance) => {
        coldMf = instance;
      },
      handleRuntimeStdio,
    });
    coldMf = null;
    const forwards = (await originServed()) - served0;
    const expected = (cold.samples + cold.warmup) * WORKERS.length;
    if (forwards !== expected) fail(`cold start: the origin served ${forwards} requests, expected ${expected}`);
    // A floor at or below the empty worker (noise) leaves no ratio.
    const floorNet = cold.workers.floor.net_ms;
    cold.ratio = floorNet > 0 ? round(cold.workers.sessiongate.net_ms / floorNet, 2) : null;
  }

  const wasm = readFileSync(builtWasm());
  const size = {
    wasm_kib: round(wasm.length / 1024, 1),
    wasm_gzip9_kib: round(gzipSync(wasm, { level: 9 }).length / 1024, 1),
  };
  const decision = readDecision();

  // ------------------------------------------------------------ report
  const lines = [];
  lines.push("");
  lines.push(`CPU per request: workerd utime+stime / requests, median of ${ROUNDS} rounds (min–max)`);
  lines.push(`${pad("worker", 12)}${pad("cpu µs/req", 12, true)}${pad("(min–max)", 18, true)}${pad("req/s", 9, true)}${pad("p50 ms", 9, true)}${pad("p99 ms", 9, true)}`);
  for (const worker of WORKERS) {
    const s = summary[worker];
    lines.push(
      `${pad(worker, 12)}${pad(s.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${s.cpu_us_min.toFixed(1)}–${s.cpu_us_max.toFixed(1)})`, 18, true)}` +
        `${pad(s.rps, 9, true)}${pad(s.p50_ms.toFixed(2), 9, true)}${pad(s.p99_ms.toFixed(2), 9, true)}`,
    );
  }
  lines.push(
    `${pad("sg forged", 12)}${pad(forged.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${forged.cpu_us_min.toFixed(1)}–${forged.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(forged.rps, 9, true)}${pad(forged.p50_ms.toFixed(2), 9, true)}${pad(forged.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(
    `sessiongate/floor ${ratios.sessiongate_over_floor.toFixed(2)}×, sessiongate/peer ${ratios.sessiongate_over_peer.toFixed(2)}×, ` +
      `sessiongate − floor ${ratios.sessiongate_minus_floor_us >= 0 ? "+" : ""}${ratios.sessiongate_minus_floor_us.toFixed(1)} µs/req`,
  );
  lines.push(`sg forged: sessiongate refusing a forged token (401 invalid, no KV, no origin); /floor ${ratios.forged_cpu_ratio.toFixed(2)}×`);
  lines.push(
    `${pad("sg ledger", 12)}${pad(ledgered.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${ledgered.cpu_us_min.toFixed(1)}–${ledgered.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(ledgered.rps, 9, true)}${pad(ledgered.p50_ms.toFixed(2), 9, true)}${pad(ledgered.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(
    `sg ledger: sessiongate with the revocation ledger bound (REVOCATION_STALENESS ${STALENESS_S} s); /sessiongate ${ratios.ledger_cpu_ratio.toFixed(2)}×; ` +
      `ledger requests: ${ledgerCount.ledger_requests} for ${LEDGER_REQUESTS} requests at ${LEDGER_RATE}/s over ${ledgerCount.seconds} s ` +
      `(${ledgerCount.per_1k} per 1000; one per half window plus the first would be ${ledgerCount.bound_per_1k})`,
  );
  lines.push(
    `${pad("sg policy", 12)}${pad(policed.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${policed.cpu_us_min.toFixed(1)}–${policed.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(policed.rps, 9, true)}${pad(policed.p50_ms.toFixed(2), 9, true)}${pad(policed.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(`sg policy: sessiongate with a ${POLICY_RULES}-rule POLICY (bench/policy.json) whose rule "app" admits the session; /sessiongate ${ratios.policy_cpu_ratio.toFixed(2)}×`);
  lines.push(
    `${pad("sg cached", 12)}${pad(cached.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${cached.cpu_us_min.toFixed(1)}–${cached.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(cached.rps, 9, true)}${pad(cached.p50_ms.toFixed(2), 9, true)}${pad(cached.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(
    `sg cached: sessiongate with the ledger bound and RECORD_CACHE on (its default, ${STALENESS_S} s), served from the isolate's copy of the record; ` +
      `/floor CPU ${ratios.cached_cpu_ratio.toFixed(2)}×, p50 ${ratios.cached_p50_ratio.toFixed(2)}×; ` +
      `KV reads: ${cacheCount.reads} for ${cacheCount.requests} requests of ${cacheCount.users} users at ${cacheCount.rate_per_user}/s each over ${cacheCount.seconds} s ` +
      `(${cacheCount.per_auth} per request; one per user would be ${cacheCount.floor_per_auth})`,
  );
  lines.push(
    `${pad("sg bearer", 12)}${pad(bearer.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${bearer.cpu_us_min.toFixed(1)}–${bearer.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(bearer.rps, 9, true)}${pad(bearer.p50_ms.toFixed(2), 9, true)}${pad(bearer.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(
    `sg bearer: sessiongate with BEARER_AUDIENCE, a machine client's RS256 access token (at+jwt) admitted by a POLICY rule naming its client ` +
      `(no session, no KV; the issuer's keys from the isolate's memory); /floor CPU ${ratios.bearer_cpu_ratio.toFixed(2)}×; ` +
      `issuer requests during the warm-up and rounds: ${issuerDuringRounds.discovery} discovery, ${issuerDuringRounds.jwks} JWKS`,
  );
  lines.push(
    `${pad("sg es256", 12)}${pad(es256.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${es256.cpu_us_min.toFixed(1)}–${es256.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(es256.rps, 9, true)}${pad(es256.p50_ms.toFixed(2), 9, true)}${pad(es256.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(
    `sg es256: sessiongate with ASSERTION_SIGNING_KEYS (one P-256 key), the assertion signed ES256 by WebCrypto; ` +
      `/sessiongate (HS256) CPU ${ratios.es256_cpu_ratio.toFixed(2)}×`,
  );
  lines.push(
    `${pad("sg apps", 12)}${pad(apps.cpu_us_per_req.toFixed(1), 12, true)}${pad(`(${apps.cpu_us_min.toFixed(1)}–${apps.cpu_us_max.toFixed(1)})`, 18, true)}` +
      `${pad(apps.rps, 9, true)}${pad(apps.p50_ms.toFixed(2), 9, true)}${pad(apps.p99_ms.toFixed(2), 9, true)}`,
  );
  lines.push(
    `sg apps: sessiongate guarding 20 apps (APPS), an app's session at ${BENCH_APP}'s host, signed ES256 as it must be with APPS; ` +
      `/sg es256 (one app, signed alike) CPU ${ratios.apps_cpu_ratio.toFixed(2)}×`,
  );
  lines.push("");
  lines.push(`KV operations per request (reads r, writes w, deletes+lists o; ${KV_REQUESTS} requests per case)`);
  lines.push(`${pad("worker", 12)}${pad("authenticated", 16)}${pad("forged", 16)}${pad("idle-expired", 16)}`);
  for (const worker of WORKERS) {
    const k = kvOps[worker];
    lines.push(`${pad(worker, 12)}${pad(kvText(k.authenticated), 16)}${pad(kvText(k.forged), 16)}${pad(kvText(k.expired), 16)}`);
  }
  lines.push("(floor: forged and idle-expired are an unknown session id; all non-authenticated cases answered 401)");
  lines.push("");
  const fmt1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "nan" : x.toFixed(1));
  const fmt2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "nan" : x.toFixed(2));
  if (cold) {
    const e = cold.empty;
    lines.push(`Cold start: first response of a fresh isolate (Worker Loader), ms, median of ${cold.samples} (min–max)`);
    lines.push(`${pad("worker", 12)}${pad("first resp.", 12, true)}${pad("(min–max)", 16, true)}${pad("− empty", 10, true)}`);
    for (const worker of WORKERS) {
      const c = cold.workers[worker];
      lines.push(
        `${pad(worker, 12)}${pad(c.median_ms.toFixed(1), 12, true)}${pad(`(${c.min_ms.toFixed(1)}–${c.max_ms.toFixed(1)})`, 16, true)}` +
          `${pad(c.net_ms.toFixed(1), 10, true)}`,
      );
    }
    lines.push(`${pad("(empty)", 12)}${pad(e.median_ms.toFixed(1), 12, true)}${pad(`(${e.min_ms.toFixed(1)}–${e.max_ms.toFixed(1)})`, 16, true)}`);
    lines.push(`(empty: a worker that answers 204 at once, loaded the same way; − empty: median over passes of a worker's time minus the empty one's)`);
    lines.push(`sessiongate/floor ${fmt2(cold.ratio)}× (− empty)`);
    lines.push("");
  }
  lines.push(`wasm: ${size.wasm_kib.toFixed(1)} KiB raw, ${size.wasm_gzip9_kib.toFixed(1)} KiB gzip -9`);
  const g = kvOps.sessiongate;
  const forgedOps = g.forged.reads + g.forged.writes + g.forged.other;
  const finalLine =
    `bench: floor_cpu_ratio=${ratios.sessiongate_over_floor.toFixed(2)} peer_cpu_ratio=${ratios.sessiongate_over_peer.toFixed(2)} ` +
    `wasm_us=${fmt1(decision.wasm_us)} native_us=${fmt1(decision.native_us)} gzip_kib=${Math.round(size.wasm_gzip9_kib)} ` +
    `kv_auth=${num(g.authenticated.reads)}r${num(g.authenticated.writes)}w kv_forged=${num(forgedOps)} ` +
    `cold_ms=${fmt1(cold ? cold.workers.sessiongate.net_ms : null)} cold_ratio=${fmt2(cold?.ratio)} ` +
    `forged_cpu_ratio=${fmt2(ratios.forged_cpu_ratio)} ` +
    `ledger_per_1k=${num(ledgerCount.per_1k)} ledger_cpu_ratio=${fmt2(ratios.ledger_cpu_ratio)} ` +
    `policy_cpu_ratio=${fmt2(ratios.policy_cpu_ratio)} ` +
    `cached_cpu_ratio=${fmt2(ratios.cached_cpu_ratio)} cached_p50_ratio=${fmt2(ratios.cached_p50_ratio)} ` +
    `kv_per_auth=${cacheCount.per_auth.toFixed(3)} ` +
    `bearer_cpu_ratio=${fmt2(ratios.bearer_cpu_ratio)} es256_cpu_ratio=${fmt2(ratios.es256_cpu_ratio)} ` +
    `apps_cpu_ratio=${fmt2(ratios.apps_cpu_ratio)}`;

  const results = {
    date: new Date().toISOString(),
    config: {
      rounds: ROUNDS,
      requests: REQUESTS,
      connections: CONNECTIONS,
      warmup: WARMUP,
      time_cap_s: TIME_CAP,
      kv_requests: KV_REQUESTS,
      cold_samples: COLD_SAMPLES,
      path: PATH,
      sessiongate_wasm: path.relative(root, builtWasm()),
    },
    environment: {
      node: process.version,
      workerd: readJson(path.join(root, "node_modules/workerd/package.json"))?.version ?? null,
      miniflare: readJson(path.join(root, "node_modules/miniflare/package.json"))?.version ?? null,
      hono: readJson(path.join(benchDir, "node_modules/hono/package.json"))?.version ?? null,
      hono_session: readJson(path.join(benchDir, "node_modules/@hono/session/package.json"))?.version ?? null,
      autocannon: readJson(path.join(benchDir, "node_modules/autocannon/package.json"))?.version ?? null,
      cpu: cpuModel(),
      cores: (await import("node:os")).availableParallelism(),
      clk_tck: CLK_TCK,
    },
    summary,
    forged: { sessiongate: forged },
    ratios,
    rounds,
    forged_rounds: { sessiongate: forgedRounds },
    ledger: { summary: ledgered, rounds: ledgerRounds, count: ledgerCount },
    policy: { rules: POLICY_RULES, summary: policed, rounds: policyRounds },
    record_cache: { summary: cached, rounds: cachedRounds, kv: cacheCount },
    bearer: {
      audience: BEARER_AUDIENCE,
      client_id: BEARER_CLIENT,
      scope: BEARER_SCOPE,
      policy: JSON.parse(BEARER_POLICY),
      summary: bearer,
      rounds: bearerRounds,
      issuer_requests_during_rounds: issuerDuringRounds,
    },
    es256: { summary: es256, rounds: es256Rounds },
    apps: { summary: apps, rounds: appsRounds },
    kv_ops_per_request: kvOps,
    cold_start: cold,
    size,
    decision,
    final_line: finalLine,
    seconds: round((Date.now() - started) / 1000, 1),
  };
  writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  lines.push(`results: ${path.relative(process.cwd(), opts.out) || opts.out}`);
  lines.push(finalLine);
  console.log(lines.join("\n"));
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (error) {
  await abort(error);
}
