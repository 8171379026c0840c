"""Generation: each billable contract's billing dates up to today get a draft invoice, rated from
the contract and its usage; drafts are recomputed until they are finalized.

Guarantees:
- one invoice per contract and billing date, by a database constraint: two generation runs
  at once, or a run restarted after a crash, never produce an invoice twice;
- a draft is recomputed from current usage until it is finalized; hand edits survive;
- the customer's coupons take their share off every draft as it is rated, the customer's
  redemptions locked before the draft (``invoicing.services.coupons``); a coupon line is never
  re-rated as a closed period's charge, so a correction never undoes nor repeats it;
- one bad contract stops nothing: each contract is rated and written on its own; one that
  raises is rolled back, recorded as a billing failure (``invoicing.failures``) and tried
  again by the next run, and the others are billed. A success resolves its failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from contracts.models import Amendment, Contract, Customer
from contracts.schedule import Charge
from invoicing import coupon_selectors, failures, taxes
from invoicing.models import (
    BillingFailure,
    Invoice,
    InvoiceLine,
    TaxRate,
)
from invoicing.rating import (
    Billed,
    ContractRater,
    DirectUsage,
    LineDraft,
    PeriodIndex,
    UsageSource,
    billing_key,
    period_counter,
)
from invoicing.services import coupons
from invoicing.services.drafts import (
    BILLABLE,
    _event_payload,
    _line_rows,
    _totals,
    _write_lines,
    invoice_settings,
)
from metering.selectors import customers_with_late_events, meters_by_key
from zenskar.core.dates import local_date
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write, outbox_write_many

logger = logging.getLogger(__name__)

Prepared = tuple[Invoice, list[InvoiceLine]]  # a new draft and its lines, not yet written

@dataclass
class GenerationResult:
    created: int = 0
    recomputed: int = 0
    skipped: int = 0
    failed: int = 0  # contracts recorded as billing failures


# The statuses of a final invoice: what it billed stays billed (a void invoice billed nothing).
CLOSED = (Invoice.Status.FINALIZED, Invoice.Status.PAID, Invoice.Status.UNCOLLECTIBLE)


def _lines_for(rater: ContractRater, on: date, charges: Sequence[Charge], index: PeriodIndex,
               corrections: Sequence[LineDraft] = ()) -> list[LineDraft]:
    from contracts import schedule

    lines = rater.rate_date(schedule.BillingDate(on=on, charges=tuple(charges)),
                            period_index=index) if charges else []
    return [*lines, *corrections]


def _billed(contract: Contract) -> list[Billed]:
    """Every line of the contract's final invoices, as corrections count them (hand-added
    lines are the team's own, never re-rated). Lines written before billing keys (late-usage
    adjustments, unused-time credits) count for the line they adjusted."""
    rows = list(InvoiceLine.objects.for_organization(contract.organization_id)
                .filter(invoice__contract=contract, invoice__status__in=CLOSED)
                .exclude(kind=InvoiceLine.Kind.MANUAL)
                # a coupon discounted what the date cost then: never re-rated nor corrected
                .exclude(derivation__has_key="coupon")
                .only("id", "product_id", "kind", "amount", "description", "derivation",
                      "period_start", "period_end"))
    keys = {str(row.id): billing_key(product_id=row.product_id, kind=row.kind,
                                     derivation=row.derivation, period_start=row.period_start,
                                     period_end=row.period_end) for row in rows}
    billed = []
    for row in rows:
        earlier = row.derivation.get("adjusts") or row.derivation.get("credits_line")
        billed.append(Billed(key=keys.get(str(earlier), keys[str(row.id)]), amount=row.amount,
                             description=row.description, period_start=row.period_start,
                             period_end=row.period_end))
    return billed


def _overrides(invoice: Invoice) -> dict[str, str]:
    return {a.details["key"]: a.details["quantity"]
            for a in invoice.audit.filter(action="quantity_override")}


def _may_need_corrections(contract: Contract, closed: list[Invoice], host: Invoice | None,
                          late: set[str], amended_at: datetime | None,
                          run: _Run | None = None) -> bool:
    """Whether anything that decides the closed dates' amounts can have changed since they
    were billed: late usage, terms changed (an amendment, a cancellation) after the last
    finalization, or corrections already waiting on the open draft (kept up to date).
    ``amended_at``: when the contract was last amended (None: never)."""
    if contract.customer.external_id in late:
        return True
    rerated = [inv.rerated_at for inv in closed if inv.rerated_at]
    if not rerated:
        return True
    last = max(rerated)
    if (contract.cancelled_at and contract.cancelled_at > last) or (
            amended_at is not None and amended_at > last):
        return True
    if host is None or host.status != Invoice.Status.DRAFT:
        return False
    if run is not None:
        return host.id in run.corrected_drafts
    return InvoiceLine.objects.for_organization(host.organization_id).filter(
        invoice=host, derivation__has_key="corrects").exists()


def _corrected_drafts(organization: Organization, contract_ids: Iterable[UUID]) -> set[UUID]:
    """The drafts of these contracts that carry corrections (kept up to date each run)."""
    return set(InvoiceLine.objects.for_organization(organization).filter(
        invoice__contract_id__in=list(contract_ids), invoice__status=Invoice.Status.DRAFT,
        derivation__has_key="corrects").values_list("invoice_id", flat=True).distinct())


def _amended_at(organization: Organization | UUID,
                contract_ids: Iterable[UUID]) -> dict[UUID, datetime]:
    """When each of these contracts was last amended."""
    return dict(Amendment.objects.for_organization(organization)
                .filter(contract_id__in=list(contract_ids))
                .values("contract_id").annotate(latest=Max("created_at"))
                .values_list("contract_id", "latest"))


def _corrections(contract: Contract, rater: ContractRater, existing: dict[date, Invoice],
                 corrective: list[Invoice], index: PeriodIndex, today: date, *,
                 host: Invoice | None,
                 late: set[str] | None, force: bool = False,
                 run: _Run | None = None) -> list[LineDraft]:
    """What the contract's final invoices must be corrected by now (see ``rating``):
    re-rates the closed billing dates (``existing``: the schedule's invoices by date) when
    something can have changed (``force``: always). ``corrective``: the contract's invoices of
    corrections alone (their lines count as billed; they close no billing date)."""
    closed = [inv for inv in existing.values() if inv.status in CLOSED]
    final = closed + [inv for inv in corrective if inv.status in CLOSED]
    if not final:
        return []
    if late is None:
        late = customers_with_late_events(organization=contract.organization)
    amended_at = (run.amended if run is not None else _amended_at(contract.organization_id, [contract.id])) \
        .get(contract.id) if not force else None
    if not force and not _may_need_corrections(contract, final, host, late, amended_at, run):
        return []
    overrides = {inv.billing_date: _overrides(inv) for inv in closed}
    through = max([today, *overrides])
    return rater.corrections(closed=overrides, billed=_billed(contract), through=through,
                             period_index=index)


def _settle_draft(invoice: Invoice, rater: ContractRater, charges: Sequence[Charge],
                  index: PeriodIndex, run: _Run | None = None, *, new: bool = False,
                  corrections: Sequence[LineDraft] = ()) -> bool:
    """(Re)write the draft's lines and totals, the customer's coupons after the rated lines;
    False when nothing is due (no line)."""
    drafts = _lines_for(rater, invoice.billing_date, charges, index, corrections)
    if run is None or invoice.customer_id in run.coupon_customers:
        drafts += coupons.invoice_coupons_apply(invoice=invoice, lines=drafts)
    if new:  # nothing written yet: no overrides, no old lines, no manual lines
        rate = run.tax_rate(rater.contract.customer) if run else taxes.rate_for(
            organization=invoice.organization, customer=rater.contract.customer)
        rows = _write_lines(invoice, drafts, {}, new=True, rate=rate)
        if not rows:
            return False
        _totals(invoice, rater.contract.customer, lines=rows, rate=rate)
        invoice.save()
        return True
    _write_lines(invoice, drafts, _overrides(invoice))
    _totals(invoice, rater.contract.customer)
    invoice.save()
    return invoice.lines.exists()


INVOICE_FIELDS = ("id", "contract_id", "billing_date", "status", "edited", "finalized_at",
                  "rerated_at", "corrections_only")


def _invoices_of(invoices: QuerySet[Invoice]) -> tuple[dict[date, Invoice], list[Invoice]]:
    """A contract's invoices: those of its schedule by billing date, and those of
    corrections alone."""
    schedule: dict[date, Invoice] = {}
    corrective: list[Invoice] = []
    for inv in invoices.only(*INVOICE_FIELDS):
        if inv.corrections_only:
            corrective.append(inv)
        else:
            schedule[inv.billing_date] = inv
    return schedule, corrective


def draft_recompute(invoice: Invoice, *, today: date | None = None) -> bool:
    """Rate a contract's draft again from current facts, as finalization does before it
    fixes the amounts. The contract's latest open draft also carries the corrections of its
    final invoices (always re-rated here). Call with the draft locked. Returns whether it
    re-rated the contract's closed dates (its finalization then settles the late-usage
    flags)."""
    contract = invoice.contract
    assert contract is not None, "only a contract's draft is rated"
    rater = ContractRater(contract, DirectUsage(contract.organization))
    index = period_counter(rater)
    existing, corrective = _invoices_of(
        Invoice.objects.for_organization(contract.organization_id).filter(contract=contract))
    today = today or local_date(contract.time_zone)
    charges: Sequence[Charge] = ()
    if invoice.corrections_only:  # the host only while no draft of the schedule is open
        host = not any(inv.status == "draft" for inv in existing.values())
    else:
        host = not any(inv.billing_date > invoice.billing_date and inv.status == "draft"
                       for inv in existing.values())
        charges = next((b.charges for b in rater.billing_dates(invoice.billing_date)
                        if b.on == invoice.billing_date), ())
    corrections = _corrections(
        contract, rater, existing, corrective, index, max(today, invoice.billing_date),
        host=invoice, late=None, force=True) if host else []
    _settle_draft(invoice, rater, charges, index, corrections=corrections)
    return host


class _Run:
    """What a generation run over many contracts loads once instead of per contract."""

    def __init__(self, organization: Organization):
        self.organization = organization
        self.settings = invoice_settings(organization=organization)
        self.meters = meters_by_key(organization=organization)
        self.late_customers = customers_with_late_events(organization=organization)
        self.amended: dict[UUID, datetime] = {}  # contract id -> last amended (the chunk)
        self.corrected_drafts: set[UUID] = set()  # drafts of the chunk that carry corrections
        # customers with coupons: their drafts are rated one by one, their redemptions locked
        self.coupon_customers = coupon_selectors.customers_with_coupons(
            organization=organization)
        self._rates: dict[tuple[bool, str, str], TaxRate | None] = {}

    def tax_rate(self, customer: Customer) -> TaxRate | None:
        key = (customer.tax_exempt, customer.country, customer.region.lower())
        if key not in self._rates:
            self._rates[key] = taxes.rate_for(organization=self.organization, customer=customer)
        return self._rates[key]


def invoices_generate_for_contract(
    *, contract: Contract, today: date | None = None, usage: UsageSource | None = None,
) -> GenerationResult:
    """Create the draft invoice of every billing date of ``contract`` up to ``today`` (in the
    contract's time zone) that has none, and recompute the drafts that exist.

    Idempotent and safe to run concurrently: the invoice for a (contract, billing date) is
    created by an insert that the unique constraint lets through once; a loser recomputes
    nothing and moves on. A contract that starts in the past is caught up, one invoice per
    missed billing date.
    """
    return _generate_for_contract(contract, today, usage, None, None)


def _generate_for_contract(contract: Contract, today: date | None, usage: UsageSource | None,
                           run: _Run | None, existing: dict[date, Invoice] | None,
                           pending: list[Prepared] | None = None,
                           corrective: list[Invoice] | None = None) -> GenerationResult:
    """``pending`` (a run's batch): new drafts are rated and appended there, for
    :func:`_insert_new` to write with the batch's; existing drafts are recomputed here.
    ``existing``: the schedule's invoices by billing date; ``corrective``: the invoices of
    corrections alone (None: both read now)."""
    result = GenerationResult()
    if contract.status not in BILLABLE:
        return result
    if existing is None or corrective is None:
        existing, corrective = _invoices_of(
            Invoice.objects.for_organization(contract.organization_id).filter(contract=contract))
    if not contract.phases.all() and not existing and not corrective:
        return result  # cancelled from its start (or never given a phase): nothing owed
    today = today or local_date(contract.time_zone)
    rater = ContractRater(contract, usage or DirectUsage(contract.organization),
                          meters=run.meters if run else None)
    index = period_counter(rater)
    settings = run.settings if run else invoice_settings(organization=contract.organization)
    grace = timedelta(hours=settings.grace_period_hours)
    dates = {b.on: b.charges for b in rater.billing_dates(today)}
    for on, inv in existing.items():  # a draft whose date left the schedule is recomputed
        if inv.status == Invoice.Status.DRAFT and on not in dates:
            dates[on] = ()
    # The corrections of the final invoices go on the latest open draft of the schedule;
    # with none, on an invoice of corrections alone (one open at a time, dated the day it
    # is made), which never takes a billing date of the schedule.
    open_dates = [on for on in dates
                  if existing.get(on) is None or existing[on].status == Invoice.Status.DRAFT]
    open_corrective = [inv for inv in corrective if inv.status == Invoice.Status.DRAFT]
    host_on = max(open_dates) if open_dates else None
    host = existing.get(host_on) if host_on else next(iter(open_corrective), None)
    corrections = _corrections(contract, rater, existing, corrective, index, today,
                               host=host, late=run.late_customers if run else None, run=run)
    # new drafts are batched, but those a coupon may discount (each records what it took)
    batch = pending if run is not None and not corrections \
        and contract.customer_id not in run.coupon_customers else None
    for on in sorted(dates):
        invoice = existing.get(on)
        if invoice is not None and invoice.status != Invoice.Status.DRAFT:
            result.skipped += 1
            continue
        if invoice is None and batch is not None and run is not None:
            prepared = _prepare_new(contract, rater, on, dates[on], index, run, grace)
            if prepared is not None:
                batch.append(prepared)
            continue
        extra = corrections if on == host_on else ()
        _settle(contract, invoice, on, rater, dates[on], index, run, grace, extra, result)
    # Invoices of corrections alone: the open one carries the corrections when the schedule
    # has no open draft; any other open one is emptied (and so removed).
    for number, invoice in enumerate(open_corrective):
        extra = corrections if host_on is None and number == 0 else ()
        _settle(contract, invoice, invoice.billing_date, rater, (), index, run, grace, extra,
                result)
    if corrections and host_on is None and not open_corrective:
        _settle(contract, None, today, rater, (), index, run, grace, corrections, result,
                corrections_only=True)
    return result


def _settle(contract: Contract, invoice: Invoice | None, on: date, rater: ContractRater,
            charges: Sequence[Charge], index: PeriodIndex, run: _Run | None,
            grace: timedelta, corrections: Sequence[LineDraft], result: GenerationResult,
            *, corrections_only: bool = False) -> None:
    """Create (``invoice`` None) or recompute one draft, in its own savepoint; a draft left
    with nothing due is removed."""
    with transaction.atomic():
        if run is None or contract.customer_id in run.coupon_customers:
            # the customer's redemptions before the invoice (the order every path takes)
            coupons.coupon_redemptions_lock(organization=contract.organization_id,
                                            customer_id=contract.customer_id)
        created = False
        if invoice is None:
            invoice = _create_draft(contract, on, grace, corrections_only=corrections_only)
            if invoice is None:  # another run created it first
                result.skipped += 1
                return
            created = True
        else:
            invoice = (Invoice.objects.for_organization(contract.organization_id)
                       .select_for_update().get(pk=invoice.pk))
            if invoice.status != Invoice.Status.DRAFT:
                result.skipped += 1
                return
        if not _settle_draft(invoice, rater, charges, index, run, new=created,
                             corrections=corrections):
            invoice.delete()  # nothing due after all (corrections that came to nothing)
            return
        if created:
            result.created += 1
            outbox_write(organization=contract.organization, event_type="invoice.created",
                         subject_id=invoice.id, payload=_event_payload(invoice))
        else:
            result.recomputed += 1


def _prepare_new(contract: Contract, rater: ContractRater, on: date,
                 charges: Sequence[Charge], index: PeriodIndex, run: _Run,
                 grace: timedelta) -> Prepared | None:
    """A new draft and its lines, rated and taxed, not written; None when nothing is due."""
    local_midnight = datetime.combine(on, datetime.min.time(), ZoneInfo(contract.time_zone))
    invoice = Invoice(organization=contract.organization, customer=contract.customer,
                      contract=contract, billing_date=on, currency=contract.currency,
                      finalize_after=local_midnight + grace)
    drafts = _lines_for(rater, on, charges, index)
    rate = run.tax_rate(contract.customer)
    rows = _line_rows(invoice, drafts, {}, 0)
    if not rows:
        return None
    _totals(invoice, contract.customer, lines=rows, rate=rate, fresh=True)
    return invoice, rows


def _insert_new(organization: Organization, pending: list[Prepared],
                failed: set[UUID]) -> tuple[int, int]:
    """Write a batch of new drafts in one transaction; (created, skipped). The unique
    constraint decides, row by row, which of two runs creates an invoice: the insert skips
    the (contract, billing date) another run holds (after waiting for it to commit), and
    only the winners' lines and events are written. Rows go in one order in every run, so
    two runs at once wait for each other but never deadlock.

    When the batch cannot be written (one contract's amount beyond what the columns hold,
    ...), it is written again one contract at a time, each in its own savepoint: a contract
    that fails again is recorded (its id added to ``failed``), the others are billed."""
    if not pending:
        return 0, 0
    pending.sort(key=lambda p: (str(p[0].contract_id), p[0].billing_date))
    try:
        with transaction.atomic():
            return _write_new(organization, pending)
    except Exception as error:
        if not failures.isolated(error):
            raise
        logger.warning("writing %s new drafts of organization %s at once failed (%s): "
                       "writing them contract by contract", len(pending), organization.pk,
                       type(error).__name__)
    created = skipped = 0
    for _, group in groupby(pending, key=lambda p: p[0].contract_id):
        drafts = list(group)
        try:
            with transaction.atomic():
                won, lost = _write_new(organization, drafts)
        except Exception as error:
            if not failures.isolated(error):
                raise
            contract = drafts[0][0].contract
            assert contract is not None  # drafts of the schedule: each has its contract
            failures.billing_failure_record(organization=organization,
                                            stage=BillingFailure.Stage.GENERATION,
                                            contract=contract, error=error)
            failed.add(contract.id)
            continue
        created += won
        skipped += lost
    return created, skipped


def _write_new(organization: Organization, pending: list[Prepared]) -> tuple[int, int]:
    Invoice.objects.bulk_create([invoice for invoice, _ in pending], ignore_conflicts=True)
    won = set(Invoice.objects.for_organization(organization).filter(
        id__in=[invoice.id for invoice, _ in pending],
    ).values_list("id", flat=True))
    InvoiceLine.objects.bulk_create(
        [row for invoice, rows in pending if invoice.id in won for row in rows],
        batch_size=1000)
    outbox_write_many(organization=organization, event_type="invoice.created", events=[
        (invoice.id, _event_payload(invoice)) for invoice, _ in pending if invoice.id in won])
    return len(won), len(pending) - len(won)


def _create_draft(contract: Contract, on: date, grace: timedelta, *,
                  corrections_only: bool = False) -> Invoice | None:
    local_midnight = datetime.combine(on, datetime.min.time(), ZoneInfo(contract.time_zone))
    try:
        with transaction.atomic():
            return Invoice.objects.create(
                organization=contract.organization, customer=contract.customer,
                contract=contract, billing_date=on, currency=contract.currency,
                finalize_after=local_midnight + grace, corrections_only=corrections_only,
            )
    except IntegrityError:
        return None


def invoices_generate(*, organization: Organization, today: date | None = None,
                      usage: UsageSource | None = None) -> GenerationResult:
    """Generate for every billable contract of the organization (the beat task's body).
    ``usage``: where quantities come from (``invoicing.bulk_usage.BulkUsage`` for a whole
    run); None: one query per contract (``DirectUsage``).

    Each contract on its own: one that raises while it is rated or written is rolled back
    (its savepoint), recorded as a billing failure and counted in ``failed``; the others
    are billed. The open failures of contracts that did not fail this time (billed now, or
    no longer billable) are resolved."""
    from django.db.models import Prefetch

    from contracts.models import Phase

    total = GenerationResult()
    failed: set[UUID] = set()
    run = _Run(organization)
    contracts = Contract.objects.for_organization(organization).filter(status__in=BILLABLE)
    ids = list(contracts.order_by("id").values_list("id", flat=True))
    for at in range(0, len(ids), 100):  # bounded memory: 100 contracts, prefetched, at once
        chunk = ids[at:at + 100]
        existing: dict[UUID, dict[date, Invoice]] = {contract_id: {} for contract_id in chunk}
        corrective: dict[UUID, list[Invoice]] = {contract_id: [] for contract_id in chunk}
        for inv in Invoice.objects.for_organization(organization).filter(contract_id__in=chunk) \
                .only(*INVOICE_FIELDS):
            assert inv.contract_id is not None  # filtered by contract
            if inv.corrections_only:
                corrective[inv.contract_id].append(inv)
            else:
                existing[inv.contract_id][inv.billing_date] = inv
        run.amended = _amended_at(organization, chunk)
        run.corrected_drafts = _corrected_drafts(organization, chunk)
        batch = contracts.filter(id__in=chunk).order_by("id") \
            .select_related("customer", "organization") \
            .prefetch_related(Prefetch("phases", Phase.objects.prefetch_related("items__product")),
                              "discounts")
        pending: list[Prepared] = []
        for contract in batch:
            mark = len(pending)
            try:
                with transaction.atomic():
                    one = _generate_for_contract(contract, today, usage, run,
                                                 existing[contract.id], pending,
                                                 corrective[contract.id])
            except Exception as error:
                if not failures.isolated(error):
                    raise
                del pending[mark:]  # its new drafts of this run, rated before the error
                failures.billing_failure_record(organization=organization,
                                                stage=BillingFailure.Stage.GENERATION,
                                                contract=contract, error=error)
                failed.add(contract.id)
                continue
            total.created += one.created
            total.recomputed += one.recomputed
            total.skipped += one.skipped
        created, skipped = _insert_new(organization, pending, failed)
        total.created += created
        total.skipped += skipped
    total.failed = len(failed)
    failures.billing_failures_settle(organization=organization,
                                     stage=BillingFailure.Stage.GENERATION, failing=failed,
                                     resolution="Billed on a later run, or no longer billable.")
    return total

