// The peer: Hono with @hono/session keeping its sessions server-side in
// Workers KV, wired as the package's own Cloudflare KV example does
// (useSessionStorage over a KV binding). The cookie is the package's JWE
// (dir + A256GCM) holding { sid, iat, exp }; the session record is read
// from KV by sid. A request with a live session goes to the origin with
// the user named in a header; anything else gets 401.
// Bundled by bench/run.mjs with esbuild into bench/build/peer.mjs.

import { useSession, useSessionStorage } from "@hono/session";
import { Hono } from "hono";

const app = new Hono();

app.use(
  useSessionStorage((c) => ({
    get(sid) {
      return c.env.SESSIONS.get(`s:${sid}`, "json");
    },
    set(sid, data) {
      c.executionCtx.waitUntil(
        c.env.SESSIONS.put(`s:${sid}`, JSON.stringify(data), { expirationTtl: 12 * 3600 }),
      );
    },
    delete(sid) {
      c.executionCtx.waitUntil(c.env.SESSIONS.delete(`s:${sid}`));
    },
  })),
  // The secret comes from the AUTH_SECRET binding, as the package reads it.
  useSession({ duration: { absolute: 12 * 3600, inactivity: 30 * 60 } }),
);

app.all("*", async (c) => {
  // An expired session is not refreshed: the refresh callback returns null.
  const data = await c.var.session.get(() => null);
  if (!data?.uid) return c.json({ error: "unauthenticated" }, 401);
  const url = new URL(c.req.url);
  const headers = new Headers(c.req.raw.headers);
  headers.set("x-user", data.uid);
  return fetch(c.env.ORIGIN_URL + url.pathname + url.search, {
    method: c.req.method,
    headers,
    body: c.req.raw.body,
  });
});

export default app;
