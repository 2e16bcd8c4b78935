// Device-bound sessions in a real browser: Debian's chromium runs DBSC with
// software keys against sessiongate under wrangler dev over HTTPS (a test
// CA it trusts). It logs in through the edge, binds its session, keeps
// working across several bound-cookie expiries; its cookies copied into a
// fresh browser (no key) are refused once their bound cookie expires.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { startServers } from "../../scripts/servers.mjs";
import { makeTestTls } from "./tls.mjs";

/** The bound cookie's lifetime here: short, so that the test sees it expire. */
const REFRESH_S = 10;
/** How long past its expiry the edge still takes a bound cookie (core/src/dbsc/cookie.rs GRACE). */
const GRACE_S = 5;
const DBSC_FEATURES = [
  "DeviceBoundSessions:ForceEnableForTesting/true/RequireOriginTrialTokens/false/RefreshQuota/false",
  "EnableBoundSessionCredentialsSoftwareKeysForManualTesting",
].join(",");

let servers, tls, browser, page;
let log = "";
const dirs = [];
/** DBSC events chromium reports over CDP, for readable failures. */
const events = [];

const temp = (prefix) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

/** A chromium of its own, trusting the test CA; `dbsc` turns device-bound sessions on. */
function launch({ dbsc }) {
  return chromium.launchPersistentContext(temp("sessiongate-chromium-"), {
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    env: { ...process.env, HOME: tls.home },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...(dbsc ? [`--enable-features=${DBSC_FEATURES}`] : []),
    ],
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const cookiesOf = async (context) => Object.fromEntries((await context.cookies(servers.edge)).map((c) => [c.name, c]));
/** What the page's own fetch of the demo's API gets: status and reason. */
const apiFrom = (p) =>
  p.evaluate(async () => {
    const response = await fetch("/api/me");
    return { status: response.status, reason: response.ok ? null : (await response.json()).reason };
  });

before(async () => {
  tls = makeTestTls(temp("sessiongate-tls-"));
  servers = await startServers({
    edgePort: 8801,
    originPort: 8802,
    output: (chunk) => (log += chunk),
    persistTo: temp("sessiongate-kv-"),
    vars: { DEVICE_BOUND_REFRESH: `${REFRESH_S}s` },
    https: tls,
  });
  browser = await launch({ dbsc: true });
  page = browser.pages()[0] ?? (await browser.newPage());
  const cdp = await browser.newCDPSession(page);
  cdp.on("Network.deviceBoundSessionEventOccurred", (event) => events.push(event));
  await cdp.send("Network.enable");
  await cdp.send("Network.enableDeviceBoundSessions", { enable: true });
});

after(async () => {
  await browser?.close();
  await servers?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const kinds = (key) => events.filter((e) => e[key]).map((e) => `${e.succeeded ? "ok" : "failed"}: ${JSON.stringify(e[key])}`);

test("logging in through the edge binds the session to the browser's key", async () => {
  await page.goto(`${servers.edge}/dashboard`);
  await page.fill("#username", "alice");
  await page.fill("#password", "wonderland");
  await page.click("#submit");
  await page.waitForURL(`${servers.edge}/dashboard`).catch((e) => {
    const lines = log.split("\n").filter((l) => l.startsWith("{") || l.includes("wrangler:")).slice(-12);
    throw new Error(`${e.message}\nat ${page.url()}; DBSC events: ${JSON.stringify(events)}\n${lines.join("\n")}`);
  });
  // Chromium registers in the background, right after the login's response.
  for (let i = 0; i < 50 && !(await cookiesOf(browser))["__Host-sg-bound"]; i++) await sleep(100);
  const bound = (await cookiesOf(browser))["__Host-sg-bound"];
  assert.ok(bound, `no bound cookie; DBSC events: ${JSON.stringify(events)}`);
  assert.deepEqual([bound.httpOnly, bound.secure, bound.path], [true, true, "/"]);
  const session = await page.evaluate(async () => (await fetch("/.sessiongate/session")).json());
  assert.equal(session.device_bound, true);
  assert.match(await page.textContent("#user"), /Signed in as Alice Liddell/);
});

test("the bound session keeps working across several bound-cookie expiries", async () => {
  const first = (await cookiesOf(browser))["__Host-sg-bound"].value;
  const until = Date.now() + 3.5 * REFRESH_S * 1000;
  let requests = 0;
  while (Date.now() < until) {
    assert.deepEqual(await apiFrom(page), { status: 200, reason: null }, `request ${requests}; refreshes: ${kinds("refreshEventDetails")}`);
    requests++;
    await sleep(2000);
  }
  await page.reload();
  assert.equal(new URL(page.url()).pathname, "/dashboard");
  const refreshed = events.filter((e) => e.refreshEventDetails && e.succeeded).length;
  assert.ok(refreshed >= 3, `expected a refresh per expiry, saw: ${kinds("refreshEventDetails")}`);
  assert.notEqual((await cookiesOf(browser))["__Host-sg-bound"].value, first, "the bound cookie was renewed");
});

test("its cookies copied into a fresh browser are refused once the copied bound cookie expires", async () => {
  const stolen = await browser.cookies(servers.edge);
  const thief = await launch({ dbsc: false });
  try {
    await thief.addCookies(stolen);
    const theirs = thief.pages()[0] ?? (await thief.newPage());
    await theirs.goto(`${servers.edge}/login`);
    const copied = stolen.find((c) => c.name === "__Host-sg-bound");
    const expires = Number(copied.value.split(".")[1]);
    await sleep(Math.max(0, (expires + GRACE_S + 1) * 1000 - Date.now()));
    assert.deepEqual(await apiFrom(theirs), { status: 401, reason: "unbound" }, "the copy is refused at the edge");
    await theirs.goto(`${servers.edge}/dashboard`);
    assert.equal(new URL(theirs.url()).pathname, "/login", "a navigation is sent to log in");
    // Idle all that while, the original's own bound cookie expired too:
    // chromium holds the request, proves its key, and carries on.
    assert.deepEqual(await apiFrom(page), { status: 200, reason: null }, "the original browser carries on");
  } finally {
    await thief.close();
  }
});

test("logging out ends the DBSC session too", async () => {
  await page.goto(`${servers.edge}/dashboard`);
  await page.click("#logout");
  await page.waitForURL((url) => url.pathname === "/login");
  const left = await cookiesOf(browser);
  assert.equal(left["__Host-sg"], undefined);
  assert.equal(left["__Host-sg-bound"], undefined, "the bound cookie is cleared");
});
