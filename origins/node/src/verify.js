import { base64url, compactVerify, createLocalJWKSet, createRemoteJWKSet, errors as jose } from "jose";

import {
  ASSERTION_HEADER,
  ASSERTION_LIFETIME,
  DEFAULT_LEEWAY,
  ISSUER,
  MAX_ASSERTION_LENGTH,
  MIN_SECRET_LENGTH,
} from "./constants.js";
import { AssertionError } from "./errors.js";
import { Identity } from "./identity.js";

const PUBLIC_ALGS = ["ES256", "EdDSA"];
const SECRET_ALGS = ["HS256"];
const B64URL = /^[A-Za-z0-9_-]+$/;
const OPTION_NAMES = new Set(["jwksUrl", "jwks", "hs256Key", "audience", "leeway", "now", "jwksOptions"]);
const JWKS_OPTION_NAMES = new Set(["cacheMaxAge", "cooldownDuration", "timeoutDuration"]);
/** The edge publishes its keys with `max-age=300`. */
const DEFAULT_JWKS_CACHE_MAX_AGE = 300_000;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// One remote key set per URL and settings, shared by every verifier, so
// that `verifyAssertion(req, { jwksUrl, … })` called with a fresh options
// object per request still fetches the set once, not per request.
const remoteSets = new Map();
// Verifiers built by `verifyAssertion`, per options object.
const verifiers = new WeakMap();

/**
 * Checks options and builds a verifier: `(request) => Promise<Identity>`.
 *
 * @param {import("./index.js").VerifierOptions} options
 * @returns {(request: import("./index.js").RequestLike) => Promise<Identity>}
 */
export function createVerifier(options) {
  const config = configure(options);
  return async function verify(request) {
    return verifyWith(config, request);
  };
}

/**
 * Verifies the `Sessiongate-Assertion` of `request` and resolves to who it
 * names, or rejects with an `AssertionError`.
 *
 * @param {import("./index.js").RequestLike} request
 * @param {import("./index.js").VerifierOptions} options
 * @returns {Promise<Identity>}
 */
export async function verifyAssertion(request, options) {
  let verify = options !== null && typeof options === "object" ? verifiers.get(options) : undefined;
  if (verify === undefined) {
    verify = createVerifier(options);
    verifiers.set(options, verify);
  }
  return verify(request);
}

function configure(options) {
  if (options === null || typeof options !== "object") {
    throw new TypeError("sessiongate: options must be an object");
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`sessiongate: unknown option ${JSON.stringify(name)}`);
  }
  const { jwksUrl, jwks, hs256Key, audience, leeway = DEFAULT_LEEWAY, now, jwksOptions } = options;
  const sources = [jwksUrl, jwks, hs256Key].filter((s) => s !== undefined).length;
  if (sources !== 1) {
    throw new TypeError("sessiongate: give exactly one of jwksUrl, jwks and hs256Key");
  }
  if (typeof audience !== "string" || audience === "") {
    throw new TypeError("sessiongate: audience must be a non-empty string (the edge's AUDIENCE)");
  }
  if (typeof leeway !== "number" || !Number.isFinite(leeway) || leeway < 0) {
    throw new TypeError("sessiongate: leeway must be a non-negative number of seconds");
  }
  if (now !== undefined && typeof now !== "function" && !(typeof now === "number" && Number.isFinite(now))) {
    throw new TypeError("sessiongate: now must be Unix seconds or a function returning them");
  }
  if (jwksOptions !== undefined && jwksUrl === undefined) {
    throw new TypeError("sessiongate: jwksOptions applies to jwksUrl only");
  }
  let key;
  let algorithms;
  if (hs256Key !== undefined) {
    if (typeof hs256Key !== "string" || [...hs256Key].length < MIN_SECRET_LENGTH) {
      throw new TypeError(`sessiongate: hs256Key must be a string of at least ${MIN_SECRET_LENGTH} characters (the edge's ASSERTION_KEY)`);
    }
    key = new TextEncoder().encode(hs256Key);
    algorithms = SECRET_ALGS;
  } else if (jwks !== undefined) {
    key = resolving(createLocalJWKSet(checkPinned(jwks)));
    algorithms = PUBLIC_ALGS;
  } else {
    key = resolving(remoteSet(jwksUrl, jwksOptions));
    algorithms = PUBLIC_ALGS;
  }
  return { key, algorithms, audience, leeway, now, publicKeys: hs256Key === undefined };
}

