"""The request signature (docs/SECURITY.md): Ed25519 over

    SANHU-ED25519-V1\\n{METHOD}\\n{path and query, as sent}\\n{timestamp}\\n{nonce}\\n{hex SHA-256 of the body}

sent as four headers: X-Sanhu-Client, X-Sanhu-Timestamp (unix seconds), X-Sanhu-Nonce (16 to 64 of
[A-Za-z0-9_-], never reused) and X-Sanhu-Signature (standard base64 of the 64-byte signature).
"""

import base64
import hashlib
import secrets
import time
from typing import Dict, Optional, Union
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SCHEME = "SANHU-ED25519-V1"
CLIENT_HEADER = "X-Sanhu-Client"
TIMESTAMP_HEADER = "X-Sanhu-Timestamp"
NONCE_HEADER = "X-Sanhu-Nonce"
SIGNATURE_HEADER = "X-Sanhu-Signature"

Bytes = Union[bytes, str]


def _bytes(body: Optional[Bytes]) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else body


def body_sha256_hex(body: Optional[Bytes]) -> str:
    """Lower-case hex SHA-256 of the body (of the empty string for no body)."""
    return hashlib.sha256(_bytes(body)).hexdigest()


def signed_string(method: str, path_and_query: str, body: Optional[Bytes], timestamp: int, nonce: str) -> str:
    """The exact text that is signed. `path_and_query` is what the request line carries, byte for byte."""
    return f"{SCHEME}\n{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_sha256_hex(body)}"


def encode_component(value: str) -> str:
    """Percent-encodes a path segment or a query name or value: every byte of its UTF-8 but
    A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex; a space is %20, never +). The signature covers
    the query exactly as sent, so the SDK builds it with this one rule and signs what it sends."""
    return quote(str(value), safe="-._~")


def new_nonce() -> str:
    """32 hex characters of operating-system randomness."""
    return secrets.token_hex(16)


def load_private_key(private_key: Union[str, bytes, Ed25519PrivateKey]) -> Ed25519PrivateKey:
    """The key from the credential file's `private_key`: standard base64 of the 32-byte seed."""
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key
    seed = base64.b64decode(private_key, validate=True) if isinstance(private_key, str) else private_key
    if len(seed) != 32:
        raise ValueError("an Ed25519 private key (seed) is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_base64(private_key: Union[str, bytes, Ed25519PrivateKey]) -> str:
    raw = load_private_key(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key(public_key: Union[str, bytes, Ed25519PublicKey]) -> Ed25519PublicKey:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    raw = base64.b64decode(public_key, validate=True) if isinstance(public_key, str) else public_key
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


class Signer:
    """Signs requests as one API client."""

    def __init__(self, client_id: str, private_key: Union[str, bytes, Ed25519PrivateKey]):
        self.client_id = client_id
        self._key = load_private_key(private_key)

    def sign(
        self,
        method: str,
        path_and_query: str,
        body: Optional[Bytes] = None,
        timestamp: Optional[int] = None,
        nonce: Optional[str] = None,
    ) -> Dict[str, str]:
        """The four signature headers for one request (a fresh timestamp and nonce unless given)."""
        timestamp = int(time.time()) if timestamp is None else int(timestamp)
        nonce = new_nonce() if nonce is None else nonce
        text = signed_string(method, path_and_query, body, timestamp, nonce)
        signature = self._key.sign(text.encode("utf-8"))
        return {
            CLIENT_HEADER: self.client_id,
            TIMESTAMP_HEADER: str(timestamp),
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        }
