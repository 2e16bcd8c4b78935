import { SignJWT } from "jose";

/** The Sessiongate-Login header value that logs userId in. */
export async function signHandoff(userId, handoffKey, claims) {
  return new SignJWT(claims ? { claims } : {})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setExpirationTime("60s")
    .sign(new TextEncoder().encode(handoffKey));
}