function checkPinned(jwks) {
  if (jwks === null || typeof jwks !== "object" || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new TypeError('sessiongate: jwks must be a key set, {"keys":[…]}, with at least one key');
  }
  const kids = new Set();
  for (const jwk of jwks.keys) {
    const usable =
      jwk !== null &&
      typeof jwk === "object" &&
      ((jwk.kty === "EC" && jwk.crv === "P-256") || (jwk.kty === "OKP" && jwk.crv === "Ed25519"));
    if (!usable) throw new TypeError("sessiongate: jwks may hold only EC P-256 and OKP Ed25519 keys");
    if ("d" in jwk) throw new TypeError("sessiongate: jwks must hold public keys only (a key has \"d\")");
    if (typeof jwk.kid !== "string" || jwk.kid === "") throw new TypeError("sessiongate: every key in jwks needs a kid");
    if (kids.has(jwk.kid)) throw new TypeError(`sessiongate: jwks has kid ${JSON.stringify(jwk.kid)} twice`);
    kids.add(jwk.kid);
  }
  return jwks;
}

function remoteSet(jwksUrl, jwksOptions = {}) {
  let url;
  try {
    url = new URL(jwksUrl);
  } catch {
    throw new TypeError("sessiongate: jwksUrl must be an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError("sessiongate: jwksUrl must be an http(s) URL");
  }
  if (jwksOptions === null || typeof jwksOptions !== "object") {
    throw new TypeError("sessiongate: jwksOptions must be an object");
  }
  for (const name of Object.keys(jwksOptions)) {
    if (!JWKS_OPTION_NAMES.has(name)) throw new TypeError(`sessiongate: unknown jwksOptions member ${JSON.stringify(name)}`);
  }
  const settings = { cacheMaxAge: DEFAULT_JWKS_CACHE_MAX_AGE, ...jwksOptions };
  const id = JSON.stringify([url.href, settings.cacheMaxAge, settings.cooldownDuration, settings.timeoutDuration]);
  let set = remoteSets.get(id);
  if (set === undefined) {
    set = createRemoteJWKSet(url, settings);
    remoteSets.set(id, set);
  }
  return set;
}

/** A key set's lookup, its failures turned into `AssertionError`s. */
function resolving(set) {
  return async (protectedHeader, token) => {
    try {
      return await set(protectedHeader, token);
    } catch (error) {
      if (error instanceof jose.JWKSNoMatchingKey) throw new AssertionError("unknown_kid");
      if (error instanceof jose.JWKSMultipleMatchingKeys) {
        throw new AssertionError("unknown_kid", { message: "the assertion's kid names more than one key in the key set" });
      }
      throw new AssertionError("key_set_unavailable", { cause: error });
    }
  };
}

async function verifyWith(config, request) {
  const { method, pathAndQuery, token } = readRequest(request);
  if (token === undefined || token === "") throw new AssertionError("missing");
  if (token.length > MAX_ASSERTION_LENGTH) throw new AssertionError("malformed");
  const parts = token.split(".");
  if (parts.length !== 3 || !B64URL.test(parts[0])) throw new AssertionError("malformed");
  const header = decodeJson(parts[0]);
  if (typeof header.alg !== "string") throw new AssertionError("malformed");
  if (header.crit !== undefined || header.b64 !== undefined) throw new AssertionError("malformed");
  // The key decides the algorithms: never `none`, never HS256 with a
  // public key, never a public-key alg with the shared secret.
  if (!config.algorithms.includes(header.alg)) throw new AssertionError("alg_not_allowed");
  if (config.publicKeys && (typeof header.kid !== "string" || header.kid === "")) {
    throw new AssertionError("unknown_kid", { message: "the assertion names no kid" });
  }
  if (!B64URL.test(parts[1]) || !B64URL.test(parts[2])) throw new AssertionError("malformed");

  let payload;
  try {
    ({ payload } = await compactVerify(token, config.key, { algorithms: config.algorithms }));
  } catch (error) {
    if (error instanceof AssertionError) throw error;
    if (error instanceof jose.JWSSignatureVerificationFailed) throw new AssertionError("bad_signature");
    if (error instanceof jose.JOSEAlgNotAllowed) throw new AssertionError("alg_not_allowed");
    if (error instanceof jose.JWSInvalid) throw new AssertionError("malformed");
    throw new AssertionError("bad_signature", { cause: error });
  }
  const claims = readClaims(payload);

  const now = currentTime(config.now);
  if (claims.iss !== ISSUER) throw new AssertionError("wrong_issuer");
  if (claims.aud !== config.audience) throw new AssertionError("wrong_audience");
  if (now >= claims.exp + config.leeway) throw new AssertionError("expired");
  if (claims.iat > now + config.leeway) throw new AssertionError("issued_in_future");
  if (claims.exp - claims.iat > ASSERTION_LIFETIME) throw new AssertionError("too_long");
  if (claims.htm !== method) throw new AssertionError("wrong_method");
  if (claims.htu !== pathAndQuery) throw new AssertionError("wrong_path");
  return new Identity(claims);
}

function currentTime(now) {
  if (now === undefined) return Math.floor(Date.now() / 1000);
  const seconds = typeof now === "function" ? now() : now;
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) {
    throw new TypeError("sessiongate: now() must return Unix seconds");
  }
  return seconds;
}

