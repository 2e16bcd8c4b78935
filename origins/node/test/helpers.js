// Keys, assertions signed exactly as the edge signs them, and small
// servers, for the tests.
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { createServer, request as httpRequest } from "node:http";

import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";

import { AssertionError } from "sessiongate-origin";

export const AUDIENCE = "my-app";
export const HS256_KEY = "assertion-key-of-at-least-32-chars!!";
export const NOW = 1_700_000_000;

/** A key pair for `alg` ("ES256" or "EdDSA") and its public JWK as the edge publishes it. */
export async function keyPair(alg, kid) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, publicKey, privateKey, jwk, spki: await exportSPKI(publicKey) };
}

/** The claims of an assertion for `GET /orders?page=2` at `NOW`, with `overrides` (an `undefined` value removes a claim). */
export function claims(overrides = {}) {
  const c = {
    iss: "sessiongate",
    aud: AUDIENCE,
    sub: "alice",
    sid: "AbCdEfGhIjKlMnOp",
    iat: NOW,
    exp: NOW + 60,
    auth_time: NOW - 300,
    htm: "GET",
    htu: "/orders?page=2",
    claims: {},
    groups: [],
    device_bound: false,
    kind: "session",
    ...overrides,
  };
  for (const [name, value] of Object.entries(c)) if (value === undefined) delete c[name];
  return c;
}

/** An assertion signed with `pair` (from `keyPair`), with header `{"alg","typ":"JWT","kid"}`. */
export function signWith(pair, overrides, header = {}) {
  return new SignJWT(claims(overrides))
    .setProtectedHeader({ alg: pair.alg, typ: "JWT", kid: pair.kid, ...header })
    .sign(pair.privateKey);
}

const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** An HS256 JWT under `secret` (a string or bytes), built by hand so that any header can be given. */
export function hs256(secret, payload, header = { alg: "HS256", typ: "JWT" }) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** An unsigned JWT: `alg: none` and an empty signature. */
export function unsigned(payload, header = { alg: "none", typ: "JWT" }) {
  return `${b64(header)}.${b64(payload)}.`;
}

/** A request for `GET /orders?page=2` carrying `token`, in the `{ method, url, headers }` form. */
export function request(token, { method = "GET", url = "/orders?page=2" } = {}) {
  return { method, url, headers: token === undefined ? {} : { "sessiongate-assertion": token } };
}

/** Starts `handler` (or an Express app) on 127.0.0.1, port 0; resolves to its base URL and a `close()`. */
export async function listen(handlerOrServer) {
  const server = typeof handlerOrServer === "function" ? createServer(handlerOrServer) : handlerOrServer;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * A key-set server as the edge's `/.sessiongate/jwks.json`: serves
 * `keys` (replaceable), counts fetches, and answers `status` when set.
 */
export async function jwksServer(keys) {
  const state = { keys, fetches: 0, status: 200 };
  const running = await listen((req, res) => {
    if (req.url !== "/.sessiongate/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    state.fetches += 1;
    if (state.status !== 200) {
      res.writeHead(state.status).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "public, max-age=300" });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  return Object.assign(state, running, { jwksUrl: `${running.url}/.sessiongate/jwks.json` });
}

/** The `code` of the `AssertionError` `promise` rejects with. */
export async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof AssertionError)) throw error;
    return error.code;
  }
  throw new Error("expected a refusal, but the assertion verified");
}

/**
 * Sends a request with `path` exactly as given (no URL parser in between)
 * and resolves to `{ status, headers, body }`, the body parsed as JSON
 * when it is JSON.
 */
export function send(base, path, { method = "GET", headers = {} } = {}) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        const json = /json/.test(res.headers["content-type"] ?? "");
        resolve({ status: res.statusCode, headers: res.headers, body: json ? JSON.parse(text) : text });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
