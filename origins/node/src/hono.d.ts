import type { MiddlewareHandler } from "hono";

import type { Identity, VerifierOptions } from "./index.js";

export type HonoOptions = VerifierOptions & {
  /** Throw a refusal to `app.onError` instead of answering 401; default false. */
  forwardErrors?: boolean;
};

/** The variables the middleware sets: `c.get("sessiongate")`. */
export interface SessiongateVariables {
  sessiongate: Identity;
}

/** Hono middleware that does `c.set("sessiongate", identity)`; answers 401 JSON for a refused request. */
export declare function sessiongateHono(options: HonoOptions): MiddlewareHandler<{ Variables: SessiongateVariables }>;

export default sessiongateHono;

declare module "hono" {
  interface ContextVariableMap {
    /** Set by sessiongate-origin's middleware to the verified identity. */
    sessiongate: Identity;
  }
}
