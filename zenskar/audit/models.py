"""The audit trail: one row per write to an audited table, written by the database itself.

A PL/pgSQL trigger on every audited table (``zenskar/audit/migrations/0001_initial.py``) writes
the row in the writing transaction -- whatever wrote (a service, a bulk update, raw SQL), so no
write path can skip it, and a rolled-back write leaves no row. Who and from where come from the
connection's settings (``zenskar.audit.context``); with none set, the row says "system".

What the database guarantees, not Python:
- rows are never updated, deleted nor truncated: a trigger refuses it for every role that
  fires triggers (the owner too), and the application role is granted SELECT only -- it
  cannot even insert (the trigger function writes as the owner);
- row-level security, like every tenant table: an organization reads its own rows only;
- ``sequence`` (an identity) orders the rows as they were written.

The organization is a plain column (a foreign key without a database constraint): deleting an
organization or a customer never needs to touch its history.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.db import models

from zenskar.tenancy.models import TenantModel


class ExactJSONDecoder(json.JSONDecoder):
    """JSON whose numbers with a fraction read as ``Decimal``: an amount of a change
    ("500.0000") stays exact, never a float."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


class Channel(models.TextChoices):
    API = "api", "API"
    DASHBOARD = "dashboard", "Dashboard"
    TASK = "task", "Background task"
    SYSTEM = "system", "System"
    CHECKOUT = "checkout", "Hosted payment page"
    WEBHOOK = "webhook", "Gateway webhook"


class ActorType(models.TextChoices):
    USER = "user", "Person"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "System"


class Action(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"


class AuditEvent(TenantModel):
    """One write to one row: who, what, before and after, when, from where."""

    # Not a database foreign key: the history outlives the organization's rows.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.DO_NOTHING,
                                     db_constraint=False, db_index=False, related_name="+")
    created_at = None  # ``occurred_at`` says when
    sequence = models.BigIntegerField(editable=False, help_text="Write order (an identity).")
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True,
                                help_text="The user's id or the API key's id; empty for system.")
    actor_label = models.CharField(max_length=255, blank=True,
                                   help_text="The user's e-mail, the key's name, the task's name.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    object_type = models.CharField(max_length=40)
    object_id = models.UUIDField()
    parent_id = models.UUIDField(
        null=True, blank=True,
        help_text="The object whose page lists this one (a line's invoice, a phase's contract).")
    action = models.CharField(max_length=8, choices=Action.choices)
    label = models.CharField(max_length=255, blank=True, help_text="The object's name or number.")
    changes = models.JSONField(null=True, blank=True, decoder=ExactJSONDecoder,
                               help_text="A change: {field: [old, new]}, the changed fields only.")
    snapshot = models.JSONField(null=True, blank=True, decoder=ExactJSONDecoder,
                                help_text="Created or deleted: the row as it was.")

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            models.Index(fields=["organization", "-sequence"], name="audit_event_newest"),
            models.Index(fields=["object_id", "-sequence"], name="audit_event_object"),
            models.Index(fields=["parent_id", "-sequence"], name="audit_event_parent",
                         condition=models.Q(parent_id__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(channel__in=Channel.values),
                                   name="audit_event_channel"),
            models.CheckConstraint(condition=models.Q(actor_type__in=ActorType.values),
                                   name="audit_event_actor_type"),
            models.CheckConstraint(condition=models.Q(action__in=Action.values),
                                   name="audit_event_action"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.label or self.object_id} {self.action}"
