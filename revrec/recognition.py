"""Revenue schedules and the recognition run: deferred revenue earned day by day, as prepaid
units are used, and as breakage when a prepaid block expires.

Guarantees:
- a schedule is made once per invoice line (``source``, unique), in the transaction that
  posts the line's deferral;
- a ratable schedule recognizes through a day exactly ``amount x elapsed days / days``,
  rounded once to the currency (the cumulative figure, so the days add up to ``amount`` to
  the cent and no rounding drifts); what the run posts is that figure less what was
  recognized before;
- the run is idempotent per schedule and day: a ``Recognition`` row is unique per
  (schedule, day, kind, source) and is written in the transaction that posts its entry and
  moves the schedule's ``recognized``, under the schedule's row lock -- a retried or
  concurrent run recognizes a day once;
- missed days are caught up: a run recognizes every day from where the schedule stopped, in
  one step per calendar month (dated the month's last day), so the months of a report stay
  right after an outage;
- one schedule that fails stops nothing: a chunk that fails is retried schedule by schedule,
  and a schedule that still fails is logged and left for the next run;
- a day in a closed period posts on the first open day (``revrec.services.entry_post``).
"""

from __future__ import annotations

import calendar
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from revrec.models import Account, JournalEntry, Recognition, RevenueSchedule
from revrec.services import Posting, Refs, entry_post, today
from zenskar.core.ids import uuid7
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

logger = logging.getLogger(__name__)
Key = Account.SystemKey
Method = RevenueSchedule.Method
RECOGNIZED = "revenue.recognized"
CHUNK = 1000


@dataclass
class RunResult:
    """What one run did: schedules touched, recognitions written, entries posted, amounts per
    currency, schedules that failed (ids)."""

    through: date
    schedules: int = 0
    recognitions: int = 0
    entries: int = 0
    amounts: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    failed: list[str] = field(default_factory=list)


def schedule_create(*, organization: Organization, source: str, method: str, currency: str,
                    amount: Decimal, billed: Decimal, start_date: date,
                    end_date: date | None, invoice_id: uuid.UUID, customer_id: uuid.UUID,
                    invoice_line_id: uuid.UUID | None = None,
                    product_id: uuid.UUID | None = None,
                    contract_id: uuid.UUID | None = None,
                    price_item_id: uuid.UUID | None = None, units: Decimal | None = None,
                    modification: str = "", description: str = "") -> RevenueSchedule:
    """The schedule of one invoice line, once per ``source`` (the one made before, for a
    source seen before). A ratable schedule needs ``end_date`` after ``start_date``."""
    existing = RevenueSchedule.objects.for_organization(organization).filter(
        source=source).first()
    if existing is not None:
        return existing
    if method == Method.RATABLE and (end_date is None or end_date <= start_date):
        raise ValueError(f"A ratable schedule needs a period: {start_date} to {end_date}.")
    schedule, _ = RevenueSchedule.objects.get_or_create(
        organization=organization, source=source, defaults={
            "method": method, "currency": currency, "amount": amount, "billed": billed,
            "start_date": start_date, "end_date": end_date,
            "recognized_through": start_date if method == Method.RATABLE else None,
            "invoice_id": invoice_id, "invoice_line_id": invoice_line_id,
            "customer_id": customer_id, "product_id": product_id,
            "contract_id": contract_id, "price_item_id": price_item_id, "units": units,
            "modification": modification, "description": description[:500],
            "done": amount == 0})
    return schedule


# --- Arithmetic (no database) -----------------------------------------------------------------


def ratable_cumulative(amount: Decimal, currency: str, start: date, end: date,
                       through: date) -> Decimal:
    """What a ratable schedule of ``amount`` over ``[start, end)`` has earned by the start of
    ``through`` (exclusive), rounded once."""
    if through <= start:
        return Decimal(0)
    if through >= end:
        return amount
    days = (end - start).days
    return round_money(amount * (through - start).days / days, currency)


