"""A thin client for the sanhu API."""

from . import models
from ._api import ERROR_CODES, OPERATIONS
from .client import Client, Response, build_query, new_idempotency_key
from .errors import (
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
)
from .signing import Signer, body_sha256_hex, encode_component, new_nonce, public_key_base64, signed_string
from .webhooks import hmac_signed_string, verify_webhook, verify_webhook_hmac

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "ERROR_CODES",
    "InvalidRequestError",
    "NotFoundError",
    "OPERATIONS",
    "PermissionDeniedError",
    "RateLimitedError",
    "Response",
    "SanhuError",
    "Signer",
    "UnavailableError",
    "UnprocessableError",
    "WebhookSignatureError",
    "body_sha256_hex",
    "build_query",
    "encode_component",
    "hmac_signed_string",
    "models",
    "new_idempotency_key",
    "new_nonce",
    "public_key_base64",
    "signed_string",
    "verify_webhook",
    "verify_webhook_hmac",
]
