import { jwtVerify } from "jose";

/** Resolves to the assertion's claims, or rejects. */
export async function verifyAssertion(token, assertionKey, audience, method, pathAndQuery) {
  const { payload } = await jwtVerify(token, new TextEncoder().encode(assertionKey), {
    algorithms: ["HS256"],
    issuer: "sessiongate",
    audience,
    clockTolerance: 5,
    requiredClaims: ["exp", "iat", "sub", "sid", "htm", "htu"],
  });
  if (payload.htm !== method || payload.htu !== pathAndQuery) {
    throw new Error("assertion was issued for another request");
  }
  return payload;
}
