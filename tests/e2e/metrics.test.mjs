// With a METRICS binding (Workers Analytics Engine), each request writes one
// data point: decision, reason, route class, mode; status and time at the
// edge. Miniflare's own binding drops writes, so a recording stand-in (a
// wrapped binding printing each point) takes its place. Nothing in a point
// names a user, a session or a client.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { login, startGate, withSession } from "./harness.mjs";

let gate;
const points = () => gate.output.split("\n").filter((l) => l.startsWith("METRIC ")).map((l) => JSON.parse(l.slice(7)));

before(async () => {
  gate = await startGate({
    worker: { wrappedBindings: { METRICS: { scriptName: "metrics-recorder" } } },
    workers: [
      {
        name: "metrics-recorder",
        modules: true,
        script: `export default function () {
          return { writeDataPoint(point) { console.log("METRIC " + JSON.stringify(point)); } };
        }`,
      },
    ],
  });
});
after(() => gate.close());
beforeEach(() => (gate.output = ""));

/** Waits until `n` points have been printed. */
async function written(n) {
  for (let i = 0; i < 50 && points().length < n; i++) await new Promise((r) => setTimeout(r, 20));
  return points();
}

test("each kind of request writes exactly one point that says what happened", async () => {
  const token = await login(gate, "alice");
  gate.output = "";
  await gate.fetch("/dashboard", { headers: withSession(token) });
  await gate.fetch("/dashboard", { headers: { accept: "application/json" } });
  await gate.fetch("/static/app.css");
  await gate.fetch("/.sessiongate/health");
  await gate.fetch("/static/%2e%2e%2fadmin");
  const [forward, reject, pub, endpoint, invalid] = await written(5);
  assert.equal(points().length, 5, "one point per request");
  assert.deepEqual(forward.blobs, ["forward", "", "protected", "enforce", ""]);
  assert.equal(forward.doubles[0], 200);
  assert.deepEqual(reject.blobs, ["reject", "missing", "protected", "enforce", ""]);
  assert.equal(reject.doubles[0], 401);
  assert.deepEqual(pub.blobs, ["forward", "public", "public", "enforce", ""]);
  assert.deepEqual(endpoint.blobs, ["endpoint", "", "edge", "enforce", ""]);
  assert.deepEqual(invalid.blobs, ["reject", "encoded_slash", "invalid", "enforce", ""]);
  for (const point of [forward, reject, pub, endpoint, invalid]) {
    assert.equal(point.doubles.length, 2);
    assert.ok(point.doubles[1] >= 0, "ms at the edge");
    assert.deepEqual(point.indexes, [point.blobs[2]]);
  }
});

test("no point names a user, a session or a client", async () => {
  const token = await login(gate, "bob@example.com");
  await gate.fetch("/dashboard", { headers: withSession(token, { "cf-connecting-ip": "198.51.100.23" }) });
  const text = JSON.stringify(await written(2));
  for (const secret of ["bob", token.split(".")[2], "198.51.100.23"]) assert.ok(!text.includes(secret), secret);
});

test("without the binding, nothing is written and nothing fails", async () => {
  const plain = await startGate();
  try {
    const response = await plain.fetch("/dashboard", { headers: { accept: "application/json" } });
    assert.equal(response.status, 401);
    assert.ok(!plain.output.includes("METRIC "));
  } finally {
    await plain.close();
  }
});

