// The origin libraries against the built edge (DESIGN §5): a real Express
// server and a real Hono server (sessiongate-origin on npm), a Starlette app
// and a Django app under uvicorn (sessiongate-origin on PyPI), and the Rust
// demo origin (sessiongate-origin, crate), each verifying with nothing but
// the key set the edge publishes. One edge in Miniflare serves them all:
// its outbound requests go to the origin the path's first segment names,
// path unchanged, so that each checks the path it was signed for.
//
// An authenticated request reaches each handler with its identity; forged
// assertions sent straight to each origin are refused; and a key rotation
// done by the README's steps refuses no request at any step (the four
// framework origins; the Rust crate's own tests rotate its key set).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { AUDIENCE, HANDOFF_KEY, now, putSession, startGate, withSession } from "./harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** How long the test's origins keep the key set (the README's wait, shortened). */
const CACHE_S = 2;

/** A P-256 signing key: its ASSERTION_SIGNING_KEYS entry and its private key. */
function p256(kid) {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid, privateKey, entry: `${kid}:${privateKey.export({ format: "der", type: "pkcs8" }).toString("base64url")}` };
}

const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** An assertion signed as the edge signs it, or as a forger does. */
function assertion(claims, { key, header = { alg: "ES256", typ: "JWT", kid: key?.kid }, secret } = {}) {
  const input = `${b64(header)}.${b64(claims)}`;
  let signature = "";
  if (header.alg === "ES256") signature = sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
  if (header.alg === "HS256") signature = createHmac("sha256", secret).update(input).digest("base64url");
  return `${input}.${signature}`;
}

const claimsFor = (pathAndQuery, extra = {}) => ({
  iss: "sessiongate", aud: AUDIENCE, sub: "mallory", sid: "AAAAAAAAAAAAAAAA", iat: now(), exp: now() + 60,
  auth_time: now(), htm: "GET", htu: pathAndQuery, claims: {}, groups: [], ...extra,
});

async function freePort() {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections on `port`, or fails past `ms`. */
async function listening(port, child, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the origin exited (${child.exitCode}): ${child.output}`);
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(socket.end() && true)).on("error", () => resolve(false));
    });
    if (up) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}: ${child.output}`);
    await sleep(100);
  }
}

const python = path.join(root, ".venv/bin/python");
/** The origins, by the first path segment the edge forwards under. */
const ORIGINS = {
  express: (env) => ["node", [path.join(root, "tests/origins/express-app.mjs")], env],
  hono: (env) => ["node", [path.join(root, "tests/origins/hono-app.mjs")], env],
  starlette: (env) => [python, ["-m", "uvicorn", "tests.origins.asgi_app:app", "--host", "127.0.0.1", "--port", env.PORT, "--log-level", "warning"], env],
  django: (env) => [python, ["-m", "uvicorn", "tests.origins.django_app:app", "--host", "127.0.0.1", "--port", env.PORT, "--log-level", "warning"], env],
  rust: (env) => [path.join(root, "target/debug/sessiongate-demo"), [], { ...env, DEMO_ADDR: `127.0.0.1:${env.PORT}`, SESSIONGATE_JWKS_URL: env.JWKS_URL, HANDOFF_KEY }],
};
/** Where each origin answers with the identity: the test apps on every path, the demo at its API. */
const WHOAMI = { express: "/express/whoami?x=1", hono: "/hono/whoami?x=1", starlette: "/starlette/whoami?x=1", django: "/django/whoami?x=1", rust: "/api/me" };
const TEST_APPS = ["express", "hono", "starlette", "django"];

