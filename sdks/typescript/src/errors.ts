// Typed errors. Every refusal of the API carries a stable code (the OpenAPI document's `ErrorCode`,
// also in ERROR_CODES with its HTTP status); branch on `code`, the message is for people.

import { ERROR_CODES, ErrorCode } from "./api.js";

/** Anything this SDK throws on its own account. */
export class SanhuError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The API answered with an error: `{"error": {"code", "message", "request_id"}}`. */
export class ApiError extends SanhuError {
  readonly status: number;
  /** The stable code; one of ErrorCode for every code the document lists. */
  readonly code: ErrorCode | (string & {});
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait before retrying (Retry-After), if it said. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, requestId?: string, retryAfter?: number) {
    super(`${status} ${code}: ${message}` + (requestId ? ` (request ${requestId})` : ""));
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }

  /** Whether the code is one of the document's, with the status it is registered with. */
  get known(): boolean {
    return (ERROR_CODES as Record<string, number>)[this.code] === this.status;
  }
}

/** 400: the request is malformed (a body, a field, a query, an id). */
export class InvalidRequestError extends ApiError {}
/** 401: the signature or the credential was refused (invalid_signature, stale_timestamp, ...). */
export class AuthenticationError extends ApiError {}
/** 403: the client may not do this (scope_missing, client_bound), or a status stops it. */
export class PermissionDeniedError extends ApiError {}
/** 404: no such object, or one the client may not see. */
export class NotFoundError extends ApiError {}
/** 409: the object's state does not allow it, or a number was reused with other details. */
export class ConflictError extends ApiError {}
/** 422: a rule refused it (insufficient_funds, invalid_amount, idempotency_key_reused, ...). */
export class UnprocessableError extends ApiError {}
/** 429 rate_limited: nothing was done; retry after `retryAfter` seconds. */
export class RateLimitedError extends ApiError {}
/** 503: the server could not apply it now (ledger_unavailable, not_ready, audit_unavailable). */
export class UnavailableError extends ApiError {}

const BY_STATUS: Record<number, typeof ApiError> = {
  400: InvalidRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  422: UnprocessableError,
  429: RateLimitedError,
  503: UnavailableError,
};

export function errorFor(status: number, code: string, message: string, requestId?: string, retryAfter?: number): ApiError {
  const Type = BY_STATUS[status] ?? ApiError;
  return new Type(status, code, message, requestId, retryAfter);
}

/** A webhook delivery's signature headers are missing, malformed, stale or do not verify. */
export class WebhookSignatureError extends SanhuError {}
