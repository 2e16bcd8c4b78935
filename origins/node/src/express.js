import { AssertionError } from "./errors.js";
import { middlewareOptions, refusal } from "./respond.js";
import { createVerifier } from "./verify.js";

/**
 * Express (4 or 5) middleware: verifies each request's assertion against
 * its method and `req.originalUrl` (the path and query as received), sets
 * `req.sessiongate` to the `Identity`, and calls `next()`. A refused
 * request is answered `401 {"error":"unauthenticated","reason":<code>}`
 * (`503 {"error":"unavailable","reason":"key_set_unavailable"}` when the
 * edge's key set cannot be fetched), or, with `forwardErrors: true`, passed
 * on as `next(error)` with the `AssertionError` (whose `status` Express's
 * error handler uses).
 *
 * @param {import("./express.js").ExpressOptions} options
 */
export function sessiongate(options) {
  const { forwardErrors, verifierOptions } = middlewareOptions(options);
  const verify = createVerifier(verifierOptions);
  return function sessiongateMiddleware(req, res, next) {
    verify({ method: req.method, url: req.originalUrl ?? req.url, headers: req.headers }).then(
      (identity) => {
        req.sessiongate = identity;
        next();
      },
      (error) => {
        if (forwardErrors || !(error instanceof AssertionError)) {
          next(error);
          return;
        }
        const { status, body } = refusal(error);
        res.statusCode = status;
        res.setHeader("Content-Type", "application/json; charset=utf-8");
        res.setHeader("Cache-Control", "no-store");
        res.end(JSON.stringify(body));
      },
    );
  };
}

export default sessiongate;
