"""Webhook signature verification, for the scheme planned in issue 18 ("Signed webhooks"): sanhu does
not send webhooks yet. A delivery is a POST to the receiver's URL signed with sanhu's webhook key by
the same canonical form as a request:

    SANHU-ED25519-V1\\nPOST\\n{the receiver URL's path and query, as sent}\\n{timestamp}\\n{nonce}\\n{hex SHA-256 of the body}

with X-Sanhu-Timestamp, X-Sanhu-Nonce and X-Sanhu-Signature headers. Verify the raw body bytes
before parsing them, refuse a timestamp outside the tolerance, and de-duplicate by the event's id.
"""

import base64
import binascii
import time
from typing import Mapping, Optional, Union

from cryptography.exceptions import InvalidSignature

from .errors import WebhookSignatureError
from .signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, load_public_key, signed_string

DEFAULT_TOLERANCE_S = 300


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    found = [v for k, v in headers.items() if k.lower() == wanted]
    if not found:
        raise WebhookSignatureError(f"the {name} header is missing")
    if len(found) > 1:
        raise WebhookSignatureError(f"the {name} header is given more than once")
    return found[0]


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
    if len(signature) != 64:
        raise WebhookSignatureError("the signature is not 64 bytes")
    text = signed_string(method.upper(), path_and_query, body, timestamp, nonce)
    try:
        load_public_key(public_key).verify(signature, text.encode("utf-8"))
    except InvalidSignature:
        raise WebhookSignatureError("the signature does not verify") from None
