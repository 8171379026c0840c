"""Invoices from contracts and usage, with no one in the loop: generation, recomputation of
drafts, finalization (gapless numbers, taxes, customer credit), corrections.

Guarantees:
- one invoice per contract and billing date, by a database constraint: two generation runs
  at once, or a run restarted after a crash, never produce an invoice twice;
- a draft is recomputed from current usage until it is finalized; hand edits survive;
- finalization takes the next number of a gapless per-organization, per-year sequence under a
  row lock, in the same transaction: a number is never skipped nor reused;
- a finalized invoice never changes: it is voided, or corrected by a credit note;
- one bad contract or draft stops nothing: the scheduled generation and finalization handle
  each contract (each draft) on its own; one that raises is rolled back, recorded as a
  billing failure (``invoicing.failures``) and tried again by the next run, and the others
  are billed. A success resolves its failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from contracts.models import Contract, Customer
from invoicing import failures, taxes
from invoicing.models import (
    BillingFailure,
    CreditNote,
    CreditNoteLine,
    CustomerCredit,
    Invoice,
    InvoiceAudit,
    InvoiceLine,
    InvoiceSettings,
    NumberSequence,
)
from invoicing.rating import ContractRater, DirectUsage, LineDraft, UsageSource, period_counter
from metering.services import billed_through_set, events_adjusted
from zenskar import bounds, events
from zenskar.money import minor_units, round_money
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write, outbox_write_many

logger = logging.getLogger(__name__)

BILLABLE = (Contract.Status.ACTIVE, Contract.Status.CANCELLED, Contract.Status.ENDED)


def invoice_settings(*, organization: Organization) -> InvoiceSettings:
    """The organization's invoicing settings, created with defaults on first use."""
    found = InvoiceSettings.objects.filter(organization=organization).first()
    if found is not None:
        return found
    prefix = "".join(ch for ch in organization.slug.upper() if ch.isalnum())[:8] or "INV"
    InvoiceSettings.objects.bulk_create(
        [InvoiceSettings(organization=organization, number_prefix=prefix)],
        ignore_conflicts=True,
    )
    return InvoiceSettings.objects.get(organization=organization)


def _today(tz: str) -> date:
    return timezone.now().astimezone(ZoneInfo(tz)).date()


# --- Generation -------------------------------------------------------------------------------


@dataclass
class GenerationResult:
    created: int = 0
    recomputed: int = 0
    skipped: int = 0
    failed: int = 0  # contracts recorded as billing failures


def _lines_for(rater: ContractRater, on: date, charges, index,
               late: set[str] | None = None) -> list[LineDraft]:
    from contracts import schedule

    lines = rater.rate_date(schedule.BillingDate(on=on, charges=tuple(charges)),
                            period_index=index)
    if any(phase.end_date == on for phase in rater.phases):  # else nothing to credit
        billed = InvoiceLine.objects.filter(
            invoice__contract=rater.contract, kind="recurring"
        ).exclude(invoice__billing_date=on).exclude(invoice__status=Invoice.Status.VOID)
        lines += rater.credits_on(on, billed)
    if late is None or rater.customer in late:
        lines += _late_usage_adjustments(rater, on)
    return lines


