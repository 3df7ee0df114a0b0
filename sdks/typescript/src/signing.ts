// The request signature (docs/SECURITY.md): Ed25519 over
//
//   SANHU-ED25519-V1\n{METHOD}\n{path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//
// sent as four headers: X-Sanhu-Client, X-Sanhu-Timestamp (unix seconds), X-Sanhu-Nonce (16 to 64 of
// [A-Za-z0-9_-], never reused) and X-Sanhu-Signature (standard base64 of the 64-byte signature).

import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, KeyObject } from "node:crypto";

export const SCHEME = "SANHU-ED25519-V1";
export const CLIENT_HEADER = "X-Sanhu-Client";
export const TIMESTAMP_HEADER = "X-Sanhu-Timestamp";
export const NONCE_HEADER = "X-Sanhu-Nonce";
export const SIGNATURE_HEADER = "X-Sanhu-Signature";

export type Body = string | Uint8Array | undefined | null;

// DER prefixes that make a raw Ed25519 seed a PKCS#8 key and a raw public key an SPKI key.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function bytes(body: Body): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  return typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
}

/** Lower-case hex SHA-256 of the body (of the empty string for no body). */
export function bodySha256Hex(body: Body): string {
  return createHash("sha256").update(bytes(body)).digest("hex");
}

/** The exact text that is signed. `pathAndQuery` is what the request line carries, byte for byte. */
export function signedString(method: string, pathAndQuery: string, body: Body, timestamp: number, nonce: string): string {
  return `${SCHEME}\n${method}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${bodySha256Hex(body)}`;
}

/**
 * Percent-encodes a path segment or a query name or value: every byte of its UTF-8 but
 * A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex; a space is %20, never +). The signature covers the
 * query exactly as sent, so the SDK builds it with this one rule and signs what it sends.
 */
export function encodeComponent(value: string | number | boolean): string {
  return encodeURIComponent(String(value)).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** 32 hex characters of operating-system randomness. */
export function newNonce(): string {
  return randomBytes(16).toString("hex");
}

function decodeKey(key: string | Uint8Array, what: string): Buffer {
  const raw = typeof key === "string" ? Buffer.from(key, "base64") : Buffer.from(key);
  if (raw.length !== 32 || (typeof key === "string" && raw.toString("base64") !== key)) {
    throw new TypeError(`an Ed25519 ${what} is standard base64 of 32 bytes`);
  }
  return raw;
}

/** The key from the credential file's `private_key`: standard base64 of the 32-byte seed. */
export function loadPrivateKey(privateKey: string | Uint8Array | KeyObject): KeyObject {
  if (privateKey instanceof KeyObject) return privateKey;
  const seed = decodeKey(privateKey, "private key (seed)");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

export function loadPublicKey(publicKey: string | Uint8Array | KeyObject): KeyObject {
  if (publicKey instanceof KeyObject) return publicKey;
  const raw = decodeKey(publicKey, "public key");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** Standard base64 of the raw 32-byte public key of a private key. */
export function publicKeyBase64(privateKey: string | Uint8Array | KeyObject): string {
  const der = createPublicKey(loadPrivateKey(privateKey)).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(SPKI_PREFIX.length)).toString("base64");
}

export type SignatureHeaders = Record<
  typeof CLIENT_HEADER | typeof TIMESTAMP_HEADER | typeof NONCE_HEADER | typeof SIGNATURE_HEADER,
  string
>;

/** Signs requests as one API client. */
export class Signer {
  readonly clientId: string;
  readonly #key: KeyObject;

  constructor(clientId: string, privateKey: string | Uint8Array | KeyObject) {
    this.clientId = clientId;
    this.#key = loadPrivateKey(privateKey);
  }

  /** The four signature headers for one request (a fresh timestamp and nonce unless given). */
  sign(method: string, pathAndQuery: string, body?: Body, timestamp?: number, nonce?: string): SignatureHeaders {
    const ts = timestamp ?? Math.floor(Date.now() / 1000);
    const n = nonce ?? newNonce();
    const signature = sign(null, Buffer.from(signedString(method, pathAndQuery, body, ts, n), "utf8"), this.#key);
    return {
      [CLIENT_HEADER]: this.clientId,
      [TIMESTAMP_HEADER]: String(ts),
      [NONCE_HEADER]: n,
      [SIGNATURE_HEADER]: signature.toString("base64"),
    };
  }
}
