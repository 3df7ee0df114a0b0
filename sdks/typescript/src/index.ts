// A thin client for the sanhu API.

export { ERROR_CODES, OPERATIONS } from "./api.js";
export type { ErrorCode, Operation, OperationId } from "./api.js";
export type * as models from "./models.js";
export { Client, DEFAULT_CREDENTIALS_FILE, buildQuery, newIdempotencyKey } from "./client.js";
export type { ClientOptions, Credential, JsonObject, Query, RequestOptions, Response, WriteOptions } from "./client.js";
export {
  ApiError,
  AuthenticationError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  SanhuError,
  UnavailableError,
  UnprocessableError,
  WebhookSignatureError,
} from "./errors.js";
export {
  CLIENT_HEADER,
  NONCE_HEADER,
  SCHEME,
  SIGNATURE_HEADER,
  Signer,
  TIMESTAMP_HEADER,
  bodySha256Hex,
  encodeComponent,
  newNonce,
  publicKeyBase64,
  signedString,
} from "./signing.js";
export { DEFAULT_TOLERANCE_S, HMAC_SCHEME, hmacSignedString, verifyWebhook, verifyWebhookHmac } from "./webhooks.js";
export type { VerifyOptions } from "./webhooks.js";
