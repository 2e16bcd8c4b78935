import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { decodeUserHeader, UserHeaderError } from "sessiongate-origin";

/** The edge's encoding, written from the contract, to check decoding against. */
function encode(uid) {
  const bytes = new TextEncoder().encode(uid);
  if (!uid.startsWith("UTF-8''") && bytes.every((b) => b >= 0x21 && b <= 0x7e)) return uid;
  const attrChar = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;
  let out = "UTF-8''";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += attrChar.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

describe("decodeUserHeader", () => {
  test("decodes the edge's encodings", () => {
    assert.equal(decodeUserHeader("UTF-8''zo%C3%AB"), "zoë");
    assert.equal(decodeUserHeader("UTF-8''%E6%97%A5%E6%9C%AC"), "日本");
    assert.equal(decodeUserHeader("UTF-8''ada%20lovelace"), "ada lovelace");
    assert.equal(decodeUserHeader("UTF-8''UTF-8%27%27x"), "UTF-8''x", "an id that starts like the encoding");
    assert.equal(decodeUserHeader("UTF-8''zo%c3%ab"), "zoë", "lower-case hex");
  });

  test("passes plain ids through", () => {
    for (const id of ["alice", "a,b", "user@example.com", "auth0|5f7c8ec7c33c6c004bbafe82", "a%20b", "utf-8''x", "UTF-8'en'x", "!~"]) {
      assert.equal(decodeUserHeader(id), id);
    }
  });

  test("round-trips any id through the edge's encoding", () => {
    for (const id of ["zoë", "日本", "a,b", "a b", "tab\there", "%41", "UTF-8''", "emoji 🦀", "\u00a0x", "'quoted'", "a;b=c"]) {
      assert.equal(decodeUserHeader(encode(id)), id, id);
    }
  });

  test("refuses what the edge never sends", () => {
    for (const value of [
      "",
      "UTF-8''",
      "a b", // plain, but with a space
      "zoë", // raw non-ASCII
      "zoÃ«", // raw UTF-8 bytes as Node reads them (latin1)
      "UTF-8''zo%C3", // truncated UTF-8
      "UTF-8''%FF",
      "UTF-8''%ZZ",
      "UTF-8''%4",
      "UTF-8''a b",
      "UTF-8''a,b", // ',' is not an attr-char
      "UTF-8''zoë",
      undefined,
      ["alice"],
    ]) {
      assert.throws(() => decodeUserHeader(value), (error) => error instanceof UserHeaderError && error.code === "malformed", JSON.stringify(value));
    }
  });
});
