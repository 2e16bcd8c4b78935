// What the policy judges is what the origin acts on (DESIGN §4.1, §13.2):
// each request that an origin would read otherwise than the edge did (a
// format suffix, a look-alike letter, a trailing dot, a method override, a
// HEAD, a path-override header, PATH_INFO routing, a user id a header
// would mangle) is sent raw over a socket, as a client sends it, to the
// README's policy plus two rules on methods. Each is refused, or judged as
// the origin acts on it; what is refused never reaches the origin, and the
// log says why.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  COOKIE, handoff, jwtClaims, login, now, rawRequest, sessionCookies, startGate,
} from "./harness.mjs";

/** The README's example policy (Authorization), and two rules on methods. */
const POLICY = [
  { name: "admins", paths: ["/admin/*"], allow: [{ groups: ["admins"] }] },
  { name: "reports", paths: ["/reports/*"], allow: [{ email_domains: ["example.com"] }], deny: [{ emails: ["contractor@example.com"] }] },
  { name: "wiki", paths: ["/wiki/*"], allow: [{ any_user: true, methods: ["GET", "HEAD"] }, { groups: ["editors"] }] },
  { name: "security-settings", paths: ["/settings/security"], allow: [{ any_user: true }], max_auth_age: "5m" },
  // Only admins may DELETE a project.
  { name: "projects", paths: ["/projects/*"], allow: [{ any_user: true, methods: ["GET", "HEAD", "POST"] }, { groups: ["admins"] }] },
  { name: "docs", paths: ["/docs/*"], allow: [{ any_user: true }], deny: [{ groups: ["contractors"], methods: ["GET"] }] },
];

const sameSite = { "sec-fetch-site": "same-origin", accept: "application/json" };

