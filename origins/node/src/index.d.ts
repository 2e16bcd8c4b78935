/** Request header carrying the assertion: `"sessiongate-assertion"`. */
export declare const ASSERTION_HEADER: "sessiongate-assertion";
/** Request header naming the user: `"x-sessiongate-user"` (see {@link decodeUserHeader}). */
export declare const USER_HEADER: "x-sessiongate-user";
/** Response header that logs a user in: `"sessiongate-login"` (see {@link signHandoff}). */
export declare const LOGIN_HEADER: "sessiongate-login";
/** Response header that logs the user out, with the value `current` or `all`: `"sessiongate-logout"`. */
export declare const LOGOUT_HEADER: "sessiongate-logout";
/** Path of the edge's key set: `"/.sessiongate/jwks.json"`. */
export declare const JWKS_PATH: "/.sessiongate/jwks.json";
/** `iss` of every assertion: `"sessiongate"`. */
export declare const ISSUER: "sessiongate";
/** Longest an assertion may live (`exp` - `iat`): 60 s. */
export declare const ASSERTION_LIFETIME: 60;
/** Default `leeway`: 5 s. */
export declare const DEFAULT_LEEWAY: 5;
/** Furthest ahead a handoff's `exp` may lie: 120 s. */
export declare const MAX_HANDOFF_TTL: 120;
/** Default handoff `ttl`: 60 s. */
export declare const DEFAULT_HANDOFF_TTL: 60;
/** Shortest `hs256Key` / handoff `key`: 32 characters. */
export declare const MIN_SECRET_LENGTH: 32;
/** Longest assertion read: 8192 characters. */
export declare const MAX_ASSERTION_LENGTH: 8192;

/** Why an assertion was refused. */
export type AssertionErrorCode =
  | "missing"
  | "malformed"
  | "alg_not_allowed"
  | "unknown_kid"
  | "key_set_unavailable"
  | "bad_signature"
  | "wrong_issuer"
  | "wrong_audience"
  | "expired"
  | "issued_in_future"
  | "too_long"
  | "wrong_method"
  | "wrong_path";

/** Every {@link AssertionErrorCode}. */
export declare const ASSERTION_ERROR_CODES: readonly AssertionErrorCode[];

/** A refused assertion. The message never contains the token or its claims. */
export declare class AssertionError extends Error {
  constructor(code: AssertionErrorCode, options?: { cause?: unknown; message?: string });
  readonly name: "AssertionError";
  readonly code: AssertionErrorCode;
  /** 503 for `key_set_unavailable`, else 401. */
  readonly status: 401 | 503;
}

/** Why `signHandoff` refused: the reason the edge would log, or a bad argument. */
export type HandoffErrorCode =
  | "weak_key"
  | "bad_now"
  | "bad_ttl"
  | "bad_sub"
  | "bad_claims"
  | "claims_too_large"
  | "bad_email"
  | "bad_groups"
  | "too_many_groups"
  | "groups_too_large"
  | "bad_auth_time"
  | "auth_time_in_future";

export declare class HandoffError extends Error {
  constructor(code: HandoffErrorCode, message: string);
  readonly name: "HandoffError";
  readonly code: HandoffErrorCode;
}

/** An `X-Sessiongate-User` value that encodes no user id. */
export declare class UserHeaderError extends Error {
  constructor(message: string);
  readonly name: "UserHeaderError";
  readonly code: "malformed";
}

/** Who the edge says is making the request. Frozen. */
export declare class Identity {
  private constructor();
  /** The user id (for a machine client, its token's `sub`). */
  readonly sub: string;
  /** A short public id of the session. */
  readonly sid: string;
  /** A person's session, or a machine client's access token. */
  readonly kind: "session" | "bearer";
  /** The user's email address; `null` when the login named none. */
  readonly email: string | null;
  /** The user's groups; `[]` for none. */
  readonly groups: readonly string[];
  /** The string claims the login gave the session; `{}` for none. */
  readonly claims: Readonly<Record<string, string>>;
  /** A machine client's `client_id` (wire name `client_id`); `null` for a session. */
  readonly clientId: string | null;
  /** A machine client's scopes, space-separated; `null` for a session. */
  readonly scope: string | null;
  /** When the user last entered credentials, Unix seconds (wire name `auth_time`). */
  readonly authTime: number;
  /** Whether the session is bound to a key of the device (wire name `device_bound`). */
  readonly deviceBound: boolean;
  /** Issued at, Unix seconds. */
  readonly iat: number;
  /** Expires at, Unix seconds. */
  readonly exp: number;
  /** Whether the user is in `group`. */
  inGroup(group: string): boolean;
  /** Whether this machine client's token carries `scope` (a whole scope). */
  hasScope(scope: string): boolean;
}