def month_steps(start: date, stop: date) -> list[date]:
    """The exclusive ends of the steps that cover ``[start, stop)``: each calendar month's
    next first day, and ``stop``."""
    steps = []
    cursor = start
    while cursor < stop:
        last = calendar.monthrange(cursor.year, cursor.month)[1]
        month_end = date(cursor.year, cursor.month, last) + timedelta(days=1)
        cursor = min(month_end, stop)
        steps.append(cursor)
    return steps


def _refs(schedule: RevenueSchedule) -> Refs:
    return Refs(invoice=schedule.invoice_id, customer=schedule.customer_id,
                product=schedule.product_id)


def _lines(schedule: RevenueSchedule, amount: Decimal, what: str) -> list[Posting]:
    """Dr deferred revenue / Cr revenue (the other way round for a negative amount)."""
    refs = _refs(schedule)
    text = f"{what}: {schedule.description}"[:300]
    if amount >= 0:
        return [Posting(Key.DEFERRED_REVENUE, debit=amount, refs=refs, description=text),
                Posting(Key.REVENUE, credit=amount, refs=refs, description=text)]
    return [Posting(Key.REVENUE, debit=-amount, refs=refs, description=text),
            Posting(Key.DEFERRED_REVENUE, credit=-amount, refs=refs, description=text)]


# --- The daily run ----------------------------------------------------------------------------


def recognize(*, organization: Organization, through: date | None = None,
              chunk: int = CHUNK) -> RunResult:
    """Recognize every open schedule of the organization through ``through`` (inclusive;
    yesterday in the organization's time zone when omitted: a day is recognized once it has
    ended), in chunks of ``chunk`` schedules, one transaction and one entry per chunk,
    currency and day. Then the breakage of prepaid blocks expired by then."""
    through = through or (today(organization) - timedelta(days=1))
    result = RunResult(through=through)
    stop = through + timedelta(days=1)
    due = (RevenueSchedule.objects.for_organization(organization)
           .filter(done=False, method=Method.RATABLE, recognized_through__lt=stop,
                   start_date__lt=stop)
           .order_by("id").values_list("id", flat=True))
    ids = list(due)
    for begin in range(0, len(ids), chunk):
        part = ids[begin:begin + chunk]
        try:
            _merge(result, _recognize_chunk(organization, part, stop))
        except Exception:
            logger.exception("recognition chunk of %s schedules failed; one by one", len(part))
            for schedule_id in part:
                try:
                    _merge(result, _recognize_chunk(organization, [schedule_id], stop))
                except Exception:
                    logger.exception("schedule %s of organization %s could not be recognized",
                                     schedule_id, organization.id)
                    result.failed.append(str(schedule_id))
    expired = (RevenueSchedule.objects.for_organization(organization)
               .filter(done=False, method=Method.DRAWDOWN, end_date__lte=stop)
               .order_by("id").values_list("id", flat=True))
    for schedule_id in list(expired):
        try:
            _merge(result, _breakage(organization, schedule_id, through))
        except Exception:
            logger.exception("breakage of schedule %s failed", schedule_id)
            result.failed.append(str(schedule_id))
    return result


def _merge(result: RunResult, part: RunResult) -> None:
    """A chunk's counts into the run's: only a chunk that committed counts."""
    result.schedules += part.schedules
    result.recognitions += part.recognitions
    result.entries += part.entries
    for currency, amount in part.amounts.items():
        result.amounts[currency] += amount


