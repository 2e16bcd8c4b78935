// Authorization at the edge (POLICY, DESIGN §13): who may reach which
// protected path, refused before the origin. Each answer (allowed, 403 as
// JSON and as a page, step-up as a redirect and as a 401), report mode,
// the fallback, a bad policy failing closed, and the path tricks a policy
// invites, none of which reaches a path under a stricter rule.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { COOKIE, jwtClaims, login, now, sessionCookies, startGate, withSession } from "./harness.mjs";

const POLICY = [
  { name: "admins", paths: ["/admin/*"], allow: [{ groups: ["admins"] }] },
  { name: "billing", paths: ["/billing/*"], allow: [{ any_user: true }], max_auth_age: "10m" },
  {
    name: "reports",
    paths: ["/reports/*"],
    allow: [{ email_domains: ["example.com"] }],
    deny: [{ emails: ["mallory@example.com"] }],
  },
  { name: "docs-read-only", paths: ["/docs/*"], allow: [{ any_user: true, methods: ["GET", "HEAD"] }, { groups: ["editors"] }] },
  // Unnamed: called by its index.
  { paths: ["/ops"], allow: [{ users: ["olga"] }] },
];

const json = { accept: "application/json" };
const page = { accept: "text/html", "sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin" };

/** Logs a user in through the origin's handoff, with the identity the policy reads. */
const loginAs = (gate, uid, identity = {}) => login(gate, uid, { identity });

const forwarded = (gate, path) => gate.received.filter((r) => new URL(r.url).pathname === path);

