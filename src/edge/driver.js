// sessiongate's Worker entry (docs/DESIGN.md §10). worker-build uses this
// file as its shim template (CUSTOM_SHIM: it fills in the two $SNIPPET_
// lines and bundles it as build/worker/shim.mjs, beside the wasm).
//
// The gate is Rust, compiled to wasm, and never awaits: each call returns
// the next step as JSON. This loop performs the step (KV operations, or
// the fetch to the origin), hands the result back, and repeats until the
// gate says how to answer. It owns every `await` and decides nothing.

import * as gate from "./index_bg.js";
import wasmModule from "./index.wasm";
// The revocation ledger's Durable Object class (src/ledger.rs).
export { Ledger } from "./index_bg.js";
$SNIPPET_JS_IMPORTS;

const instance = new WebAssembly.Instance(wasmModule, {
  "./index_bg.js": gate,
  $SNIPPET_WASM_IMPORTS
});
gate.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start?.();

/** Longest a step's KV operations may take: past it they fail, and the gate fails closed (503). */
const KV_TIMEOUT_MS = 3000;
/** Longest a step with a request to the identity provider may take. */
const FETCH_TIMEOUT_MS = 10000;
/** Largest answer read from the identity provider. */
const MAX_FETCHED_BYTES = 64 * 1024;

/** What the gate needs wired: the names of the KV binding (`kv`), and of the Analytics Engine and ledger ones (`metrics`, `ledger`, or null). */
let wiring;

/** Fetches of a shared document under way, by URL: concurrent requests for it make one fetch. */
const sharedFetches = new Map();

/** The signing keys as WebCrypto holds them, by kid, imported on first use. */
const signingKeys = new Map();
const encoder = new TextEncoder();

export default {
  async fetch(request, env, ctx) {
    let step = {};
    let response;
    // The request as performed: its body once a step read it (the stream is spent then).
    const exchange = { request, body: undefined, cancelled: false };
    // The client went away (enable_request_signal): the exchange waiting
    // for this request's I/O is ended now, since nothing will resume it.
    request.signal?.addEventListener("abort", () => cancel(exchange, step), { once: true });
    try {
      wiring ??= { ...JSON.parse(gate.configure(env)), signing: signingKeyLines(gate.signing_keys()) };
      step = JSON.parse(gate.start(describe(request), Date.now()));
      while (step.kv || step.forward) {
        let result;
        if (step.kv) {
          result = await perform(env, step.kv, exchange);
        } else {
          let signed;
          try {
            signed = step.forward.sign && (await signature(step.forward.sign));
          } catch (e) {
            result = { unsigned: message(e) };
          }
          if (!result) {
            try {
              response = await forward(exchange, step.forward, signed);
              const [login, logout] = step.forward.read.map((name) => response.headers.get(name));
              result = { status: response.status, login, logout };
            } catch (e) {
              result = failed(e);
            }
          }
        }
        // Cancelled meanwhile: the id may name another request's exchange by now.
        if (exchange.cancelled) return new Response(null, { status: 499 });
        step = JSON.parse(gate.resume(step.id, JSON.stringify(result), Date.now()));
      }
      const answer = step.reply ? reply(step.reply) : pass(response, step.pass);
      console.log(step.log);
      if (step.metric) record(env[wiring.metrics], step.metric);
      if (step.background) ctx.waitUntil(background(env, step.background));
      return answer;
    } catch (e) {
      if (exchange.cancelled) return new Response(null, { status: 499 });
      // The platform threw (a Response that could not be built, say): the
      // gate decides how to answer, unless it is the gate that failed.
      try {
        step = JSON.parse(gate.abandon(step.id ?? 0, message(e), Date.now()));
      } catch (crash) {
        step = crashed(e, crash);
      }
      console.log(step.log);
      return reply(step.reply);
    }
  },
};

/** Ends the exchange of a request whose client went away, with its one log line. */
function cancel(exchange, step) {
  if (exchange.cancelled || !step.id) return;
  exchange.cancelled = true;
  try {
    console.log(JSON.parse(gate.cancel(step.id, Date.now())).log);
  } catch (e) {
    console.error(`cancel: ${message(e)}`);
  }
}

/** Method, URL, then each header's name and value, one per line (no header can hold a newline). */
function describe(request) {
  const fields = [request.method, request.url];
  for (const [name, value] of request.headers) fields.push(name, value);
  return fields.join("\n");
}

