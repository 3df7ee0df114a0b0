// Webhook signature verification (docs/WEBHOOKS.md). A delivery is a POST to the receiver's URL signed
// by the same canonical form as a request, with sanhu's Ed25519 webhook key:
//
//   SANHU-ED25519-V1\nPOST\n{the receiver URL's path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//
// or, for a subscription made with "signature": "hmac-sha256", with HMAC-SHA256 keyed by the
// subscription's secret (its text as shown, `whsec_` included) over the same lines but the first,
// SANHU-HMAC-SHA256-V1. Both come with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature
// headers. Verify the raw body bytes before parsing them, refuse a timestamp outside the tolerance,
// and de-duplicate by the event's id.

import { KeyObject, createHmac, timingSafeEqual, verify } from "node:crypto";

import { WebhookSignatureError } from "./errors.js";
import {
  Body,
  NONCE_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  bodySha256Hex,
  loadPublicKey,
  signedString,
} from "./signing.js";

export const DEFAULT_TOLERANCE_S = 300;
export const HMAC_SCHEME = "SANHU-HMAC-SHA256-V1";

export type Headers = Record<string, string | string[] | undefined> | globalThis.Headers;

export interface VerifyOptions {
  method?: string;
  toleranceS?: number;
  /** Unix seconds; default: now. */
  now?: number;
}

function header(headers: Headers, name: string): string {
  let values: string[] = [];
  if (headers instanceof globalThis.Headers) {
    // fetch's Headers joins repeated headers with ", ", which none of the three values contains.
    const value = headers.get(name);
    values = value === null ? [] : value.split(", ");
  } else {
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() === name.toLowerCase() && value !== undefined) {
        values.push(...(Array.isArray(value) ? value : [value]));
      }
    }
  }
  if (values.length === 0) throw new WebhookSignatureError(`the ${name} header is missing`);
  if (values.length > 1) throw new WebhookSignatureError(`the ${name} header is given more than once`);
  return values[0];
}

/**
 * Returns if the delivery is signed by `publicKey` (base64 of 32 bytes) and its timestamp is within
 * the tolerance of now; throws WebhookSignatureError otherwise. Works with Node's
 * IncomingMessage.headers (lower-case names) and with fetch's Headers.
 */
/** The timestamp, nonce and decoded signature, once the headers are well formed and fresh. */
function checkedHeaders(
  headers: Headers,
  options: VerifyOptions,
  signatureBytes: number,
): { timestamp: number; nonce: string; signature: Buffer } {
  const timestampText = header(headers, TIMESTAMP_HEADER);
  const nonce = header(headers, NONCE_HEADER);
  const signatureText = header(headers, SIGNATURE_HEADER);
  if (!/^\d{1,12}$/.test(timestampText)) throw new WebhookSignatureError("the timestamp is not unix seconds");
  const timestamp = Number(timestampText);
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > (options.toleranceS ?? DEFAULT_TOLERANCE_S)) {
    throw new WebhookSignatureError("the timestamp is outside the tolerance");
  }
  const signature = Buffer.from(signatureText, "base64");
  if (signature.toString("base64") !== signatureText) throw new WebhookSignatureError("the signature is not base64");
  if (signature.length !== signatureBytes) {
    throw new WebhookSignatureError(`the signature is not ${signatureBytes} bytes`);
  }
  return { timestamp, nonce, signature };
}

export function verifyWebhook(
  publicKey: string | Uint8Array | KeyObject,
  pathAndQuery: string,
  headers: Headers,
  body: Body,
  options: VerifyOptions = {},
): void {
  const { timestamp, nonce, signature } = checkedHeaders(headers, options, 64);
  const text = signedString((options.method ?? "POST").toUpperCase(), pathAndQuery, body, timestamp, nonce);
  if (!verify(null, Buffer.from(text, "utf8"), loadPublicKey(publicKey), signature)) {
    throw new WebhookSignatureError("the signature does not verify");
  }
}

/** The exact text an HMAC-signed delivery signs. */
export function hmacSignedString(pathAndQuery: string, body: Body, timestamp: number, nonce: string): string {
  return `${HMAC_SCHEME}\nPOST\n${pathAndQuery}\n${timestamp}\n${nonce}\n${bodySha256Hex(body)}`;
}

/**
 * Returns if the delivery is signed with HMAC-SHA256 under `secret` (the `whsec_…` text shown when
 * the subscription was made) and its timestamp is within the tolerance of now; throws
 * WebhookSignatureError otherwise. The tags are compared in constant time.
 */
export function verifyWebhookHmac(
  secret: string,
  pathAndQuery: string,
  headers: Headers,
  body: Body,
  options: Omit<VerifyOptions, "method"> = {},
): void {
  if (!secret) throw new WebhookSignatureError("the secret is empty");
  const { timestamp, nonce, signature } = checkedHeaders(headers, options, 32);
  const text = hmacSignedString(pathAndQuery, body, timestamp, nonce);
  const expected = createHmac("sha256", Buffer.from(secret, "utf8")).update(Buffer.from(text, "utf8")).digest();
  if (!timingSafeEqual(expected, signature)) throw new WebhookSignatureError("the signature does not verify");
}