def _late_usage_adjustments(rater: ContractRater, on: date) -> list[LineDraft]:
    """Usage lines of finalized invoices whose window received late events: bill the
    difference between what the window's usage costs now and what was billed for it."""
    from metering.models import Event

    contract = rater.contract
    if not Event.objects.filter(organization=contract.organization, customer=rater.customer,
                                needs_adjustment=True).exists():
        return []
    adjustments = []
    finalized = InvoiceLine.objects.filter(
        invoice__contract=contract, kind="usage",
        invoice__status__in=(Invoice.Status.FINALIZED, Invoice.Status.PAID),
    ).exclude(invoice__billing_date=on).select_related("price_item")
    for line in finalized:
        if line.price_item is None or line.price_item.model not in price_scalar_models():
            continue
        window = line.derivation.get("usage_window")
        if not window:
            continue
        start, end = (datetime.fromisoformat(w) for w in window)
        meter = rater.meters.get(line.price_item.meter_key)
        if meter is None or not Event.objects.filter(
            organization=contract.organization, customer=rater.customer,
            event_name=meter.event_name, needs_adjustment=True,
            timestamp__gte=start, timestamp__lt=end,
        ).exists():
            continue
        from contracts.pricing import price

        quantity = rater.usage.quantity(meter=meter, customer=rater.customer, start=start,
                                        end=end)
        now = price(rater._spec(line.price_item), quantity=quantity,
                    share=_fraction(line.derivation.get("share", "1")))
        already = line.amount + (InvoiceLine.objects.filter(
            kind="adjustment", derivation__adjusts=str(line.id),
            invoice__status__in=(Invoice.Status.FINALIZED, Invoice.Status.PAID),
        ).aggregate(total=Sum("amount"))["total"] or Decimal(0))
        difference = now.amount - already
        if difference:
            adjustments.append(LineDraft(
                kind="adjustment", price_item=line.price_item, period_start=line.period_start,
                period_end=line.period_end, quantity=quantity,
                description=f"Late usage: {line.description} "
                            f"({line.period_start} to {line.period_end})",
                amount=difference,
                derivation={"adjusts": str(line.id), "usage_quantity": str(quantity),
                            "billed_quantity": line.derivation.get("usage_quantity"),
                            "amount_now": str(now.amount), "billed_before": str(already),
                            "steps": now.to_dict()["steps"], "usage_window": window}))
    return adjustments


def price_scalar_models() -> set[str]:
    return {"per_unit", "package", "graduated", "volume", "stair_step", "percentage"}


def _fraction(text: str):
    from fractions import Fraction

    return Fraction(text)


def _write_lines(invoice: Invoice, drafts: list[LineDraft], overrides: dict, *,
                 new: bool = False, rate=None) -> list[InvoiceLine]:
    if not new:
        InvoiceLine.objects.filter(invoice=invoice).exclude(kind="manual").delete()
    manual = 0 if new else InvoiceLine.objects.filter(invoice=invoice, kind="manual").count()
    rows = _line_rows(invoice, drafts, overrides, manual)
    if new:  # the whole invoice is these lines: tax them before the one insert
        tax = taxes.compute(lines=rows, rate=rate, currency=invoice.currency)
        for row, (line_rate, line_tax) in zip(rows, tax.per_line, strict=True):
            row.tax_rate, row.tax_amount = line_rate, line_tax
    InvoiceLine.objects.bulk_create(rows)
    return rows


def _line_rows(invoice: Invoice, drafts: list[LineDraft], overrides: dict,
               manual: int) -> list[InvoiceLine]:
    rows = []
    for position, draft in enumerate(drafts):
        amount, quantity = draft.amount, draft.quantity
        override = overrides.get(draft.key)
        if override is not None and draft.unit_price is not None:
            quantity = Decimal(override)
            amount = round_money(quantity * draft.unit_price, invoice.currency)
            draft.derivation = {**draft.derivation, "override": {
                "quantity": override, "computed_quantity": str(draft.quantity),
                "computed_amount": str(draft.amount)}}
        # beyond these, the contract is recorded as one that could not be billed
        bounds.check_line_amount(amount)
        bounds.check_rated_quantity(quantity)
        rows.append(InvoiceLine(
            organization=invoice.organization, invoice=invoice, price_item=draft.price_item,
            product=draft.price_item.product if draft.price_item else None, kind=draft.kind,
            description=draft.description[:500], period_start=draft.period_start,
            period_end=draft.period_end, quantity=quantity, unit_price=draft.unit_price,
            amount=amount, derivation={**draft.derivation, "key": draft.key},
            position=manual + position,
        ))
    return rows


_UNSET = object()


