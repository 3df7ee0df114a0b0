"""Typed errors. Every refusal of the API carries a stable code (the OpenAPI document's `ErrorCode`,
also in `sanhu.ERROR_CODES` with its HTTP status); branch on `code`, the message is for people."""

from typing import Optional

from ._api import ERROR_CODES


class SanhuError(Exception):
    """Anything this SDK raises."""


class ApiError(SanhuError):
    """The API answered with an error: `{"error": {"code", "message", "request_id"}}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ):
        super().__init__(f"{status} {code}: {message}" + (f" (request {request_id})" if request_id else ""))
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        #: Seconds the server asked to wait before retrying (Retry-After), if it said.
        self.retry_after = retry_after

    @property
    def known(self) -> bool:
        """Whether the code is one of the document's, with the status it is registered with."""
        return ERROR_CODES.get(self.code) == self.status


class InvalidRequestError(ApiError):
    """400: the request is malformed (a body, a field, a query, an id)."""


class AuthenticationError(ApiError):
    """401: the signature or the credential was refused (missing_signature, invalid_signature,
    stale_timestamp, replayed_nonce, unknown_client, ...)."""


class PermissionDeniedError(ApiError):
    """403: the client may not do this (scope_missing, client_bound) or a status stops it."""


class NotFoundError(ApiError):
    """404: no such object, or one the client may not see."""


class ConflictError(ApiError):
    """409: the object's state does not allow it, or a number was reused with other details."""


class UnprocessableError(ApiError):
    """422: a rule refused it (insufficient_funds, invalid_amount, idempotency_key_reused, ...)."""


class RateLimitedError(ApiError):
    """429 rate_limited: nothing was done; retry after `retry_after` seconds."""


class UnavailableError(ApiError):
    """503: the server could not apply it now (ledger_unavailable, not_ready, audit_unavailable)."""


_BY_STATUS = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
    429: RateLimitedError,
    503: UnavailableError,
}


def error_for(status: int, code: str, message: str, request_id=None, retry_after=None) -> ApiError:
    return _BY_STATUS.get(status, ApiError)(status, code, message, request_id, retry_after)


class WebhookSignatureError(SanhuError):
    """A webhook delivery's signature headers are missing, malformed, stale or do not verify."""
