#!/usr/bin/env node
// `node bench/decision.mjs [--batches 7] [--batch-size 20000] [--warmup 2000]`:
// the CPU cost of one gate decision for an authenticated request (token
// check, one record read from an in-memory store, record check, assertion
// signing, ending in a forward), as wasm in Node and natively.
//
//  1. cargo build --release --target wasm32-unknown-unknown  (bench/decision)
//  2. wasm-bindgen --target nodejs → bench/build/decision/
//     and a copy optimised as scripts/wasm-opt.sh optimises the deployed worker
//     (node_modules/.bin/wasm-opt -Os, its feature flags) → bench/build/decision-opt/
//  3. each copy in its own Node process: setup() once, a warm-up, then
//     timed batches of run(n); the median µs per decision
//  4. cargo bench --bench decision -- --noplot  (criterion); its median
//  5. bench/decision.json, and one line on stdout:
//     decision: wasm_us=… native_us=… ratio=… native_policy_us=…
//
// wasm_us is the wasm-opt'ed build's, as deployed; wasm_noopt_us is
// wasm-bindgen's output as it comes. Any step that fails fails the run.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, "..");
const crateDir = path.join(benchDir, "decision");
const CRATE = "sessiongate_decision_bench";
const wasmFile = path.join(crateDir, "target/wasm32-unknown-unknown/release", `${CRATE}.wasm`);
const outPlain = path.join(benchDir, "build/decision");
const outOpt = path.join(benchDir, "build/decision-opt");
const estimatesFile = path.join(crateDir, "target/criterion/decision/new/estimates.json");
const sampleFile = path.join(crateDir, "target/criterion/decision/new/sample.json");
const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo"), "bin");
const WASM_BINDGEN = path.join(cargoBin, "wasm-bindgen");
const WASM_OPT = path.join(root, "node_modules/.bin/wasm-opt");
// What scripts/wasm-opt.sh passes to wasm-opt besides -O (which binaryen
// treats as -Os) and -ocimfs 0: worker-build 0.8.7's feature list, and SIMD.
const WASM_OPT_FEATURES = [
  "mutable-globals",
  "sign-ext",
  "nontrapping-float-to-int",
  "bulk-memory",
  "multivalue",
  "reference-types",
  "exception-handling",
  "simd", // .cargo/config.toml enables simd128
].map((f) => `--enable-${f}`);

function fail(message) {
  console.error(`decision: FAILED: ${message}`);
  process.exit(1);
}

const { values: opts } = parseArgs({
  options: {
    batches: { type: "string", default: "7" },
    "batch-size": { type: "string", default: "20000" },
    warmup: { type: "string", default: "2000" },
    child: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  console.log(`usage: node bench/decision.mjs [options]
  --batches N      timed batches per wasm build (7)
  --batch-size N   decisions per batch (20000)
  --warmup N       untimed decisions first (2000)
Writes bench/decision.json. Set CARGO_BUILD_JOBS=1 to build on one core.`);
  process.exit(0);
}
const int = (name, min) => {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < min || v > 1e9) fail(`--${name} must be an integer ≥ ${min}, not ${opts[name]}`);
  return v;
};
const BATCHES = int("batches", 1);
const BATCH_SIZE = int("batch-size", 1);
const WARMUP = int("warmup", 0);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- child
// `--child <dir>`: time the wasm-bindgen output in <dir>, print JSON.

if (opts.child) {
  const require = createRequire(import.meta.url);
  const m = require(path.resolve(opts.child, `${CRATE}.js`));
  m.setup(); // builds the workload and checks that it forwards, untimed
  const per = m.run(1);
  if (per <= 0) fail(`run(1) returned ${per}: not a forward with an assertion`);
  if (WARMUP > 0) m.run(WARMUP);
  const batches = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = process.hrtime.bigint();
    const sum = m.run(BATCH_SIZE);
    const ns = Number(process.hrtime.bigint() - t0);
    if (sum !== (per * BATCH_SIZE) >>> 0) fail(`batch ${b}: run(${BATCH_SIZE}) returned ${sum}, expected ${per} × ${BATCH_SIZE}`);
    batches.push(ns / 1e3 / BATCH_SIZE);
  }
  console.log(JSON.stringify({ us: median(batches), batches }));
  process.exit(0);
}

// ---------------------------------------------------------------- parent

