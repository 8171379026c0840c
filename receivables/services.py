"""Every write of receivables: segments and their order, reminder policies and their steps,
holds (a dispute, a promise to pay, a paused customer), "Request payment" by hand, and a
task marked done. Used by the API and the dashboard alike; validation lives here. The hourly
run and the delivery of reminders are ``receivables.reminders``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from contracts.models import Customer
from invoicing.models import Invoice
from receivables import reminders, rendering, segments
from receivables.models import (
    CustomerHold,
    InvoiceHold,
    Reminder,
    ReminderPolicy,
    ReminderStep,
    Segment,
)
from zenskar import bounds
from zenskar.tenancy.models import Organization

MAX_SEGMENTS = 200
MAX_STEPS = 20
MAX_OFFSET_DAYS = 3650
TEXT_LIMITS = {"name": 200, "description": 2000, "reason": 500, "note": 500,
               "dispute_reason": 500}


def _refuse(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _text(value: Any, field: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _refuse(field, "Text.")
    limit = TEXT_LIMITS.get(field, 200)
    value = value.strip()
    if required and not value:
        raise _refuse(field, "Required.", "required")
    if len(value) > limit:
        raise _refuse(field, f"At most {limit} characters.", "max_length")
    if problem := bounds.text_problem(value):
        raise _refuse(field, problem)
    return str(value)


def _actor(who: str) -> str:
    """Who asked, as recorded (cut to the column, never refused: it is not input)."""
    return "".join(ch for ch in str(who) if ch != "\x00")[:200]


def _lock_segments(organization: Organization) -> None:
    """One change of the segments' order at a time per organization (until commit)."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()


# --- segments --------------------------------------------------------------------------------


@transaction.atomic
def segment_create(*, organization: Organization, name: str, rules: Any,
                   description: str = "") -> Segment:
    """A new segment, last in the order."""
    name = _text(name, "name", required=True)
    tree = segments.parse(rules)
    _lock_segments(organization)
    existing = Segment.objects.for_organization(organization)
    if existing.count() >= MAX_SEGMENTS:
        raise _refuse("name", f"At most {MAX_SEGMENTS} segments.", "too_many")
    if existing.filter(name=name).exists():
        raise _refuse("name", "A segment with this name exists.", "unique")
    position = (existing.aggregate(top=Max("position"))["top"] or 0) + 1
    try:
        with transaction.atomic():
            return Segment.objects.create(organization=organization, name=name, rules=tree,
                                          description=_text(description, "description"),
                                          position=position)
    except IntegrityError:
        raise _refuse("name", "A segment with this name exists.", "unique") from None


