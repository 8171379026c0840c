"""The hourly reminder run, and the delivery of each reminder.

The run (``reminders_run``), for one organization, at ``now``:

1. the open invoices (finalized, money due, a due date) that are not on hold: not disputed,
   no promise to pay on or after today, the customer not paused;
2. each invoice follows the policy of the *first* segment (in the team's order) it matches,
   evaluated in SQL (``receivables.segments``); an invoice matching no active policy gets
   nothing;
3. a step is due when ``today >= due_date + offset_days`` (today in the organization's time
   zone). Of the due steps not yet taken for the invoice, only the latest is sent -- and
   only when it is later than every step already taken -- the earlier ones are logged as
   skipped, so a customer never gets two reminders at once, nor an earlier one after a
   later;
4. one ``Reminder`` row per (invoice, step), unique by a database constraint: running the
   job five times a day (or twice at once) sends each step once. Rows of a statement-style
   policy for the same customer share one message.

Each message is delivered by its own task after commit (``reminder_deliver``): an invoice
paid (or put on hold) since the run is skipped, not reminded; the e-mail is rendered in the
sandbox and sent; a mail server that cannot be reached is retried with back-off by the task
and by the next hourly run; a template that fails is recorded on the reminder. The step's
action (retry the card, mark uncollectible, pause entitlements) runs once, after the
message, whatever became of it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from contracts.models import Customer
from invoicing.models import Invoice
from receivables import rendering, segments
from receivables.models import (
    CustomerHold,
    InvoiceHold,
    Reminder,
    ReminderPolicy,
    ReminderStep,
)
from zenskar import events
from zenskar.core.dates import local_date
from zenskar.money import round_money
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write

logger = logging.getLogger(__name__)

MAIL_SERVER = "Mail server: "  # how a failure worth another try starts
MAX_MAIL_ATTEMPTS = 12  # sends tried for one message, over the task's and the runs' retries
STALE_QUEUED = timedelta(minutes=15)  # a queued message older than this is queued again


@dataclass
class RunResult:
    queued: int = 0
    skipped: int = 0
    requeued: int = 0
    messages: list[uuid.UUID] = field(default_factory=list)
    failed_segments: list[str] = field(default_factory=list)


def eligible_invoices(organization: Organization, as_of: date) -> QuerySet[Invoice]:
    """Open invoices whose reminders are not on hold at ``as_of``."""
    held = InvoiceHold.objects.for_organization(organization).filter(
        Q(disputed=True) | Q(promised_on__gte=as_of)).values("invoice_id")
    paused = CustomerHold.objects.for_organization(organization).filter(
        paused=True).values("customer_id")
    return segments.open_invoices(organization).exclude(id__in=held).exclude(
        customer_id__in=paused)


def assignments(organization: Organization, *, as_of: date, now: datetime,
                invoices: QuerySet[Invoice] | None = None,
                ) -> tuple[dict[uuid.UUID, ReminderPolicy], list[str]]:
    """Which policy each eligible invoice follows: that of the first segment it matches.
    A segment whose rules cannot be compiled is reported, and the others go on."""
    candidates = invoices if invoices is not None else eligible_invoices(organization, as_of)
    policies = (ReminderPolicy.objects.for_organization(organization).filter(active=True)
                .select_related("segment").order_by("segment__position"))
    chosen: dict[uuid.UUID, ReminderPolicy] = {}
    failed = []
    for policy in policies:
        try:
            tree = segments.parse(policy.segment.rules)
            matching = candidates.filter(segments.invoice_filter(
                tree, organization=organization, as_of=as_of, now=now)).values_list(
                "id", flat=True)
            ids = list(matching)
        except ValidationError:
            failed.append(policy.segment.name)
            logger.warning("Segment %s has rules that cannot be used.", policy.segment_id)
            continue
        for invoice_id in ids:
            chosen.setdefault(invoice_id, policy)
    return chosen, failed


def _lock(organization: Organization) -> None:
    """One run at a time per organization (until the transaction ends); the constraint on
    reminders is the guarantee, the lock keeps two runs from both planning the same work."""
    digest = hashlib.blake2b(f"receivables.run:{organization.id}".encode(),
                             digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)",
                       [int.from_bytes(digest, "big", signed=True)])


def _plan(invoice: Invoice, steps: list[ReminderStep], taken: dict[str, int | None],
          as_of: date) -> tuple[ReminderStep | None, list[ReminderStep]]:
    """The step to send now, if any, and the due steps it supersedes."""
    assert invoice.due_date is not None
    days = (as_of - invoice.due_date).days
    due = [s for s in steps if s.offset_days <= days and str(s.id) not in taken]
    if not due:
        return None, []
    latest = max(due, key=lambda s: (s.offset_days, s.position))
    offsets = [o for o in taken.values() if o is not None]
    if offsets and latest.offset_days <= max(offsets):
        return None, due
    return latest, [s for s in due if s is not latest]


@transaction.atomic
def reminders_run(*, organization: Organization, now: datetime | None = None) -> RunResult:
    """Queue the reminders due at ``now`` (see the module docstring); deliveries start after
    commit. Safe to run any number of times."""
    now = now or timezone.now()
    as_of = local_date(organization.time_zone, now)
    _lock(organization)
    result = RunResult(requeued=_requeue(organization, now))
    chosen, result.failed_segments = assignments(organization, as_of=as_of, now=now)
    if not chosen:
        return result
    steps: dict[uuid.UUID, list[ReminderStep]] = defaultdict(list)
    for step in ReminderStep.objects.for_organization(organization).filter(
            policy_id__in={p.id for p in chosen.values()}):
        steps[step.policy_id].append(step)
    taken: dict[uuid.UUID, dict[str, int | None]] = defaultdict(dict)
    for invoice_id, key, offset in Reminder.objects.for_organization(organization).filter(
            invoice_id__in=list(chosen), step_key__regex=r"^[0-9a-f-]{36}$").values_list(
            "invoice_id", "step_key", "offset_days"):
        taken[invoice_id][key] = offset
    invoices = Invoice.objects.for_organization(organization).filter(
        id__in=list(chosen)).select_related("customer").order_by("due_date", "number")
    rows: list[Reminder] = []
    statements: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
    for invoice in invoices:
        policy = chosen[invoice.id]
        send, skipped = _plan(invoice, steps[policy.id], taken[invoice.id], as_of)
        for step in skipped:
            rows.append(_row(invoice, policy, step, Reminder.Status.SKIPPED, None,
                             detail="A later step was due at the same time."))
        if send is None:
            continue
        if policy.statement and send.channel == ReminderStep.Channel.EMAIL:
            message = statements.setdefault((policy.id, invoice.customer_id), uuid.uuid4())
        else:
            message = uuid.uuid4()
        status = (Reminder.Status.OPEN if send.channel == ReminderStep.Channel.TASK
                  else Reminder.Status.QUEUED)
        rows.append(_row(invoice, policy, send, status, message))
    messages = _insert(rows)
    result.queued = sum(1 for r in rows if r.message in messages)
    result.skipped = sum(1 for r in rows if r.status == Reminder.Status.SKIPPED)
    result.messages = sorted(messages)
    deliver_after_commit(organization, result.messages)
    return result


def _row(invoice: Invoice, policy: ReminderPolicy, step: ReminderStep, status: str,
         message: uuid.UUID | None, detail: str = "") -> Reminder:
    return Reminder(
        organization_id=invoice.organization_id, invoice=invoice,
        customer_id=invoice.customer_id, step=step, step_key=str(step.id),
        segment_name=policy.segment.name, offset_days=step.offset_days,
        channel=step.channel, action=step.action, status=status, message=message,
        detail=detail)


def _insert(rows: list[Reminder]) -> set[uuid.UUID]:
    """Insert the rows the constraint lets through; the messages that are ours (a row that
    lost to another run keeps that run's message)."""
    if not rows:
        return set()
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    wanted = {r.message for r in rows if r.message is not None}
    if not wanted:
        return set()
    organization_id = rows[0].organization_id
    return {m for m in Reminder.objects.for_organization(organization_id).filter(
        message__in=wanted).values_list("message", flat=True) if m is not None}


def deliver_after_commit(organization: Organization, messages: list[uuid.UUID]) -> None:
    from receivables import tasks

    def deliver(message: str) -> None:
        tasks.deliver_reminder.delay(str(organization.id), message)

    for message in messages:
        transaction.on_commit(functools.partial(deliver, str(message)))


def _requeue(organization: Organization, now: datetime) -> int:
    """Deliveries to try again: queued ones whose task was lost (older than
    ``STALE_QUEUED``) and e-mails the mail server refused, while attempts are left."""
    again = Reminder.objects.for_organization(organization).filter(
        Q(status=Reminder.Status.QUEUED, updated_at__lt=now - STALE_QUEUED)
        | Q(status=Reminder.Status.FAILED, detail__startswith=MAIL_SERVER,
            attempts__lt=MAX_MAIL_ATTEMPTS),
        message__isnull=False)
    messages = sorted({m for m in again.values_list("message", flat=True) if m is not None})
    again.update(status=Reminder.Status.QUEUED, updated_at=now)
    deliver_after_commit(organization, messages)
    return len(messages)


# --- delivery --------------------------------------------------------------------------------


def _still_due(organization: Organization, rows: list[Reminder], as_of: date) -> list[Reminder]:
    """The rows whose invoice still wants the reminder; the others are marked skipped."""
    by_hand = all(r.step_key.startswith("manual:") for r in rows)
    candidates = (segments.open_invoices(organization) if by_hand
                  else eligible_invoices(organization, as_of))
    open_ids = set(candidates.filter(id__in=[r.invoice_id for r in rows]).values_list(
        "id", flat=True))
    keep = []
    for row in rows:
        if row.invoice_id in open_ids:
            keep.append(row)
            continue
        row.status = Reminder.Status.SKIPPED
        row.invoice.refresh_from_db(fields=["status", "amount_due"])
        row.detail = ("Paid or closed before it was sent." if not segments.is_open(row.invoice)
                      else "On hold (a dispute, a promise to pay, or the customer paused).")
        row.save(update_fields=["status", "detail", "updated_at"])
    return keep


def reminder_deliver(*, organization: Organization, message: uuid.UUID | str,
                     retries_left: bool = False) -> str:
    """Deliver the queued rows of ``message``; returns what became of them ("sent",
    "skipped", "failed", "nothing"). With ``retries_left``, a mail server that cannot be
    reached raises ``OSError`` for the task to retry; otherwise it is recorded."""
    now = timezone.now()
    as_of = local_date(organization.time_zone, now)
    rows = list(Reminder.objects.for_organization(organization).filter(
        message=message, status__in=(Reminder.Status.QUEUED, Reminder.Status.OPEN))
        .select_related("invoice", "invoice__customer", "invoice__organization", "step")
        .order_by("invoice__due_date", "invoice__number"))
    if not rows:
        return "nothing"
    rows = _still_due(organization, rows, as_of)
    if not rows:
        return "skipped"
    channel = rows[0].channel
    if channel == ReminderStep.Channel.EMAIL:
        outcome = _email(organization, rows, as_of, now, retries_left=retries_left)
    elif channel == ReminderStep.Channel.WEBHOOK:
        outcome = _webhook(organization, rows, as_of, now)
    else:
        outcome = "open"
    for row in rows:
        _act(organization, row)
    return outcome


def _mark(rows: list[Reminder], **values: Any) -> None:
    Reminder.objects.for_organization(rows[0].organization_id).filter(
        id__in=[r.id for r in rows]).update(**values, updated_at=timezone.now())
    for row in rows:
        for name, value in values.items():
            setattr(row, name, value)


def _templates(row: Reminder) -> tuple[str, str]:
    """The step's subject and body; the default for what it leaves empty (and for a
    request by hand)."""
    step = row.step
    return ((step.subject if step else "") or rendering.DEFAULT_SUBJECT,
            (step.body if step else "") or rendering.DEFAULT_BODY)


def covered_invoices(organization: Organization, rows: list[Reminder],
                     statement: bool) -> list[Invoice]:
    """What one message covers: its rows' invoices, or for a statement-style policy every
    open invoice of the customer."""
    if not statement:
        return [r.invoice for r in rows]
    return list(segments.open_invoices(organization).filter(
        customer_id=rows[0].customer_id).select_related("customer", "organization")
        .order_by("due_date", "number"))


def message_content(organization: Organization, rows: list[Reminder], as_of: date, *,
                    links: bool = True) -> tuple[str, str]:
    """``(subject, html)`` of the message of ``rows`` (raises ``TemplateError``)."""
    from invoicing.delivery import payment_link

    statement = bool(rows[0].step and rows[0].step.policy.statement)
    invoices = covered_invoices(organization, rows, statement)
    urls = {i.id: payment_link(invoice=i) if links else (i.payment_url or None)
            for i in invoices}
    values = rendering.context(invoice=rows[0].invoice, invoices=invoices, as_of=as_of,
                               links=urls)
    subject, body = _templates(rows[0])
    return rendering.render(subject, body, values)


def _email(organization: Organization, rows: list[Reminder], as_of: date, now: datetime, *,
           retries_left: bool) -> str:
    customer: Customer = rows[0].invoice.customer
    recipients = list(customer.emails or [])
    if not recipients:
        _mark(rows, status=Reminder.Status.FAILED,
              detail="The customer has no e-mail address.")
        return "failed"
    try:
        subject, body = message_content(organization, rows, as_of)
    except rendering.TemplateError as error:
        _mark(rows, status=Reminder.Status.FAILED, detail=f"Template: {error.message}"[:2000])
        return "failed"
    _mark(rows, subject=subject, body=body, recipients=recipients,
          attempts=rows[0].attempts + 1)
    try:
        rendering.email_message(subject=subject, body=body, to=recipients).send(
            fail_silently=False)
    except OSError as error:
        if retries_left:
            raise
        _mark(rows, status=Reminder.Status.FAILED, detail=f"{MAIL_SERVER}{error}"[:2000])
        return "failed"
    _mark(rows, status=Reminder.Status.SENT, sent_at=now, detail="")
    return "sent"


def _webhook(organization: Organization, rows: list[Reminder], as_of: date,
             now: datetime) -> str:
    with transaction.atomic():
        for row in rows:
            invoice = row.invoice
            outbox_write(organization=organization, event_type="invoice.reminder",
                         subject_id=row.id, payload={
                             "reminder": str(row.id), "invoice": str(invoice.id),
                             "invoice_number": invoice.number,
                             "customer": invoice.customer.external_id,
                             "currency": invoice.currency,
                             "amount_due": str(round_money(invoice.amount_due,
                                                           invoice.currency)),
                             "due_date": invoice.due_date,
                             "days_past_due": (as_of - invoice.due_date).days
                             if invoice.due_date else None,
                             "segment": row.segment_name, "offset_days": row.offset_days})
        _mark(rows, status=Reminder.Status.SENT, sent_at=now)
    return "sent"


def _act(organization: Organization, row: Reminder) -> None:
    """The step's action, once (``action_done_at``); its outcome is written on the row. An
    action that fails is recorded, never raised: the message went out regardless."""
    if not row.action or row.action_done_at is not None:
        return
    try:
        with transaction.atomic():
            outcome = _action(organization, row)
    except Exception as error:  # an action refused (no card, already paid) is an outcome
        outcome = f"{ReminderStep.Action(row.action).label} did not happen: {_words(error)}"
    Reminder.objects.for_organization(organization).filter(id=row.id).update(
        action_done_at=timezone.now(), updated_at=timezone.now(),
        detail=((row.detail + " ") if row.detail else "") + outcome)


def _words(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or type(error).__name__


def _action(organization: Organization, row: Reminder) -> str:
    invoice = row.invoice
    if row.action == ReminderStep.Action.RETRY_CARD:
        from payments.services import invoice_charge

        payment = invoice_charge(invoice=invoice, initiated_by="reminder")
        return f"Card charged: {payment.status}."
    if row.action == ReminderStep.Action.MARK_UNCOLLECTIBLE:
        from invoicing.services import invoice_mark_uncollectible

        invoice_mark_uncollectible(invoice=invoice)
        return "Marked uncollectible."
    if row.action == ReminderStep.Action.PAUSE_ENTITLEMENTS:
        events.publish(events.DomainEvent(
            name="customer.entitlements_paused", organization_id=organization.id,
            payload={"customer": str(invoice.customer_id), "invoice": str(invoice.id),
                     "reason": f"Invoice {invoice.number} is unpaid."}))
        return "Entitlements paused."
    raise AssertionError(row.action)  # pragma: no cover -- the model's choices