describe("the origin libraries behind the edge", () => {
  let gate, keys, jwksProxy, jwksPort;
  const origins = {};
  const children = [];

  /** An edge signing with `entries` (ASSERTION_SIGNING_KEYS), behind the test's key-set URL. */
  async function useEdge(entries) {
    await gate?.close();
    gate = await startGate({ vars: { ASSERTION_SIGNING_KEYS: entries.map((k) => k.entry).join(","), ASSERTION_KEY: undefined, ORIGIN_URL: "http://origin.test" } });
    gate.origin = async (request) => {
      const url = new URL(request.url);
      const name = url.pathname.split("/")[1];
      const port = origins[name] ?? origins.rust;
      const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.text();
      return fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body, redirect: "manual" });
    };
  }

  before(async () => {
    keys = { a: p256("key-a"), b: p256("key-b") };
    // The origins' key-set URL, passed on to whichever edge runs now.
    jwksPort = await freePort();
    jwksProxy = http.createServer(async (req, res) => {
      const answer = await gate.fetch("/.sessiongate/jwks.json");
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
      res.end(await answer.text());
    });
    await new Promise((resolve) => jwksProxy.listen(jwksPort, "127.0.0.1", resolve));
    await useEdge([keys.a]);
    for (const [name, command] of Object.entries(ORIGINS)) {
      const port = await freePort();
      origins[name] = port;
      const env = { JWKS_URL: `http://127.0.0.1:${jwksPort}/.sessiongate/jwks.json`, AUDIENCE, PORT: String(port), CACHE_MS: String(CACHE_S * 1000), CACHE_S: String(CACHE_S) };
      const [program, args, childEnv] = command(env);
      const child = spawn(program, args, { cwd: root, env: { ...process.env, ...childEnv }, stdio: ["ignore", "pipe", "pipe"] });
      child.output = "";
      for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk) => (child.output = (child.output + chunk).slice(-2000)));
      children.push(child);
    }
    await Promise.all(Object.keys(ORIGINS).map((name, i) => listening(origins[name], children[i])));
  });
  after(async () => {
    for (const child of children) child.kill();
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
    await new Promise((resolve) => jwksProxy.close(resolve));
    await gate?.close();
  });

  /** A signed-in request through the edge to `name`'s whoami. */
  async function throughTheEdge(name, uid = "zoë") {
    const { token } = await putSession(gate, { uid });
    return gate.fetch(WHOAMI[name], { headers: withSession(token, { accept: "application/json" }) });
  }

  for (const name of Object.keys(ORIGINS)) {
    test(`${name}: an authenticated request reaches the handler with its identity`, async () => {
      const response = await throughTheEdge(name);
      assert.equal(response.status, 200, `${name}: ${await response.clone().text()}`);
      const body = await response.json();
      const sub = body.sub ?? body.user;
      assert.equal(sub, "zoë");
    });
  }

  /** Sends `headers` straight to origin `name`, bypassing the edge: its status and refusal reason. */
  async function straight(name, pathAndQuery, headers) {
    const response = await fetch(`http://127.0.0.1:${origins[name]}${pathAndQuery}`, { headers });
    const text = await response.text();
    let reason;
    try {
      reason = JSON.parse(text).reason;
    } catch {}
    return { status: response.status, reason };
  }

  for (const name of TEST_APPS) {
    test(`${name}: every forged assertion sent straight to the origin is refused`, async () => {
      const target = WHOAMI[name];
      const genuine = (await (await throughTheEdge(name)).json()).assertion;
      const forger = p256("key-a");
      const publicPem = createPublicKey(keys.a.privateKey).export({ format: "pem", type: "spki" });
      const publicJwk = JSON.stringify(createPublicKey(keys.a.privateKey).export({ format: "jwk" }));
      const cases = {
        "no assertion": [undefined, ["missing"]],
        "signed by another key under the edge's kid": [assertion(claimsFor(target), { key: forger }), ["bad_signature"]],
        "HS256 keyed with the public key (PEM)": [assertion(claimsFor(target), { header: { alg: "HS256", typ: "JWT", kid: "key-a" }, secret: publicPem }), ["alg_not_allowed"]],
        "HS256 keyed with the public key (JWK)": [assertion(claimsFor(target), { header: { alg: "HS256", typ: "JWT", kid: "key-a" }, secret: publicJwk }), ["alg_not_allowed"]],
        "alg none": [assertion(claimsFor(target), { header: { alg: "none", typ: "JWT", kid: "key-a" } }), ["alg_not_allowed", "malformed"]],
        "another audience": [assertion(claimsFor(target, { aud: "another-app" }), { key: keys.a }), ["wrong_audience"]],
        "expired": [assertion(claimsFor(target, { iat: now() - 600, exp: now() - 540 }), { key: keys.a }), ["expired"]],
        "the edge's own, replayed to another path": [genuine, ["wrong_path"], `/${name}/admin`],
        "the edge's own, replayed with another method": [genuine, ["wrong_method"], target, "POST"],
      };
      for (const [what, [token, reasons, pathAndQuery = target, method = "GET"]] of Object.entries(cases)) {
        const headers = token ? { "sessiongate-assertion": token } : {};
        const response = await fetch(`http://127.0.0.1:${origins[name]}${pathAndQuery}`, { method, headers });
        const text = await response.text();
        assert.equal(response.status, 401, `${name}, ${what}: ${text}`);
        assert.ok(reasons.includes(JSON.parse(text).reason), `${name}, ${what}: ${text}`);
      }
      // Signed by the edge's key for this very request: accepted (the cases above differ in one thing each).
      const own = await straight(name, target, { "sessiongate-assertion": assertion(claimsFor(target), { key: keys.a }) });
      assert.equal(own.status, 200, name);
    });
  }

  test("the rust demo refuses a forged assertion and one for another path", async () => {
    const target = WHOAMI.rust;
    for (const token of [assertion(claimsFor(target), { key: p256("key-a") }), assertion(claimsFor("/api/other"), { key: keys.a })]) {
      const { status } = await straight("rust", target, { "sessiongate-assertion": token, accept: "application/json" });
      assert.equal(status, 401);
    }
    assert.equal((await straight("rust", target, { "sessiongate-assertion": assertion(claimsFor(target), { key: keys.a }) })).status, 200);
  });

  // The test apps keep the key set CACHE_S, not the libraries' default five
  // minutes, so that step 2's wait is short. The Rust demo keeps its
  // default: its rotation is the crate's own test (origins/rust/tests).
  test("a key rotation done by the README's steps refuses no request at any step", async () => {
    const everyOrigin = async (step) => {
      for (const name of TEST_APPS) {
        const response = await throughTheEdge(name);
        assert.equal(response.status, 200, `${step}, ${name}: ${await response.clone().text()}`);
      }
    };
    await everyOrigin("before: key A alone");
    // 1. Add the new key second, and deploy: A still signs.
    await useEdge([keys.a, keys.b]);
    await everyOrigin("1. A signs, B published");
    // 2. Wait until every origin's copy of the key set has B.
    await sleep(CACHE_S * 1000 + 500);
    await everyOrigin("2. after the origins' caches");
    // 3. Move the new key first, and deploy: B signs.
    await useEdge([keys.b, keys.a]);
    gate.received.length = 0;
    await everyOrigin("3. B signs, A published");
    const signedBy = JSON.parse(Buffer.from(gate.received[0].headers["sessiongate-assertion"].split(".")[0], "base64url")).kid;
    assert.equal(signedBy, "key-b");
    // 4. After the assertion lifetime, drop the old key, and deploy.
    await useEdge([keys.b]);
    await everyOrigin("4. B alone");
  });
});
