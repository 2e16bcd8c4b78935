// The origin behind all three workers: a minimal Node HTTP server, run as
// its own process by run.mjs so its CPU is not counted as workerd's.
// argv[2] is the port. It tells the parent over IPC when it listens, and
// answers { type: "count" } with how many requests it has served.

import http from "node:http";

const port = Number(process.argv[2]);
const body = Buffer.from('{"from":"origin"}');
let served = 0;

const server = http.createServer((request, response) => {
  served++;
  request.resume();
  response.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => process.send?.({ type: "listening", port }));
server.on("error", (error) => {
  process.send?.({ type: "error", message: error.message });
  process.exit(1);
});
process.on("message", (message) => {
  if (message?.type === "count") process.send({ type: "count", served, id: message.id });
});
// Never outlive the benchmark.
process.on("disconnect", () => process.exit(0));
