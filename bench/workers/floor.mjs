// The floor: the least any KV-backed session check can cost. One KV read
// keyed by the cookie's value, then the request goes to the origin as is.
// No token format, no crypto, no record parsing, no headers added.

const COOKIE = /(?:^|;\s*)fl=([^;]*)/;

export default {
  async fetch(request, env) {
    const id = COOKIE.exec(request.headers.get("cookie") ?? "")?.[1];
    const record = id ? await env.SESSIONS.get(`s:${id}`) : null;
    if (record === null) {
      return new Response('{"error":"unauthenticated"}', {
        status: 401,
        headers: { "content-type": "application/json" },
      });
    }
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