def _totals(invoice: Invoice, customer: Customer, *, lines: list[InvoiceLine] | None = None,
            rate=_UNSET, fresh: bool = False) -> None:
    """``fresh``: ``lines`` are not written yet: their tax is set on them, not saved."""
    fresh = fresh or lines is not None
    lines = list(invoice.lines.all()) if lines is None else lines
    subtotal = sum((line.amount for line in lines), Decimal(0))
    if rate is _UNSET:
        rate = taxes.rate_for(organization=invoice.organization, customer=customer)
    tax = taxes.compute(lines=lines, rate=rate, currency=invoice.currency)
    for line, (line_rate, line_tax) in zip(lines, tax.per_line, strict=True):
        if line.tax_rate != line_rate or line.tax_amount != line_tax:
            line.tax_rate, line.tax_amount = line_rate, line_tax
            if not fresh:
                line.save(update_fields=["tax_rate", "tax_amount"])
    invoice.subtotal = subtotal
    invoice.tax_total = tax.total
    invoice.total = subtotal + (Decimal(0) if tax.inclusive else tax.total)
    invoice.amount_due = invoice.total - invoice.credit_applied - invoice.amount_paid
    periods = [(line.period_start, line.period_end) for line in lines if line.period_start]
    if periods:
        invoice.period_start = min(p[0] for p in periods)
        invoice.period_end = max(p[1] for p in periods)


def _settle_draft(invoice: Invoice, rater: ContractRater, charges, index,
                  run: _Run | None = None, *, new: bool = False) -> bool:
    """(Re)write the draft's lines and totals; False when nothing is due (no line)."""
    late = run.late_customers if run else None
    drafts = _lines_for(rater, invoice.billing_date, charges, index, late)
    if new:  # nothing written yet: no overrides, no old lines, no manual lines
        rate = run.tax_rate(rater.contract.customer) if run else taxes.rate_for(
            organization=invoice.organization, customer=rater.contract.customer)
        rows = _write_lines(invoice, drafts, {}, new=True, rate=rate)
        if not rows:
            return False
        _totals(invoice, rater.contract.customer, lines=rows, rate=rate)
        invoice.save()
        return True
    overrides = {a.details["key"]: a.details["quantity"]
                 for a in invoice.audit.filter(action="quantity_override")}
    _write_lines(invoice, drafts, overrides)
    _totals(invoice, rater.contract.customer)
    invoice.save()
    return invoice.lines.exists()


class _Run:
    """What a generation run over many contracts loads once instead of per contract."""

    def __init__(self, organization: Organization):
        from metering.models import Event, Meter

        self.organization = organization
        self.settings = invoice_settings(organization=organization)
        self.meters = {m.key: m for m in Meter.objects.filter(organization=organization)}
        self.late_customers = set(Event.objects.filter(
            organization=organization, needs_adjustment=True,
        ).values_list("customer", flat=True).distinct())
        self._rates: dict = {}

    def tax_rate(self, customer: Customer):
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
                           run: _Run | None, existing: dict | None,
                           pending: list | None = None) -> GenerationResult:
    """``pending`` (a run's batch): new drafts are rated and appended there, for
    :func:`_insert_new` to write with the batch's; existing drafts are recomputed here."""
    result = GenerationResult()
    if contract.status not in BILLABLE or not contract.phases.all():
        return result  # no phase: cancelled from its start (or never given one), nothing owed
    today = today or _today(contract.time_zone)
    rater = ContractRater(contract, usage or DirectUsage(contract.organization),
                          meters=run.meters if run else None)
    index = period_counter(rater)
    settings = run.settings if run else invoice_settings(organization=contract.organization)
    grace = timedelta(hours=settings.grace_period_hours)
    if existing is None:
        existing = {
            inv.billing_date: inv
            for inv in Invoice.objects.filter(contract=contract).only(
                "id", "billing_date", "status", "edited")
        }
    dates = {b.on: b.charges for b in rater.billing_dates(today)}
    for phase in rater.phases:  # a phase cut short bills its credits on its last day
        if phase.end_date and phase.end_date <= today and phase.end_date not in dates:
            if any(i.timing == "advance" for i in phase.items.all()):
                dates[phase.end_date] = ()
    # A contract with a phase already over may owe credits against its earlier invoices of
    # this very run: it writes one invoice at a time, each seeing the ones before.
    batched = pending is not None and not any(
        phase.end_date and phase.end_date <= today for phase in rater.phases)
    for on in sorted(dates):
        invoice = existing.get(on)
        if invoice is not None and invoice.status != Invoice.Status.DRAFT:
            result.skipped += 1
            continue
        if invoice is None and batched:
            prepared = _prepare_new(contract, rater, on, dates[on], index, run, grace)
            if prepared is not None:
                pending.append(prepared)
            continue
        with transaction.atomic():
            created = False
            if invoice is None:
                invoice = _create_draft(contract, on, grace)
                if invoice is None:  # another run created it first
                    result.skipped += 1
                    continue
                created = True
            else:
                invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
                if invoice.status != Invoice.Status.DRAFT:
                    result.skipped += 1
                    continue
            if not _settle_draft(invoice, rater, dates[on], index, run, new=created):
                invoice.delete()  # nothing due after all (a cut phase with nothing to credit)
                continue
            if created:
                result.created += 1
                outbox_write(organization=contract.organization, event_type="invoice.created",
                             subject_id=invoice.id, payload=_event_payload(invoice))
            else:
                result.recomputed += 1
    return result


