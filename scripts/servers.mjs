// The servers of `npm start`: the demo origin, and sessiongate in front of
// it under `wrangler dev` (local mode, local KV). The browser test starts
// the same pair, on other ports.

import { spawn, execFileSync } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Reads .dev.vars, writing one with fresh secrets first if there is none. */
export function devVars() {
  const file = path.join(root, ".dev.vars");
  if (!existsSync(file)) {
    writeFileSync(file, execFileSync("node", [path.join(root, "scripts/keygen.mjs"), "--dev-vars"]));
  }
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

/**
 * How the demo origin verifies assertions: with the edge's key set, at its
 * URL (the edge over https uses a test CA the demo does not trust, so then
 * the set is pinned, made here from the same keys), or, for a .dev.vars
 * from before signing keys, with the shared ASSERTION_KEY.
 */
function originKeys(secrets, edgeUrl, tls) {
  if (!secrets.ASSERTION_SIGNING_KEYS) return { ASSERTION_KEY: secrets.ASSERTION_KEY };
  if (!tls) return { SESSIONGATE_JWKS_URL: `${edgeUrl}/.sessiongate/jwks.json` };
  const keys = secrets.ASSERTION_SIGNING_KEYS.split(",").map((entry) => {
    const [kid, der] = entry.trim().split(":");
    const jwk = createPublicKey({ key: Buffer.from(der, "base64url"), format: "der", type: "pkcs8" }).export({ format: "jwk" });
    return { ...jwk, kid, alg: jwk.kty === "EC" ? "ES256" : "EdDSA", use: "sig" };
  });
  return { SESSIONGATE_JWKS: JSON.stringify({ keys }) };
}

/** A [vars] value of wrangler.toml. */
function wranglerVar(name) {
  const match = readFileSync(path.join(root, "wrangler.toml"), "utf8").match(new RegExp(`^${name} = "(.*)"$`, "m"));
  if (!match) throw new Error(`wrangler.toml has no ${name}`);
  return match[1];
}

/** The status of a GET, trusting `ca` for https (the test CA). */
function status(url, ca, timeoutMs) {
  if (!url.startsWith("https:")) {
    return fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) }).then((r) => r.status);
  }
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on("error", reject);
    request.on("timeout", () => request.destroy(new Error("timed out")));
  });
}

async function waitFor(url, child, name, timeoutMs, ca) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    try {
      // One request at a time: wrangler holds requests until its build is done.
      if ((await status(url, ca, Math.max(1, deadline - Date.now()))) < 500) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${name} did not answer ${url} within ${timeoutMs / 1000} s`);
}

/** The edge's settings for signing in with the test provider `op` (tests/oidc/provider.mjs), the edge at `edge`. */
export function oidcVars(op, edge) {
  return {
    OIDC_ISSUER: op.issuer,
    OIDC_CLIENT_ID: op.client.id,
    OIDC_CLIENT_SECRET: op.client.secret,
    OIDC_REDIRECT_URI: `${edge}/.sessiongate/oidc/callback`,
    OIDC_ALLOWED_DOMAINS: "example.com",
    OIDC_CLAIMS: "email,name,groups",
    LOGIN_URL: "/.sessiongate/oidc/start",
  };
}

/**
 * The demo's machine client (README "Machine clients"): a script that gets
 * an access token from the provider by the client credentials grant, for
 * the edge as its resource (the token's aud), and calls the demo's API.
 */
export const DEMO_MACHINE_CLIENT = { id: "demo-cli", secret: "demo-cli-secret", scope: "api:read" };

/** The ports of `npm run demo:oidc` (the README's examples name them). */
export const DEMO_PORTS = { edge: 8787, origin: 8788, provider: 9090 };

/**
 * The edge's settings for machine clients of the demo at `edge`: access
 * tokens for `edge` are accepted (from OIDC_ISSUER, the provider), and the
 * policy lets DEMO_MACHINE_CLIENT read the API with the scope api:read,
 * while every signed-in user keeps the whole demo (API included).
 */
export function machineClientVars(edge) {
  const { id, scope } = DEMO_MACHINE_CLIENT;
  return {
    BEARER_AUDIENCE: edge,
    POLICY: JSON.stringify([
      { name: "api", paths: ["/api/*"], allow: [{ any_user: true }, { clients: [id], scopes: [scope], methods: ["GET", "HEAD"] }] },
    ]),
  };
}

/**
 * `npm run demo:oidc`: the test provider (tests/oidc/provider.mjs) on
 * `providerPort` with the edge's client and DEMO_MACHINE_CLIENT, then the
 * demo origin and the edge signing in there and accepting the provider's
 * access tokens. Resolves to { op, servers, stop }. Other options go to
 * startServers (`output`, `persistTo`); `vars` are added to the edge's.
 */
export async function startOidcDemo({ edgePort = DEMO_PORTS.edge, originPort = DEMO_PORTS.origin, providerPort = DEMO_PORTS.provider, vars = {}, ...options } = {}) {
  const edge = `http://127.0.0.1:${edgePort}`;
  const { startProvider } = await import("../tests/oidc/provider.mjs");
  const op = await startProvider({
    port: providerPort,
    redirectUris: [`${edge}/.sessiongate/oidc/callback`],
    postLogoutRedirectUris: [`${edge}/`],
    backchannelLogoutUri: `${edge}/.sessiongate/oidc/backchannel-logout`,
    machineClients: [{ ...DEMO_MACHINE_CLIENT, resources: [edge] }],
  });
  let servers;
  try {
    servers = await startServers({ ...options, edgePort, originPort, vars: { ...oidcVars(op, edge), ...machineClientVars(edge), ...vars } });
  } catch (e) {
    await op.close();
    throw e;
  }
  return {
    op,
    servers,
    stop: async () => {
      await servers.stop();
      await op.close();
    },
  };
}

