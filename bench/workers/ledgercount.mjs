// A stand-in revocation ledger that counts the requests it gets: the bench's
// counting copy of sessiongate binds LEDGER to this class. It answers an
// empty state (nothing revoked), as the real one does for a user who never
// logged out. GET /counts and POST /reset on the worker itself.

let requests = 0;

export class Ledger {
  async fetch() {
    requests++;
    return Response.json({ revoked_before: null, revoked: [] });
  }
}

export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/reset" && request.method === "POST") {
      requests = 0;
      return new Response(null, { status: 204 });
    }
    return Response.json({ requests });
  },
};
