// A minimal origin for `npm start`: answers every request with what it
// received, so you can see what sessiongate forwards.
import http from "node:http";

const port = Number(process.env.ORIGIN_PORT ?? 8788);
http
  .createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }, null, 2));
  })
  .listen(port, "127.0.0.1", () => console.log(`echo origin on http://127.0.0.1:${port}`));
