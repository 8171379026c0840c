"""Secrets at rest (connector and gateway credentials): Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from ``FIELD_ENCRYPTION_KEY`` (a Fernet key) or, where unset, is derived from
``SECRET_KEY`` with HKDF, so a fresh installation works and a production one can rotate the
field key separately from Django's.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@cache
def _fernet() -> Fernet:
    key = os.environ.get("FIELD_ENCRYPTION_KEY")
    if not key:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"zenskar-field-encryption",
            info=b"fernet",
        ).derive(settings.SECRET_KEY.encode())
        key = base64.urlsafe_b64encode(derived).decode()
    return Fernet(key)


def encrypt_json(value: Any) -> bytes:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode())


def decrypt_json(token: bytes | memoryview) -> Any:
    try:
        return json.loads(_fernet().decrypt(bytes(token)))
    except InvalidToken:
        raise ValueError(
            "Stored credentials cannot be decrypted: FIELD_ENCRYPTION_KEY or SECRET_KEY changed."
        ) from None