@transaction.atomic
def segment_update(*, segment: Segment, name: str | None = None, rules: Any = None,
                   description: str | None = None) -> Segment:
    if name is not None:
        name = _text(name, "name", required=True)
        if Segment.objects.for_organization(segment.organization_id).filter(
                name=name).exclude(pk=segment.pk).exists():
            raise _refuse("name", "A segment with this name exists.", "unique")
        segment.name = name
    if rules is not None:
        segment.rules = segments.parse(rules)
    if description is not None:
        segment.description = _text(description, "description")
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise _refuse("name", "A segment with this name exists.", "unique") from None
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete the segment and its policy; the reminders already sent stay in the log."""
    segment.delete()


@transaction.atomic
def segments_order(*, organization: Organization, ids: list[Any]) -> list[Segment]:
    """Set the order: ``ids`` lists every segment once, first match first."""
    _lock_segments(organization)
    existing = {str(s.id): s for s in Segment.objects.for_organization(organization)}
    given = [str(i) for i in ids] if isinstance(ids, list) else None
    if given is None or sorted(given) != sorted(existing):
        raise _refuse("ids", "List every segment's id once.")
    for position, segment_id in enumerate(given, start=1):
        segment = existing[segment_id]
        if segment.position != position:
            segment.position = position
            segment.save(update_fields=["position", "updated_at"])
    return [existing[i] for i in given]


# --- policies --------------------------------------------------------------------------------


def _step(raw: Any, index: int) -> dict[str, Any]:
    where = f"steps.{index}"
    if not isinstance(raw, dict):
        raise _refuse(where, "A step is {offset_days, channel, subject, body, action}.")
    unknown = set(raw) - {"id", "offset_days", "channel", "subject", "body", "action"}
    if unknown:
        raise _refuse(where, "Unknown keys: " + ", ".join(sorted(map(str, unknown))) + ".")
    offset = raw.get("offset_days")
    if isinstance(offset, bool) or not isinstance(offset, int) or not (
            -MAX_OFFSET_DAYS <= offset <= MAX_OFFSET_DAYS):
        raise _refuse(f"{where}.offset_days", f"Whole days from -{MAX_OFFSET_DAYS} to "
                                              f"{MAX_OFFSET_DAYS} (negative: before due).")
    channel = raw.get("channel", ReminderStep.Channel.EMAIL)
    if channel not in ReminderStep.Channel.values:
        raise _refuse(f"{where}.channel", "One of " + ", ".join(ReminderStep.Channel.values))
    action = raw.get("action") or ""
    if action not in ReminderStep.Action.values:
        raise _refuse(f"{where}.action", "One of " + ", ".join(
            v for v in ReminderStep.Action.values if v) + ", or empty.")
    subject, body = raw.get("subject") or "", raw.get("body") or ""
    for name, value, limit in (("subject", subject, rendering.MAX_SUBJECT_SOURCE),
                               ("body", body, rendering.MAX_BODY_SOURCE)):
        if not isinstance(value, str) or bounds.text_problem(value):
            raise _refuse(f"{where}.{name}", "Template text.")
        if len(value) > limit:
            raise _refuse(f"{where}.{name}", f"At most {limit:,} characters.", "max_length")
    if channel in (ReminderStep.Channel.EMAIL, ReminderStep.Channel.TASK):
        # empty: the default template, at run time (so it follows the defaults' changes)
        try:
            rendering.template_check(subject or rendering.DEFAULT_SUBJECT,
                                     body or rendering.DEFAULT_BODY)
        except rendering.TemplateError as error:
            raise _refuse(f"{where}.body" if error.message.startswith("Body")
                          else f"{where}.subject", error.message, "template") from None
    return {"id": raw.get("id"), "index": index, "offset_days": offset, "channel": channel,
            "subject": subject, "body": body, "action": action}


@transaction.atomic
def policy_set(*, segment: Segment, steps: Any, active: bool = True,
               statement: bool = False) -> ReminderPolicy:
    """The segment's policy, its steps replaced by ``steps`` (ordered by offset). A step
    given with its ``id`` keeps its identity -- what it already sent stays sent; a step
    left out is deleted (its reminders stay in the log)."""
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise _refuse("steps", f"1 to {MAX_STEPS} steps.")
    for name, flag in (("active", active), ("statement", statement)):
        if not isinstance(flag, bool):
            raise _refuse(name, "true or false.")
    clean = sorted((_step(raw, i) for i, raw in enumerate(steps)),
                   key=lambda s: s["offset_days"])
    offsets = [s["offset_days"] for s in clean]
    if len(set(offsets)) != len(offsets):
        raise _refuse("steps", "Two steps on the same day: give each its own offset.",
                      "duplicate_offset")
    policy, _ = ReminderPolicy.objects.get_or_create(
        organization_id=segment.organization_id, segment=segment,
        defaults={"active": active, "statement": statement})
    policy.active, policy.statement = active, statement
    policy.save()
    existing = {str(s.id): s for s in policy.steps.all()}
    kept = set()
    for position, values in enumerate(clean, start=1):
        step_id = str(values.pop("id") or "")
        step = existing.get(step_id)
        if step_id and step is None:
            raise _refuse(f"steps.{values.pop('index')}.id",
                          f"No step {step_id[:40]} in this policy.", "unknown_step")
        values.pop("index")
        if step is None:
            step = ReminderStep(organization_id=segment.organization_id, policy=policy)
        for name, value in values.items():
            setattr(step, name, value)
        step.position = position
        step.save()
        kept.add(str(step.id))
    policy.steps.exclude(id__in=kept).delete()
    return policy


@transaction.atomic
def policy_delete(*, policy: ReminderPolicy) -> None:
    policy.delete()


# --- holds -----------------------------------------------------------------------------------


@transaction.atomic
def invoice_hold_set(*, invoice: Invoice, disputed: bool | None = None,
                     dispute_reason: str | None = None,
                     promised_on: date | None | str = "", note: str | None = None) -> InvoiceHold:
    """Flag an invoice: disputed (reminders wait until the dispute is cleared), or promised
    to be paid by a date (reminders resume the day after). ``promised_on=None`` clears the
    promise; leaving it out keeps it."""
    hold, _ = InvoiceHold.objects.get_or_create(organization_id=invoice.organization_id,
                                                invoice=invoice)
    if disputed is not None:
        if not isinstance(disputed, bool):
            raise _refuse("disputed", "true or false.")
        hold.disputed = disputed
    if dispute_reason is not None:
        hold.dispute_reason = _text(dispute_reason, "dispute_reason")
    if promised_on != "":
        if isinstance(promised_on, str):
            try:
                promised_on = date.fromisoformat(promised_on)
            except ValueError:
                raise _refuse("promised_on", "A date: YYYY-MM-DD.") from None
        if promised_on is not None and not bounds.MIN_DATE <= promised_on <= bounds.MAX_DATE:
            raise _refuse("promised_on", f"Between {bounds.MIN_DATE} and {bounds.MAX_DATE}.",
                          "out_of_bounds")
        hold.promised_on = promised_on
    if note is not None:
        hold.note = _text(note, "note")
    hold.save()
    return hold


@transaction.atomic
def customer_hold_set(*, customer: Customer, paused: bool, reason: str = "") -> CustomerHold:
    """Pause (or resume) every reminder to ``customer``."""
    if not isinstance(paused, bool):
        raise _refuse("paused", "true or false.")
    hold, _ = CustomerHold.objects.get_or_create(organization_id=customer.organization_id,
                                                 customer=customer)
    hold.paused, hold.reason = paused, _text(reason, "reason")
    hold.save()
    return hold


# --- by hand ---------------------------------------------------------------------------------


@transaction.atomic
def payment_request(*, invoice: Invoice, requested_by: str) -> Reminder:
    """"Request payment": the reminder e-mail (the default template) to the customer now,
    by hand, logged like the others; delivered after commit. A person asking overrides the
    holds (a dispute, a promise, a paused customer): they are for the automatic run."""
    if not segments.is_open(invoice):
        raise _refuse("invoice", "Only a finalized invoice with money due.", "not_payable")
    if not invoice.customer.emails:
        raise _refuse("invoice", "The customer has no e-mail address.", "no_email")
    message = uuid.uuid4()
    reminder = Reminder.objects.create(
        organization_id=invoice.organization_id, invoice=invoice,
        customer_id=invoice.customer_id, step_key=f"manual:{message}",
        channel=ReminderStep.Channel.EMAIL, status=Reminder.Status.QUEUED, message=message,
        requested_by=_actor(requested_by))
    reminders.deliver_after_commit(invoice.organization, [message])
    return reminder


@transaction.atomic
def reminder_task_done(*, reminder: Reminder, done_by: str) -> Reminder:
    reminder = Reminder.objects.for_organization(reminder.organization_id).select_for_update(
    ).get(pk=reminder.pk)
    if reminder.channel != ReminderStep.Channel.TASK or reminder.status != Reminder.Status.OPEN:
        raise _refuse("reminder", "Only an open task.", "not_open")
    reminder.status, reminder.sent_at = Reminder.Status.DONE, timezone.now()
    reminder.requested_by = _actor(done_by)
    reminder.save(update_fields=["status", "sent_at", "requested_by", "updated_at"])
    return reminder