@transaction.atomic
def _recognize_chunk(organization: Organization, ids: Sequence[uuid.UUID],
                     stop: date) -> RunResult:
    result = RunResult(through=stop - timedelta(days=1))
    schedules = list(RevenueSchedule.objects.for_organization(organization)
                     .select_for_update(skip_locked=True)
                     .filter(id__in=ids, done=False, recognized_through__lt=stop)
                     .order_by("id"))
    # (currency, day) -> [(schedule, amount)]
    by_day: dict[tuple[str, date], list[tuple[RevenueSchedule, Decimal]]] = defaultdict(list)
    for schedule in schedules:
        assert schedule.end_date is not None and schedule.recognized_through is not None
        end = min(stop, schedule.end_date)
        recognized = schedule.recognized
        for step in month_steps(max(schedule.recognized_through, schedule.start_date), end):
            cumulative = ratable_cumulative(schedule.amount, schedule.currency,
                                            schedule.start_date, schedule.end_date, step)
            if cumulative != recognized:
                by_day[(schedule.currency, step - timedelta(days=1))].append(
                    (schedule, cumulative - recognized))
                recognized = cumulative
        schedule.recognized = recognized
        schedule.recognized_through = end
        schedule.done = end >= schedule.end_date
    if not schedules:
        return result
    recognitions: list[tuple[RevenueSchedule, date, Decimal, JournalEntry]] = []
    for (currency, day), items in sorted(by_day.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        entry = entry_post(
            organization=organization, source_type=RECOGNIZED,
            source_id=f"{day.isoformat()}:{currency}:{items[0][0].id}", currency=currency,
            effective_date=day, memo=f"Revenue recognized on {day.isoformat()}",
            lines=[line for schedule, amount in items
                   for line in _lines(schedule, amount, "Recognized")])
        result.entries += 1
        for schedule, amount in items:
            recognitions.append((schedule, day, amount, entry))
            result.amounts[currency] += amount
    _recognitions_insert(recognitions)
    _save_progress(schedules)
    result.schedules += len(schedules)
    result.recognitions += len(recognitions)
    return result


def _recognitions_insert(rows: list[tuple[RevenueSchedule, date, Decimal, JournalEntry]]) -> None:
    """The run's ``Recognition`` rows in one statement (unique per schedule, day and kind: a
    second run of the day fails here rather than recognize it twice)."""
    if not rows:
        return
    table = Recognition._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, organization_id, created_at, schedule_id, \"on\", "  # noqa: S608
            "kind, amount, entry_id, source) "
            "SELECT i, o, now(), s, d, %s, a, e, '' "
            "FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::date[], %s::numeric[], "
            "%s::uuid[]) AS v(i, o, s, d, a, e)",
            [Recognition.Kind.RATABLE, [uuid7() for _ in rows],
             [r[0].organization_id for r in rows],
             [r[0].id for r in rows], [r[1] for r in rows], [r[2] for r in rows],
             [r[3].id for r in rows]])


def _save_progress(schedules: list[RevenueSchedule]) -> None:
    """Each schedule's ``recognized``, ``recognized_through`` and ``done``, in one statement
    (arrays joined on the id: ``bulk_update``'s CASE per row costs more than the run)."""
    table = RevenueSchedule._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET recognized = v.recognized, "  # noqa: S608 - our table
            "recognized_through = v.through, done = v.done, updated_at = now() "
            "FROM unnest(%s::uuid[], %s::numeric[], %s::date[], %s::boolean[]) "
            "AS v(id, recognized, through, done) WHERE s.id = v.id",
            [[s.id for s in schedules], [s.recognized for s in schedules],
             [s.recognized_through for s in schedules], [s.done for s in schedules]])


@transaction.atomic
def _breakage(organization: Organization, schedule_id: uuid.UUID, through: date) -> RunResult:
    result = RunResult(through=through)
    schedule = (RevenueSchedule.objects.for_organization(organization).select_for_update()
                .get(id=schedule_id))
    if schedule.done or schedule.end_date is None:
        return result
    left = schedule.amount - schedule.recognized
    day = min(schedule.end_date, through)
    if left:
        entry = entry_post(
            organization=organization, source_type="revenue.breakage",
            source_id=str(schedule.id), currency=schedule.currency, effective_date=day,
            memo=f"Prepaid block expired unused on {schedule.end_date.isoformat()}",
            lines=_lines(schedule, left, "Breakage (expired unused)"))
        Recognition.objects.create(organization=organization, schedule=schedule, on=day,
                                   kind=Recognition.Kind.BREAKAGE, amount=left, entry=entry)
        result.entries += 1
        result.recognitions += 1
        result.amounts[schedule.currency] += left
    schedule.recognized = schedule.amount
    schedule.done = True
    schedule.save(update_fields=["recognized", "done", "updated_at"])
    result.schedules += 1
    return result


