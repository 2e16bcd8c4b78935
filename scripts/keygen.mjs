// npm run keygen: fresh secrets for sessiongate.
//   npm run keygen                       values, the `wrangler secret put` lines,
//                                        the signing key's public JWK and how to rotate it
//   npm run keygen -- --assertion-key    one new ASSERTION_SIGNING_KEYS entry, alone
//   node scripts/keygen.mjs --dev-vars   a .dev.vars file for local runs

import { createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";

const secret = () => randomBytes(32).toString("base64url");
// A key id that says when the key was made: k + YYMMDD, within [a-z0-9]{1,8}.
const kid = "k" + new Date().toISOString().slice(2, 10).replaceAll("-", "");

/** A P-256 signing key: its ASSERTION_SIGNING_KEYS entry and public JWK (DESIGN §5). */
function signingKey() {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" }).toString("base64url");
  const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: "jwk" });
  return { entry: `${kid}:${pkcs8}`, jwk: { kty, crv, x, y, kid, alg: "ES256", use: "sig" } };
}

if (process.argv.includes("--assertion-key")) {
  console.log(signingKey().entry);
  process.exit(0);
}

const signing = signingKey();
const secrets = {
  SESSION_KEYS: `${kid}:${secret()}`,
  ASSERTION_SIGNING_KEYS: signing.entry,
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
The signing key's public JWK, which the edge publishes at
/.sessiongate/jwks.json (origins fetch it there; none needs a secret):

  ${JSON.stringify(signing.jwk)}

To rotate the signing key without refusing a request:
  1. add a new key second (npm run keygen -- --assertion-key):
     ASSERTION_SIGNING_KEYS=<old entry>,<new entry>, and deploy;
  2. wait until every origin's copy of the key set has the new key
     (the key set may be cached 5 minutes: wait at least that);
  3. move the new key first: ASSERTION_SIGNING_KEYS=<new entry>,<old entry>,
     and deploy: the edge now signs with it;
  4. after the assertion lifetime (60 s; wait 5 minutes to be safe), drop
     the old entry and deploy.

To rotate session keys, put the new pair first and keep the old one after it
(SESSION_KEYS=${kid}:<new>,<old kid>:<old secret>); drop the old pair once
ABSOLUTE_TIMEOUT has passed.`);
}
