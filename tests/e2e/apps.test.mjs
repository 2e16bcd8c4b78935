// Applications (DESIGN §16): AUTH_HOST and three apps on two registrable
// domains behind one gate. A person signs in once and opens the other two
// by following redirects, a cookie jar per host; each origin gets its own
// app's assertion; no cookie, code or assertion of one app works at
// another; logout ends all three, or one when asked.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { ADMIN_TOKEN, handoff, idHash, now, startGate } from "./harness.mjs";
import { signingKey } from "./signing.test.mjs";

const ACCOUNTS = "https://accounts.example.com";
const WIKI = "https://wiki.example.com";
const TOOLS = "https://tools.example-tools.net";

/** As wrangler hands `[[vars.APPS]]` tables to the worker: objects, not text. */
const APPS = [
  { name: "accounts", hosts: ["accounts.example.com"], origin: "http://login.test", public_paths: ["/static/*"] },
  {
    name: "wiki",
    hosts: ["wiki.example.com"],
    origin: "http://wiki.test",
    policy: [{ name: "editors", paths: ["/edit/*"], allow: [{ groups: ["editors"] }] }],
  },
  {
    name: "tools",
    hosts: ["tools.example-tools.net"],
    origin: "http://tools.test",
    audience: "tools-api",
    policy: [{ name: "staff", paths: ["/edit/*"], allow: [{ users: ["alice"] }] }],
  },
];

/** The origins: the accounts app's login page hands in whoever posts to it; every page echoes what it got. */
function origins(request) {
  const url = new URL(request.url);
  if (url.host === "login.test" && url.pathname === "/login" && request.method === "POST") {
    const location = url.searchParams.get("return_to") ?? "/";
    const user = request.headers.get("x-test-user") ?? "alice";
    return new Response(null, { status: 303, headers: { location, "sessiongate-login": handoff(user) } });
  }
  return Response.json({ host: url.host, path: url.pathname + url.search });
}

/** A browser: one cookie jar per host, redirects followed by hand. */
class Browser {
  constructor(gate) {
    this.gate = gate;
    this.jars = new Map();
  }

  cookieHeader(origin) {
    return [...(this.jars.get(origin) ?? new Map())].map(([n, v]) => `${n}=${v}`).join("; ");
  }

  cookie(origin, name) {
    return this.jars.get(origin)?.get(name);
  }

