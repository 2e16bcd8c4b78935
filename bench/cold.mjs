// Cold start: the time to the first response of a fresh isolate, module
// instantiation included (for sessiongate: compiling and instantiating its
// wasm). See bench/README.md for the method and its limits.
//
// workerd loads configured workers eagerly at startup, so the first request
// to an already-started worker is not cold. Instead, one Miniflare (its own
// workerd) runs a loader worker with a Worker Loader binding: for each
// sample it creates a brand-new isolate under a new id from the worker's
// modules and passes one request to it. The client (this process) times
// that request. An empty worker, loaded the same way, measures what the
// loader, the isolate itself and the client's round trip cost.
//
// Every sample gets unique module bytes (a comment appended to each JS
// module, a custom section to each wasm module): V8 can share compiled
// wasm between isolates of one process by its bytes, and could otherwise
// hand every isolate after the first an already-compiled module.

import { readFileSync } from "node:fs";
import path from "node:path";

const EMPTY = "(empty)";
const EMPTY_MODULE = "export default { fetch() { return new Response(null, { status: 204 }); } };\n";
const SUPPORTED = new Set([
  "name",
  "modules",
  "script",
  "scriptPath",
  "modulesRoot",
  "modulesRules",
  "compatibilityDate",
  "compatibilityFlags",
  "bindings",
  "kvNamespaces",
  "unsafeDirectSockets",
]);
// Miniflare's module types, as the Worker Loader names them.
const LOADER_TYPE = { ESModule: "js", CommonJS: "cjs", Text: "text", Data: "data", CompiledWasm: "wasm" };
// Miniflare's default rules, after any given ones.
const DEFAULT_RULES = [
  { type: "ESModule", include: ["**/*.mjs"] },
  { type: "CommonJS", include: ["**/*.js", "**/*.cjs"] },
];

