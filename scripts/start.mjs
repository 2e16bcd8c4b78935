// `npm start` (after scripts/start.sh has set up and built): serves the
// demo behind sessiongate until Ctrl-C.
import { startServers } from "./servers.mjs";

const servers = await startServers();
console.log(`
  sessiongate is running: open ${servers.edge}/dashboard
  (demo origin on ${servers.origin}, reachable directly only for inspection)

  demo users:  alice / wonderland   bob / builder
  Ctrl-C stops both.
`);
const shutdown = async () => {
  await servers.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
