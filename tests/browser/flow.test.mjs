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
const sessionsScreenshot = path.join(root, "target/sessions.png");

let servers, context, page;
let log = "";
/** Temporary folders (browser profiles, local KV), removed at the end. */
const profiles = [];

/** A browser of its own: a fresh profile, so a fresh cookie jar. */
async function launch() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sessiongate-chromium-"));
  profiles.push(dir);
  return chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** Logs `page` in as alice through the demo's login form. */
async function signIn(page) {
  await page.goto(`${servers.edge}/dashboard`);
  await page.fill("#username", "alice");
  await page.fill("#password", "wonderland");
  await page.click("#submit");
  await page.waitForURL(`${servers.edge}/dashboard`);
}

before(async () => {
  // A KV of its own: sessions of earlier runs must not show on the sessions page.
  const kv = mkdtempSync(path.join(os.tmpdir(), "sessiongate-kv-"));
  profiles.push(kv);
  servers = await startServers({ edgePort: 8797, originPort: 8798, output: (chunk) => (log += chunk), persistTo: kv });
  context = await launch();
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await servers?.stop();
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
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

test("ending a session from another browser's sessions page refuses it", async () => {
  const laptop = await launch();
  const phone = await launch();
  try {
    const [mine, theirs] = [laptop.pages()[0] ?? (await laptop.newPage()), phone.pages()[0] ?? (await phone.newPage())];
    await signIn(theirs);
    await signIn(mine);
    await mine.goto(`${servers.edge}/.sessiongate/sessions`);
    assert.equal(await mine.title(), "Your sessions");
    assert.equal(await mine.locator("tbody tr").count(), 2);
    assert.match(await mine.locator("tbody tr", { hasText: "(this device)" }).textContent(), /Chrome on Linux/);
    mkdirSync(path.dirname(sessionsScreenshot), { recursive: true });
    await mine.screenshot({ path: sessionsScreenshot, fullPage: true });

    await mine.getByRole("button", { name: /^End the session on/ }).click();
    await mine.waitForURL(`${servers.edge}/.sessiongate/sessions`);
    assert.equal(await mine.locator("tbody tr").count(), 1, "only this device is left");

    await theirs.goto(`${servers.edge}/dashboard`);
    assert.equal(new URL(theirs.url()).pathname, "/login", "the ended browser is sent to log in");
    await mine.goto(`${servers.edge}/dashboard`);
    assert.equal(new URL(mine.url()).pathname, "/dashboard", "the other carries on");
  } finally {
    await laptop.close();
    await phone.close();
  }
});