/** Performs a step's operations at once; each outcome in order, all failed past the bound. */
async function perform(env, ops, exchange) {
  const bound = ops.some((op) => op.op === "fetch") ? FETCH_TIMEOUT_MS : KV_TIMEOUT_MS;
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, bound, TIMED_OUT);
  });
  // One operation, as on every authenticated request, needs no Promise.all.
  const outcomes = ops.length === 1 ? operate(env, ops[0], exchange).then(one, failedOne) : Promise.all(ops.map((op) => operate(env, op, exchange).catch(failed)));
  try {
    const settled = await Promise.race([outcomes, timeout]);
    return settled === TIMED_OUT ? ops.map(() => ({ error: `timed out after ${bound} ms` })) : settled;
  } finally {
    clearTimeout(timer);
  }
}

const TIMED_OUT = Symbol("timed out");
const one = (outcome) => [outcome];
const failedOne = (e) => [failed(e)];

function failed(e) {
  return { error: message(e) };
}

// async, so that a binding that throws at once fails its operation rather than the request.
async function operate(env, op, exchange) {
  const kv = env[wiring.kv];
  switch (op.op) {
    case "get":
      return kv.get(op.key).then((value) => ({ value }));
    case "put": {
      const options = { expirationTtl: op.ttl };
      if (op.metadata !== null) options.metadata = op.metadata;
      return kv.put(op.key, op.value, options).then(done);
    }
    case "delete":
      return kv.delete(op.key).then(done);
    case "list": {
      const options = { prefix: op.prefix };
      if (op.cursor !== null) options.cursor = op.cursor;
      return kv.list(options).then((page) => ({
        keys: page.keys.map(({ name, metadata }) => ({ name, metadata: typeof metadata === "string" ? metadata : null })),
        cursor: page.list_complete ? null : page.cursor,
      }));
    }
    case "ledger_read":
      return { value: await ledger(env, op.uid, "state") };
    case "ledger_revoke":
      await ledger(env, op.uid, "revoke", { hash: op.hash, abs_exp: op.abs_exp });
      return {};
    case "ledger_revoke_before":
      await ledger(env, op.uid, "revoke-before", { before: op.before });
      return {};
    case "cache_read": {
      const hit = await caches.default.match(op.key);
      return { value: hit ? await hit.text() : null };
    }
    case "cache_write":
      await caches.default.put(op.key, new Response(op.value, { headers: { "cache-control": `max-age=${op.ttl}` } }));
      return {};
    case "fetch": {
      if (!op.shared) return fetchOp(op);
      let pending = sharedFetches.get(op.url);
      if (!pending) {
        pending = fetchOp(op).finally(() => sharedFetches.delete(op.url));
        sharedFetches.set(op.url, pending);
      }
      return pending;
    }
    case "verify":
      return { value: await verify(op) };
    case "public_keys":
      return { value: (await Promise.all(wiring.signing.map(exportPublic))).join("\n") };
    case "read_body": {
      const bytes = await read(exchange.request, op.limit);
      if (op.forward && bytes) exchange.body = bytes;
      return { value: bytes && new TextDecoder().decode(bytes) };
    }
    default:
      throw new Error(`unknown operation ${op.op}`);
  }
}

const done = () => ({});

/** A request to the identity provider: its status and body, failed past MAX_FETCHED_BYTES. */
async function fetchOp(op) {
  const response = await fetch(op.url, { method: op.method, headers: op.headers, body: op.body ?? undefined, redirect: "manual" });
  const bytes = await read(response, MAX_FETCHED_BYTES);
  if (!bytes) throw new Error(`answer larger than ${MAX_FETCHED_BYTES} bytes`);
  return { status: response.status, body: new TextDecoder().decode(bytes) };
}

/** A body's bytes; null past `limit` bytes (read no further). */
async function read(message, limit) {
  if (!message.body) return new Uint8Array(0);
  const reader = message.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/**
 * WebCrypto's verdict on a JWS signature (RS256 or ES256, as the gate chose for the key):
 * "valid", null (not the key's), or "key_invalid" (a key WebCrypto will not import).
 * ES256's JWS signature is raw r‖s, as WebCrypto's ECDSA takes it.
 */
async function verify({ alg, jwk, data, signature }) {
  const [importAs, verifyAs] =
    alg === "ES256"
      ? [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }]
      : [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }];
  let key;
  try {
    key = await crypto.subtle.importKey("jwk", JSON.parse(jwk), importAs, false, ["verify"]);
  } catch {
    return "key_invalid";
  }
  const bytes = base64url(signature);
  return (await crypto.subtle.verify(verifyAs, key, bytes, encoder.encode(data))) ? "valid" : null;
}