describe("the probe table", () => {
  let gate, bob, ada, stale, contractor;
  const cookieOf = (token) => ({ cookie: `${COOKIE}=${token}` });
  /** Sends `request` raw with bob's (or the given) session; the answer, the log line, what reached the origin. */
  const probe = async (request, { as = bob, headers = {}, body = "" } = {}) => {
    const logged = gate.logs.length;
    const answer = await gate.rawResponse(rawRequest(request, { ...sameSite, ...cookieOf(as), ...headers }, body));
    const line = gate.logs.slice(logged).find((l) => l.status === answer.status);
    return { ...answer, line, reached: gate.received.length };
  };

  before(async () => {
    gate = await startGate({ vars: { POLICY: JSON.stringify(POLICY) } });
    bob = await login(gate, "bob", { identity: { email: "bob@example.com", groups: ["staff"] } });
    ada = await login(gate, "ada", { identity: { email: "ada@example.com", groups: ["admins"] } });
    stale = await login(gate, "sam", { identity: { auth_time: now() - 3600 } });
    contractor = await login(gate, "cy", { identity: { groups: ["contractors"] } });
  });
  after(() => gate.close());
  beforeEach(() => {
    gate.received.length = 0;
  });

  test("GET /admin.json is judged by the admins rule: 403", async () => {
    const { status, body, line, reached } = await probe("GET /admin.json");
    assert.equal(status, 403);
    assert.deepEqual(JSON.parse(body), { error: "forbidden", rule: "admins" });
    assert.deepEqual([line.reason, line.rule], ["forbidden", "admins"]);
    assert.equal(reached, 0);
    assert.equal((await probe("GET /admin.json", { as: ada })).status, 200, "an admin gets it");
  });

  for (const path of ["/admin./users", "/admin%20/users", "/admin%2E/users"]) {
    test(`GET ${path} (a name Windows drops the end of) is refused 400 trailing_dot_or_space`, async () => {
      const { status, body, line, reached } = await probe(`GET ${path}`);
      assert.equal(status, 400);
      assert.deepEqual(JSON.parse(body), { error: "bad_request", reason: "trailing_dot_or_space" });
      assert.equal(line.reason, "trailing_dot_or_space");
      assert.equal(reached, 0);
    });
  }

  for (const path of ["/%EF%BD%81dmin/users", "/%EF%AC%80/x", "/%F0%9D%90%9Admin/users", "/%C4%81dmin/users"]) {
    test(`GET ${path} (a letter NFKC or Windows' best fit makes ASCII) is refused 400 unicode_lookalike`, async () => {
      const { status, body, line, reached } = await probe(`GET ${path}`);
      assert.equal(status, 400);
      assert.deepEqual(JSON.parse(body), { error: "bad_request", reason: "unicode_lookalike" });
      assert.equal(line.reason, "unicode_lookalike");
      assert.equal(reached, 0);
    });
  }

  test("ordinary non-ASCII paths still pass", async () => {
    for (const path of ["/wiki/Zo%C3%AB", "/%E6%96%87%E6%A1%A3"]) {
      const { status, reached } = await probe(`GET ${path}`);
      assert.equal(status, 200, path);
      assert.equal(reached, 1, path);
      gate.received.length = 0;
    }
  });

  test("GET /settings/security.html, signed in an hour ago, is asked to step up", async () => {
    const api = await probe("GET /settings/security.html", { as: stale });
    assert.equal(api.status, 401);
    assert.deepEqual(JSON.parse(api.body), { error: "unauthenticated", reason: "step_up" });
    assert.equal(api.reached, 0);
    const page = await probe("GET /settings/security.html", { as: stale, headers: { accept: "text/html", "sec-fetch-mode": "navigate" } });
    assert.equal(page.status, 303);
    assert.equal(page.headers.location, "/login?return_to=/settings/security.html&max_age=300");
  });

  test("POST /projects/5?_method=DELETE is judged as a DELETE: 403 for bob, through for an admin", async () => {
    const refused = await probe("POST /projects/5?_method=DELETE");
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), { error: "forbidden", rule: "projects" });
    assert.equal(refused.reached, 0);
    const admitted = await probe("POST /projects/5?_method=DELETE", { as: ada });
    assert.equal(admitted.status, 200);
    assert.equal(gate.received[0].method, "POST");
  });

  const multipart = (name, value) =>
    `--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n--XyZ--\r\n`;
  for (const [type, body] of [
    ["application/x-www-form-urlencoded", "title=x&_method=delete"],
    ["multipart/form-data; boundary=XyZ", multipart("_method", "delete")],
    ["application/json", '{"_method":"DELETE"}'],
  ]) {
    test(`a POST whose ${type.split(";")[0]} body names _method=delete is judged as a DELETE, and the body reaches the origin unchanged`, async () => {
      const refused = await probe("POST /projects/5", { headers: { "content-type": type }, body });
      assert.equal(refused.status, 403);
      assert.equal(refused.reached, 0);
      const admitted = await probe("POST /projects/5", { as: ada, headers: { "content-type": type }, body });
      assert.equal(admitted.status, 200);
      assert.equal(gate.received[0].body, body);
    });
  }

  test("a form without _method is forwarded, body unchanged", async () => {
    const body = multipart("note", "ok");
    const { status } = await probe("POST /projects/5", { headers: { "content-type": "multipart/form-data; boundary=XyZ" }, body });
    assert.equal(status, 200);
    assert.equal(gate.received[0].body, body);
  });

  test("a form body over 64 KiB on a path whose rule names methods is refused 413; elsewhere it is not read", async () => {
    const big = `title=${"x".repeat(70 * 1024)}`;
    const refused = await probe("POST /projects/5", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: big });
    assert.equal(refused.status, 413);
    assert.deepEqual(JSON.parse(refused.body), { error: "body_too_large" });
    assert.equal(refused.line.reason, "body_too_large");
    assert.equal(refused.reached, 0);
    const elsewhere = await probe("POST /dashboard", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: big });
    assert.equal(elsewhere.status, 200);
    assert.equal(gate.received[0].body.length, big.length);
  });

  test("HEAD /docs/x by a contractor, under a deny naming GET, is refused 403", async () => {
    const { status, line, reached } = await probe("HEAD /docs/x", { as: contractor });
    assert.equal(status, 403);
    assert.deepEqual([line.reason, line.rule], ["forbidden", "docs"]);
    assert.equal(reached, 0);
    assert.equal((await probe("HEAD /docs/x")).status, 200, "anyone else reads it");
  });

  for (const header of ["X-Original-URL", "X-Rewrite-URL", "X-Override-URL"]) {
    test(`GET /login with ${header}: /admin/users is forwarded without the header`, async () => {
      const { status } = await probe("GET /login", { headers: { [header]: "/admin/users" } });
      assert.equal(status, 200);
      assert.equal(gate.received[0].headers[header.toLowerCase()], undefined);
      gate.received.length = 0;
      await probe("GET /dashboard", { headers: { [header]: "/admin/users" } });
      assert.equal(gate.received[0].headers[header.toLowerCase()], undefined);
    });
  }

  test("GET /index.php/admin/users passes a policy whose default is allow: the trap the README and the lint name", async () => {
    const { status } = await probe("GET /index.php/admin/users");
    assert.equal(status, 200);
  });
});

