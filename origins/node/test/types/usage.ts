// Compiled (never run) by `npm run typecheck`: the README's uses of the
// API type-check against the hand-written declarations, and misuses do not.
import express from "express";
import { Hono } from "hono";

import {
  AssertionError,
  ASSERTION_HEADER,
  createVerifier,
  decodeUserHeader,
  type Identity,
  LOGIN_HEADER,
  LOGOUT_HEADER,
  signHandoff,
  USER_HEADER,
  verifyAssertion,
} from "sessiongate-origin";
import { sessiongate } from "sessiongate-origin/express";
import { sessiongateHono } from "sessiongate-origin/hono";

const audience = "my-app";
const jwksUrl = "https://app.example.com/.sessiongate/jwks.json";

// Express
const app = express();
app.use(sessiongate({ jwksUrl, audience }));
app.get("/orders", (req, res) => {
  const who: Identity | undefined = req.sessiongate;
  res.json({ user: who?.sub, admin: who?.inGroup("admins"), client: who?.clientId });
});
app.use(sessiongate({ hs256Key: "x".repeat(32), audience, forwardErrors: true }));
app.post("/login", async (req, res) => {
  res.set(LOGIN_HEADER, await signHandoff({ sub: "alice", key: "k".repeat(32), groups: ["admins"], authTime: new Date() }));
  res.set(LOGOUT_HEADER, "all").end();
});

// Hono
const hono = new Hono();
hono.use("/api/*", sessiongateHono({ jwks: { keys: [] }, audience }));
hono.get("/api/me", (c) => {
  const who = c.get("sessiongate");
  const scope: string | null = who.scope;
  return c.json({ sub: who.sub, scope, deploy: who.hasScope("deploy:write") });
});

// Fetch-style
const verify = createVerifier({ jwksUrl: new URL(jwksUrl), audience, leeway: 10, jwksOptions: { cooldownDuration: 0 } });
export async function handler(request: Request): Promise<Response> {
  try {
    const who = await verify(request);
    const name = decodeUserHeader(request.headers.get(USER_HEADER) ?? "");
    return new Response(`${who.sub} ${name} ${who.authTime} ${who.deviceBound} ${who.kind satisfies "session" | "bearer"}`);
  } catch (error) {
    if (error instanceof AssertionError) return Response.json({ reason: error.code }, { status: error.status });
    throw error;
  }
}
await verifyAssertion({ method: "GET", url: "/x", headers: { [ASSERTION_HEADER]: "t" } }, { audience, hs256Key: "x".repeat(32), now: () => 0 });

// Misuses the declarations refuse.
// @ts-expect-error: two key sources
createVerifier({ jwksUrl, hs256Key: "x".repeat(32), audience });
// @ts-expect-error: no audience
createVerifier({ jwksUrl });
// @ts-expect-error: jwksOptions without jwksUrl
createVerifier({ hs256Key: "x".repeat(32), audience, jwksOptions: {} });
// @ts-expect-error: identities are read-only
((who: Identity) => (who.sub = "mallory"))(null!);
// @ts-expect-error: snake_case is the wire's, not the API's
((who: Identity) => who.client_id)(null!);