/** `**​/*.wasm`-style glob to a RegExp over a /-separated relative path. */
function globRegExp(glob) {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      i++;
      if (glob[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else {
        re += ".*";
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

// Static and dynamic imports with a literal specifier (ES modules only).
const IMPORT = /(?:^|[^\w$.])(?:import|export)\s*(?:[\w$*{}\s,]*?\s*from\s*)?["']([^"']+)["']|(?:^|[^\w$.])import\(\s*["']([^"']+)["']\s*\)/g;

/**
 * A worker's modules from its Miniflare options, as Miniflare would find
 * them: `modules: [{ type, path, contents? }]`, or `modules: true` with
 * `scriptPath` and the relative imports it reaches under `modulesRules`.
 * Returns { mainModule, modules: [{ name, type, path, contents: Buffer }] }.
 */
export function collectModules(options) {
  const unsupported = Object.keys(options).filter((k) => !SUPPORTED.has(k));
  if (unsupported.length) throw new Error(`cold start: worker option(s) ${unsupported.join(", ")} are not supported`);
  if (Array.isArray(options.modules)) {
    const root = path.resolve(options.modulesRoot ?? "");
    const modules = options.modules.map((m) => {
      if (!LOADER_TYPE[m.type]) throw new Error(`cold start: module type ${m.type} is not supported`);
      const file = path.resolve(root, m.path);
      const contents = m.contents === undefined ? readFileSync(file) : Buffer.from(m.contents);
      return { name: path.relative(root, file).split(path.sep).join("/"), type: m.type, path: file, contents };
    });
    return { mainModule: modules[0].name, modules };
  }
  if (options.modules !== true) throw new Error("cold start: only module workers (modules: true or a modules list) are supported");
  if (options.script !== undefined) {
    return { mainModule: "worker.mjs", modules: [{ name: "worker.mjs", type: "ESModule", path: null, contents: Buffer.from(options.script) }] };
  }
  const main = path.resolve(options.scriptPath);
  const root = path.resolve(options.modulesRoot ?? path.dirname(main));
  const rules = [...(options.modulesRules ?? []), ...DEFAULT_RULES].map((r) => ({
    type: r.type,
    include: r.include.map(globRegExp),
  }));
  const nameOf = (file) => {
    const name = path.relative(root, file).split(path.sep).join("/");
    if (name.startsWith("../")) throw new Error(`cold start: ${file} is outside modulesRoot ${root}`);
    return name;
  };
  const typeOf = (name) => rules.find((r) => r.include.some((re) => re.test(name)))?.type;
  const modules = [];
  const seen = new Set();
  const visit = (file, type) => {
    if (seen.has(file)) return;
    seen.add(file);
    const name = nameOf(file);
    if (!LOADER_TYPE[type]) throw new Error(`cold start: ${name} has no supported module type (${type})`);
    const contents = readFileSync(file);
    modules.push({ name, type, path: file, contents });
    if (type !== "ESModule") return;
    for (const match of contents.toString("utf8").matchAll(IMPORT)) {
      const spec = match[1] ?? match[2];
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue;
      const target = path.resolve(path.dirname(file), spec);
      visit(target, typeOf(nameOf(target)));
    }
  };
  visit(main, "ESModule");
  return { mainModule: nameOf(main), modules };
}

/** The loader worker's source; one KV proxy entrypoint per namespace. */
function loaderScript(namespaceCount) {
  const proxies = Array.from(
    { length: namespaceCount },
    (_, i) => `export class Kv${i} extends KvProxy { ns() { return this.env.NS${i}; } }`,
  ).join("\n");
  return `
import { WorkerEntrypoint } from "cloudflare:workers";

// A KV namespace binding cannot be handed to a loaded worker; a service
// binding to one of these can, and answers the same calls.
class KvProxy extends WorkerEntrypoint {
  get(...a) { return this.ns().get(...a); }
  getWithMetadata(...a) { return this.ns().getWithMetadata(...a); }
  put(...a) { return this.ns().put(...a); }
  delete(...a) { return this.ns().delete(...a); }
  list(...a) { return this.ns().list(...a); }
}
${proxies}

let workers = new Map();

function nonceSection(id) {
  // A wasm custom section named "cold" holding the id: ignored by the
  // module, but it makes the bytes unique.
  const name = new TextEncoder().encode("cold");
  const payload = new TextEncoder().encode(id);
  const body = [name.length, ...name, ...payload];
  const size = [];
  let n = body.length;
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; size.push(b); } while (n);
  return Uint8Array.from([0, ...size, ...body]);
}

function code(worker, id, env) {
  const modules = {};
  for (const m of worker.modules) {
    if (m.kind === "wasm") {
      const tail = nonceSection(id);
      const bytes = new Uint8Array(m.bytes.length + tail.length);
      bytes.set(m.bytes);
      bytes.set(tail, m.bytes.length);
      modules[m.name] = { wasm: bytes };
    } else if (m.kind === "js" || m.kind === "cjs") {
      modules[m.name] = { [m.kind]: m.text + "\\n// cold start sample " + id + "\\n" };
    } else if (m.kind === "text") {
      modules[m.name] = { text: m.text };
    } else {
      modules[m.name] = { data: m.bytes };
    }
  }
  const bindings = { ...worker.env };
  for (const [binding, proxy] of Object.entries(worker.kv)) bindings[binding] = env[proxy];
  return {
    compatibilityDate: worker.compatibilityDate,
    compatibilityFlags: worker.compatibilityFlags,
    mainModule: worker.mainModule,
    modules,
    env: bindings,
  };
}

const bytesOf = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/__cold/setup" && request.method === "POST") {
      workers = new Map();
      for (const [name, w] of Object.entries(await request.json())) {
        w.modules = w.modules.map((m) => (m.base64 === undefined ? m : { ...m, bytes: bytesOf(m.base64), base64: undefined }));
        workers.set(name, w);
      }
      return new Response(null, { status: 204 });
    }
    const name = request.headers.get("x-cold-worker");
    const id = request.headers.get("x-cold-id");
    const worker = workers.get(name);
    if (!worker || !id) return new Response("cold start: unknown worker or no id", { status: 400 });
    const headers = new Headers(request.headers);
    headers.delete("x-cold-worker");
    headers.delete("x-cold-id");
    const stub = env.LOADER.get(id, async () => code(worker, id, env));
    return stub.getEntrypoint().fetch(new Request(request.url, { method: request.method, headers, redirect: "manual" }));
  },
};
`;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  const r = (x) => Math.round(x * 100) / 100;
  return { median_ms: r(median), min_ms: r(s[0]), max_ms: r(s[s.length - 1]), samples_ms: xs.map(r) };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Measures cold starts. Arguments:
 *   Miniflare           the class, from the project's miniflare
 *   log                 a Miniflare Log for the loader's workerd
 *   workers             { name: { options, request() -> { path, headers }, status } }:
 *                       Miniflare worker options (see collectModules; bindings
 *                       and kvNamespaces become the loaded worker's env), a
 *                       fresh request per sample and the status it must get
 *   samples, warmup     recorded and unrecorded samples per worker
 *   port                the loader's port on 127.0.0.1 (a direct socket)
 *   compatibilityDate   the loader's own
 *   prepare(kv)         seeds KV: kv(namespaceId) -> a Miniflare KV namespace
 *   started(mf)         called with the Miniflare once it exists (cleanup)
 *   handleRuntimeStdio  passed to Miniflare
 * Samples are interleaved (the empty worker and each worker in turn, the
 * order rotating), sequential, 50 ms apart. Returns medians per worker,
 * and net_ms: the median over passes of the worker's time minus the empty
 * worker's in the same pass.
 */
export async function measureCold({
  Miniflare,
  log,
  workers,
  samples,
  warmup = 2,
  port,
  compatibilityDate,
  prepare,
  started,
  handleRuntimeStdio,
}) {
  const namespaces = [];
  const payload = {};
  const moduleSets = {};
  for (const [name, w] of Object.entries(workers)) {
    const o = w.options;
    const set = collectModules(o);
    moduleSets[name] = set;
    const kv = {};
    const kvNamespaces = Array.isArray(o.kvNamespaces)
      ? Object.fromEntries(o.kvNamespaces.map((b) => [b, b]))
      : (o.kvNamespaces ?? {});
    for (const [binding, id] of Object.entries(kvNamespaces)) {
      if (!namespaces.includes(id)) namespaces.push(id);
      kv[binding] = `KVP${namespaces.indexOf(id)}`;
    }
    payload[name] = {
      mainModule: set.mainModule,
      compatibilityDate: o.compatibilityDate ?? compatibilityDate,
      compatibilityFlags: o.compatibilityFlags ?? [],
      env: o.bindings ?? {},
      kv,
      modules: set.modules.map((m) => {
        const kind = LOADER_TYPE[m.type];
        return kind === "wasm" || kind === "data"
          ? { name: m.name, kind, base64: m.contents.toString("base64") }
          : { name: m.name, kind, text: m.contents.toString("utf8") };
      }),
    };
  }
  payload[EMPTY] = {
    mainModule: "empty.mjs",
    compatibilityDate,
    compatibilityFlags: [],
    env: {},
    kv: {},
    modules: [{ name: "empty.mjs", kind: "js", text: EMPTY_MODULE }],
  };

  const mf = new Miniflare({
    cf: false,
    host: "127.0.0.1",
    port: 0, // Miniflare's entry worker, unused: the loader has its own socket
    log,
    handleRuntimeStdio,
    workers: [
      {
        name: "cold-loader",
        modules: true,
        script: loaderScript(namespaces.length),
        compatibilityDate,
        workerLoaders: { LOADER: {} },
        unsafeDirectSockets: [{ host: "127.0.0.1", port }],
        kvNamespaces: Object.fromEntries(namespaces.map((id, i) => [`NS${i}`, id])),
        serviceBindings: Object.fromEntries(namespaces.map((_, i) => [`KVP${i}`, { name: "cold-loader", entrypoint: `Kv${i}` }])),
      },
    ],
  });
  started?.(mf);
  try {
    await mf.ready;
    const base = new URL(`http://127.0.0.1:${port}`);
    if (prepare) {
      await prepare((id) => mf.getKVNamespace(`NS${namespaces.indexOf(id)}`, "cold-loader"));
    }
    const setup = await fetch(new URL("/__cold/setup", base), { method: "POST", body: JSON.stringify(payload) });
    if (setup.status !== 204) throw new Error(`cold start: the loader's setup answered ${setup.status}: ${await setup.text()}`);

    const run = String(Date.now());
    let seq = 0;
    const once = async (name) => {
      const id = `${name}:${run}:${++seq}`;
      const { path: p, headers } = name === EMPTY ? { path: "/", headers: {} } : workers[name].request();
      const expect = name === EMPTY ? 204 : workers[name].status;
      const t0 = process.hrtime.bigint();
      const response = await fetch(new URL(p, base), {
        headers: { ...headers, "x-cold-worker": name, "x-cold-id": id },
        redirect: "manual",
        signal: AbortSignal.timeout(30_000),
      });
      const body = await response.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (response.status !== expect) {
        throw new Error(`cold start: ${name}'s first response was ${response.status}, expected ${expect}: ${body.slice(0, 300)}`);
      }
      await sleep(50); // let the isolate's background work (wasm tier-up, GC) settle
      return ms;
    };

    const names = [EMPTY, ...Object.keys(workers)];
    for (let i = 0; i < warmup; i++) for (const name of names) await once(name);
    const times = Object.fromEntries(names.map((n) => [n, []]));
    for (let s = 0; s < samples; s++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(s + k) % names.length];
        times[name].push(await once(name));
      }
    }
    const empty = stats(times[EMPTY]);
    const result = { method: "worker-loader", samples, warmup, empty, workers: {} };
    for (const name of Object.keys(workers)) {
      // Paired by pass: each worker's time minus the empty worker's in the same pass.
      const net = stats(times[name].map((ms, i) => ms - times[EMPTY][i]));
      result.workers[name] = {
        ...stats(times[name]),
        net_ms: net.median_ms,
        net_samples_ms: net.samples_ms,
        modules: moduleSets[name].modules.map((m) => ({ name: m.name, type: m.type, bytes: m.contents.length })),
      };
    }
    return result;
  } finally {
    await Promise.race([mf.dispose().catch(() => {}), sleep(10_000)]);
  }
}
