import { SignJWT } from "jose";

import { DEFAULT_HANDOFF_TTL, MAX_HANDOFF_TTL, MIN_SECRET_LENGTH } from "./constants.js";
import { HandoffError } from "./errors.js";

const MAX_SUB_BYTES = 256;
const MAX_CLAIMS_BYTES = 1024;
const MAX_EMAIL_BYTES = 320;
const MAX_GROUPS = 64;
const MAX_GROUPS_BYTES = 2048;
const OPTION_NAMES = new Set(["sub", "key", "claims", "email", "groups", "authTime", "ttl", "now"]);
const CONTROL = /\p{Cc}/u;
const WHITE_SPACE = /\p{White_Space}/u;
const encoder = new TextEncoder();
const byteLength = (s) => encoder.encode(s).length;
const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v));

/**
 * Signs a login handoff: the value of the `Sessiongate-Login` response
 * header with which a login handler, having checked the user's
 * credentials, has the edge start a session for `sub`.
 *
 * Everything the edge would refuse is refused here first, with a
 * `HandoffError` whose `code` is the reason the edge would log.
 *
 * @param {import("./index.js").HandoffOptions} options
 * @returns {Promise<string>}
 */
export async function signHandoff(options) {
  if (!isPlainObject(options)) throw new TypeError("sessiongate: signHandoff takes an options object");
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`sessiongate: unknown signHandoff option ${JSON.stringify(name)}`);
  }
  const { sub, key, claims, email, groups, authTime, ttl = DEFAULT_HANDOFF_TTL, now = Math.floor(Date.now() / 1000) } = options;

  if (typeof key !== "string" || [...key].length < MIN_SECRET_LENGTH) {
    throw new HandoffError("weak_key", `key must be the edge's HANDOFF_KEY, a string of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (!Number.isSafeInteger(now) || now < 0) throw new HandoffError("bad_now", "now must be Unix seconds, a whole number");
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_HANDOFF_TTL) {
    throw new HandoffError("bad_ttl", `ttl must be a whole number of seconds from 1 to ${MAX_HANDOFF_TTL}`);
  }
  checkSub(sub);
  const payload = { sub, exp: now + ttl };

  if (claims !== undefined) {
    if (!isPlainObject(claims) || !Object.values(claims).every((v) => typeof v === "string")) {
      throw new HandoffError("bad_claims", "claims must be an object of strings");
    }
    if (!Object.entries(claims).flat().every((s) => s.isWellFormed())) {
      throw new HandoffError("bad_claims", "claims must be well-formed Unicode (no lone surrogates)");
    }
    const size = byteLength(JSON.stringify(claims));
    if (size > MAX_CLAIMS_BYTES) {
      throw new HandoffError("claims_too_large", `claims are ${size} bytes as JSON; at most ${MAX_CLAIMS_BYTES}`);
    }
    payload.claims = claims;
  }

  if (email !== undefined) {
    checkEmail(email);
    payload.email = email;
  }

  if (groups !== undefined) {
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === "string")) {
      throw new HandoffError("bad_groups", "groups must be an array of strings");
    }
    if (groups.length > MAX_GROUPS) throw new HandoffError("too_many_groups", `${groups.length} groups; at most ${MAX_GROUPS}`);
    if (groups.some((g) => g === "" || CONTROL.test(g) || !g.isWellFormed())) {
      throw new HandoffError("bad_groups", "a group is empty or holds a control character");
    }
    const size = byteLength(JSON.stringify(groups));
    if (size > MAX_GROUPS_BYTES) {
      throw new HandoffError("groups_too_large", `groups are ${size} bytes as JSON; at most ${MAX_GROUPS_BYTES}`);
    }
    if (groups.length > 0) payload.groups = groups;
  }

  if (authTime !== undefined) {
    const seconds = authTime instanceof Date ? Math.floor(authTime.getTime() / 1000) : authTime;
    if (!Number.isSafeInteger(seconds) || seconds < 0) {
      throw new HandoffError("bad_auth_time", "authTime must be Unix seconds (a whole number) or a Date");
    }
    if (seconds > now) throw new HandoffError("auth_time_in_future", "authTime lies in the future");
    payload.auth_time = seconds;
  }

  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(encoder.encode(key));
}

function checkSub(sub) {
  if (typeof sub !== "string") throw new HandoffError("bad_sub", "sub (the user id) must be a string");
  const bytes = byteLength(sub);
  if (bytes === 0 || bytes > MAX_SUB_BYTES) {
    throw new HandoffError("bad_sub", `sub must be 1 to ${MAX_SUB_BYTES} bytes of UTF-8; it is ${bytes}`);
  }
  if (!sub.isWellFormed()) throw new HandoffError("bad_sub", "sub must be well-formed Unicode (no lone surrogates)");
  if (CONTROL.test(sub)) throw new HandoffError("bad_sub", "sub must not contain control characters");
  if (WHITE_SPACE.test(sub.at(0)) || WHITE_SPACE.test(sub.at(-1))) {
    throw new HandoffError("bad_sub", "sub must not begin or end with white space");
  }
}

function checkEmail(email) {
  if (typeof email !== "string") throw new HandoffError("bad_email", "email must be a string");
  const bytes = byteLength(email);
  if (bytes === 0 || bytes > MAX_EMAIL_BYTES) {
    throw new HandoffError("bad_email", `email must be 1 to ${MAX_EMAIL_BYTES} bytes`);
  }
  if (!email.isWellFormed() || WHITE_SPACE.test(email) || CONTROL.test(email)) {
    throw new HandoffError("bad_email", "email must not contain white space or control characters");
  }
  const at = email.indexOf("@");
  if (at <= 0 || at === email.length - 1 || email.indexOf("@", at + 1) !== -1) {
    throw new HandoffError("bad_email", "email must be local@domain, with exactly one @");
  }
}
