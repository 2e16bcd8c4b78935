// `npm start` (after scripts/start.sh has set up and built): serves the
// demo behind sessiongate until Ctrl-C. `npm run demo:oidc` (`--oidc`):
// the same, signing in with a local OpenID Provider (oidc-provider)
// instead of the demo's own login page, which also issues access tokens
// to a machine client for the demo's API (README "Machine clients").
import { DEMO_MACHINE_CLIENT, startOidcDemo, startServers } from "./servers.mjs";

let op, servers, stop;
if (process.argv.includes("--oidc")) {
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
console.log(`
  sessiongate is running: open ${servers.edge}/dashboard
  (demo origin on ${servers.origin}, reachable directly only for inspection)
${op ? `  signing in at the OpenID Provider ${op.issuer} (client ${op.client.id})\n` : ""}
  demo users:  ${users}
${machine}
  Ctrl-C stops ${op ? "all three" : "both"}.
`);
const shutdown = async () => {
  await stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