describe("PATH_INFO routing, as the README says to set it up", () => {
  test("with POLICY_DEFAULT = deny, /index.php/admin/users is refused by the default rule", async () => {
    const gate = await startGate({ vars: { POLICY: JSON.stringify(POLICY), POLICY_DEFAULT: "deny" } });
    try {
      const bob = await login(gate, "bob", { identity: { groups: ["staff"] } });
      gate.received.length = 0;
      const answer = await gate.rawResponse(rawRequest("GET /index.php/admin/users", { cookie: `${COOKIE}=${bob}`, accept: "application/json" }));
      assert.equal(answer.status, 403);
      assert.deepEqual(JSON.parse(answer.body), { error: "forbidden", rule: "default" });
      assert.equal(gate.received.length, 0);
    } finally {
      await gate.close();
    }
  });

  test("with a rule for the script's prefix, /index.php/admin/users is that rule's", async () => {
    const policy = [...POLICY, { name: "php-admin", paths: ["/index.php/admin/*"], allow: [{ groups: ["admins"] }] }];
    const gate = await startGate({ vars: { POLICY: JSON.stringify(policy) } });
    try {
      const bob = await login(gate, "bob", { identity: { groups: ["staff"] } });
      const answer = await gate.rawResponse(rawRequest("GET /index.php/admin/users", { cookie: `${COOKIE}=${bob}`, accept: "application/json" }));
      assert.equal(answer.status, 403);
      assert.deepEqual(JSON.parse(answer.body), { error: "forbidden", rule: "php-admin" });
    } finally {
      await gate.close();
    }
  });
});

describe("user ids a header would mangle", () => {
  let gate;
  before(async () => (gate = await startGate()));
  after(() => gate.close());

  /** Answers the login page with a handoff for `sub`; the response and the log line. */
  const handOff = async (sub) => {
    gate.origin = () => new Response("welcome", { headers: { "sessiongate-login": handoff(sub) } });
    const logged = gate.logs.length;
    const response = await gate.fetch("/login", { method: "POST" });
    gate.origin = () => Response.json({ from: "origin" });
    return { response, line: gate.logs.slice(logged).find((l) => l.event) };
  };

  for (const [sub, reason] of [
    [" alice ", "sub_surrounding_whitespace"],
    ["alice\u00a0", "sub_surrounding_whitespace"],
    ["al\tice", "sub_control_character"],
  ]) {
    test(`a handoff for ${JSON.stringify(sub)} starts no session, and the log says ${reason}`, async () => {
      const { response, line } = await handOff(sub);
      assert.equal(response.status, 200);
      assert.equal(sessionCookies(response).length, 0);
      assert.deepEqual([line.event, line.detail], ["login_rejected", reason]);
    });
  }

  for (const [sub, header] of [
    ["zoë", "UTF-8''zo%C3%AB"],
    ["日本", "UTF-8''%E6%97%A5%E6%9C%AC"],
    ["a,b", "a,b"],
  ]) {
    test(`${sub} reaches the origin as ${header} in X-Sessiongate-User and exactly in the assertion`, async () => {
      const { response } = await handOff(sub);
      const [set] = sessionCookies(response);
      const token = set.split(";")[0].slice(COOKIE.length + 1);
      gate.received.length = 0;
      const answer = await gate.rawResponse(rawRequest("GET /dashboard", { cookie: `${COOKIE}=${token}`, accept: "application/json" }));
      assert.equal(answer.status, 200);
      const [sent] = gate.received;
      assert.equal(sent.headers["x-sessiongate-user"], header);
      assert.equal(jwtClaims(sent.headers["sessiongate-assertion"]).sub, sub);
    });
  }
});