/** A request to the user's ledger object (by name = uid); its body, or the failure. */
async function ledger(env, uid, action, body) {
  const namespace = env[wiring.ledger];
  const stub = namespace.get(namespace.idFromName(uid));
  const init = body ? { method: "POST", body: JSON.stringify(body) } : undefined;
  const response = await stub.fetch(`https://ledger/${action}`, init);
  if (!response.ok) throw new Error(`ledger ${action}: ${response.status}`);
  return response.text();
}

/** After the answer: a final step's background operations, handed back, and the writes that follow. */
async function background(env, ops) {
  const outcomes = await perform(env, ops, {});
  const next = JSON.parse(gate.absorb(JSON.stringify(ops), JSON.stringify(outcomes), Date.now()));
  if (next.kv.length) await perform(env, next.kv);
}

/** The incoming request, body streamed (or as a step read it), to `url` with the gate's header changes, and the assertion once signed. */
async function forward({ request, body }, { url, remove, set, sign }, signature) {
  const init = body === undefined ? request : { method: request.method, headers: request.headers, body, redirect: request.redirect };
  const outbound = new Request(url, init);
  const headers = outbound.headers;
  for (const name of remove) headers.delete(name);
  for (const [name, value] of set) headers.set(name, value);
  if (sign) headers.set(sign.header, `${sign.input}.${signature}`);
  return fetch(outbound);
}

const SIGN_PARAMS = {
  ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
  EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
};

/** Signing key `kid` (wiring.signing) in WebCrypto: imported once per isolate. */
async function importSigningKey(kid) {
  const { alg, pkcs8 } = wiring.signing.find((key) => key.kid === kid);
  const key = await crypto.subtle.importKey("pkcs8", base64url(pkcs8), SIGN_PARAMS[alg][0], true, ["sign"]);
  const imported = { key, params: SIGN_PARAMS[alg][1] };
  signingKeys.set(kid, imported);
  return imported;
}

/**
 * A JWS signature of `input` by signing key `kid`, base64url (ES256's raw r‖s, as JWS has it).
 * On every request whose assertion is signed: the key is looked up without an await once imported.
 */
async function signature({ kid, input }) {
  const { key, params } = signingKeys.get(kid) ?? (await importSigningKey(kid));
  const bytes = new Uint8Array(await crypto.subtle.sign(params, key, encoder.encode(input)));
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The public coordinates of signing key `kid`, `x` or `x y`, from which the gate builds the key set. */
async function exportPublic({ kid }) {
  const { key } = signingKeys.get(kid) ?? (await importSigningKey(kid));
  const { x, y } = await crypto.subtle.exportKey("jwk", key);
  return y ? `${x} ${y}` : x;
}

/** The gate's signing keys, a line each: `kid alg pkcs8`. */
function signingKeyLines(lines) {
  return lines
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [kid, alg, pkcs8] = line.split(" ");
      return { kid, alg, pkcs8 };
    });
}

function base64url(text) {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}

/** A response made at the edge. */
function reply({ status, headers, body }) {
  return new Response(body || null, { status, headers });
}

/** The origin's response, untouched unless the gate edits it (its headers are immutable: copy). */
function pass(response, edits) {
  if (!edits) return response;
  const copy = new Response(response.body, response);
  const headers = copy.headers;
  for (const name of edits.remove) headers.delete(name);
  for (const [name, value] of edits.append) headers.append(name, value);
  for (const [name, value] of edits.set) headers.set(name, value);
  return copy;
}

/** Writes the request's data point; a metrics failure never fails the request. */
function record(metrics, point) {
  try {
    metrics.writeDataPoint(point);
  } catch (e) {
    console.error(`metrics: ${message(e)}`);
  }
}

/** The answer when the gate itself failed (a trap in the wasm): fail closed. */
function crashed(e, crash) {
  const detail = `${message(e)}; then the gate failed: ${message(crash)}`;
  return {
    reply: { status: 500, headers: [["content-type", "application/json"], ["cache-control", "no-store"]], body: '{"error":"internal"}' },
    log: JSON.stringify({ decision: "error", status: 500, ms: 0, reason: "internal", detail }),
  };
}

function message(e) {
  return e instanceof Error ? e.message : String(e);
}
