// `npm start` (after scripts/start.sh has set up and built): serves the
// demo behind sessiongate until Ctrl-C. `npm run demo:oidc` (`--oidc`):
// the same, signing in with a local OpenID Provider (oidc-provider)
// instead of the demo's own login page, which also issues access tokens
// to a machine client for the demo's API (README "Machine clients").
// `npm run demo:apps` (`--apps`): two demo origins as two apps behind one
// gate, signed in once (README "Several apps").
import { DEMO_APPS, DEMO_MACHINE_CLIENT, startOidcDemo, startServers } from "./servers.mjs";

let op, servers, stop;
if (process.argv.includes("--apps")) {
  servers = await startServers({ apps: DEMO_APPS });
  stop = servers.stop;
} else if (process.argv.includes("--oidc")) {
  ({ op, servers, stop } = await startOidcDemo());
} else {
  servers = await startServers();
  stop = servers.stop;
}

const users = op
  ? Object.entries(op.users)
      .map(([name, { password, claims }]) => `${name} / ${password}  (${claims.email}${claims.email_verified ? "" : ", unverified: refused"}${claims.email.endsWith("@example.com") ? "" : ", not in OIDC_ALLOWED_DOMAINS: refused"})`)
      .join("\n               ")
  : "alice / wonderland   bob / builder";
const { id, secret, scope } = DEMO_MACHINE_CLIENT;
const machine = op
  ? `
  a machine client (${id}, scope ${scope}) reads the API with an access token:
    TOKEN=$(curl -s -u ${id}:${secret} -d grant_type=client_credentials -d resource=${servers.edge} -d scope=${scope} ${op.issuer}/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
    curl -s -H "Authorization: Bearer $TOKEN" ${servers.edge}/api/me
`
  : "";
const port = new URL(servers.edge).port;
const open = process.argv.includes("--apps")
  ? `two apps (browsers resolve *.localhost to 127.0.0.1 themselves):
    http://${DEMO_APPS.list[1].hosts[0]}:${port}/dashboard   sends you to sign in at ${DEMO_APPS.authHost}
    http://${DEMO_APPS.list[0].hosts[0]}:${port}/dashboard   the app where people sign in
  Sign in once, then open the other: no second login; each origin's
  assertion names its own app (aud).`
  : `open ${servers.edge}/dashboard
  (demo origin on ${servers.origin}, reachable directly only for inspection)`;
console.log(`
  sessiongate is running: ${open}
${op ? `  signing in at the OpenID Provider ${op.issuer} (client ${op.client.id})\n` : ""}
  demo users:  ${users}
${machine}
  Ctrl-C stops them all.
`);
const shutdown = async () => {
  await stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