/** Headers as a Fetch `Headers`, a plain object, or Node's `IncomingMessage.headers`. */
export type HeadersLike =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

/**
 * A Fetch `Request`, Node's `IncomingMessage`, or any `{ method, url, headers }`
 * whose `url` is an absolute URL or the path and query as received.
 */
export interface RequestLike {
  readonly method: string;
  readonly url: string | URL;
  readonly headers: HeadersLike;
}

/** Timing of the remote key set, in milliseconds (jose's `createRemoteJWKSet` options). */
export interface JwksOptions {
  /** How long a fetched set is used before it is fetched again; default 300000 (the edge's `max-age=300`). */
  cacheMaxAge?: number;
  /** Least time between fetches for an unknown `kid`; default 30000. */
  cooldownDuration?: number;
  /** Fetch timeout; default 5000. */
  timeoutDuration?: number;
}

/** A JSON Web Key Set as the edge publishes it. */
export interface JsonWebKeySet {
  keys: Array<{ kty: string; crv?: string; x?: string; y?: string; kid?: string; alg?: string; use?: string; [name: string]: unknown }>;
}

interface CommonOptions {
  /** The edge's `AUDIENCE`. */
  audience: string;
  /** Seconds of clock skew tolerated on `exp` and `iat`; default 5. */
  leeway?: number;
  /** The current time in Unix seconds, or a function returning it (for tests). */
  now?: number | (() => number);
}

export type VerifierOptions = CommonOptions &
  (
    | {
        /** `<edge>/.sessiongate/jwks.json`: fetched, cached, and fetched again for an unknown `kid`. Allows ES256 and EdDSA. */
        jwksUrl: string | URL;
        jwks?: never;
        hs256Key?: never;
        jwksOptions?: JwksOptions;
      }
    | {
        /** A pinned key set (EC P-256 and OKP Ed25519 public keys, each with a `kid`). Allows ES256 and EdDSA. */
        jwks: JsonWebKeySet;
        jwksUrl?: never;
        hs256Key?: never;
        jwksOptions?: never;
      }
    | {
        /** The edge's `ASSERTION_KEY` (at least 32 characters), for deployments that share a secret. Allows HS256 only. */
        hs256Key: string;
        jwksUrl?: never;
        jwks?: never;
        jwksOptions?: never;
      }
  );

/** Verifies `request`'s assertion; rejects with an {@link AssertionError}. */
export declare function verifyAssertion(request: RequestLike, options: VerifierOptions): Promise<Identity>;

/** A verifier for any fetch-style server; throws a `TypeError` on bad options. */
export declare function createVerifier(options: VerifierOptions): (request: RequestLike) => Promise<Identity>;

export interface HandoffOptions {
  /** The user id: 1 to 256 bytes, no control characters, no leading or trailing white space. */
  sub: string;
  /** The edge's `HANDOFF_KEY`, at least 32 characters. */
  key: string;
  /** String facts passed on in every assertion: at most 1 KiB as JSON. */
  claims?: Record<string, string>;
  /** The user's address: at most 320 bytes, `local@domain`. */
  email?: string;
  /** At most 64 non-empty groups, 2 KiB as JSON. */
  groups?: readonly string[];
  /** When the user entered credentials, if earlier than now; never in the future. */
  authTime?: number | Date;
  /** Seconds until the handoff expires, 1 to 120; default 60. */
  ttl?: number;
  /** The current time in Unix seconds (for tests). */
  now?: number;
}

/** The `Sessiongate-Login` header value that logs `sub` in. Rejects with a {@link HandoffError}. */
export declare function signHandoff(options: HandoffOptions): Promise<string>;

/** The user id an `X-Sessiongate-User` value names; throws a {@link UserHeaderError}. */
export declare function decodeUserHeader(value: string): string;