function decodeJson(part) {
  let value;
  try {
    value = JSON.parse(utf8.decode(base64url.decode(part)));
  } catch {
    throw new AssertionError("malformed");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new AssertionError("malformed");
  return value;
}

const isString = (v) => typeof v === "string";
const isSeconds = (v) => Number.isSafeInteger(v) && v >= 0;

/** The payload's claims, in the shape the edge signs, with absent ones defaulted. */
function readClaims(bytes) {
  let c;
  try {
    c = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new AssertionError("malformed");
  }
  const bad = () => new AssertionError("malformed", { message: "the assertion's claims are not of the expected shape" });
  if (c === null || typeof c !== "object" || Array.isArray(c)) throw bad();
  for (const name of ["iss", "aud", "sub", "sid", "htm", "htu"]) if (!isString(c[name])) throw bad();
  for (const name of ["iat", "exp", "auth_time"]) if (!isSeconds(c[name])) throw bad();
  const claims = c.claims ?? {};
  if (c.claims === null || typeof claims !== "object" || Array.isArray(claims) || !Object.values(claims).every(isString)) {
    throw bad();
  }
  const groups = c.groups === undefined ? [] : c.groups;
  if (!Array.isArray(groups) || !groups.every(isString)) throw bad();
  const deviceBound = c.device_bound === undefined ? false : c.device_bound;
  if (typeof deviceBound !== "boolean") throw bad();
  const kind = c.kind === undefined ? "session" : c.kind;
  if (kind !== "session" && kind !== "bearer") throw bad();
  for (const name of ["email", "client_id", "scope"]) if (c[name] != null && !isString(c[name])) throw bad();
  return {
    ...c,
    claims,
    groups,
    device_bound: deviceBound,
    kind,
    email: c.email ?? null,
    client_id: c.client_id ?? null,
    scope: c.scope ?? null,
  };
}

/** Method, path and query as received, and the assertion, of a Fetch `Request` or `{ method, url, headers }`. */
function readRequest(request) {
  if (request === null || typeof request !== "object") {
    throw new TypeError("sessiongate: the request must be a Request or { method, url, headers }");
  }
  const { method, url, headers } = request;
  if (typeof method !== "string") throw new TypeError("sessiongate: the request has no method");
  if (typeof url !== "string" && !(url instanceof URL)) throw new TypeError("sessiongate: the request has no url");
  if (headers === null || typeof headers !== "object") throw new TypeError("sessiongate: the request has no headers");
  return { method, pathAndQuery: pathAndQueryOf(String(url)), token: headerValue(headers, ASSERTION_HEADER) };
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * The path and query of a request target, character for character: a
 * path as Node receives it (`req.url`) is taken as it is; an absolute URL
 * (a Fetch `Request`'s) loses its scheme, authority and fragment only.
 */
function pathAndQueryOf(url) {
  if (url.startsWith("/") || url === "*") return url;
  const authority = ABSOLUTE.exec(url);
  if (authority === null) throw new TypeError("sessiongate: the request url is neither a path nor an absolute URL");
  let rest = url.slice(authority[0].length);
  const hash = rest.indexOf("#");
  if (hash !== -1) rest = rest.slice(0, hash);
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/** One header of a `Headers`, a plain object or Node's `IncomingMessage.headers`. */
function headerValue(headers, name) {
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  // Several values (an array, or keys differing in case) are joined as
  // `Headers` joins them, and so refused as malformed.
  const values = Object.keys(headers)
    .filter((key) => key.toLowerCase() === name)
    .flatMap((key) => headers[key] ?? [])
    .map(String);
  return values.length === 0 ? undefined : values.join(", ");
}
