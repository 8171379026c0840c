"""Signing outbound webhooks by the Standard Webhooks scheme (standardwebhooks.com, v1:
HMAC-SHA256). Pure: no Django, so a receiver's implementation can be read beside it.

- A secret is ``whsec_`` + base64 of 32 random bytes (the scheme asks for 24 to 64); the key
  is those bytes, base64-decoded.
- The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``: the message id (the same
  on every attempt), the attempt's time in Unix seconds, and the exact bytes sent.
- ``webhook-signature`` is ``v1,<base64 of the HMAC>``, one per valid secret, separated by a
  space: during a rotation both the new secret and the one it replaces sign, and a receiver
  accepts the message when any one of them verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"
SECRET_BYTES = 32
VERSION = "v1"


def secret_generate() -> str:
    """A new signing secret."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: the bytes its base64 text stands for."""
    return base64.b64decode(secret.removeprefix(PREFIX), validate=True)


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{message_id}.{timestamp}.{body}``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets_: Iterable[str], *, message_id: str, timestamp: int,
                     body: bytes) -> str:
    """The ``webhook-signature`` header: a signature per secret, space-separated."""
    return " ".join(signature(secret, message_id=message_id, timestamp=timestamp, body=body)
                    for secret in secrets_)


def headers(secrets_: Iterable[str], *, message_id: str, timestamp: int,
            body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, message_id=message_id,
                                              timestamp=timestamp, body=body),
    }
