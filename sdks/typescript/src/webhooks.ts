// Webhook signature verification, for the scheme planned in issue 18 ("Signed webhooks"): sanhu does
// not send webhooks yet. A delivery is a POST to the receiver's URL signed with sanhu's webhook key by
// the same canonical form as a request:
//
//   SANHU-ED25519-V1\nPOST\n{the receiver URL's path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//
// with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature headers. Verify the raw body bytes
// before parsing them, refuse a timestamp outside the tolerance, and de-duplicate by the event's id.

import { KeyObject, verify } from "node:crypto";

import { WebhookSignatureError } from "./errors.js";
import { Body, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, loadPublicKey, signedString } from "./signing.js";

export const DEFAULT_TOLERANCE_S = 300;

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
export function verifyWebhook(
  publicKey: string | Uint8Array | KeyObject,
  pathAndQuery: string,
  headers: Headers,
  body: Body,
  options: VerifyOptions = {},
): void {
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
  if (signature.length !== 64) throw new WebhookSignatureError("the signature is not 64 bytes");
  const text = signedString((options.method ?? "POST").toUpperCase(), pathAndQuery, body, timestamp, nonce);
  if (!verify(null, Buffer.from(text, "utf8"), loadPublicKey(publicKey), signature)) {
    throw new WebhookSignatureError("the signature does not verify");
  }
}
