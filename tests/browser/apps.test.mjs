// One sign-in for several apps in a real browser: chromium opens an app on
// one registrable domain, signs in at the OpenID Provider (oidc-provider)
// through AUTH_HOST, then opens an app on another registrable domain
// without seeing a login form. The names resolve to the loopback through
// chromium's host resolver rules; sessiongate runs under wrangler dev over
// HTTPS (a test CA chromium trusts), since its cookies are Secure.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { oidcVars, startServers } from "../../scripts/servers.mjs";
import { startProvider } from "../oidc/provider.mjs";
import { makeTestTls } from "./tls.mjs";

const EDGE_PORT = 8841;
const AUTH_HOST = "accounts.example.com";
const WIKI = `https://wiki.example.com:${EDGE_PORT}`;
const TOOLS = `https://tools.example-tools.net:${EDGE_PORT}`;
const ACCOUNTS = `https://${AUTH_HOST}:${EDGE_PORT}`;
const APPS = {
  authHost: AUTH_HOST,
  list: [
    { name: "wiki", hosts: ["wiki.example.com"], port: 8842, public_paths: ["/static/*"] },
    { name: "tools", hosts: ["tools.example-tools.net"], port: 8843, public_paths: ["/static/*"] },
  ],
};

let op, servers, tls, context, page;
let log = "";
const dirs = [];
const temp = (prefix) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

before(async () => {
  tls = makeTestTls(temp("sessiongate-tls-"), [AUTH_HOST, "wiki.example.com", "tools.example-tools.net"]);
  op = await startProvider({
    port: 8844,
    redirectUris: [`${ACCOUNTS}/.sessiongate/oidc/callback`],
    postLogoutRedirectUris: [`${WIKI}/`],
  });
  servers = await startServers({
    edgePort: EDGE_PORT,
    output: (chunk) => (log += chunk),
    persistTo: temp("sessiongate-kv-"),
    vars: oidcVars(op, ACCOUNTS),
    https: tls,
    apps: APPS,
  });
  context = await chromium.launchPersistentContext(temp("sessiongate-chromium-"), {
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    env: { ...process.env, HOME: tls.home },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-sync",
      "--host-resolver-rules=MAP *.example.com 127.0.0.1, MAP *.example-tools.net 127.0.0.1",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await servers?.stop();
  await op?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test("signed in once at the provider, the browser opens an app on another registrable domain without a login form", async () => {
  const visited = [];
  // Every navigation request, redirects included (they commit no page).
  page.on("request", (request) => request.isNavigationRequest() && visited.push(request.url()));

  await page.goto(`${WIKI}/dashboard`);
  assert.equal(new URL(page.url()).origin, op.issuer, `at the provider: ${visited.join(" → ")}`);
  assert.ok(visited.some((url) => url.startsWith(`${ACCOUNTS}/.sessiongate/sso?`)), "by way of AUTH_HOST");
  await page.fill('input[name="login"]', "alice");
  await page.fill('input[name="password"]', "alice-password");
  await page.click('button[type="submit"]');
  await page.click('button[type="submit"]'); // the consent page's Continue
  await page.waitForURL(`${WIKI}/dashboard`);
  assert.match(await page.textContent("#user"), /Signed in as Alice Liddell/);

  visited.length = 0;
  await page.goto(`${TOOLS}/dashboard`);
  await page.waitForURL(`${TOOLS}/dashboard`);
  assert.match(await page.textContent("#user"), /Signed in as Alice Liddell/, "the tools origin verified its own app's assertion");
  assert.ok(!visited.some((url) => url.startsWith(op.issuer)), `no provider round trip: ${visited.join(" → ")}`);
  assert.ok(visited.some((url) => url.startsWith(`${TOOLS}/.sessiongate/sso/code?`)), visited.join(" → "));

  // Three host-only cookies: the sign-in at AUTH_HOST, one per app.
  for (const origin of [ACCOUNTS, WIKI, TOOLS]) {
    const cookie = (await context.cookies(origin)).find((c) => c.name === "__Host-sg");
    assert.ok(cookie, `a session cookie at ${origin}`);
    assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.domain], [true, true, new URL(origin).hostname]);
  }
  const sessions = log.split("\n").filter((line) => line.includes('"event":"app_session"'));
  assert.ok(sessions.some((line) => line.includes('"app":"tools"')), "the edge logged tools' new session");
});
