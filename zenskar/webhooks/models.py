from django.db import models

from zenskar.tenancy.models import TenantModel


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
