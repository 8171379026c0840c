"""The outbox, and the webhooks delivered from it: the tenants' endpoints, one delivery per
endpoint and event, and every attempt made."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from zenskar.tenancy.models import TenantModel

MAX_URL_LENGTH = 2000


class OutboxEvent(TenantModel):
    """A domain event written in the same transaction as the change it reports
    (``invoice.finalized``...). Delivery -- webhooks, e-mail, integrations -- reads the outbox
    after commit, so an event exists if and only if its change committed."""

    event_type = models.CharField(max_length=100)
    subject_id = models.CharField(max_length=64, help_text="The id of the object it is about.")
    payload = models.JSONField(default=dict)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["organization", "dispatched_at", "created_at"],
                                name="outbox_pending")]
        constraints = [
            # the same event about the same object is written once, however often it is retried
            models.UniqueConstraint(fields=["organization", "event_type", "subject_id"],
                                    name="outbox_event_once")
        ]

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` of its messages: the same on every attempt and replay."""
        return f"msg_{self.id.hex}"


class Endpoint(TenantModel):
    """A URL of the tenant's that receives the events it subscribes to (all when
    ``event_types`` is empty), signed with its secret."""

    url = models.CharField(max_length=MAX_URL_LENGTH)
    description = models.CharField(max_length=500, blank=True)
    event_types = ArrayField(models.CharField(max_length=100), default=list, blank=True,
                             help_text="The event types it receives; empty: every one.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # {"current": "whsec_...", "previous": "whsec_..." (during a rotation)}, encrypted at rest
    # (zenskar.crypto); never listed, revealed to owners and admins only.
    encrypted_secrets = models.BinaryField()
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until when the secret before the last rotation signs "
                                         "too.")
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failed attempt since the last success.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(enabled=True) | ~models.Q(disabled_reason=""),
                                   name="webhook_endpoint_disabled_says_why"),
        ]

    def __str__(self) -> str:
        return self.url

    def receives(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class Delivery(TenantModel):
    """One event for one endpoint: pending until an attempt succeeds or the retry schedule
    runs out. One per endpoint and event (a constraint): dispatching again adds nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts_made = models.PositiveIntegerField(default=0)
    failed_in_run = models.PositiveSmallIntegerField(
        default=0, help_text="Failed attempts since it was created or last replayed: the step "
                             "of the retry schedule.")
    replays = models.PositiveIntegerField(default=0)
    replay_pending = models.BooleanField(default=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=models.Q(status="pending", next_attempt_at__isnull=False)
                | (~models.Q(status="pending") & models.Q(next_attempt_at__isnull=True)),
                name="webhook_delivery_pending_is_due"),
        ]
        indexes = [
            models.Index(fields=["organization", "next_attempt_at"], name="webhook_delivery_due",
                         condition=models.Q(status="pending")),
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_log"),
        ]

    @property
    def message_id(self) -> str:
        return f"msg_{self.event_id.hex}"


class DeliveryAttempt(TenantModel):
    """One request made for a delivery: what was sent (headers, never a secret), what came
    back (the status, at most 500 characters of the body, shown to the tenant only), how
    long it took, and what went wrong in our words."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Scheduled"
        REPLAY = "replay", "Replay"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    due_at = models.DateTimeField(help_text="When it was due.")
    attempted_at = models.DateTimeField()
    url = models.CharField(max_length=MAX_URL_LENGTH)
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_once"),
        ]
