// A DBSC client in Node, following W3C webappsec-dbsc as Chromium does
// (checked against chromium 156): it answers a registration offer with a
// WebCrypto ES256 key, keeps the bound cookie the session instructions
// name, and refreshes it through the 403 challenge and a signed retry.

import { webcrypto } from "node:crypto";

const { subtle } = webcrypto;
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** `(ES256);path="…";challenge="…"` into its parts; null if it is not one. */
export function parseOffer(header) {
  const match = /^\(([^)]*)\)((?:;[a-z]+="[^"]*")*)$/.exec(header ?? "");
  if (!match) return null;
  const params = Object.fromEntries([...match[2].matchAll(/;([a-z]+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
  return { algorithms: match[1].split(" "), ...params };
}

/** `"<challenge>";id="<session>"` into its parts. */
export function parseChallenge(header) {
  const match = /^"([^"]*)"(?:;id="([^"]*)")?$/.exec(header ?? "");
  return match ? { challenge: match[1], id: match[2] } : null;
}

/** A JWS over `header` and `payload` signed by `privateKey` (ES256: raw r||s, as WebCrypto makes it). */
export async function signProof(privateKey, header, payload) {
  const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, Buffer.from(signed));
  return `${signed}.${b64url(signature)}`;
}

export const newKeyPair = () => subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);

export async function publicJwk(keyPair) {
  const { kty, crv, x, y } = await subtle.exportKey("jwk", keyPair.publicKey);
  return { kty, crv, x, y };
}

/** One browser: its cookie jar, and its device-bound session once registered. */
export class DbscClient {
  constructor(gate, cookies = {}) {
    this.gate = gate;
    this.cookies = { ...cookies };
    this.session = null;
  }

  cookieHeader() {
    return Object.entries(this.cookies).map(([name, value]) => `${name}=${value}`).join("; ");
  }

  /** Applies a response's Set-Cookie headers (Max-Age=0 deletes). */
  absorb(response) {
    for (const set of response.headers.getSetCookie()) {
      const [pair, ...attributes] = set.split(";").map((s) => s.trim());
      const name = pair.slice(0, pair.indexOf("="));
      const value = pair.slice(pair.indexOf("=") + 1);
      if (attributes.includes("Max-Age=0")) delete this.cookies[name];
      else this.cookies[name] = value;
    }
    return response;
  }

  async fetch(pathAndQuery, init = {}) {
    const headers = { cookie: this.cookieHeader(), ...init.headers };
    return this.absorb(await this.gate.fetch(pathAndQuery, { ...init, headers }));
  }

  /** Answers a `Secure-Session-Registration` offer; returns the registration response. */
  async register(offerHeader, { keyPair, proof } = {}) {
    const offer = parseOffer(offerHeader);
    if (!offer?.algorithms.includes("ES256")) throw new Error(`no ES256 offer in ${offerHeader}`);
    this.keyPair = keyPair ?? (await newKeyPair());
    const jwt = proof ?? (await signProof(this.keyPair.privateKey, { alg: "ES256", typ: "dbsc+jwt", jwk: await publicJwk(this.keyPair) }, { jti: offer.challenge }));
    const response = await this.fetch(offer.path, { method: "POST", headers: { "secure-session-response": jwt } });
    if (response.status === 200) this.session = await response.clone().json();
    return response;
  }

  /** The first leg of a refresh: the 403 and its challenge. */
  async challenge() {
    const response = await this.fetch(this.session.refresh_url, {
      method: "POST",
      headers: { "sec-secure-session-id": this.session.session_identifier },
    });
    return { response, ...parseChallenge(response.headers.get("secure-session-challenge")) };
  }

  /** A whole refresh: challenge, then the proof over it; returns the final response. */
  async refresh({ sign = (challenge) => signProof(this.keyPair.privateKey, { alg: "ES256", typ: "dbsc+jwt" }, { jti: challenge }) } = {}) {
    const first = await this.challenge();
    if (first.response.status !== 403) return first.response;
    return this.answer(await sign(first.challenge));
  }

  /** The second leg of a refresh: `proof` for a challenge. */
  async answer(proof) {
    const response = await this.fetch(this.session.refresh_url, {
      method: "POST",
      headers: { "sec-secure-session-id": this.session.session_identifier, "secure-session-response": proof },
    });
    if (response.status === 200) {
      const body = await response.clone().json();
      if (body.continue === false) this.session = null;
    }
    return response;
  }
}