function run(command, args, cwd, capture = false) {
  console.error(`decision: $ ${[command, ...args].join(" ")}${cwd === root ? "" : `  (in ${path.relative(root, cwd)})`}`);
  const result = spawnSync(command, args, {
    cwd,
    stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
  return result.stdout;
}

/** wasm-bindgen's nodejs glue is CommonJS; bench/ is "type": "module". */
function markModuleTypes(dir) {
  writeFileSync(path.join(dir, "package.json"), '{ "type": "commonjs" }\n');
  // Inline JS snippets (from the worker crate) are ES modules.
  if (existsSync(path.join(dir, "snippets"))) {
    writeFileSync(path.join(dir, "snippets/package.json"), '{ "type": "module" }\n');
  }
}

function timeWasm(dir, label) {
  const out = run(
    process.execPath,
    [
      "--no-warnings",
      fileURLToPath(import.meta.url),
      "--child",
      dir,
      "--batches",
      String(BATCHES),
      "--batch-size",
      String(BATCH_SIZE),
      "--warmup",
      String(WARMUP),
    ],
    root,
    true,
  );
  let result;
  try {
    result = JSON.parse(out.trim().split("\n").pop());
  } catch (e) {
    fail(`${label}: unreadable output from the timing process: ${out}`);
  }
  console.error(
    `decision: ${label}: median ${result.us.toFixed(2)} µs/decision, batches ${result.batches.map((x) => x.toFixed(2)).join(" ")}`,
  );
  return result;
}

function cpuModel() {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

// 1. The wasm.
run("cargo", ["build", "--release", "--target", "wasm32-unknown-unknown"], crateDir);
if (!existsSync(wasmFile)) fail(`no ${path.relative(root, wasmFile)} after the build`);

// 2. Bindings, and a wasm-opt'ed copy.
if (!existsSync(WASM_BINDGEN)) fail(`no wasm-bindgen CLI at ${WASM_BINDGEN}`);
if (!existsSync(WASM_OPT)) fail(`no wasm-opt at ${WASM_OPT}: run \`npm install\` in the project root`);
rmSync(outPlain, { recursive: true, force: true });
rmSync(outOpt, { recursive: true, force: true });
run(WASM_BINDGEN, ["--target", "nodejs", "--out-dir", outPlain, wasmFile], root);
markModuleTypes(outPlain);
cpSync(outPlain, outOpt, { recursive: true });
const bgWasm = (dir) => path.join(dir, `${CRATE}_bg.wasm`);
run(WASM_OPT, [bgWasm(outPlain), "-o", bgWasm(outOpt), "-Os", "-ocimfs", "0", ...WASM_OPT_FEATURES], root);
const sizes = { noopt: statSync(bgWasm(outPlain)).size, opt: statSync(bgWasm(outOpt)).size };

// 3. Time both, each in a fresh Node process.
const opt = timeWasm(outOpt, "wasm (wasm-opt -Os)");
const noopt = timeWasm(outPlain, "wasm (no wasm-opt)");

// 4. Natively, with criterion.
const benchStart = Date.now();
const printed = run("cargo", ["bench", "--bench", "decision", "--", "--noplot"], crateDir, true);
process.stderr.write(printed);
if (!existsSync(estimatesFile) || statSync(estimatesFile).mtimeMs < benchStart - 1000) {
  fail(`criterion wrote no fresh ${path.relative(root, estimatesFile)}`);
}
const estimates = JSON.parse(readFileSync(estimatesFile, "utf8"));
const nativeNs = estimates.median?.point_estimate;
if (!(typeof nativeNs === "number" && nativeNs > 0)) fail(`no median in ${estimatesFile}`);
const ci = estimates.median.confidence_interval;
const samples = JSON.parse(readFileSync(sampleFile, "utf8"));
const printedInterval = /time:\s*\[([^\]]+)\]/.exec(printed)?.[1] ?? null;
// The same decision under bench/policy.json's 20 rules (decision_policy).
const policyFile = path.join(crateDir, "target/criterion/decision_policy/new/estimates.json");
const policyNs = existsSync(policyFile) && statSync(policyFile).mtimeMs >= benchStart - 1000
  ? JSON.parse(readFileSync(policyFile, "utf8")).median?.point_estimate
  : null;
if (!(typeof policyNs === "number" && policyNs > 0)) fail(`criterion wrote no fresh median in ${path.relative(root, policyFile)}`);

// 5. The result.
const wasmUs = opt.us;
const nativeUs = nativeNs / 1e3;
const decision = {
  wasm_us: round(wasmUs, 3),
  native_us: round(nativeUs, 3),
  ratio: round(wasmUs / nativeUs, 2),
  // With an email and groups in the record and a 20-rule POLICY deciding.
  native_policy_us: round(policyNs / 1e3, 3),
  iterations: BATCHES * BATCH_SIZE,
  node: process.version,
  wasm_noopt_us: round(noopt.us, 3),
  ratio_noopt: round(noopt.us / nativeUs, 2),
  wasm: {
    batches: BATCHES,
    batch_size: BATCH_SIZE,
    warmup: WARMUP,
    opt_batches_us: opt.batches.map((x) => round(x, 3)),
    noopt_batches_us: noopt.batches.map((x) => round(x, 3)),
    wasm_opt: "-Os -ocimfs 0 with worker-build's --enable-* flags, as scripts/wasm-opt.sh",
    bytes: sizes,
  },
  native: {
    estimate: "criterion median of sample means",
    median_ci95_us: [round(ci.lower_bound / 1e3, 3), round(ci.upper_bound / 1e3, 3)],
    mean_us: round(estimates.mean.point_estimate / 1e3, 3),
    criterion_printed: printedInterval,
    iterations: samples.iters.reduce((a, b) => a + b, 0),
  },
  cpu: cpuModel(),
  date: new Date().toISOString(),
};
writeFileSync(path.join(benchDir, "decision.json"), `${JSON.stringify(decision, null, 2)}\n`);
console.log(
  `decision: wasm_us=${wasmUs.toFixed(1)} native_us=${nativeUs.toFixed(1)} ratio=${(wasmUs / nativeUs).toFixed(1)} ` +
    `native_policy_us=${(policyNs / 1e3).toFixed(1)}`,
);
