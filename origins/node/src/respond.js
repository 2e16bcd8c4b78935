// What the Express and Hono middleware share.

/** Splits the middleware's own options from the verifier's. */
export function middlewareOptions(options) {
  if (options === null || typeof options !== "object") {
    throw new TypeError("sessiongate: options must be an object");
  }
  const { forwardErrors = false, ...verifierOptions } = options;
  if (typeof forwardErrors !== "boolean") throw new TypeError("sessiongate: forwardErrors must be a boolean");
  return { forwardErrors, verifierOptions };
}

/** Status and JSON body of the answer to a refused request. */
export function refusal(error) {
  const body =
    error.code === "key_set_unavailable"
      ? { error: "unavailable", reason: error.code }
      : { error: "unauthenticated", reason: error.code };
  return { status: error.status, body };
}
