// The end-to-end harness: the built worker (build/worker/shim.mjs) in
// Miniflare, with a local SESSIONS KV namespace and a mock origin behind
// Miniflare's outboundService that records every request it receives.
// Each *.test.mjs starts one gate and states behaviours as sentences.

import { Miniflare } from "miniflare";
import { createHash, createHmac, randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const build = path.join(root, "build");

/** The request URL's origin as the browser sees it. */
export const SITE = "https://app.example.com";
export const ORIGIN_URL = "http://origin.test";
export const AUDIENCE = "sessiongate-e2e";
export const COOKIE = "__Host-sg";

/** Test secrets; each at least 32 characters. */
export const KEYS = {
  k1: "k1-secret-k1-secret-k1-secret-k1-secret",
  k0: "k0-secret-k0-secret-k0-secret-k0-secret",
};
export const ASSERTION_KEY = "assertion-key-assertion-key-assertion-key";
export const HANDOFF_KEY = "handoff-key-handoff-key-handoff-key-handoff";
export const ADMIN_TOKEN = "admin-token-admin-token-admin-token-admin";

export const VARS = {
  ORIGIN_URL,
  AUDIENCE,
  LOGIN_URL: "/login",
  PUBLIC_PATHS: "/login,/static/*,/favicon.ico",
  IDLE_TIMEOUT: "30m",
  ABSOLUTE_TIMEOUT: "12h",
  SESSION_KEYS: `k1:${KEYS.k1}`,
  ASSERTION_KEY,
  HANDOFF_KEY,
  ADMIN_TOKEN,
};

/** Miniflare's options that load the built worker (the shim imports ../index.js, hence modulesRoot). */
export const GATE_SCRIPT = {
  modules: true,
  scriptPath: path.join(build, "worker/shim.mjs"),
  modulesRoot: build,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2026-04-26",
  compatibilityFlags: ["enable_request_signal"],
};

/** The default mock origin: 200 with a small JSON body. */
export const okOrigin = () => Response.json({ from: "origin" });

/**
 * Starts a gate. `vars` override VARS (`undefined` removes one);
 * `worker` adds or overrides the gate worker's Miniflare options;
 * `workers` are further workers beside it (a stand-in KV, say).
 */
export async function startGate({ vars = {}, worker = {}, workers = [] } = {}) {
  const bindings = Object.fromEntries(
    Object.entries({ ...VARS, ...vars }).filter(([, v]) => v !== undefined),
  );
  const gate = {
    /** Every request the origin received, in order. */
    received: [],
    /** The worker's JSON log lines, parsed. */
    logs: [],
    /** Everything the worker printed, raw. */
    output: "",
    /** Answers origin requests; tests replace it. */
    origin: okOrigin,
    /** Every secret, token, assertion and handoff that passed by: none may be logged. */
    sensitive: new Set(),
  };
  const remember = (value) => {
    if (typeof value === "string" && value.length >= 16) gate.sensitive.add(value);
  };
  for (const [name, value] of Object.entries(bindings)) {
    if (["SESSION_KEYS", "ASSERTION_SIGNING_KEYS"].includes(name)) String(value).split(",").forEach((pair) => remember(pair.split(":")[1]));
    if (["ASSERTION_KEY", "HANDOFF_KEY", "ADMIN_TOKEN"].includes(name)) remember(value);
  }
  const rememberCookies = (header) => {
    for (const piece of String(header ?? "").split(/[;,]/)) remember(piece.split("=").slice(1).join("="));
  };
  const gateWorker = {
    name: "gate",
    ...GATE_SCRIPT,
    kvNamespaces: ["SESSIONS"],
    bindings,
    outboundService: async (request) => {
      gate.received.push({
        method: request.method,
        url: request.url,
        headers: Object.fromEntries(request.headers),
        body: request.body ? await request.clone().text() : "",
      });
      remember(request.headers.get("sessiongate-assertion"));
      const response = await gate.origin(request);
      remember(response.headers.get("sessiongate-login"));
      return response;
    },
    ...worker,
  };
  const mf = new Miniflare({
    cf: false,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding("utf8");
        stream.on("data", (chunk) => {
          gate.output += chunk;
          for (const line of chunk.split("\n")) {
            if (line.startsWith("{")) {
              try {
                gate.logs.push(JSON.parse(line));
              } catch {}
            }
          }
        });
      }
    },
    workers: [gateWorker, ...workers],
  });
  const url = await mf.ready;
  Object.assign(gate, {
    mf,
    url,
    kv: gateWorker.kvNamespaces.length ? await mf.getKVNamespace("SESSIONS", "gate") : undefined,
    /** A request to the gate; redirects are returned, not followed. */
    fetch: async (pathAndQuery, init = {}) => {
      const headers = new Headers(init.headers);
      rememberCookies(headers.get("cookie"));
      remember(headers.get("authorization")?.replace(/^bearer /i, ""));
      const response = await mf.dispatchFetch(SITE + pathAndQuery, { redirect: "manual", ...init });
      response.headers.getSetCookie().forEach(rememberCookies);
      return response;
    },
    /** Sends raw bytes over HTTP/1.1 (for what fetch refuses to send); resolves to the status code. */
    raw: async (bytes) => (await rawExchange(url, bytes)).status,
    /** The same, resolving to the answer's status, headers (lower-case names) and body. */
    rawResponse: (bytes) => rawExchange(url, bytes),
    /** Stops the gate, failing if any sensitive value was ever printed. */
    close: async () => {
      await mf.dispose();
      const leaked = [...gate.sensitive].filter((value) => gate.output.includes(value));
      if (leaked.length) throw new Error(`the worker logged ${leaked.length} sensitive value(s), e.g. ${leaked[0].slice(0, 8)}…`);
    },
  });
  return gate;
}