/**
 * Starts the demo origin and the edge; resolves once both answer.
 * `output`: "inherit" to show their output, or a function given each chunk.
 * `vars`: settings for the edge beyond wrangler.toml's. `https`: serve the
 * edge at https://localhost with this `{ key, cert, ca }` (file paths).
 */
export async function startServers({ edgePort = 8787, originPort = 8788, output = "inherit", persistTo, vars = {}, https: tls, apps } = {}) {
  const secrets = devVars();
  // A browser trusts the test CA's certificate for localhost, not for an address.
  const edgeUrl = tls ? `https://localhost:${edgePort}` : `http://127.0.0.1:${edgePort}`;
  // One demo origin, or (`apps`) one per app: APPS in place of the single
  // app's variables, which wrangler.toml sets and APPS forbids.
  const origins = apps
    ? apps.list.map((app) => ({ port: app.port, audience: app.audience ?? app.name }))
    : [{ port: originPort, audience: wranglerVar("AUDIENCE") }];
  const edgeVars = apps
    ? {
        APPS: JSON.stringify(apps.list.map(({ port, ...app }) => ({ ...app, origin: `http://127.0.0.1:${port}` }))),
        AUTH_HOST: apps.authHost,
        ORIGIN_URL: "",
        AUDIENCE: "",
        PUBLIC_PATHS: "",
        ...vars,
      }
    : { ORIGIN_URL: `http://127.0.0.1:${originPort}`, ...vars };
  const children = [];
  let recent = ""; // the end of the servers' output, for error messages
  const remember = (chunk) => {
    recent = (recent + chunk).slice(-4000);
    if (output !== "inherit") output(chunk);
  };
  const spawnChild = (command, args, env) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", remember);
      if (output === "inherit") stream.pipe(stream === child.stdout ? process.stdout : process.stderr);
    }
    children.push(child);
    return child;
  };
  const stop = async () => {
    for (const child of children) {
      if (child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
      }
    }
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
  };
  try {
    const started = origins.map(({ port, audience }) => [
      port,
      spawnChild(path.join(root, "target/debug/sessiongate-demo"), [], {
        DEMO_ADDR: `127.0.0.1:${port}`,
        AUDIENCE: audience,
        ...originKeys(secrets, edgeUrl, tls),
        HANDOFF_KEY: secrets.HANDOFF_KEY,
      }),
    ]);
    const edge = spawnChild(path.join(root, "node_modules/.bin/wrangler"), [
      "dev",
      "--ip", "127.0.0.1",
      "--port", String(edgePort),
      "--inspector-port", String(edgePort + 1000),
      ...Object.entries(edgeVars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ...(tls ? ["--local-protocol", "https", "--https-key-path", tls.key, "--https-cert-path", tls.cert] : []),
      "--show-interactive-dev-session=false",
      // Local KV lives here: a test passes a fresh folder, npm start keeps .wrangler/state.
      ...(persistTo ? ["--persist-to", persistTo] : []),
    ], {
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
    });
    for (const [port, origin] of started) await waitFor(`http://127.0.0.1:${port}/login`, origin, "the demo origin", 30_000);
    // wrangler dev runs the build command first.
    await waitFor(`${edgeUrl}/.sessiongate/health`, edge, "wrangler dev", 300_000, tls && readFileSync(tls.ca));
  } catch (e) {
    await stop();
    throw new Error(`${e.message}; their last output:\n${recent}`);
  }
  return { edge: edgeUrl, origin: `http://127.0.0.1:${origins[0].port}`, stop };
}

/**
 * `npm run demo:apps`: two demo origins behind one gate, as two apps
 * (README "Several apps"): people sign in at accounts.localhost, whose
 * app has the demo's login page, and open wiki.localhost without signing
 * in again. Browsers resolve *.localhost to the loopback themselves.
 */
export const DEMO_APPS = {
  authHost: "accounts.localhost",
  list: [
    { name: "accounts", hosts: ["accounts.localhost"], port: 8788, public_paths: ["/static/*"] },
    { name: "wiki", hosts: ["wiki.localhost"], port: 8789, public_paths: ["/static/*"] },
  ],
};
