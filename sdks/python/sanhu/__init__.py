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
from .webhooks import verify_webhook

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
    "models",
    "new_idempotency_key",
    "new_nonce",
    "public_key_base64",
    "signed_string",
    "verify_webhook",
]