  async request(url, { method = "GET", headers = {}, cookies = true } = {}) {
    const { origin } = new URL(url);
    const sent = { accept: "text/html", ...headers };
    if (cookies && this.cookieHeader(origin)) sent.cookie = this.cookieHeader(origin);
    const response = await this.gate.mf.dispatchFetch(url, { method, headers: sent, redirect: "manual" });
    const jar = this.jars.get(origin) ?? new Map();
    for (const set of response.headers.getSetCookie()) {
      const [pair] = set.split(";");
      const at = pair.indexOf("=");
      if (/max-age=0/i.test(set)) jar.delete(pair.slice(0, at));
      else jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    this.jars.set(origin, jar);
    return response;
  }

  /** Follows 303s from `url`; returns the last response and every URL visited. */
  async follow(url, init) {
    const visited = [url];
    let response = await this.request(url, init);
    while (response.status === 303) {
      const next = new URL(response.headers.get("location"), visited.at(-1)).href;
      assert.ok(visited.length < 10, `a redirect loop: ${visited}`);
      visited.push(next);
      response = await this.request(next);
    }
    return { response, visited };
  }

  /** Opens `url` without a session and signs in as `user` at the login page it lands on. */
  async signIn(url, user = "alice") {
    const { response, visited } = await this.follow(url);
    assert.equal(response.status, 200);
    const login = visited.at(-1);
    assert.ok(login.startsWith(`${ACCOUNTS}/login?return_to=`), visited.join(" → "));
    const posted = await this.request(login, { method: "POST", headers: { "x-test-user": user } });
    assert.equal(posted.status, 303);
    return this.follow(new URL(posted.headers.get("location"), ACCOUNTS).href);
  }
}

/** The assertion the last request at `host` carried, verified with the edge's key set. */
async function assertionAt(gate, host) {
  const received = gate.received.filter((r) => new URL(r.url).host === host).at(-1);
  const keys = await (await gate.mf.dispatchFetch(`${ACCOUNTS}/.sessiongate/jwks.json`)).json();
  const jwt = received.headers["sessiongate-assertion"];
  return (await jwtVerify(jwt, createLocalJWKSet(keys), { issuer: "sessiongate" })).payload;
}

function appsGate(vars = {}) {
  return startGate({
    vars: {
      APPS,
      AUTH_HOST: "accounts.example.com",
      ORIGIN_URL: undefined,
      AUDIENCE: undefined,
      PUBLIC_PATHS: undefined,
      ASSERTION_KEY: undefined,
      ASSERTION_SIGNING_KEYS: signingKey("k1"),
      ...vars,
    },
  });
}

describe("three apps on two registrable domains behind one gate", () => {
  let gate;
  before(async () => {
    gate = await appsGate();
    gate.origin = origins;
  });
  after(() => gate.close());

  test("one sign-in opens every app, each origin getting its own app's assertion", async () => {
    const browser = new Browser(gate);
    const { response, visited } = await browser.signIn(`${WIKI}/page?x=1`);
    assert.deepEqual(await response.json(), { host: "wiki.test", path: "/page?x=1" });
    assert.ok(visited.some((v) => v.startsWith(`${WIKI}/.sessiongate/sso/code?code=`)), visited.join(" → "));
    assert.equal((await assertionAt(gate, "wiki.test")).aud, "wiki");

    // The other registrable domain: two redirects, no login form.
    const tools = await browser.follow(`${TOOLS}/start`);
    assert.deepEqual(await tools.response.json(), { host: "tools.test", path: "/start" });
    assert.equal(tools.visited.length, 4, tools.visited.join(" → "));
    assert.ok(!tools.visited.some((v) => v.includes("/login")));
    const claims = await assertionAt(gate, "tools.test");
    assert.equal(claims.aud, "tools-api");
    assert.equal(claims.sub, "alice");

    // Each host has its own host-only cookie; AUTH_HOST's app sees the sign-in.
    const cookies = [WIKI, TOOLS, ACCOUNTS].map((o) => browser.cookie(o, "__Host-sg"));
    assert.equal(new Set(cookies).size, 3);
    const accounts = await browser.follow(`${ACCOUNTS}/profile`);
    assert.equal(accounts.response.status, 200);
    assert.equal((await assertionAt(gate, "login.test")).aud, "accounts");
  });

  test("a session cookie moved to another app is refused there and reaches no origin", async () => {
    const browser = new Browser(gate);
    await browser.signIn(`${WIKI}/`);
    const wiki = browser.cookie(WIKI, "__Host-sg");
    const before = gate.received.length;
    for (const url of [`${TOOLS}/x`, `${ACCOUNTS}/x`]) {
      const response = await gate.mf.dispatchFetch(url, { headers: { cookie: `__Host-sg=${wiki}` } });
      assert.equal(response.status, 401, url);
      assert.equal((await response.json()).reason, "wrong_app");
    }
    assert.equal(gate.received.length, before);
    assert.equal(gate.logs.filter((l) => l.reason === "wrong_app").at(-1).app, "accounts");
  });

  test("a code works once, at its app, for its browser, within a minute", async () => {
    const browser = new Browser(gate);
    await browser.signIn(`${WIKI}/`);
    const toSso = await browser.request(`${TOOLS}/x`);
    const sso = new URL(toSso.headers.get("location"), TOOLS).href;
    const codeUrl = new URL((await browser.request(sso)).headers.get("location"), sso).href;
    assert.match(codeUrl, /^https:\/\/tools\.example-tools\.net\/\.sessiongate\/sso\/code\?code=/);
    const code = new URL(codeUrl).searchParams.get("code");
    const nonceValue = browser.cookie(TOOLS, "__Host-sg-sso");
    const nonce = `__Host-sg-sso=${nonceValue}`;
    const refused = async (url, cookie) => {
      const response = await gate.mf.dispatchFetch(url, { headers: cookie ? { cookie } : {}, redirect: "manual" });
      assert.ok(!response.headers.getSetCookie().some((c) => c.startsWith("__Host-sg=")));
      return [response.status, (await response.json()).reason];
    };
    assert.deepEqual(await refused(`${WIKI}/.sessiongate/sso/code?code=${code}`, nonce), [400, "code_wrong_app"]);
    assert.deepEqual(await refused(codeUrl), [400, "code_other_browser"], "a code stolen from the URL alone");
    const used = await browser.request(codeUrl);
    assert.equal(used.status, 303);
    assert.equal(browser.cookie(TOOLS, "__Host-sg-sso"), undefined, "the nonce is cleared once used");
    assert.deepEqual(await refused(codeUrl, nonce), [400, "code_unknown"], "replayed");

    // A code past its minute (as KV keeps it until its TTL runs out).
    const stale = randomBytes(32).toString("base64url");
    const signin = idHash(browser.cookie(ACCOUNTS, "__Host-sg").split(".")[2]);
    const binding = createHash("sha256").update(Buffer.from(nonceValue, "base64url")).digest("base64url");
    const record = ["1", "tools", "tools.example-tools.net", "/x", binding, signin, "alice", String(now() - 1)].join("\n");
    const key = `c:${createHash("sha256").update(Buffer.from(stale, "base64url")).digest("base64url")}`;
    await gate.kv.put(key, record);
    assert.deepEqual(await refused(`${TOOLS}/.sessiongate/sso/code?code=${stale}`, nonce), [400, "code_expired"]);
  });

  test("AUTH_HOST makes no code for a return path on another host", async () => {
    const browser = new Browser(gate);
    await browser.signIn(`${WIKI}/`);
    const binding = randomBytes(32).toString("base64url");
    for (const target of ["//evil.example.net/", "//wiki.example.com.evil.net/", "//wiki.example.com:8443/", "https://wiki.example.com/", "/x"]) {
      const url = `${ACCOUNTS}/.sessiongate/sso?return_to=${encodeURIComponent(target)}&binding=${binding}`;
      const response = await browser.request(url);
      assert.equal(response.status, 400, target);
      assert.equal((await response.json()).reason, "sso_bad_return_to");
    }
  });

  test("an unknown host reaches no origin; a Host header naming another app changes nothing", async () => {
    const before = gate.received.length;
    const unknown = await gate.mf.dispatchFetch("https://unknown.example.org/x");
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), { error: "unknown_host" });
    assert.equal(gate.received.length, before);
    // Miniflare's requests, as a proxy's might, carry a Host header other
    // than the URL's: routing follows the URL, and the origin gets only its
    // own host.
    const browser = new Browser(gate);
    await browser.signIn(`${WIKI}/`);
    const response = await browser.request(`${WIKI}/y`, { headers: { host: "tools.example-tools.net" } });
    assert.equal(response.status, 200);
    const received = gate.received.at(-1);
    assert.equal(new URL(received.url).host, "wiki.test");
    assert.notEqual(received.headers.host, "tools.example-tools.net");
    // The key set answers on every host.
    assert.equal((await gate.mf.dispatchFetch("https://unknown.example.org/.sessiongate/jwks.json")).status, 200);
  });

