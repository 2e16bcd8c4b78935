// The whole flow in a real browser (Debian's chromium driven by
// playwright-core) against the servers of `npm start`, on their own ports.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServers } from "../../scripts/servers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const screenshot = path.join(root, "target/dashboard.png");

let servers, context, page, profile;
let log = "";

before(async () => {
  servers = await startServers({ edgePort: 8797, originPort: 8798, output: (chunk) => (log += chunk) });
  profile = mkdtempSync(path.join(os.tmpdir(), "sessiongate-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await servers?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const sessionCookie = async () => (await context.cookies(servers.edge)).find((c) => c.name === "__Host-sg");

test("the dashboard sends a visitor without a session to the login page", async () => {
  await page.goto(`${servers.edge}/dashboard`);
  const url = new URL(page.url());
  assert.equal(url.pathname, "/login");
  assert.equal(url.searchParams.get("return_to"), "/dashboard");
  assert.ok(await page.isVisible("#username"));
});

test("a wrong password shows the error and starts no session", async () => {
  await page.fill("#username", "alice");
  await page.fill("#password", "not-her-password");
  await page.click("#submit");
  assert.equal(await page.textContent("#error"), "Wrong username or password.");
  assert.equal(await sessionCookie(), undefined);
});

let oldToken;

test("logging in shows the dashboard with the user, and the session cookie is out of JavaScript's reach", async () => {
  await page.fill("#username", "alice");
  await page.fill("#password", "wonderland");
  await page.click("#submit");
  await page.waitForURL(`${servers.edge}/dashboard`);
  assert.match(await page.textContent("#user"), /Signed in as Alice Liddell/);
  assert.equal(await page.textContent("#sub"), "alice");
  const cookie = await sessionCookie();
  assert.ok(cookie, "the browser stored the session cookie");
  assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path], [true, true, "Lax", "/"]);
  oldToken = cookie.value;
  const visible = await page.evaluate(() => document.cookie);
  assert.ok(!visible.includes("__Host-sg"), `document.cookie shows the session: ${visible}`);
  mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
});

test("logging out returns to the login page, and the old cookie no longer works", async () => {
  await page.click("#logout");
  await page.waitForURL((url) => url.pathname === "/login");
  assert.equal(await sessionCookie(), undefined, "the browser dropped the cookie");
  const replayed = await page.evaluate(async ({ edge }) => (await fetch(`${edge}/api/me`)).status, { edge: servers.edge });
  assert.equal(replayed, 401, "no cookie, no access");
  const withOldCookie = await fetch(`${servers.edge}/api/me`, { headers: { cookie: `__Host-sg=${oldToken}` } });
  assert.equal(withOldCookie.status, 401);
  assert.equal((await withOldCookie.json()).reason, "revoked");
});
