// Signing in with an OpenID Connect provider in a real browser: chromium
// goes from a protected page to the provider's login form (oidc-provider
// on 127.0.0.1) and back to the page, signed in; a page whose policy rule
// wants a recent sign-in sends it through the login form again (step-up)
// and back with a fresh auth_time; then it logs out, at the edge and at
// the provider, through the servers of `npm run demo:oidc`.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { oidcVars, startServers } from "../../scripts/servers.mjs";
import { startProvider } from "../oidc/provider.mjs";

const EDGE_PORT = 8821;
/** The step-up rule: /api/me only within 10 s of signing in. */
const MAX_AUTH_AGE = 10;
const POLICY = [{ name: "recent-login", paths: ["/api/me"], allow: [{ any_user: true }], max_auth_age: `${MAX_AUTH_AGE}s` }];
let op, servers, context, page;
let log = "";
const dirs = [];
const temp = (prefix) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

before(async () => {
  const edge = `http://127.0.0.1:${EDGE_PORT}`;
  op = await startProvider({
    port: 8823,
    redirectUris: [`${edge}/.sessiongate/oidc/callback`],
    postLogoutRedirectUris: [`${edge}/`],
    backchannelLogoutUri: `${edge}/.sessiongate/oidc/backchannel-logout`,
  });
  servers = await startServers({
    edgePort: EDGE_PORT,
    originPort: 8822,
    output: (chunk) => (log += chunk),
    persistTo: temp("sessiongate-kv-"),
    vars: { ...oidcVars(op, edge), POLICY: JSON.stringify(POLICY) },
  });
  context = await chromium.launchPersistentContext(temp("sessiongate-chromium-"), {
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await servers?.stop();
  await op?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sessionCookie = async () => (await context.cookies(servers.edge)).find((c) => c.name === "__Host-sg");

test("a protected page sends the browser to the provider's login form and back, signed in", async () => {
  await page.goto(`${servers.edge}/dashboard`);
  assert.equal(new URL(page.url()).origin, op.issuer, "at the provider");
  await page.fill('input[name="login"]', "alice");
  await page.fill('input[name="password"]', "alice-password");
  await page.click('button[type="submit"]');
  await page.click('button[type="submit"]'); // the consent page's Continue
  await page.waitForURL(`${servers.edge}/dashboard`);
  assert.match(await page.textContent("#user"), /Signed in as Alice Liddell/);
  const cookie = await sessionCookie();
  assert.ok(cookie, "a session cookie");
  assert.deepEqual([cookie.httpOnly, cookie.secure], [true, true]);
  const me = await page.evaluate(async () => (await fetch("/api/me")).json());
  assert.equal(me.claims.email, "alice@example.com");
});

test("a page that wants a recent sign-in sends the browser through the login form again, and back", async () => {
  const before = await page.evaluate(async () => (await fetch("/api/me")).json());
  await new Promise((resolve) => setTimeout(resolve, (MAX_AUTH_AGE + 1) * 1000));
  const stale = await page.evaluate(async () => {
    const response = await fetch("/api/me");
    return { status: response.status, body: await response.json() };
  });
  assert.deepEqual(stale, { status: 401, body: { error: "unauthenticated", reason: "step_up" } });

  const asked = [];
  const listen = (request) => request.url().startsWith(op.issuer) && asked.push(new URL(request.url()));
  page.on("request", listen);
  await page.goto(`${servers.edge}/api/me`);
  assert.equal(new URL(page.url()).origin, op.issuer, "at the provider");
  const authorization = asked.find((url) => url.searchParams.has("client_id"));
  assert.equal(authorization?.searchParams.get("prompt"), "login");
  assert.equal(authorization?.searchParams.get("max_age"), String(MAX_AUTH_AGE));
  assert.ok(await page.isVisible('input[name="login"]'), "prompt=login: the provider asks again");
  const submitted = Math.floor(Date.now() / 1000);
  await page.fill('input[name="login"]', "alice");
  await page.fill('input[name="password"]', "alice-password");
  await page.click('button[type="submit"]');
  await page.waitForURL(`${servers.edge}/api/me`);
  const after = JSON.parse(await page.textContent("body"));
  assert.equal(after.sub, before.sub);
  assert.ok(after.auth_time >= submitted - 1, `a fresh auth_time (${after.auth_time} ≥ ${submitted})`);
  assert.ok(after.auth_time > before.auth_time);
  page.off("request", listen);
  await page.goto(`${servers.edge}/dashboard`);
});

test("logging out ends the session here and at the provider", async () => {
  await page.click("#logout");
  await page.waitForURL((url) => url.origin === op.issuer);
  assert.equal(await sessionCookie(), undefined, "the session cookie is gone");
  // oidc-provider asks before it signs the user out, then sends the browser
  // back to the site, whose protected root sends it to sign in again: the
  // provider's login form, not a silent sign-in, so it has signed out too.
  await page.click('button[name="logout"]');
  await page.waitForURL((url) => url.origin === op.issuer && url.pathname.startsWith("/interaction"));
  assert.ok(await page.isVisible('input[name="login"]'), "the provider asks for a login again");
  assert.equal(await sessionCookie(), undefined);
  const signedOut = log.split("\n").some((line) => line.includes('"event":"logout"'));
  assert.ok(signedOut, "the edge logged the logout");
});
