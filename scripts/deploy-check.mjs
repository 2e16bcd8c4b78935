// npm test's deploy check: `wrangler deploy --dry-run` with the repository's
// wrangler.toml must succeed offline (it runs the [build] command and
// bundles the Worker as a deploy would), and the bundle must fit the
// Workers Free plan's size limit, so a change that would break
// `wrangler deploy` fails the tests. Run by scripts/test.sh, after setup.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** The Workers Free plan's limit on a Worker's size after compression (developers.cloudflare.com/workers/platform/limits). */
const FREE_PLAN_LIMIT = 3 * 1024 * 1024;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdir = mkdtempSync(path.join(os.tmpdir(), "sessiongate-deploy-"));
try {
  const wrangler = path.join(root, "node_modules/.bin/wrangler");
  const run = spawnSync(wrangler, ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    timeout: 600_000,
  });
  if (run.status !== 0) {
    process.stdout.write(run.stdout ?? "");
    process.stderr.write(run.stderr ?? "");
    throw new Error(`wrangler deploy --dry-run failed (${run.error?.message ?? `exit ${run.status}`})`);
  }
  // What is uploaded: the modules, not the source map or wrangler's README.
  const modules = readdirSync(outdir).filter((f) => !f.endsWith(".map") && f !== "README.md");
  if (!modules.some((f) => f.endsWith(".wasm"))) throw new Error(`the bundle holds no wasm module: ${modules.join(", ")}`);
  const gzip = modules.reduce((sum, f) => sum + gzipSync(readFileSync(path.join(outdir, f)), { level: 9 }).length, 0);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`deploy check: wrangler deploy --dry-run bundled ${modules.length} modules, ${kib(gzip)} gzipped (Free plan limit ${kib(FREE_PLAN_LIMIT)})`);
  if (gzip > FREE_PLAN_LIMIT) throw new Error(`the bundle (${kib(gzip)} gzipped) exceeds the Workers Free plan's ${kib(FREE_PLAN_LIMIT)}`);
} catch (e) {
  console.error(`deploy check: FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
