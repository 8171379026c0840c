"""Closing a period: the checks a controller runs first, then a lock date nothing posts on or
before (a late event posts on the first open day: ``revrec.services.entry_post``).

Guarantees:
- closing first brings the books up to the day: the usage accrual and the recognition run
  through it, so what the period earned is in it;
- the checks that would leave the period wrong refuse the close (a ValidationError naming
  ``closed_through``, the problems listed) unless the caller overrides them with ``force``;
  the checks as they stood are kept on the close;
- the lock date only moves forward, except by ``period_reopen``, which is recorded as a close
  of its own (the history of closes is never edited);
- a close writes ``revenue.period_closed`` to the outbox in its transaction (the tenant's
  webhooks, after commit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from invoicing import selectors as invoicing_selectors
from invoicing.models import CreditGrant, Invoice
from revrec import postings, recognition
from revrec.models import JournalEntry, PeriodClose, RevenueSchedule
from revrec.services import lock_date, today
from zenskar import bounds
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write


@dataclass(frozen=True)
class Check:
    """One pre-close check: its name, whether it passed, whether it blocks the close, how
    many items it found and a sentence saying what to do."""

    name: str
    passed: bool
    blocking: bool
    count: int
    detail: str


def close_checks(*, organization: Organization, through: date) -> list[Check]:
    """The pre-close checks of the period ending ``through`` (inclusive)."""
    invoices = invoicing_selectors.invoices(organization=organization)
    drafts = invoices.filter(status=Invoice.Status.DRAFT, billing_date__lte=through).count()
    finalized_ids = [str(i) for i in invoices.exclude(status=Invoice.Status.DRAFT).filter(
        issue_date__lte=through).exclude(total=0).values_list("id", flat=True)]
    posted = set(JournalEntry.objects.for_organization(organization).filter(
        source_type=postings.FINALIZED, source_id__in=finalized_ids).values_list(
        "source_id", flat=True))
    unposted = len(set(finalized_ids) - posted)
    behind = RevenueSchedule.objects.for_organization(organization).filter(
        done=False, method=RevenueSchedule.Method.RATABLE, start_date__lte=through).filter(
        Q(recognized_through__lte=through)).count()
    unapplied = CreditGrant.objects.for_organization(organization).filter(
        kind__in=[CreditGrant.Kind.OVERPAYMENT, CreditGrant.Kind.PREPAID], remaining__gt=0,
        created_at__date__lte=through).count()
    return [
        Check("drafts_past_their_date", drafts == 0, True, drafts,
              f"{drafts} draft invoice(s) dated on or before {through.isoformat()}: finalize "
              "or delete them, so the period's billing is complete." if drafts else
              "No draft is dated in the period."),
        Check("unposted_events", unposted == 0, True, unposted,
              f"{unposted} finalized invoice(s) of the period have no ledger entry." if unposted
              else "Every finalized invoice of the period is posted."),
        Check("recognition_behind", behind == 0, True, behind,
              f"{behind} revenue schedule(s) are not recognized through "
              f"{through.isoformat()}." if behind else "Recognition is up to date."),
        Check("unapplied_payments", unapplied == 0, False, unapplied,
              f"{unapplied} payment(s) kept as customer credit are not applied to an "
              "invoice yet (a liability, not an error)." if unapplied
              else "No unapplied payment."),
    ]


def _check_day(through: object) -> date:
    if not isinstance(through, date):
        raise ValidationError({"closed_through": [ValidationError("A date.", code="invalid")]})
    try:
        bounds.date_in_bounds(through)
    except bounds.BoundError as error:
        raise ValidationError({"closed_through": [ValidationError(
            str(error), code="out_of_bounds")]}) from None
    return through


def period_close(*, organization: Organization, through: date, closed_by: str = "",
                 force: bool = False, note: str = "") -> PeriodClose:
    """Close the books through ``through`` (inclusive): accrue and recognize through it, run
    the checks, and -- when none that blocks fails, or ``force`` -- record the close. A date
    on or before the current lock date is refused (``period_reopen`` moves it back)."""
    through = _check_day(through)
    if through >= today(organization):
        raise ValidationError({"closed_through": [ValidationError(
            "Only a day that has ended closes: at the latest yesterday, in the "
            "organization's time zone.", code="not_ended")]})
    locked = lock_date(organization)
    if locked is not None and through <= locked:
        raise ValidationError({"closed_through": [ValidationError(
            f"The books are closed through {locked.isoformat()} already.",
            code="already_closed")]})
    if len(note) > 500 or bounds.text_problem(note):
        raise ValidationError({"note": [ValidationError("At most 500 characters of text.",
                                                        code="invalid")]})
    with transaction.atomic():  # a refused close leaves nothing behind
        postings.usage_accrue(organization=organization, through=through)
        recognition.recognize(organization=organization, through=through)
        checks = close_checks(organization=organization, through=through)
        failing = [check for check in checks if check.blocking and not check.passed]
        if failing and not force:
            raise ValidationError({"closed_through": [
                ValidationError(check.detail, code=check.name) for check in failing]})
        close = PeriodClose.objects.create(
            organization=organization, closed_through=through, closed_by=closed_by[:200],
            checks=[asdict(check) for check in checks], note=note.strip())
        outbox_write(organization=organization, event_type="revenue.period_closed",
                     subject_id=close.id, payload={
                         "period_close": str(close.id),
                         "closed_through": through.isoformat(),
                         "previous_lock_date": locked.isoformat() if locked else None,
                         "closed_by": close.closed_by, "forced": bool(failing),
                         "note": close.note})
        return close


def period_reopen(*, organization: Organization, through: date | None, reopened_by: str = "",
                  note: str = "") -> PeriodClose:
    """Move the lock date back to ``through`` (None: the first day ever is open again),
    recorded as a close of its own."""
    locked = lock_date(organization)
    if locked is None:
        raise ValidationError({"closed_through": [ValidationError(
            "No period is closed.", code="not_closed")]})
    day = _check_day(through) if through is not None else date(1970, 1, 1) - timedelta(days=1)
    if day >= locked:
        raise ValidationError({"closed_through": [ValidationError(
            f"Reopening moves the lock date back, before {locked.isoformat()}.",
            code="not_earlier")]})
    return PeriodClose.objects.create(
        organization=organization, closed_through=day, closed_by=reopened_by[:200],
        note=(note or f"Reopened after {day.isoformat()}")[:500])
