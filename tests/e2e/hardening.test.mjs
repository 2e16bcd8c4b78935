// What an attacker controls — headers, paths, cookies, the site a request
// comes from — never gets a request past the edge unchecked.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { COOKIE, login, mintToken, now, putSession, startGate, withSession } from "./harness.mjs";

let gate, token;
before(async () => {
  gate = await startGate();
  token = await login(gate, "alice");
});
after(() => gate.close());
beforeEach(() => (gate.received.length = 0));

const spoofed = {
  "Sessiongate-Assertion": "forged.jwt.value",
  "X-Sessiongate-User": "admin",
  "x-sessiongate-extra": "1",
  "SESSIONGATE-LOGIN": "forged",
  "sessiongate-logout": "all",
};

describe("spoofed Sessiongate headers", () => {
  test("are stripped on a public path", async () => {
    const response = await gate.fetch("/static/app.css", { headers: spoofed });
    assert.equal(response.status, 200);
    const [forwarded] = gate.received;
    for (const name of Object.keys(spoofed)) assert.equal(forwarded.headers[name.toLowerCase()], undefined, name);
  });

  test("are replaced by the edge's own on a protected path", async () => {
    const response = await gate.fetch("/dashboard", { headers: withSession(token, spoofed) });
    assert.equal(response.status, 200);
    const [forwarded] = gate.received;
    assert.equal(forwarded.headers["x-sessiongate-user"], "alice");
    assert.notEqual(forwarded.headers["sessiongate-assertion"], "forged.jwt.value");
    for (const name of ["x-sessiongate-extra", "sessiongate-login", "sessiongate-logout"]) {
      assert.equal(forwarded.headers[name], undefined, name);
    }
  });

  test("alone never authenticate a request", async () => {
    const response = await gate.fetch("/dashboard", { headers: spoofed });
    assert.equal(response.status, 401);
    assert.equal(gate.received.length, 0);
  });
});

describe("path tricks against PUBLIC_PATHS", () => {
  // The client's URL parser resolves plain and %2e dot segments before
  // sending; the edge refuses what survives.
  for (const [path, expected] of [
    ["/static/../admin", 401],
    ["/static/%2e%2e/admin", 401],
    ["/static/..%2fadmin", 400],
    ["/static%2F..%2Fadmin", 400],
    ["/static/..;/admin", 400],
    ["/static/%252e%252e/admin", 400],
    ["//admin", 401],
    ["//static/app.css", 401],
    ["/STATIC/app.css", 401],
    ["/Login", 401],
  ]) {
    test(`${path} is not treated as public (${expected})`, async () => {
      const response = await gate.fetch(path, { headers: { accept: "application/json" } });
      assert.equal(response.status, expected);
      assert.equal(gate.received.length, 0);
    });
  }
});

describe("malformed session cookies are invalid, never a 5xx", () => {
  const cases = {
    "two session cookies": `${COOKIE}=${mintToken()}; ${COOKIE}=${mintToken()}`,
    "a 10 KB cookie": `${COOKIE}=${"A".repeat(10 * 1024)}`,
    "bytes outside ASCII": `${COOKIE}=\u00ff\u00fe\u00e9garbage`,
    "a future stamp": `${COOKIE}=${mintToken({ stamp: now() + 3600 })}`,
    "an empty value": `${COOKIE}=`,
  };
  for (const [name, cookie] of Object.entries(cases)) {
    test(name, async () => {
      const response = await gate.fetch("/dashboard", { headers: { cookie } });
      assert.equal(response.status, 401);
      assert.equal((await response.json()).reason, "invalid");
      assert.equal(gate.received.length, 0);
    });
  }

  test("control and non-UTF-8 bytes sent raw", async () => {
    const request = Buffer.concat([
      Buffer.from(`GET /dashboard HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nCookie: ${COOKIE}=`),
      Buffer.from([0xc3, 0x28, 0xff, 0x01, 0x7f, 0x80]),
      Buffer.from(`${mintToken()}\r\n\r\n`),
    ]);
    assert.equal(await gate.raw(request), 401);
    assert.equal(gate.received.length, 0);
  });

  test("even when the other session cookie is valid", async () => {
    const { token: valid } = await putSession(gate);
    const response = await gate.fetch("/dashboard", { headers: { cookie: `${COOKIE}=${valid}; ${COOKIE}=${valid}` } });
    assert.equal(response.status, 401);
  });
});

describe("cross-site requests", () => {
  test("a cross-site POST gets 403 and the origin is not called", async () => {
    const response = await gate.fetch("/api/transfer", {
      method: "POST",
      headers: withSession(token, { "sec-fetch-site": "cross-site", origin: "https://evil.example" }),
      body: "amount=1000",
    });
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), { error: "forbidden", reason: "cross_site" });
    assert.equal(gate.received.length, 0);
  });

  test("a POST from another Origin without Sec-Fetch-Site gets 403", async () => {
    const response = await gate.fetch("/api/transfer", {
      method: "POST",
      headers: withSession(token, { origin: "https://evil.example" }),
    });
    assert.equal(response.status, 403);
  });

  test("a same-origin POST is forwarded", async () => {
    const response = await gate.fetch("/api/transfer", {
      method: "POST",
      headers: withSession(token, { "sec-fetch-site": "same-origin", origin: "https://app.example.com" }),
    });
    assert.equal(response.status, 200);
    assert.equal(gate.received.length, 1);
  });
});
