import type { IncomingMessage, ServerResponse } from "node:http";

import type { Identity, VerifierOptions } from "./index.js";

export type ExpressOptions = VerifierOptions & {
  /** Pass a refusal on as `next(error)` instead of answering 401; default false. */
  forwardErrors?: boolean;
};

/** Express middleware that sets `req.sessiongate`; answers 401 JSON for a refused request. */
export declare function sessiongate(
  options: ExpressOptions,
): (req: IncomingMessage & { originalUrl?: string; sessiongate?: Identity }, res: ServerResponse, next: (error?: unknown) => void) => void;

export default sessiongate;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by sessiongate-origin's middleware to the verified identity. */
      sessiongate?: Identity;
    }
  }
}
