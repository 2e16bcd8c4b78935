// Counts KV operations. The *-kv copies of the benchmarked workers bind
// SESSIONS to the Kv entrypoint here (a service binding); each call is
// counted and passed to the real namespace, which is shared with the
// benchmarked workers. GET /counts reads the counters, POST /reset zeroes
// them. Only the KV-count phase uses this; the timed rounds do not.

import { WorkerEntrypoint } from "cloudflare:workers";

const OPS = ["get", "getWithMetadata", "put", "delete", "list"];
let counts = Object.fromEntries(OPS.map((op) => [op, 0]));

export class Kv extends WorkerEntrypoint {
  get(...args) {
    counts.get++;
    return this.env.KV.get(...args);
  }
  getWithMetadata(...args) {
    counts.getWithMetadata++;
    return this.env.KV.getWithMetadata(...args);
  }
  put(...args) {
    counts.put++;
    return this.env.KV.put(...args);
  }
  delete(...args) {
    counts.delete++;
    return this.env.KV.delete(...args);
  }
  list(...args) {
    counts.list++;
    return this.env.KV.list(...args);
  }
}

export default {
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === "/reset" && request.method === "POST") {
      counts = Object.fromEntries(OPS.map((op) => [op, 0]));
      return new Response(null, { status: 204 });
    }
    if (pathname === "/counts") return Response.json(counts);
    return new Response("not found", { status: 404 });
  },
};
