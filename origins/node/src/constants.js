// Names and numbers of the wire contract between the sessiongate edge and
// an origin.

/** Request header carrying the assertion (lower case, as Node keys headers). */
export const ASSERTION_HEADER = "sessiongate-assertion";
/** Request header naming the user, plain or `UTF-8''`-encoded (see `decodeUserHeader`). */
export const USER_HEADER = "x-sessiongate-user";
/** Response header that logs a user in: the value `signHandoff` returns. */
export const LOGIN_HEADER = "sessiongate-login";
/** Response header that logs the user out: `current` or `all`. */
export const LOGOUT_HEADER = "sessiongate-logout";
/** Path, on the edge's host, of the key set it signs assertions with. */
export const JWKS_PATH = "/.sessiongate/jwks.json";
/** `iss` of every assertion. */
export const ISSUER = "sessiongate";
/** Longest an assertion may live (`exp` - `iat`), in seconds. */
export const ASSERTION_LIFETIME = 60;
/** Seconds of clock skew tolerated on `exp` and `iat` unless `leeway` says otherwise. */
export const DEFAULT_LEEWAY = 5;
/** Furthest ahead a handoff's `exp` may lie, in seconds. */
export const MAX_HANDOFF_TTL = 120;
/** A handoff's lifetime unless `ttl` says otherwise, in seconds. */
export const DEFAULT_HANDOFF_TTL = 60;
/** Shortest `ASSERTION_KEY` / `HANDOFF_KEY`, in characters. */
export const MIN_SECRET_LENGTH = 32;
/** Longest assertion read, in characters: the edge never sends more. */
export const MAX_ASSERTION_LENGTH = 8 * 1024;
