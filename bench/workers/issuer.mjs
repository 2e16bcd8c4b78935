// A stand-in identity provider for the bench's `sg bearer` case: the
// issuer's discovery document and its JWKS (the bench's RS256 public key),
// nothing else. ISSUER is its own URL (http://127.0.0.1:<port>, reached on
// its direct socket), JWKS the key set as JSON. It counts what it serves:
// GET /counts, POST /reset. sessiongate keeps both documents in the
// isolate's memory after the first bearer request, so the timed rounds
// should ask for neither.

const counts = { discovery: 0, jwks: 0, other: 0 };

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/counts") return Response.json(counts);
    if (url.pathname === "/reset" && request.method === "POST") {
      for (const key of Object.keys(counts)) counts[key] = 0;
      return new Response(null, { status: 204 });
    }
    const headers = { "content-type": "application/json", "cache-control": "public, max-age=3600" };
    if (url.pathname === "/.well-known/openid-configuration") {
      counts.discovery++;
      const issuer = env.ISSUER;
      return new Response(
        JSON.stringify({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
        }),
        { headers },
      );
    }
    if (url.pathname === "/jwks") {
      counts.jwks++;
      return new Response(env.JWKS, { headers });
    }
    counts.other++;
    return Response.json({ error: "not_found" }, { status: 404 });
  },
};
