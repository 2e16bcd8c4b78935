// `npm start` (after scripts/start.sh has set up and built): serves the
// demo behind sessiongate until Ctrl-C. `npm run demo:oidc` (`--oidc`):
// the same, signing in with a local OpenID Provider (oidc-provider)
// instead of the demo's own login page.
import { oidcVars, startServers } from "./servers.mjs";

const EDGE = "http://127.0.0.1:8787";
const PROVIDER_PORT = 9090;

let op;
let vars = {};
if (process.argv.includes("--oidc")) {
  const { startProvider } = await import("../tests/oidc/provider.mjs");
  op = await startProvider({
    port: PROVIDER_PORT,
    redirectUris: [`${EDGE}/.sessiongate/oidc/callback`],
    postLogoutRedirectUris: [`${EDGE}/`],
    backchannelLogoutUri: `${EDGE}/.sessiongate/oidc/backchannel-logout`,
  });
  vars = oidcVars(op, EDGE);
}

const servers = await startServers({ vars });
const users = op
  ? Object.entries(op.users)
      .map(([name, { password, claims }]) => `${name} / ${password}  (${claims.email}${claims.email_verified ? "" : ", unverified: refused"}${claims.email.endsWith("@example.com") ? "" : ", not in OIDC_ALLOWED_DOMAINS: refused"})`)
      .join("\n               ")
  : "alice / wonderland   bob / builder";
console.log(`
  sessiongate is running: open ${servers.edge}/dashboard
  (demo origin on ${servers.origin}, reachable directly only for inspection)
${op ? `  signing in at the OpenID Provider ${op.issuer} (client ${op.client.id})\n` : ""}
  demo users:  ${users}
  Ctrl-C stops ${op ? "all three" : "both"}.
`);
const shutdown = async () => {
  await servers.stop();
  await op?.close();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