def drawdown_recognize(*, organization: Organization, schedule: RevenueSchedule,
                       units: Decimal, on: date, source: str) -> JournalEntry | None:
    """``units`` of a prepaid block used (the usage of an invoice: ``source``): recognize
    their share of the block, cumulatively rounded, never beyond what is left. Inside the
    caller's transaction (the invoice's finalization); idempotent by ``source``."""
    schedule = (RevenueSchedule.objects.for_organization(organization).select_for_update()
                .get(pk=schedule.pk))
    if schedule.done or not schedule.units or units <= 0:
        return None
    if Recognition.objects.for_organization(organization).filter(
            schedule=schedule, kind=Recognition.Kind.DRAWDOWN, source=source).exists():
        return None
    drawn = min(schedule.units, schedule.units_drawn + units)
    cumulative = round_money(schedule.amount * drawn / schedule.units, schedule.currency)
    amount = cumulative - schedule.recognized
    schedule.units_drawn = drawn
    entry = None
    if amount:
        entry = entry_post(
            organization=organization, source_type="revenue.drawdown",
            source_id=f"{schedule.id}:{source}", currency=schedule.currency,
            effective_date=on, memo=f"{units} units drawn from a prepaid block",
            lines=_lines(schedule, amount, f"{units} units drawn"))
        Recognition.objects.create(organization=organization, schedule=schedule, on=on,
                                   kind=Recognition.Kind.DRAWDOWN, amount=amount, entry=entry,
                                   source=source)
        schedule.recognized = cumulative
    schedule.done = drawn >= schedule.units
    schedule.save(update_fields=["recognized", "units_drawn", "done", "updated_at"])
    return entry


def schedule_reduce(*, organization: Organization, schedule: RevenueSchedule,
                    amount: Decimal) -> tuple[Decimal, Decimal]:
    """Take ``amount`` (a credit, net of tax, in the schedule's sign) off a schedule: the
    share already recognized comes off revenue, the rest off deferred revenue. Returns
    (from revenue, from deferred); the schedule keeps recognizing what is left, by the same
    rule. Inside the caller's transaction."""
    schedule = (RevenueSchedule.objects.for_organization(organization).select_for_update()
                .get(pk=schedule.pk))
    if schedule.amount == 0:
        return amount, Decimal(0)
    taken = amount if abs(amount) <= abs(schedule.amount) else schedule.amount
    from_revenue = round_money(taken * schedule.recognized / schedule.amount, schedule.currency)
    from_deferred = taken - from_revenue
    schedule.amount -= taken
    schedule.recognized -= from_revenue
    schedule.done = schedule.done or schedule.amount == schedule.recognized
    schedule.save(update_fields=["amount", "recognized", "done", "updated_at"])
    # what exceeds the schedule (it cannot: a credit note never exceeds its line) is revenue
    return from_revenue + (amount - taken), from_deferred


def schedules_cancel(*, organization: Organization, invoice_id: uuid.UUID,
                     source_id: str, on: date) -> JournalEntry | None:
    """An invoice voided: what its schedules recognized goes back to deferred revenue (the
    void's reversal then takes the deferral away), and they recognize nothing more."""
    schedules = list(RevenueSchedule.objects.for_organization(organization)
                     .select_for_update().filter(invoice_id=invoice_id).order_by("id"))
    by_currency: dict[str, list[Posting]] = defaultdict(list)
    for schedule in schedules:
        if schedule.recognized:
            by_currency[schedule.currency] += _lines(schedule, -schedule.recognized,
                                                     "Voided: recognition taken back")
        schedule.amount = schedule.recognized = Decimal(0)
        schedule.done = True
        schedule.save(update_fields=["amount", "recognized", "done", "updated_at"])
    entry = None
    for currency, lines in by_currency.items():
        entry = entry_post(organization=organization, source_type="revenue.unrecognized",
                           source_id=f"{source_id}:{currency}", currency=currency,
                           effective_date=on, lines=lines,
                           memo="Recognition of a voided invoice taken back")
    return entry
