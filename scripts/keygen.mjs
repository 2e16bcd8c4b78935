// npm run keygen: fresh secrets for sessiongate.
//   npm run keygen              values and the `wrangler secret put` lines
//   node scripts/keygen.mjs --dev-vars   a .dev.vars file for local runs

import { randomBytes } from "node:crypto";

const secret = () => randomBytes(32).toString("base64url");
// A key id that says when the key was made: k + YYMMDD, within [a-z0-9]{1,8}.
const kid = "k" + new Date().toISOString().slice(2, 10).replaceAll("-", "");

const secrets = {
  SESSION_KEYS: `${kid}:${secret()}`,
  ASSERTION_KEY: secret(),
  HANDOFF_KEY: secret(),
  ADMIN_TOKEN: secret(),
};

if (process.argv.includes("--dev-vars")) {
  console.log("# Local secrets for `wrangler dev`, made by scripts/keygen.mjs. Never commit this file.");
  for (const [name, value] of Object.entries(secrets)) console.log(`${name}=${value}`);
} else {
  console.log("Fresh secrets:\n");
  for (const [name, value] of Object.entries(secrets)) console.log(`  ${name}=${value}`);
  console.log("\nSet them on the deployed worker:\n");
  for (const [name, value] of Object.entries(secrets)) {
    console.log(`  printf '%s' '${value}' | npx wrangler secret put ${name}`);
  }
  console.log(`
To rotate session keys, put the new pair first and keep the old one after it
(SESSION_KEYS=${kid}:<new>,<old kid>:<old secret>); drop the old pair once
ABSOLUTE_TIMEOUT has passed. ASSERTION_KEY must also be given to the origin.`);
}
