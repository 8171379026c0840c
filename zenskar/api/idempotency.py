"""``Idempotency-Key`` for POST requests.

The key's row is inserted in the same transaction as the work. A concurrent request with the
same key blocks on the unique index until the first commits, then finds the row and replays its
response; if the first failed with a 5xx, everything rolled back and the retry does the work.

- same key, same body -> the first response, byte for byte, with ``Idempotent-Replayed: true``;
- same key, another body or path -> 409 ``idempotency_conflict``;
- 4xx responses are kept and replayed too (the request was wrong, resending will not fix it);
- keys are kept ``IDEMPOTENCY_KEY_TTL_HOURS`` hours, then purged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone

from zenskar.api.errors import IdempotencyConflict
from zenskar.api.models import IdempotencyKey
from zenskar.tenancy.models import Organization

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class _Rollback(Exception):
    def __init__(self, response):
        self.response = response


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body or b""),
        status=record.status_code,
        content_type=record.content_type or "application/json",
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(
    *, organization: Organization, key: str, method: str, path: str, body: bytes,
    handler: Callable[[], HttpResponse], redact: tuple[str, ...] = (),
) -> HttpResponse:
    """Run ``handler`` once per (organization, key); replay its response afterwards.

    ``redact`` names top-level response fields never written to the table (an API key's
    secret, shown once): a replay returns them as null.
    """
    fingerprint = request_fingerprint(method=method, path=path, body=body)
    try:
        with transaction.atomic():
            created = IdempotencyKey.objects.bulk_create(
                [
                    IdempotencyKey(
                        organization=organization, key=key, request_hash=fingerprint,
                        method=method, path=path[:500],  # for people; the hash has it whole
                    )
                ],
                ignore_conflicts=True,
            )
            record = (IdempotencyKey.objects.for_organization(organization)
                      .select_for_update().get(key=key))
            if record.request_hash != fingerprint:
                raise IdempotencyConflict(
                    f"Idempotency-Key {key!r} was already used with a different request."
                )
            if record.status_code is not None:
                return _replay(record)
            del created
            response = handler()
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            if response.status_code >= 500:
                raise _Rollback(response)
            record.status_code = response.status_code
            record.response_body = _redacted(response.content, redact)
            record.content_type = response.get("Content-Type", "")
            record.save(update_fields=["status_code", "response_body", "content_type"])
            return response
    except _Rollback as rollback:
        return rollback.response


def _redacted(content: bytes, fields: tuple[str, ...]) -> bytes:
    if not fields:
        return content
    try:
        body = json.loads(content)
    except ValueError:
        return content
    if isinstance(body, dict):
        body.update({name: None for name in fields if name in body})
    return json.dumps(body, separators=(",", ":")).encode()


def purge_expired(*, organization: Organization) -> int:
    """Delete this organization's keys older than the TTL. Returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.for_organization(organization).filter(
        created_at__lt=cutoff).delete()
    return deleted
