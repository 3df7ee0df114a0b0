"""Webhook signature verification (docs/WEBHOOKS.md). A delivery is a POST to the receiver's URL
signed by the same canonical form as a request, with sanhu's Ed25519 webhook key:

    SANHU-ED25519-V1\\nPOST\\n{the receiver URL's path and query, as sent}\\n{timestamp}\\n{nonce}\\n{hex SHA-256 of the body}

or, for a subscription made with "signature": "hmac-sha256", with HMAC-SHA256 keyed by the
subscription's secret (its text as shown, `whsec_` included) over the same lines but the first,
SANHU-HMAC-SHA256-V1. Both come with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature headers.
Verify the raw body bytes before parsing them, refuse a timestamp outside the tolerance, and
de-duplicate by the event's id.
"""

import base64
import binascii
import hashlib
import hmac
import time
from typing import Mapping, Optional, Tuple, Union

from cryptography.exceptions import InvalidSignature

from .errors import WebhookSignatureError
from .signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, body_sha256_hex, load_public_key, signed_string

DEFAULT_TOLERANCE_S = 300
HMAC_SCHEME = "SANHU-HMAC-SHA256-V1"


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    found = [v for k, v in headers.items() if k.lower() == wanted]
    if not found:
        raise WebhookSignatureError(f"the {name} header is missing")
    if len(found) > 1:
        raise WebhookSignatureError(f"the {name} header is given more than once")
    return found[0]


def _checked_headers(
    headers: Mapping[str, str], tolerance_s: int, now: Optional[float], signature_bytes: int
) -> Tuple[int, str, bytes]:
    """The timestamp, nonce and decoded signature, once the headers are well formed and fresh."""
    timestamp_text = _header(headers, TIMESTAMP_HEADER)
    nonce = _header(headers, NONCE_HEADER)
    signature_text = _header(headers, SIGNATURE_HEADER)
    if not timestamp_text.isdigit() or len(timestamp_text) > 12:
        raise WebhookSignatureError("the timestamp is not unix seconds")
    timestamp = int(timestamp_text)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise WebhookSignatureError("the timestamp is outside the tolerance")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSignatureError("the signature is not base64") from None
    if len(signature) != signature_bytes:
        raise WebhookSignatureError(f"the signature is not {signature_bytes} bytes")
    return timestamp, nonce, signature


def verify_webhook(
    public_key,
    path_and_query: str,
    headers: Mapping[str, str],
    body: Union[bytes, str],
    *,
    method: str = "POST",
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: Optional[float] = None,
) -> None:
    """Returns if the delivery is signed by `public_key` (base64 of 32 bytes, or raw bytes) and its
    timestamp is within `tolerance_s` of now; raises WebhookSignatureError otherwise."""
    timestamp, nonce, signature = _checked_headers(headers, tolerance_s, now, 64)
    text = signed_string(method.upper(), path_and_query, body, timestamp, nonce)
    try:
        load_public_key(public_key).verify(signature, text.encode("utf-8"))
    except InvalidSignature:
        raise WebhookSignatureError("the signature does not verify") from None


def hmac_signed_string(path_and_query: str, body: Union[bytes, str], timestamp: int, nonce: str) -> str:
    """The exact text an HMAC-signed delivery signs."""
    return f"{HMAC_SCHEME}\nPOST\n{path_and_query}\n{timestamp}\n{nonce}\n{body_sha256_hex(body)}"


def verify_webhook_hmac(
    secret: str,
    path_and_query: str,
    headers: Mapping[str, str],
    body: Union[bytes, str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: Optional[float] = None,
) -> None:
    """Returns if the delivery is signed with HMAC-SHA256 under `secret` (the `whsec_…` text shown
    when the subscription was made) and its timestamp is within `tolerance_s` of now; raises
    WebhookSignatureError otherwise. The tags are compared in constant time."""
    if not secret:
        raise WebhookSignatureError("the secret is empty")
    timestamp, nonce, signature = _checked_headers(headers, tolerance_s, now, 32)
    text = hmac_signed_string(path_and_query, body, timestamp, nonce)
    expected = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise WebhookSignatureError("the signature does not verify")