def _prepare_new(contract, rater, on, charges, index, run, grace):
    """A new draft and its lines, rated and taxed, not written; None when nothing is due."""
    local_midnight = datetime.combine(on, datetime.min.time(), ZoneInfo(contract.time_zone))
    invoice = Invoice(organization=contract.organization, customer=contract.customer,
                      contract=contract, billing_date=on, currency=contract.currency,
                      finalize_after=local_midnight + grace)
    drafts = _lines_for(rater, on, charges, index, run.late_customers)
    rate = run.tax_rate(contract.customer)
    rows = _line_rows(invoice, drafts, {}, 0)
    if not rows:
        return None
    _totals(invoice, contract.customer, lines=rows, rate=rate, fresh=True)
    return invoice, rows


def _insert_new(organization: Organization, pending: list,
                failed: set) -> tuple[int, int]:
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
            failures.billing_failure_record(organization=organization,
                                            stage=BillingFailure.Stage.GENERATION,
                                            contract=contract, error=error)
            failed.add(contract.id)
            continue
        created += won
        skipped += lost
    return created, skipped


def _write_new(organization: Organization, pending: list) -> tuple[int, int]:
    Invoice.objects.bulk_create([invoice for invoice, _ in pending], ignore_conflicts=True)
    won = set(Invoice.objects.filter(
        organization=organization, id__in=[invoice.id for invoice, _ in pending],
    ).values_list("id", flat=True))
    InvoiceLine.objects.bulk_create(
        [row for invoice, rows in pending if invoice.id in won for row in rows],
        batch_size=1000)
    outbox_write_many(organization=organization, event_type="invoice.created", events=[
        (invoice.id, _event_payload(invoice)) for invoice, _ in pending if invoice.id in won])
    return len(won), len(pending) - len(won)


def _create_draft(contract: Contract, on: date, grace: timedelta) -> Invoice | None:
    local_midnight = datetime.combine(on, datetime.min.time(), ZoneInfo(contract.time_zone))
    try:
        with transaction.atomic():
            return Invoice.objects.create(
                organization=contract.organization, customer=contract.customer,
                contract=contract, billing_date=on, currency=contract.currency,
                finalize_after=local_midnight + grace,
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
    failed: set = set()
    run = _Run(organization)
    contracts = Contract.objects.filter(organization=organization, status__in=BILLABLE)
    ids = list(contracts.order_by("id").values_list("id", flat=True))
    for at in range(0, len(ids), 100):  # bounded memory: 100 contracts, prefetched, at once
        chunk = ids[at:at + 100]
        existing: dict = {contract_id: {} for contract_id in chunk}
        for inv in Invoice.objects.filter(organization=organization, contract_id__in=chunk) \
                .only("id", "contract_id", "billing_date", "status", "edited"):
            existing[inv.contract_id][inv.billing_date] = inv
        batch = contracts.filter(id__in=chunk).order_by("id") \
            .select_related("customer", "organization") \
            .prefetch_related(Prefetch("phases", Phase.objects.prefetch_related("items__product")),
                              "discounts")
        pending: list = []
        for contract in batch:
            mark = len(pending)
            try:
                with transaction.atomic():
                    one = _generate_for_contract(contract, today, usage, run,
                                                 existing[contract.id], pending)
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


def upcoming_invoice(*, customer: Customer, today: date | None = None) -> dict | None:
    """What the customer's next invoice will be right now: the earliest billing date, today
    or later, of the customer's active contracts that has no finalized invoice yet, rated on
    current usage. Computed, never saved."""
    best = None
    for contract in Contract.objects.filter(customer=customer, status=Contract.Status.ACTIVE):
        local_today = today or _today(contract.time_zone)
        rater = ContractRater(contract, DirectUsage(contract.organization))
        final = set(Invoice.objects.filter(contract=contract).exclude(
            status=Invoice.Status.DRAFT).values_list("billing_date", flat=True))
        upcoming = next((b for b in rater.billing_dates(local_today + timedelta(days=400))
                         if b.on >= local_today and b.on not in final), None)
        if upcoming is None or (best is not None and upcoming.on >= best["billing_date"]):
            continue
        lines = rater.rate_date(upcoming, period_index=period_counter(rater))
        best = {"contract": contract, "billing_date": upcoming.on, "lines": lines,
                "currency": contract.currency}
    if best is None:
        return None
    subtotal = sum((line.amount for line in best["lines"]), Decimal(0))
    rate = taxes.rate_for(organization=customer.organization, customer=customer)
    tax = taxes.compute(lines=best["lines"], rate=rate, currency=best["currency"])
    best["subtotal"] = subtotal
    best["tax_total"] = tax.total
    best["total"] = subtotal + (Decimal(0) if tax.inclusive else tax.total)
    return best


# --- Hand edits of a draft --------------------------------------------------------------------


def _draft_locked(invoice: Invoice) -> Invoice:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk,
                                                      organization=invoice.organization)
    if invoice.status != Invoice.Status.DRAFT:
        raise ValidationError({"status": ["A finalized invoice never changes; issue a credit "
                                          "note instead."]})
    return invoice