  test("each app's policy answers the same path its own way", async () => {
    const browser = new Browser(gate);
    await browser.signIn(`${WIKI}/`);
    assert.equal((await browser.request(`${WIKI}/edit/x`)).status, 403, "wiki: editors only");
    const { response } = await browser.follow(`${TOOLS}/edit/x`);
    assert.equal(response.status, 200, "tools: alice may");
  });
});

describe("ending sessions with several apps", () => {
  let gate;
  before(async () => {
    gate = await appsGate();
    gate.origin = origins;
  });
  after(() => gate.close());

  /** Alice signed in, with sessions at wiki and tools. */
  async function everywhere() {
    const browser = new Browser(gate);
    await browser.signIn(`${WIKI}/`);
    await browser.follow(`${TOOLS}/`);
    return browser;
  }

  /** What each host answers a non-navigating request with the browser's cookies. */
  async function statuses(browser) {
    const out = [];
    for (const origin of [WIKI, TOOLS, ACCOUNTS]) {
      const response = await browser.request(`${origin}/x`, { headers: { accept: "application/json" } });
      out.push(response.status);
    }
    return out;
  }

  test("logout at any app ends the sign-in and every app's session", async () => {
    const browser = await everywhere();
    const response = await browser.request(`${TOOLS}/.sessiongate/logout`, { method: "POST", headers: { accept: "application/json" } });
    assert.equal(response.status, 204);
    assert.deepEqual(await statuses(browser), [401, 401, 401]);
  });

  test("logout with scope=app ends that app's session alone; opening it again needs no password", async () => {
    const browser = await everywhere();
    await browser.request(`${WIKI}/.sessiongate/logout?scope=app`, { method: "POST", headers: { accept: "application/json" } });
    assert.deepEqual(await statuses(browser), [401, 200, 200]);
    const again = await browser.follow(`${WIKI}/again`);
    assert.equal(again.response.status, 200);
    assert.ok(!again.visited.some((v) => v.includes("/login")), again.visited.join(" → "));
  });

  test("the admin API ends every app's session of the user", async () => {
    const browser = await everywhere();
    const response = await gate.mf.dispatchFetch(`${WIKI}/.sessiongate/admin/users/alice/sessions`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    assert.ok((await response.json()).revoked >= 3);
    assert.deepEqual(await statuses(browser), [401, 401, 401]);
  });

  test("the sessions page lists the sign-in and, under it, its apps' sessions", async () => {
    const browser = await everywhere();
    const response = await browser.request(`${WIKI}/.sessiongate/sessions`, { headers: { accept: "application/json" } });
    const { sessions } = await response.json();
    const signins = sessions.filter((s) => !s.app);
    const mine = signins.find((s) => sessions.some((a) => a.signin === s.sid && a.current));
    assert.ok(mine, JSON.stringify(sessions));
    assert.deepEqual(sessions.filter((s) => s.signin === mine.sid).map((s) => s.app).sort(), ["tools", "wiki"]);
  });
});

describe("the single-app configuration", () => {
  test("APPS without signing keys, or beside ORIGIN_URL, is misconfigured by name", async () => {
    for (const [vars, problem] of [
      [{ ASSERTION_SIGNING_KEYS: undefined, ASSERTION_KEY: "assertion-key-assertion-key-assertion-key" }, "APPS: needs ASSERTION_SIGNING_KEYS"],
      [{ ORIGIN_URL: "http://origin.test" }, "ORIGIN_URL: is a single-app variable"],
      [{ APPS: [{ ...APPS[1], policy: [{ name: "x", paths: ["/a"], allow: [] }] }], AUTH_HOST: "wiki.example.com" }, "APPS[wiki].policy: rule 0"],
    ]) {
      const gate = await appsGate(vars);
      const response = await gate.mf.dispatchFetch(`${WIKI}/`);
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { error: "misconfigured" });
      assert.ok(gate.logs.some((l) => l.detail?.includes(problem)), `${problem}: ${JSON.stringify(gate.logs.at(-1))}`);
      await gate.close();
    }
  });
});
