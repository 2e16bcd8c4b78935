// Fetch API plumbing for the Rust edge (src/edge/*.rs). Each export does in
// one call what would otherwise take a dozen JS↔wasm crossings, which cost
// more than the gate's crypto. Nothing here decides anything: values go in
// and out as strings joined by "\n", which no method, URL or header value
// can contain; a missing header travels as "\0", which none can contain
// either.

const ABSENT = "\0";

/** Method, URL, the values of `names` (each or "\0") and every header name. */
export function describe(request, names) {
  const headers = request.headers;
  const fields = [request.method, request.url];
  for (const name of names.split("\n")) fields.push(headers.get(name) ?? ABSENT);
  fields.push([...headers.keys()].join("\n"));
  return fields.join("\n");
}

/**
 * Sends `request` to `url` (method, headers, streamed body, redirects not
 * followed) without the headers named in `remove` and with the name/value
 * pairs in `set`; resolves to the response and the values of the response
 * headers named in `read` (each or "\0"), joined.
 */
export async function forward(request, url, remove, set, read) {
  const outbound = new Request(url, request);
  const headers = outbound.headers;
  if (remove) for (const name of remove.split("\n")) headers.delete(name);
  if (set) {
    const pairs = set.split("\n");
    for (let i = 0; i < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  }
  const response = await fetch(outbound);
  const values = read.split("\n").map((name) => response.headers.get(name) ?? ABSENT);
  return [response, values.join("\n")];
}

/** A response with this status, headers (name/value pairs) and body. */
export function reply(status, pairs, body) {
  const headers = new Headers();
  if (pairs) {
    const list = pairs.split("\n");
    for (let i = 0; i < list.length; i += 2) headers.append(list[i], list[i + 1]);
  }
  return new Response(body || null, { status, headers });
}

/** `promise`, or a rejection once `ms` have passed; the timer is cleared either way. */
export function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
