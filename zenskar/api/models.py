from django.db import models

from zenskar.tenancy.models import TenantModel


class IdempotencyKey(TenantModel):
    """The first response to a POST sent with an ``Idempotency-Key`` header.

    Unique per organization and key: the constraint, not a check in Python, is what makes a
    concurrent replay wait for the first request and then read its response.
    """

    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    content_type = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique")
        ]