function rawExchange(url, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.end(bytes));
    const chunks = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    // A server that answers before reading the whole body (413) may reset
    // the connection while the rest is being sent: the answer came anyway.
    let failure;
    socket.on("error", (e) => (failure = e));
    socket.on("close", () => {
      if (!chunks.length) return reject(failure ?? new Error("the connection closed without an answer"));
      const answer = Buffer.concat(chunks).toString("latin1");
      const [head, ...rest] = answer.split("\r\n\r\n");
      const [statusLine, ...lines] = head.split("\r\n");
      const headers = {};
      for (const line of lines) {
        const at = line.indexOf(":");
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      let body = rest.join("\r\n\r\n");
      if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
  });
}

function dechunk(text) {
  let out = "";
  for (let at = 0; ; ) {
    const end = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, end), 16);
    if (!size) return out;
    out += text.slice(end + 2, end + 2 + size);
    at = end + 2 + size + 2;
  }
}

/** An HTTP/1.1 request's bytes: `request` is `METHOD target`, sent with Host, Connection: close and `headers`. */
export function rawRequest(request, headers = {}, body = "") {
  const lines = [`${request} HTTP/1.1`, "Host: app.example.com", "Connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), Buffer.from(body)]);
}

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const hmac = (secret, data) => createHmac("sha256", secret).update(data).digest();

export const now = () => Math.floor(Date.now() / 1000);

/** A fresh random session id, as the worker makes them. */
export const newId = () => b64url(randomBytes(32));

/** A session token per DESIGN §1, made independently of the worker. */
export function mintToken({ kid = "k1", secret = KEYS[kid], id = newId(), stamp = now() } = {}) {
  const signed = `sg1.${kid}.${id}.${stamp}`;
  return `${signed}.${b64url(hmac(secret, signed).subarray(0, 16))}`;
}

/** The stored hash of a session id: base64url SHA-256 of its 32 bytes. */
export const idHash = (id) => b64url(createHash("sha256").update(Buffer.from(id, "base64url")).digest());

/** An HS256 JWT; `header` may be overridden to forge one. */
export function signJwt(secret, claims, header = { alg: "HS256", typ: "JWT" }) {
  const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${b64url(hmac(secret, signed))}`;
}

/** A login handoff for `sub`, valid for a minute unless overridden. */
export const handoff = (sub, extra = {}, secret = HANDOFF_KEY) =>
  signJwt(secret, { sub, exp: now() + 60, ...extra });

/** Decodes a JWT's payload without verifying it. */
export const jwtClaims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));

/** Checks an HS256 JWT's signature with `secret`. */
export function jwtVerifies(jwt, secret) {
  const [header, payload, signature] = jwt.split(".");
  return b64url(hmac(secret, `${header}.${payload}`)) === signature;
}

/** Writes a session record straight into KV, as the worker would. */
export async function putSession(gate, { id = newId(), uid = "alice", claims = {}, iat = now(), absExp = now() + 3600, index = true } = {}) {
  const record = { v: 1, uid, iat, abs_exp: absExp, claims };
  await gate.kv.put(`s:${idHash(id)}`, JSON.stringify(record));
  if (index) {
    await gate.kv.put(`u:${uid}:${idHash(id)}`, "", { metadata: JSON.stringify({ iat, abs_exp: absExp }) });
  }
  return { id, token: mintToken({ id }) };
}

/** The Set-Cookie values of a response for the session cookie. */
export function sessionCookies(response) {
  return response.headers.getSetCookie().filter((c) => c.startsWith(`${COOKIE}=`));
}

/** The token a Set-Cookie carries. */
export const cookieValue = (setCookie) => setCookie.split(";")[0].slice(COOKIE.length + 1);

/**
 * Logs `uid` in through the origin's handoff on the public /login path;
 * returns the new session token. `cookie` is sent with the login request;
 * `identity` adds handoff fields (`email`, `groups`, `auth_time`).
 */
export async function login(gate, uid = "alice", { claims, cookie, identity = {} } = {}) {
  const previous = gate.origin;
  gate.origin = () =>
    new Response("welcome", { headers: { "sessiongate-login": handoff(uid, { ...(claims ? { claims } : {}), ...identity }) } });
  try {
    const response = await gate.fetch("/login", {
      method: "POST",
      headers: cookie ? { cookie: `${COOKIE}=${cookie}` } : {},
    });
    const [set] = sessionCookies(response);
    if (!set) throw new Error(`login set no cookie (status ${response.status})`);
    return cookieValue(set);
  } finally {
    gate.origin = previous;
  }
}

/** Headers carrying the session cookie. */
export const withSession = (token, extra = {}) => ({ cookie: `${COOKIE}=${token}`, ...extra });

/** The parts of a token. */
export function tokenParts(token) {
  const [, kid, id, stamp] = token.split(".");
  return { kid, id, stamp: Number(stamp) };
}
