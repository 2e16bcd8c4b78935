import { UserHeaderError } from "./errors.js";

const PREFIX = "UTF-8''";
const PLAIN = /^[\x21-\x7e]+$/;
// RFC 8187 ext-value after the charset and (empty) language: attr-char
// or a percent-encoded byte.
const EXT_VALUE = /^(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-Fa-f]{2})+$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The user id an `X-Sessiongate-User` value names. The edge sends an id
 * of visible ASCII (0x21-0x7E) that does not start with `UTF-8''` as it
 * is, and any other as `UTF-8''` and its percent-encoded UTF-8 bytes.
 *
 * The header is a convenience for origins only the edge can reach; the
 * assertion's `sub` is the proof.
 *
 * @param {string} value
 * @returns {string}
 * @throws {UserHeaderError} when `value` is no encoding the edge produces
 */
export function decodeUserHeader(value) {
  if (typeof value !== "string") {
    throw new UserHeaderError("X-Sessiongate-User is missing or not a string");
  }
  if (!value.startsWith(PREFIX)) {
    if (!PLAIN.test(value)) {
      throw new UserHeaderError(
        "X-Sessiongate-User holds characters outside visible ASCII without the UTF-8'' encoding",
      );
    }
    return value;
  }
  const encoded = value.slice(PREFIX.length);
  if (!EXT_VALUE.test(encoded)) {
    throw new UserHeaderError("X-Sessiongate-User is not a valid UTF-8'' percent-encoding");
  }
  const bytes = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === "%") {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  try {
    return utf8.decode(new Uint8Array(bytes));
  } catch {
    throw new UserHeaderError("X-Sessiongate-User does not encode valid UTF-8");
  }
}
