"""Getting invoices paid: customer segments, the reminder policy of each segment, the log of
every reminder sent, and the holds that pause reminders (a disputed invoice, a promise to pay,
a customer paused by hand).

Tables and their invariants only; every write goes through ``receivables.services``. A
segment's rules are compiled to SQL in ``receivables.segments``; the hourly run that sends
the reminders is ``receivables.reminders``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from zenskar.tenancy.models import TenantModel


class Segment(TenantModel):
    """A dynamic group of customers (and of their open invoices): a tree of rules, evaluated
    in SQL whenever it is read, so membership follows the data. ``position`` orders the
    segments: an invoice follows the policy of the first segment it matches."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    rules = models.JSONField(help_text="{'match': 'all'|'any', 'rules': [...]} (see "
                                       "receivables.segments).")
    position = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="segment_name_unique"),
            models.UniqueConstraint(fields=["organization", "position"],
                                    name="segment_position_unique",
                                    deferrable=models.Deferrable.DEFERRED),
        ]

    def __str__(self) -> str:
        return self.name


class ReminderPolicy(TenantModel):
    """The reminders of one segment's open invoices: ordered steps. ``statement``: one
    e-mail per customer covering all of their open invoices a step is due on."""

    segment = models.OneToOneField(Segment, on_delete=models.CASCADE, related_name="policy")
    active = models.BooleanField(default=True)
    statement = models.BooleanField(
        default=False, help_text="One message covers all of a customer's open invoices.")
    updated_at = models.DateTimeField(auto_now=True)


class ReminderStep(TenantModel):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail to the customer"
        WEBHOOK = "webhook", "Outbound webhook event"
        TASK = "task", "A task for a person"

    class Action(models.TextChoices):
        NONE = "", "None"
        RETRY_CARD = "retry_card", "Retry the card"
        MARK_UNCOLLECTIBLE = "mark_uncollectible", "Mark the invoice uncollectible"
        PAUSE_ENTITLEMENTS = "pause_entitlements", "Pause the customer's entitlements"

    policy = models.ForeignKey(ReminderPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    offset_days = models.SmallIntegerField(
        help_text="Days from the due date (negative: before it is due).")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    subject = models.CharField(max_length=1000, blank=True)
    body = models.TextField(blank=True)
    action = models.CharField(max_length=24, choices=Action.choices, blank=True, default="")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="step_position_unique",
                                    deferrable=models.Deferrable.DEFERRED),
        ]


class Reminder(TenantModel):
    """One reminder about one invoice: what went out (or is going), by which channel, and
    what became of it. A policy's step reminds an invoice at most once (the constraint); a
    reminder asked for by a person ("Request payment") has no step. A statement-style
    message has one row per invoice, sharing ``message``."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        OPEN = "open", "Open task"
        DONE = "done", "Task done"

    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.CASCADE,
                                related_name="+")
    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    step = models.ForeignKey(ReminderStep, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="reminders")
    step_key = models.CharField(
        max_length=64, help_text="The step's id while it exists; 'manual:<uuid>' by hand.")
    segment_name = models.CharField(max_length=200, blank=True)
    offset_days = models.SmallIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=8, choices=ReminderStep.Channel.choices)
    action = models.CharField(max_length=24, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    message = models.UUIDField(null=True, blank=True, help_text="Shared by one e-mail's rows.")
    recipients = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=1000, blank=True)
    body = models.TextField(blank=True)
    detail = models.TextField(blank=True, help_text="Why skipped or failed; the action's result.")
    attempts = models.PositiveSmallIntegerField(default=0)
    action_done_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=200, blank=True,
                                    help_text="Who asked (empty for the hourly run).")
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "invoice", "step_key"],
                                    name="reminder_step_once_per_invoice"),
        ]
        indexes = [
            models.Index(fields=["organization", "customer", "-created_at"]),
            models.Index(fields=["organization", "status"], condition=Q(status="queued"),
                         name="reminder_queued"),
        ]


class InvoiceHold(TenantModel):
    """Why an invoice's reminders wait: it is disputed, or the customer promised to pay by a
    date (reminders resume the day after it)."""

    invoice = models.OneToOneField("invoicing.Invoice", on_delete=models.CASCADE,
                                   related_name="+")
    disputed = models.BooleanField(default=False)
    dispute_reason = models.CharField(max_length=500, blank=True)
    promised_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class CustomerHold(TenantModel):
    """A customer whose reminders are paused by hand."""

    customer = models.OneToOneField("contracts.Customer", on_delete=models.CASCADE,
                                    related_name="+")
    paused = models.BooleanField(default=True)
    reason = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