@transaction.atomic
def invoice_add_line(*, invoice: Invoice, description: str, quantity: Decimal,
                     unit_price: Decimal, actor: str) -> InvoiceLine:
    """Add a one-off line to a draft (kept across recomputations), with an audit entry."""
    invoice = _draft_locked(invoice)
    if not description.strip():
        raise ValidationError({"description": ["A line needs a description."]})
    errors = {}
    for name, value in (("quantity", quantity), ("unit_price", unit_price)):
        try:
            bounds.price_number(value, allow_negative=True)
        except bounds.BoundError as error:
            errors[name] = [str(error)]
    if errors:
        raise ValidationError(errors)
    try:
        amount = round_money(bounds.line_amount(quantity, unit_price), invoice.currency)
    except bounds.BoundError as error:
        raise ValidationError({"unit_price": [str(error)]}) from None
    line = InvoiceLine.objects.create(
        organization=invoice.organization, invoice=invoice, kind="manual",
        description=description.strip()[:500], quantity=quantity, unit_price=unit_price,
        amount=amount, derivation={"manual": True, "by": actor},
        position=invoice.lines.count(),
    )
    InvoiceAudit.objects.create(organization=invoice.organization, invoice=invoice, actor=actor,
                                action="line_added", details={
                                    "description": line.description, "quantity": str(quantity),
                                    "unit_price": str(unit_price), "amount": str(amount)})
    invoice.edited = True
    _totals(invoice, invoice.customer)
    invoice.save()
    return line


@transaction.atomic
def invoice_override_quantity(*, line: InvoiceLine, quantity: Decimal, actor: str) -> InvoiceLine:
    """Set a draft line's quantity by hand. Recomputations keep the override (by the line's
    key); the computed quantity stays in the derivation and the audit trail."""
    invoice = _draft_locked(line.invoice)
    if line.unit_price is None:
        raise ValidationError({"quantity": ["This line's amount is not quantity x price "
                                            "(tiers or a formula): add a manual line instead."]})
    key = line.derivation.get("key")
    InvoiceAudit.objects.create(organization=invoice.organization, invoice=invoice, actor=actor,
                                action="quantity_override", details={
                                    "key": key, "quantity": str(quantity),
                                    "was": str(line.quantity)})
    line.derivation = {**line.derivation, "override": {
        "quantity": str(quantity), "computed_quantity": str(line.quantity),
        "computed_amount": str(line.amount)}}
    line.quantity = quantity
    line.amount = round_money(quantity * line.unit_price, invoice.currency)
    line.save()
    invoice.edited = True
    _totals(invoice, invoice.customer)
    invoice.save()
    return line


