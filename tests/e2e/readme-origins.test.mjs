// The README's "Verifying at the origin" snippets, as pasted: the Express
// app, the Starlette app and the Django settings and view run behind the
// built edge (Miniflare), with only the README's placeholders replaced (the
// site, `my-app`, the port). Each signs a user in through the edge (where
// it has a login) and greets them on the protected page; without an
// assertion the page is refused. The Rust snippet stands in
// origins/rust/examples, which cargo test compiles (tests/interop).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { generateKeyPairSync } from "node:crypto";
import { AUDIENCE, COOKIE, HANDOFF_KEY, putSession, sessionCookies, startGate, withSession } from "./harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// Inside the repository (build/ is ignored), so that the snippets' imports
// resolve as an app's would: to the linked package and its dependencies.
const scratch = path.join(root, "build/readme-snippets");

/** The code blocks of the README's "Verifying at the origin", in order. */
function snippets() {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Verifying at the origin"), readme.indexOf("**Existing deployments**"));
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map(([, lang, code]) => ({ lang, code }));
}

async function freePort() {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `program args` and resolves once `port` accepts connections. */
async function serve(program, args, port, env) {
  const child = spawn(program, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.output = "";
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (c) => (child.output += c));
  for (const until = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited: ${child.output}`);
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(socket.end() && true)).on("error", () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > until) throw new Error(`nothing on ${port}: ${child.output}`);
    await sleep(100);
  }
}

describe("the README's origin snippets, as pasted", () => {
  let gate, port, child;
  const entry = (() => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    return `k1:${privateKey.export({ format: "der", type: "pkcs8" }).toString("base64url")}`;
  })();
  /** The snippet with the README's placeholders made the test's. */
  const pasted = (code) =>
    code
      .replaceAll("https://app.example.com/.sessiongate/jwks.json", `${gate.url}.sessiongate/jwks.json`)
      .replaceAll('"my-app"', JSON.stringify(AUDIENCE))
      .replaceAll("3000", String(port));

  before(async () => {
    mkdirSync(scratch, { recursive: true });
    port = await freePort();
    gate = await startGate({ vars: { ASSERTION_SIGNING_KEYS: entry, ASSERTION_KEY: undefined, ORIGIN_URL: `http://127.0.0.1:${port}` } });
    gate.origin = async (request) => {
      const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.text();
      return fetch(request.url, { method: request.method, headers: request.headers, body, redirect: "manual" });
    };
  });
  after(async () => {
    await gate.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function stop() {
    child?.kill();
    if (child && child.exitCode === null) await new Promise((r) => child.once("exit", r));
    child = undefined;
  }

  /** Signs in as `username` through the edge's public /login, as a browser's form would. */
  async function signIn(username) {
    const response = await gate.fetch("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: `username=${username}&password=secret`,
    });
    assert.equal(response.status, 303);
    const [set] = sessionCookies(response);
    assert.ok(set, "the login started a session");
    return set.split(";")[0].slice(COOKIE.length + 1);
  }

  async function greets(token, who) {
    const page = await gate.fetch("/dashboard", { headers: withSession(token) });
    assert.equal(page.status, 200);
    assert.equal(await page.text(), `Hello, ${who}`);
    const unsigned = await fetch(`http://127.0.0.1:${port}/dashboard`);
    assert.equal(unsigned.status, 401, "straight to the origin, without an assertion");
  }

  test("Node: the Express app signs the user in and greets them", async () => {
    const [express] = snippets().filter((s) => s.lang === "js");
    const file = path.join(scratch, "express-app.mjs");
    writeFileSync(file, pasted(express.code));
    child = await serve("node", [file], port, { HANDOFF_KEY });
    try {
      await greets(await signIn("ada"), "ada");
    } finally {
      await stop();
    }
  });

  test("Python: the Starlette app signs the user in and greets them", async () => {
    const [starlette] = snippets().filter((s) => s.lang === "python");
    writeFileSync(path.join(scratch, "readme_starlette.py"), pasted(starlette.code));
    const args = ["-m", "uvicorn", "readme_starlette:app", "--app-dir", scratch, "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning"];
    child = await serve(path.join(root, ".venv/bin/python"), args, port, { HANDOFF_KEY });
    try {
      await greets(await signIn("grace"), "grace");
    } finally {
      await stop();
    }
  });

  test("Python: the Django settings and view greet a signed-in user", async () => {
    const [, settings, view] = snippets().filter((s) => s.lang === "python");
    const app = `
import django
from django.conf import settings
from django.urls import path

snippet = {}
exec(${JSON.stringify(pasted(settings.code))}, snippet)
settings.configure(
    ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="only-for-the-readme-test",
    MIDDLEWARE=snippet["MIDDLEWARE"], SESSIONGATE=snippet["SESSIONGATE"],
)
django.setup()
exec(${JSON.stringify(view.code)})
urlpatterns = [path("dashboard", dashboard)]

from django.core.asgi import get_asgi_application

app = get_asgi_application()
`;
    writeFileSync(path.join(scratch, "readme_django.py"), app);
    const args = ["-m", "uvicorn", "readme_django:app", "--app-dir", scratch, "--host", "127.0.0.1", "--port", String(port), "--log-level", "warning"];
    child = await serve(path.join(root, ".venv/bin/python"), args, port, {});
    try {
      const { token } = await putSession(gate, { uid: "linus" });
      await greets(token, "linus");
    } finally {
      await stop();
    }
  });
});
