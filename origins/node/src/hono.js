import { AssertionError } from "./errors.js";
import { middlewareOptions, refusal } from "./respond.js";
import { createVerifier } from "./verify.js";

/**
 * Hono middleware: verifies each request's assertion, then
 * `c.set("sessiongate", identity)` and `await next()`. Under
 * `@hono/node-server` the path and query are read from the Node request
 * as received (`c.env.incoming.url`); elsewhere from `c.req.raw.url`. A
 * refused request is answered as by the Express middleware, or, with
 * `forwardErrors: true`, the `AssertionError` is thrown to `app.onError`.
 *
 * @param {import("./hono.js").HonoOptions} options
 */
export function sessiongateHono(options) {
  const { forwardErrors, verifierOptions } = middlewareOptions(options);
  const verify = createVerifier(verifierOptions);
  return async function sessiongateMiddleware(c, next) {
    const incoming = c.env?.incoming;
    const raw = typeof incoming?.url === "string" && incoming.method === c.req.raw.method;
    const url = raw ? incoming.url : c.req.raw.url;
    let identity;
    try {
      identity = await verify({ method: c.req.raw.method, url, headers: c.req.raw.headers });
    } catch (error) {
      if (forwardErrors || !(error instanceof AssertionError)) throw error;
      const { status, body } = refusal(error);
      c.header("Cache-Control", "no-store");
      return c.json(body, status);
    }
    c.set("sessiongate", identity);
    await next();
  };
}

export default sessiongateHono;