# --- Finalization -----------------------------------------------------------------------------


def _next_number(organization: Organization, kind: str, year: int, prefix: str) -> str:
    NumberSequence.objects.bulk_create(
        [NumberSequence(organization=organization, kind=kind, year=year)],
        ignore_conflicts=True,
    )
    sequence = NumberSequence.objects.select_for_update().get(
        organization=organization, kind=kind, year=year)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    label = "" if kind == "invoice" else "CN-"
    return f"{prefix}-{label}{year}-{sequence.last_value:06d}"


def customer_credit_balance(*, customer: Customer, currency: str) -> Decimal:
    total = CustomerCredit.objects.filter(customer=customer, currency=currency).aggregate(
        total=Sum("amount"))["total"]
    return total or Decimal(0)


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, now: datetime | None = None,
                     recompute: bool = True) -> Invoice:
    """Draft -> finalized: recompute from current usage (a contract's invoice), take the next
    gapless number, set issue and due dates, apply the customer's credit balance, write the
    outbox event. Idempotent: an invoice already finalized is returned as it is."""
    now = now or timezone.now()
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk,
                                                      organization=invoice.organization)
    if invoice.status != Invoice.Status.DRAFT:
        return invoice
    customer = invoice.customer
    if recompute and invoice.contract_id:
        contract = invoice.contract
        rater = ContractRater(contract, DirectUsage(contract.organization))
        charges = next((b.charges for b in rater.billing_dates(invoice.billing_date)
                        if b.on == invoice.billing_date), ())
        _settle_draft(invoice, rater, charges, period_counter(rater))
    else:
        _totals(invoice, customer)
    organization = invoice.organization
    settings = invoice_settings(organization=organization)
    tz = invoice.contract.time_zone if invoice.contract_id else customer.time_zone
    issue = now.astimezone(ZoneInfo(tz)).date()
    invoice.number = _next_number(organization, "invoice", issue.year, settings.number_prefix)
    invoice.issue_date = issue
    terms = invoice.contract.payment_terms_days if invoice.contract_id else \
        customer.payment_terms_days
    invoice.due_date = issue + timedelta(days=terms)
    if invoice.total < 0:
        # more credit than charges: the rest becomes the customer's credit balance
        CustomerCredit.objects.create(
            organization=organization, customer=customer, currency=invoice.currency,
            amount=-invoice.total, source=f"invoice:{invoice.id}",
            description=f"Credit from invoice {invoice.number}")
        invoice.credit_applied = invoice.total
    else:
        balance = customer_credit_balance(customer=customer, currency=invoice.currency)
        applied = min(balance, invoice.total)
        if applied > 0:
            CustomerCredit.objects.create(
                organization=organization, customer=customer, currency=invoice.currency,
                amount=-applied, source=f"invoice:{invoice.id}",
                description=f"Applied to invoice {invoice.number}")
        invoice.credit_applied = applied
    invoice.amount_due = invoice.total - invoice.credit_applied - invoice.amount_paid
    invoice.status = Invoice.Status.PAID if invoice.amount_due <= 0 else Invoice.Status.FINALIZED
    invoice.finalized_at = now
    invoice.save()
    failures.billing_failure_resolve(organization=organization,
                                     stage=BillingFailure.Stage.FINALIZATION,
                                     subject_id=invoice.id, resolution="Finalized.")
    _mark_usage_billed(invoice)
    outbox_write(organization=organization, event_type="invoice.finalized",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    from invoicing.delivery import after_finalize

    after_finalize(invoice)
    events.publish(events.DomainEvent(name="invoice.finalized",
                                      organization_id=organization.id,
                                      payload=_event_payload(invoice)))
    return invoice


def _mark_usage_billed(invoice: Invoice) -> None:
    """Tell metering how far the customer's usage is now invoiced, and that the late events
    this invoice adjusted for are settled."""
    windows = [line.derivation.get("usage_window") for line in invoice.lines.all()]
    ends = [datetime.fromisoformat(w[1]) for w in windows if w]
    customer = invoice.customer.external_id
    if ends:
        billed_through_set(organization=invoice.organization, customer=customer,
                           through=max(ends))
    adjusted = [line.derivation["usage_window"] for line in invoice.lines.all()
                if line.kind == "adjustment" and line.derivation.get("usage_window")]
    for start, end in adjusted:
        events_adjusted(organization=invoice.organization, customer=customer,
                        start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


@dataclass
class FinalizationResult:
    finalized: int = 0
    failed: int = 0  # drafts recorded as billing failures


def invoices_finalize_due(*, organization: Organization,
                          now: datetime | None = None) -> FinalizationResult:
    """Finalize every draft whose grace period is over (when the organization finalizes
    automatically), each on its own: a draft that raises is rolled back (its own
    transaction), recorded as a billing failure, stays a draft and is tried again by the
    next run; the others are finalized. The open failures of drafts no longer due (finalized
    by hand, voided) are resolved."""
    now = now or timezone.now()
    result = FinalizationResult()
    if not invoice_settings(organization=organization).auto_finalize:
        return result
    due = Invoice.objects.filter(organization=organization, status=Invoice.Status.DRAFT,
                                 finalize_after__lte=now).order_by("billing_date", "created_at")
    failed = set()
    for invoice in due:
        try:
            invoice_finalize(invoice=invoice, now=now)
        except Exception as error:
            if not failures.isolated(error):
                raise
            failures.billing_failure_record(organization=organization,
                                            stage=BillingFailure.Stage.FINALIZATION,
                                            invoice=invoice, error=error)
            failed.add(invoice.id)
            continue
        result.finalized += 1
    result.failed = len(failed)
    failures.billing_failures_settle(organization=organization,
                                     stage=BillingFailure.Stage.FINALIZATION, failing=failed,
                                     resolution="No longer a draft due for finalization.")
    return result


# --- Corrections ------------------------------------------------------------------------------


@transaction.atomic
def invoice_void(*, invoice: Invoice, actor: str = "") -> Invoice:
    """Void a finalized invoice before any payment. Idempotent. The contract's billing date
    stays taken: a voided period is re-billed by a one-off invoice if need be."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk,
                                                      organization=invoice.organization)
    if invoice.status == Invoice.Status.VOID:
        return invoice
    if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.DRAFT) or \
            invoice.amount_paid > 0:
        raise ValidationError({"status": ["Only an unpaid invoice can be voided; issue a "
                                          "credit note instead."]})
    if invoice.credit_applied > 0:
        CustomerCredit.objects.create(
            organization=invoice.organization, customer=invoice.customer,
            currency=invoice.currency, amount=invoice.credit_applied,
            source=f"void:{invoice.id}", description=f"Credit returned by voiding {invoice}")
    invoice.status = Invoice.Status.VOID
    invoice.voided_at = timezone.now()
    invoice.amount_due = Decimal(0)
    invoice.save()
    outbox_write(organization=invoice.organization, event_type="invoice.voided",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    return invoice


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice) -> Invoice:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk,
                                                      organization=invoice.organization)
    if invoice.status != Invoice.Status.FINALIZED:
        raise ValidationError({"status": ["Only a finalized, unpaid invoice."]})
    invoice.status = Invoice.Status.UNCOLLECTIBLE
    invoice.save(update_fields=["status", "updated_at"])
    return invoice


@transaction.atomic
def credit_note_create(*, invoice: Invoice, reason: str,
                       lines: list[tuple[InvoiceLine, Decimal]] | None = None) -> CreditNote:
    """Credit a finalized invoice, fully (``lines`` None) or per line (line, amount). It
    reduces the amount due; the part beyond what is still due (the invoice was paid) becomes
    the customer's credit balance, used by the next invoices."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk,
                                                      organization=invoice.organization)
    if invoice.status not in (Invoice.Status.FINALIZED, Invoice.Status.PAID):
        raise ValidationError({"invoice": ["Only a finalized or paid invoice is credited."]})
    if not reason.strip():
        raise ValidationError({"reason": ["Say why."]})
    credited = {cl.invoice_line_id: Decimal(0) for cl in CreditNoteLine.objects.filter(
        credit_note__invoice=invoice)}
    for cl in CreditNoteLine.objects.filter(credit_note__invoice=invoice):
        credited[cl.invoice_line_id] += cl.amount
    invoice_lines = {line.id: line for line in invoice.lines.all()}
    wanted = lines if lines is not None else [
        (line, line.amount - credited.get(line.id, Decimal(0))) for line in invoice_lines.values()
        if line.amount - credited.get(line.id, Decimal(0)) > 0
    ]
    errors = {}
    for index, (line, amount) in enumerate(wanted):
        left = line.amount - credited.get(line.id, Decimal(0))
        if line.id not in invoice_lines:
            errors[f"lines[{index}].line"] = ["Not a line of this invoice."]
        elif not amount.is_finite() or amount <= 0 or amount > left:
            errors[f"lines[{index}].amount"] = [f"Must be more than 0 and at most {left}."]
        elif amount != round_money(amount, invoice.currency):
            errors[f"lines[{index}].amount"] = [
                f"Must have at most {minor_units(invoice.currency)} decimal places in "
                f"{invoice.currency}."]
    if errors:
        raise ValidationError(errors)
    if not wanted or sum(amount for _, amount in wanted) == 0:
        # a note crediting nothing would still take a number of the gapless sequence
        raise ValidationError({"lines": ["Nothing is left to credit on this invoice."]})
    settings = invoice_settings(organization=invoice.organization)
    today = timezone.now().date()
    note = CreditNote.objects.create(
        organization=invoice.organization, invoice=invoice, reason=reason.strip()[:300],
        number=_next_number(invoice.organization, "credit_note", today.year,
                            settings.number_prefix),
        currency=invoice.currency, subtotal=0, tax_total=0, total=0)
    subtotal = tax_total = Decimal(0)
    for line, amount in wanted:
        tax = round_money(amount * (line.tax_rate or 0) / 100, invoice.currency) \
            if line.tax_rate and invoice.tax_total else Decimal(0)
        CreditNoteLine.objects.create(organization=invoice.organization, credit_note=note,
                                      invoice_line=line, description=line.description,
                                      amount=amount, tax_amount=tax)
        subtotal += amount
        tax_total += tax
    inclusive = taxes.is_inclusive(invoice)
    total = subtotal + (Decimal(0) if inclusive else tax_total)
    note.subtotal, note.tax_total, note.total = subtotal, tax_total, total
    reduces_due = min(total, max(invoice.amount_due, Decimal(0)))
    note.to_customer_credit = total - reduces_due
    note.save()
    invoice.amount_due -= reduces_due
    if invoice.amount_due <= 0 and invoice.status == Invoice.Status.FINALIZED:
        invoice.status = Invoice.Status.PAID
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    if note.to_customer_credit > 0:
        CustomerCredit.objects.create(
            organization=invoice.organization, customer=invoice.customer,
            currency=invoice.currency, amount=note.to_customer_credit,
            source=f"credit_note:{note.id}", description=f"Credit note {note.number}")
    outbox_write(organization=invoice.organization, event_type="credit_note.created",
                 subject_id=note.id, payload={"credit_note": note.number,
                                              "invoice": invoice.number, "total": total})
    return note


@transaction.atomic
def invoice_create_one_off(*, organization: Organization, customer: Customer,
                           lines: list[dict], memo: str = "", actor: str = "") -> Invoice:
    """A one-off draft invoice with manual lines ({description, quantity, unit_price})."""
    if not lines:
        raise ValidationError({"lines": ["At least one line."]})
    invoice = Invoice.objects.create(
        organization=organization, customer=customer, contract=None,
        billing_date=_today(customer.time_zone), currency=customer.currency, memo=memo,
        manual=True, finalize_after=None)
    for line in lines:
        invoice_add_line(invoice=invoice, actor=actor, description=line["description"],
                         quantity=Decimal(str(line["quantity"])),
                         unit_price=Decimal(str(line["unit_price"])))
    invoice.refresh_from_db()
    outbox_write(organization=organization, event_type="invoice.created",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    return invoice


def _event_payload(invoice: Invoice) -> dict:
    return {
        "invoice": str(invoice.id), "number": invoice.number, "status": invoice.status,
        "customer": invoice.customer.external_id if invoice.customer_id else None,
        "currency": invoice.currency, "total": str(invoice.total),
        "amount_due": str(invoice.amount_due), "billing_date": invoice.billing_date.isoformat(),
    }