describe("enforce mode", () => {
  let gate, admin, bob, mallory, stale;
  before(async () => {
    gate = await startGate({ vars: { POLICY: JSON.stringify(POLICY) } });
    admin = await loginAs(gate, "ada", { email: "ada@example.com", groups: ["admins", "staff"] });
    bob = await loginAs(gate, "bob", { email: "bob@example.com", groups: ["staff"] });
    mallory = await loginAs(gate, "mallory", { email: "mallory@example.com" });
    stale = await loginAs(gate, "sam", { email: "sam@example.com", auth_time: now() - 20 * 60 });
  });
  after(() => gate.close());
  beforeEach(() => {
    gate.received.length = 0;
  });

  test("a member of the rule's group reaches the origin, and the log names the rule", async () => {
    const logged = gate.logs.length;
    const response = await gate.fetch("/admin/users", { headers: withSession(admin, json) });
    assert.equal(response.status, 200);
    const [sent] = forwarded(gate, "/admin/users");
    assert.deepEqual(jwtClaims(sent.headers["sessiongate-assertion"]).groups, ["admins", "staff"]);
    const line = gate.logs.slice(logged).find((l) => l.rule);
    assert.deepEqual([line.decision, line.rule, line.status], ["forward", "admins", 200]);
  });

  test("anyone else gets 403 forbidden naming the rule, and the origin never sees it", async () => {
    const logged = gate.logs.length;
    const response = await gate.fetch("/admin/users", { headers: withSession(bob, json) });
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), { error: "forbidden", rule: "admins" });
    assert.equal(gate.received.length, 0);
    const line = gate.logs.slice(logged).find((l) => l.rule);
    assert.deepEqual([line.decision, line.reason, line.rule, line.status], ["reject", "forbidden", "admins", 403]);
    assert.ok(line.sid, "the log names the session");
  });

  test("a browser navigating gets a 403 page that says who is signed in and offers to switch", async () => {
    const response = await gate.fetch("/admin", { headers: withSession(bob, page) });
    assert.equal(response.status, 403);
    assert.match(response.headers.get("content-type"), /^text\/html/);
    assert.match(response.headers.get("content-security-policy"), /default-src 'none'/);
    assert.match(response.headers.get("content-security-policy"), /frame-ancestors 'none'/);
    const body = await response.text();
    assert.match(body, /Signed in as <strong>bob@example.com<\/strong>/);
    assert.match(body, /<form method="post" action="\/.sessiongate\/logout">/);
    assert.match(body, /<code>admins<\/code>/);
    assert.equal(gate.received.length, 0);
    assert.equal(sessionCookies(response).filter((c) => c.includes("Max-Age=0")).length, 0, "the session is kept");
  });

  test("deny wins over allow", async () => {
    assert.equal((await gate.fetch("/reports/q3", { headers: withSession(bob, json) })).status, 200);
    const refused = await gate.fetch("/reports/q3", { headers: withSession(mallory, json) });
    assert.deepEqual([refused.status, await refused.json()], [403, { error: "forbidden", rule: "reports" }]);
  });

  test("a read-only rule lets everyone read and only editors write", async () => {
    const write = { ...json, "sec-fetch-site": "same-origin" };
    assert.equal((await gate.fetch("/docs/a", { headers: withSession(bob, json) })).status, 200);
    const post = await gate.fetch("/docs/a", { method: "POST", headers: withSession(bob, write), body: "x" });
    assert.deepEqual([post.status, await post.json()], [403, { error: "forbidden", rule: "docs-read-only" }]);
    const editor = await loginAs(gate, "eve", { groups: ["editors"] });
    assert.equal((await gate.fetch("/docs/a", { method: "POST", headers: withSession(editor, write), body: "x" })).status, 200);
  });

  test("an unnamed rule is called by its index", async () => {
    const response = await gate.fetch("/ops", { headers: withSession(bob, json) });
    assert.deepEqual([response.status, await response.json()], [403, { error: "forbidden", rule: "4" }]);
  });

  test("a path no rule matches is open to any signed-in user by default", async () => {
    assert.equal((await gate.fetch("/dashboard", { headers: withSession(bob, json) })).status, 200);
  });

  test("a login older than max_auth_age sends a browser to sign in again, with return_to and max_age", async () => {
    const response = await gate.fetch("/billing/invoices?year=2026", { headers: withSession(stale, page) });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/login?return_to=/billing/invoices%3Fyear%3D2026&max_age=600");
    assert.equal(gate.received.length, 0);
    assert.deepEqual(sessionCookies(response).filter((c) => c.includes("Max-Age=0")), [], "the session is not ended");
  });

  test("a login older than max_auth_age gets anything else a 401 step_up; the session works elsewhere", async () => {
    const logged = gate.logs.length;
    const response = await gate.fetch("/billing", { headers: withSession(stale, json) });
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { error: "unauthenticated", reason: "step_up" });
    const line = gate.logs.slice(logged).find((l) => l.rule);
    assert.deepEqual([line.decision, line.reason, line.rule], ["reject", "step_up", "billing"]);
    assert.equal((await gate.fetch("/dashboard", { headers: withSession(stale, json) })).status, 200);
  });

  test("a fresh login passes the same rule, and the assertion carries its auth_time", async () => {
    const fresh = await loginAs(gate, "sam", { email: "sam@example.com" });
    const response = await gate.fetch("/billing", { headers: withSession(fresh, json) });
    assert.equal(response.status, 200);
    const claims = jwtClaims(forwarded(gate, "/billing")[0].headers["sessiongate-assertion"]);
    assert.ok(now() - claims.auth_time < 60);
  });

  test("public paths and the edge's own endpoints are outside the policy", async () => {
    assert.equal((await gate.fetch("/static/app.css")).status, 200);
    assert.equal((await gate.fetch("/.sessiongate/session", { headers: withSession(bob, json) })).status, 200);
  });

  describe("the path tricks a policy invites never reach a path under a stricter rule", () => {
    const tricks = [
      ["/%61dmin/users", "a percent-encoded letter"],
      ["/%61%64%6d%69%6e", "every letter encoded"],
      ["/ADMIN/users", "upper case"],
      ["/Admin", "mixed case, the base itself"],
      ["/admin", "the base without its slash"],
      ["/admin/", "a trailing slash"],
      ["//admin/users", "a doubled slash"],
      ["/admin;jsessionid=1/users", "a path parameter"],
      ["/admin/users/", "a trailing slash below"],
    ];
    for (const [path, why] of tricks) {
      test(`${path} (${why}) is refused by the admins rule`, async () => {
        const response = await gate.fetch(path, { headers: withSession(bob, json) });
        assert.equal(response.status, 403, path);
        assert.deepEqual(await response.json(), { error: "forbidden", rule: "admins" });
        assert.equal(gate.received.length, 0);
      });
    }
    // fetch resolves dot segments itself: these go raw, cookie and all.
    // The runtime may resolve them too (then the admins rule refuses the
    // result) or the edge refuses the path (400): never the origin.
    const raw = [
      "/docs/../admin/users",
      "/docs/%2e%2e/admin/users",
      "/docs/%2E%2E/admin",
      "/docs/.%2e/admin",
      "/docs/%2fadmin",
      "/docs/..;/admin",
      "/docs\\..\\admin",
      "/docs;x/../admin",
    ];
    for (const path of raw) {
      test(`${path} sent raw never reaches the origin`, async () => {
        const status = await gate.raw(
          `GET ${path} HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\nAccept: application/json\r\nCookie: ${COOKIE}=${bob}\r\n\r\n`,
        );
        assert.ok([400, 403].includes(status), `${path}: status ${status}`);
        assert.equal(gate.received.length, 0);
      });
    }
  });
});

