// sessiongate-origin: verify, at a Node origin, who the sessiongate edge
// says is making a request, and log users in and out.
export {
  ASSERTION_HEADER,
  ASSERTION_LIFETIME,
  DEFAULT_HANDOFF_TTL,
  DEFAULT_LEEWAY,
  ISSUER,
  JWKS_PATH,
  LOGIN_HEADER,
  LOGOUT_HEADER,
  MAX_ASSERTION_LENGTH,
  MAX_HANDOFF_TTL,
  MIN_SECRET_LENGTH,
  USER_HEADER,
} from "./constants.js";
export { ASSERTION_ERROR_CODES, AssertionError, HandoffError, UserHeaderError } from "./errors.js";
export { signHandoff } from "./handoff.js";
export { Identity } from "./identity.js";
export { decodeUserHeader } from "./user-header.js";
export { createVerifier, verifyAssertion } from "./verify.js";
