// A Hono origin (on Node's server) behind the edge: as express-app.mjs.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { sessiongateHono } from "sessiongate-origin/hono";

const { JWKS_URL, AUDIENCE, PORT, CACHE_MS } = process.env;
const app = new Hono();
app.use("*", sessiongateHono({ jwksUrl: JWKS_URL, audience: AUDIENCE, jwksOptions: { cacheMaxAge: Number(CACHE_MS), cooldownDuration: 0 } }));
app.all("*", (c) => {
  const who = c.get("sessiongate");
  return c.json({ sub: who.sub, kind: who.kind, groups: who.groups, assertion: c.req.header("sessiongate-assertion") });
});
serve({ fetch: app.fetch, port: Number(PORT), hostname: "127.0.0.1" }, ({ port }) => console.log(`listening on ${port}`));