describe("report mode", () => {
  let gate, bob, stale;
  before(async () => {
    gate = await startGate({ vars: { POLICY: JSON.stringify(POLICY), MODE: "report" } });
    bob = await loginAs(gate, "bob", { email: "bob@example.com" });
    stale = await loginAs(gate, "sam", { auth_time: now() - 20 * 60 });
  });
  after(() => gate.close());

  for (const [what, path, token, verdict] of [
    ["a refused user", "/admin/users", () => bob, "deny; reason=forbidden; rule=admins"],
    ["a stale login", "/billing", () => stale, "deny; reason=step_up; rule=billing"],
  ]) {
    test(`${what} is forwarded with its identity and "${verdict}"`, async () => {
      gate.received.length = 0;
      const logged = gate.logs.length;
      const response = await gate.fetch(path, { headers: withSession(token(), json) });
      assert.equal(response.status, 200, "the origin's answer");
      const [sent] = forwarded(gate, path);
      assert.equal(sent.headers["sessiongate-verdict"], verdict);
      assert.ok(sent.headers["sessiongate-assertion"], "the session is valid: the origin learns who");
      const line = gate.logs.slice(logged).find((l) => l.rule);
      assert.deepEqual([line.decision, line.mode, line.status], ["reject", "report", 200]);
    });
  }

  test("an allowed request carries the verdict allow", async () => {
    gate.received.length = 0;
    await gate.fetch("/dashboard", { headers: withSession(bob, json) });
    assert.equal(forwarded(gate, "/dashboard")[0].headers["sessiongate-verdict"], "allow");
  });
});

describe("POLICY_DEFAULT=deny", () => {
  let gate, bob;
  before(async () => {
    // A TOML array of tables reaches the Worker as an object, not a string.
    gate = await startGate({ vars: { POLICY: POLICY, POLICY_DEFAULT: "deny" } });
    bob = await loginAs(gate, "bob", { email: "bob@example.com" });
  });
  after(() => gate.close());

  test("closes every protected path no rule matches", async () => {
    const response = await gate.fetch("/dashboard", { headers: withSession(bob, json) });
    assert.deepEqual([response.status, await response.json()], [403, { error: "forbidden", rule: "default" }]);
  });

  test("still applies the rules given as a TOML array of tables", async () => {
    assert.equal((await gate.fetch("/reports/q3", { headers: withSession(bob, json) })).status, 200);
    assert.equal((await gate.fetch("/admin", { headers: withSession(bob, json) })).status, 403);
  });

  test("leaves public paths, the login page and the edge's endpoints open", async () => {
    assert.equal((await gate.fetch("/static/app.css")).status, 200);
    assert.equal((await gate.fetch("/login")).status, 200);
    assert.equal((await gate.fetch("/.sessiongate/health")).status, 200);
    assert.equal((await gate.fetch("/.sessiongate/session", { headers: withSession(bob, json) })).status, 200);
  });
});

describe("a bad policy fails closed", () => {
  const cases = [
    ["invalid JSON", "[{", /POLICY: is not valid JSON/],
    ["not a list", '{"paths": ["/a"]}', /POLICY: must be a JSON array of rules/],
    ["an unknown field", [{ name: "a", paths: ["/a"], allow: [{ any_user: true }], alow: [] }], /POLICY: rule 0 \("a"\): unknown field `alow`/],
    ["empty paths", [{ paths: [], allow: [{ any_user: true }] }], /POLICY: rule 0: paths: must list at least one path/],
    ["empty allow", [{ name: "x", paths: ["/a"], allow: [] }], /POLICY: rule 0 \("x"\): allow: must list at least one condition/],
    ["a bad duration", [{ paths: ["/a"], allow: [{ any_user: true }], max_auth_age: "soon" }], /POLICY: rule 0: max_auth_age: "soon" is not a duration/],
    ["a pattern that cannot match", [{ paths: ["/a/*/b"], allow: [{ any_user: true }] }], /POLICY: rule 0: paths\[0\]: "\/a\/\*\/b"/],
    ["an unknown condition field", [{ paths: ["/a"], allow: [{ group: ["x"] }] }], /POLICY: rule 0: allow\[0\]: unknown field `group`/],
    ["a bad POLICY_DEFAULT", undefined, /POLICY_DEFAULT: "closed" is not allow or deny/, { POLICY_DEFAULT: "closed" }],
  ];
  for (const [what, policy, logged, extra = {}] of cases) {
    test(`${what}: every request is 500 misconfigured, and the log names the rule and field`, async () => {
      const vars = { ...extra, POLICY: typeof policy === "string" ? policy : policy && JSON.stringify(policy) };
      const gate = await startGate({ vars });
      try {
        for (const path of ["/dashboard", "/static/app.css", "/.sessiongate/health"]) {
          const response = await gate.fetch(path);
          assert.deepEqual([response.status, await response.json()], [500, { error: "misconfigured" }], path);
        }
        assert.equal(gate.received.length, 0);
        const detail = gate.logs.find((l) => l.reason === "misconfigured")?.detail ?? "";
        assert.match(detail, logged);
      } finally {
        await gate.close();
      }
    });
  }
});
