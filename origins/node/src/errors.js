const ASSERTION_MESSAGES = {
  missing: "no Sessiongate-Assertion header",
  malformed: "the assertion is not a well-formed sessiongate JWT",
  alg_not_allowed: "the assertion's alg is not allowed for this key",
  unknown_kid: "the assertion's kid names no key in the key set",
  key_set_unavailable: "the edge's key set could not be fetched",
  bad_signature: "the assertion's signature does not verify",
  wrong_issuer: "the assertion's iss is not sessiongate",
  wrong_audience: "the assertion's aud is not this origin's audience",
  expired: "the assertion has expired",
  issued_in_future: "the assertion was issued in the future",
  too_long: "the assertion lives longer than 60 s",
  wrong_method: "the assertion was issued for another request method",
  wrong_path: "the assertion was issued for another path or query",
};

/**
 * Why an assertion was refused. `code` is one of the keys above; the
 * message never contains the token or any of its claims.
 */
export class AssertionError extends Error {
  /**
   * @param {keyof typeof ASSERTION_MESSAGES} code
   * @param {{ cause?: unknown, message?: string }} [options]
   */
  constructor(code, options = {}) {
    super(options.message ?? ASSERTION_MESSAGES[code] ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AssertionError";
    this.code = code;
    // Express's error handler answers with `status`: a refusal is 401,
    // an edge whose keys cannot be had is the origin's trouble, not the
    // client's.
    this.status = code === "key_set_unavailable" ? 503 : 401;
  }
}

/** Every `AssertionError` code. */
export const ASSERTION_ERROR_CODES = Object.freeze(Object.keys(ASSERTION_MESSAGES));

/**
 * A handoff `signHandoff` will not sign, because the edge would refuse
 * it. `code` is the reason the edge would log (`bad_sub`, `bad_email`, …)
 * or `weak_key` / `bad_ttl` / `bad_claims` / `bad_now`.
 */
export class HandoffError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = "HandoffError";
    this.code = code;
  }
}

/** An `X-Sessiongate-User` value that is not a valid encoding of a user id. */
export class UserHeaderError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "UserHeaderError";
    this.code = "malformed";
  }
}
