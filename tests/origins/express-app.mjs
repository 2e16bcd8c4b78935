// An Express origin behind the edge (tests/e2e/origins.test.mjs): every
// path answers who the assertion names, and echoes the assertion itself so
// that the test can replay it elsewhere. Settings from the environment.
import express from "express";
import { sessiongate } from "sessiongate-origin/express";

const { JWKS_URL, AUDIENCE, PORT, CACHE_MS } = process.env;
const app = express();
app.use(sessiongate({ jwksUrl: JWKS_URL, audience: AUDIENCE, jwksOptions: { cacheMaxAge: Number(CACHE_MS), cooldownDuration: 0 } }));
app.use((req, res) => {
  const who = req.sessiongate;
  res.json({ sub: who.sub, kind: who.kind, groups: who.groups, assertion: req.headers["sessiongate-assertion"] });
});
const server = app.listen(Number(PORT), "127.0.0.1", () => console.log(`listening on ${server.address().port}`));
