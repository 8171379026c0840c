"""What each billing event posts to the ledger, and the domain-event handlers that post it.

The handlers run inside the publisher's transaction (``zenskar.events``, phase
``transaction``): the entry commits or rolls back with the invoice, payment, credit note or
credit movement behind it, and a posting that fails refuses the billing event itself. They
read the rows of earlier apps by the ids the event carries (never write them), and post
through ``revrec.services``; each entry is unique per source event, so a retried event posts
nothing twice.

| event | debit | credit |
| --- | --- | --- |
| ``invoice.finalized`` | AR: the total | deferred revenue (ratable lines, prepaid blocks: each gets a revenue schedule), unbilled revenue (usage accrued before), revenue (the rest), sales tax payable |
| (period end) usage of a draft not yet invoiced | unbilled revenue | revenue |
| ``invoice.voided`` | the exact reversal of the finalization entry (and of the accrual; what its schedules recognized is taken back first) | |
| ``invoice.uncollectible`` | bad-debt expense: the amount due | AR |
| ``payment.applied`` | gateway receivable (card) or cash (offline) | AR (bad-debt expense: a recovery, for an invoice written off); customer credit: the excess |
| ``payment.refunded`` | AR (bad-debt expense, written off) or customer credit | gateway receivable (card) or cash |
| ``credit_note.issued`` | deferred revenue (what its schedule has not recognized) or revenue, sales tax payable | AR (bad-debt expense, written off) and customer credit |
| ``credit.granted`` | revenue (a grant by a person: a concession), AR (an invoice of credits; credit a voided invoice gives back) | customer credit |
| ``credit.applied`` | customer credit | AR |
| ``credit.expired`` | customer credit | revenue (breakage) |

Credit that comes with its own event -- an overpayment or prepaid purchase (``payment.applied``),
a credit note's (``credit_note.issued``) -- is posted there, not again on ``credit.granted``.

**Allocation (ASC 606 step 4).** When every line of an invoice that has a product names a
product with a standalone selling price in the invoice's currency, and there are two
products or more, the invoice's price net of tax (its discounts included) is allocated across
those lines by relative standalone selling price (x quantity), rounded once, the cent that
rounding leaves to the largest: revenue per product follows the standalone prices, not the
billed amounts. Otherwise each line is its own price; a line without a product of its own (a
contract discount) follows the revenue rule of the invoice's product lines when they share
one, else it is revenue at a point in time.

**Modifications.** An amendment's invoice credits the unused old terms (a proration credit)
and charges the new ones over the rest of the period: each line gets a schedule of its own
(the credit's negative), so the rest of the old deferral and the new consideration are
recognized over the remaining period -- prospective, labelled so. When the amendment took
effect before the day it is invoiced, the next run recognizes the elapsed days at once:
cumulative catch-up, labelled so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from contracts.models import Product
from invoicing import selectors as invoicing_selectors
from invoicing.models import (
    CreditGrant,
    CreditNote,
    CreditNoteLine,
    CustomerCredit,
    Invoice,
    InvoiceLine,
    InvoiceSettlement,
)
from payments.models import Payment
from revrec import recognition
from revrec.models import Account, JournalEntry, JournalLine, RevenueSchedule
from revrec.services import Posting, Refs, entry_existing, entry_post, entry_reverse, today
from zenskar.events import DomainEvent
from zenskar.money import as_decimal, round_money
from zenskar.tenancy.models import Organization

Key = Account.SystemKey
FINALIZED = "invoice.finalized"
VOIDED = "invoice.voided"
UNCOLLECTIBLE = "invoice.uncollectible"
PAYMENT_APPLIED = "payment.applied"
PAYMENT_REFUNDED = "payment.refunded"
CREDIT_NOTE_ISSUED = "credit_note.issued"
CREDIT_GRANTED = "credit.granted"
CREDIT_APPLIED = "credit.applied"
CREDIT_EXPIRED = "credit.expired"
ACCRUED = "revenue.accrued"

Rule = Product.RevenueRule
LineKind = InvoiceLine.Kind
# Lines that take part in an allocation by standalone selling price.
ALLOCATED_KINDS = {LineKind.RECURRING, LineKind.USAGE, LineKind.ONE_TIME, LineKind.PREPAID,
                   LineKind.OVERAGE, LineKind.MANUAL}


def _side(account: str, amount: Decimal, refs: Refs, description: str = "",
          *, debit_side: bool) -> Posting:
    """``amount`` on its natural side of ``account`` (a negative amount on the other)."""
    if (amount >= 0) == debit_side:
        return Posting(account, debit=abs(amount), refs=refs, description=description)
    return Posting(account, credit=abs(amount), refs=refs, description=description)


def allocate(pool: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """``pool`` split by ``weights`` (positive), each share rounded once to the currency and
    the cent rounding leaves given to the largest weight: the shares add up to ``pool``."""
    total = sum(weights, Decimal(0))
    shares = [round_money(pool * weight / total, currency) for weight in weights]
    largest = max(range(len(weights)), key=lambda i: weights[i])
    shares[largest] += pool - sum(shares, Decimal(0))
    return shares


@dataclass
class _Line:
    line: InvoiceLine
    rule: str | None
    net: Decimal  # net of tax, after allocation
    refs: Refs


def _net_lines(invoice: Invoice, lines: list[InvoiceLine]) -> list[_Line]:
    """Each line's revenue net of tax, the tax's rounding cent and the allocation applied."""
    rules = {line.product.revenue_rule for line in lines if line.product is not None}
    shared_rule = next(iter(rules)) if len(rules) == 1 else None
    inclusive = invoice.tax_total != 0 and invoice.total == invoice.subtotal
    found = [_Line(line, line.product.revenue_rule if line.product is not None else shared_rule,
                   line.amount - (line.tax_amount if inclusive else Decimal(0)),
                   Refs(invoice=invoice.id, customer=invoice.customer_id,
                        product=line.product_id))
             for line in lines]
    # The tax is computed once on the invoice, each line's share rounded for display: what
    # the shares miss of the total (a cent, inclusive prices) goes to the largest line.
    residual = invoice.total - invoice.tax_total - sum((f.net for f in found), Decimal(0))
    if residual and found:
        max(found, key=lambda f: abs(f.net)).net += residual
    _allocate_by_ssp(invoice, found)
    return found


def _allocate_by_ssp(invoice: Invoice, found: list[_Line]) -> None:
    with_product = [f for f in found if f.line.product is not None]
    others = [f for f in found if f.line.product is None]
    products = {f.line.product_id for f in with_product}
    if len(products) < 2 or any(f.line.kind == LineKind.CREDIT or f.line.amount < 0
                                or f.line.kind not in ALLOCATED_KINDS for f in with_product):
        return
    if any(f.line.kind != LineKind.DISCOUNT for f in others):
        return
    weights = []
    for f in with_product:
        product = f.line.product
        assert product is not None
        ssp = product.standalone_selling_price
        if ssp is None or ssp <= 0 or (product.ssp_currency or invoice.currency) != invoice.currency:
            return
        quantity = f.line.quantity if f.line.quantity and f.line.quantity > 0 else Decimal(1)
        weights.append(ssp * quantity)
    pool = sum((f.net for f in found), Decimal(0))
    if pool <= 0:
        return
    for f, share in zip(with_product, allocate(pool, weights, invoice.currency), strict=True):
        f.net = share
    for f in others:
        f.net = Decimal(0)  # folded into the obligations it discounted


def _period(f: _Line, found: list[_Line]) -> tuple[date, date] | None:
    """A line's service period; a line without one (a discount) spans its invoice's ratable
    lines."""
    line = f.line
    if line.kind == LineKind.CREDIT and line.period_end:
        # a charge's period cut short (an amendment, a cancellation): the credit is for the
        # days it no longer covers, from the new end to the end the charge was billed for
        nominal_end = _day((line.derivation or {}).get("nominal_end"))
        if nominal_end is not None and nominal_end > line.period_end:
            return line.period_end, nominal_end
    if line.period_start and line.period_end and line.period_end > line.period_start:
        return line.period_start, line.period_end
    spans = [(o.line.period_start, o.line.period_end) for o in found
             if o.rule == Rule.RATABLE and o.line.period_start and o.line.period_end
             and o.line.period_end > o.line.period_start]
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _day(value: object) -> date | None:
    """The date an ISO date or date-time string (a derivation's) starts on, or None."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _prepaid_units(line: InvoiceLine) -> Decimal | None:
    """The size of a prepaid block, in the terms its draw-downs use (units, or money)."""
    item = line.price_item
    if item is None:
        return None
    pricing = item.pricing or {}
    value = pricing.get("units") if item.model == "prepaid_units" else pricing.get("credit")
    try:
        units = as_decimal(str(value))
    except (TypeError, ValueError, ArithmeticError):
        return None
    return units if units > 0 else None


def invoice_finalized_post(*, organization: Organization,
                           invoice: Invoice) -> JournalEntry | None:
    """Dr AR the invoice's total; Cr each line's revenue (allocated) to deferred revenue (a
    revenue schedule made for it), unbilled revenue (what was accrued) or revenue; Cr sales
    tax payable the tax. Prepaid usage on the invoice draws its blocks down. None for an
    invoice of zero. Idempotent per invoice."""
    if entry_existing(organization=organization, source_type=FINALIZED,
                      source_id=str(invoice.id)) is not None:
        return None
    lines = list(InvoiceLine.objects.for_organization(organization).filter(invoice=invoice)
                 .select_related("product", "price_item", "price_item__phase")
                 .order_by("position", "created_at", "id"))
    issued = invoice.issue_date or today(organization)
    found = _net_lines(invoice, lines)
    refs = Refs(invoice=invoice.id, customer=invoice.customer_id)
    postings = [_side(Key.ACCOUNTS_RECEIVABLE, invoice.total, refs,
                      f"Invoice {invoice.number}", debit_side=True)]
    accrued = _accrued(organization, invoice)
    # an amendment's invoice: the unused old terms credited, the new ones charged
    amended = any(line.kind == LineKind.CREDIT for line in lines)
    for f in found:
        line = f.line
        account = Key.REVENUE
        if line.kind == LineKind.PREPAID and f.net > 0 and _prepaid_units(line):
            account = Key.DEFERRED_REVENUE
            phase = line.price_item.phase if line.price_item else None
            recognition.schedule_create(
                organization=organization, source=f"invoice_line:{line.id}",
                method=RevenueSchedule.Method.DRAWDOWN, currency=invoice.currency,
                amount=f.net, billed=line.amount, start_date=line.period_start or issued,
                end_date=phase.end_date if phase is not None else None,
                invoice_id=invoice.id, invoice_line_id=line.id,
                customer_id=invoice.customer_id, product_id=line.product_id,
                contract_id=invoice.contract_id, price_item_id=line.price_item_id,
                units=_prepaid_units(line), description=line.description)
        elif f.rule == Rule.RATABLE and f.net != 0 and (period := _period(f, found)):
            account = Key.DEFERRED_REVENUE
            modification = ""
            if amended:
                modification = (RevenueSchedule.Modification.CUMULATIVE_CATCH_UP
                                if period[0] < issued else RevenueSchedule.Modification.PROSPECTIVE)
            recognition.schedule_create(
                organization=organization, source=f"invoice_line:{line.id}",
                method=RevenueSchedule.Method.RATABLE, currency=invoice.currency,
                amount=f.net, billed=line.amount, start_date=period[0], end_date=period[1],
                invoice_id=invoice.id, invoice_line_id=line.id,
                customer_id=invoice.customer_id, product_id=line.product_id,
                contract_id=invoice.contract_id, price_item_id=line.price_item_id,
                modification=modification, description=line.description)
        elif f.rule == Rule.RATABLE and f.net != 0:
            account = Key.DEFERRED_REVENUE  # no period known: deferred until credited
        elif f.rule == Rule.AS_USED and accrued > 0 and f.net > 0:
            # earned, and booked as unbilled revenue, when its period ended: billing it
            # turns that asset into a receivable; only what was not accrued is revenue now
            billed = min(accrued, f.net)
            accrued -= billed
            postings.append(Posting(Key.UNBILLED_REVENUE, credit=billed, refs=f.refs,
                                    description=f"{line.description} (accrued)"))
            postings.append(_side(Key.REVENUE, f.net - billed, f.refs, line.description,
                                  debit_side=False))
            continue
        postings.append(_side(account, f.net, f.refs, line.description, debit_side=False))
    if accrued:  # accrued more than the invoice bills (usage went down): revenue back
        postings += [_side(Key.REVENUE, accrued, refs, "Usage accrued, not billed",
                           debit_side=True),
                     _side(Key.UNBILLED_REVENUE, accrued, refs, "Usage accrued, not billed",
                           debit_side=False)]
    postings.append(_side(Key.SALES_TAX_PAYABLE, invoice.tax_total, refs,
                          f"Tax on invoice {invoice.number}", debit_side=False))
    entry = None
    if any(p.debit or p.credit for p in postings):
        entry = entry_post(organization=organization, source_type=FINALIZED,
                           source_id=invoice.id, currency=invoice.currency,
                           effective_date=issued, lines=postings,
                           memo=f"Invoice {invoice.number} finalized")
    _draw_down(organization, invoice, lines, issued)
    return entry


def _draw_down(organization: Organization, invoice: Invoice, lines: list[InvoiceLine],
               issued: date) -> None:
    """The usage of prepaid blocks billed on this invoice (its draw-down lines) earns their
    share of the blocks, dated the last day of the usage's period."""
    for line in lines:
        drawn = (line.derivation or {}).get("drawn")
        if drawn is None or line.price_item_id is None:
            continue
        try:
            units = as_decimal(str(drawn))
        except (TypeError, ValueError, ArithmeticError):
            continue
        schedule = (RevenueSchedule.objects.for_organization(organization)
                    .filter(method=RevenueSchedule.Method.DRAWDOWN, done=False,
                            price_item_id=line.price_item_id).order_by("created_at").first())
        if schedule is None or units <= 0:
            continue
        on = line.period_end - timedelta(days=1) if line.period_end else issued
        recognition.drawdown_recognize(organization=organization, schedule=schedule,
                                       units=units, on=on, source=f"invoice_line:{line.id}")


def _accrued(organization: Organization, invoice: Invoice) -> Decimal:
    """What the usage accrual of this invoice put in unbilled revenue."""
    entry = entry_existing(organization=organization, source_type=ACCRUED,
                           source_id=str(invoice.id))
    if entry is None:
        return Decimal(0)
    lines = JournalLine.objects.for_organization(organization).filter(
        entry=entry, account__system_key=Key.UNBILLED_REVENUE)
    return sum((line.debit - line.credit for line in lines), Decimal(0))


def usage_accrue(*, organization: Organization, through: date) -> int:
    """Period-end accrual: the usage of drafts whose period ended by ``through`` (inclusive)
    and that are not invoiced yet is earned -- Dr unbilled revenue / Cr revenue, dated the
    period's last day, once per draft. Returns how many drafts were accrued."""
    drafts = (invoicing_selectors.invoices(organization=organization)
              .filter(status=Invoice.Status.DRAFT, period_end__isnull=False,
                      period_end__lte=through + timedelta(days=1))
              .order_by("period_end", "id"))
    accrued = 0
    for invoice in drafts:
        if entry_existing(organization=organization, source_type=ACCRUED,
                          source_id=str(invoice.id)) is not None:
            continue
        lines = [f for f in _net_lines(invoice, list(
            InvoiceLine.objects.for_organization(organization).filter(invoice=invoice)
            .select_related("product").order_by("position", "id")))
            if f.rule == Rule.AS_USED and f.line.kind != LineKind.PREPAID and f.net]
        if not lines:
            continue
        postings = []
        for f in lines:
            postings += [_side(Key.UNBILLED_REVENUE, f.net, f.refs, f.line.description,
                               debit_side=True),
                         _side(Key.REVENUE, f.net, f.refs, f.line.description,
                               debit_side=False)]
        assert invoice.period_end is not None
        entry_post(organization=organization, source_type=ACCRUED, source_id=invoice.id,
                   currency=invoice.currency,
                   effective_date=invoice.period_end - timedelta(days=1), lines=postings,
                   memo="Usage delivered, not yet invoiced")
        accrued += 1
    return accrued


def invoice_voided_post(*, organization: Organization, invoice: Invoice) -> JournalEntry | None:
    """The exact reversal of the invoice's finalization entry (and of its usage accrual),
    dated the day it was voided, after what its schedules recognized is taken back. None
    when the invoice posted nothing. Idempotent."""
    voided_on = today(organization, invoice.voided_at) if invoice.voided_at else None
    accrual = entry_existing(organization=organization, source_type=ACCRUED,
                             source_id=str(invoice.id))
    if accrual is not None:
        entry_reverse(accrual, source_type=f"{ACCRUED}.voided", source_id=invoice.id,
                      effective_date=voided_on, memo=f"Invoice {invoice.number} voided")
    posted = entry_existing(organization=organization, source_type=FINALIZED,
                            source_id=str(invoice.id))
    if posted is None:
        return None
    recognition.schedules_cancel(organization=organization, invoice_id=invoice.id,
                                 source_id=f"void:{invoice.id}",
                                 on=voided_on or today(organization))
    return entry_reverse(posted, source_type=VOIDED, source_id=invoice.id,
                         effective_date=voided_on, memo=f"Invoice {invoice.number} voided")


def invoice_uncollectible_post(*, organization: Organization,
                               invoice: Invoice) -> JournalEntry | None:
    """Written off: Dr bad-debt expense / Cr AR what is due (direct write-off). Later money
    on the invoice moves bad-debt expense instead of AR."""
    if invoice.amount_due <= 0:
        return None
    refs = Refs(invoice=invoice.id, customer=invoice.customer_id)
    return entry_post(
        organization=organization, source_type=UNCOLLECTIBLE, source_id=invoice.id,
        currency=invoice.currency, effective_date=today(organization),
        memo=f"Invoice {invoice.number} written off",
        lines=[Posting(Key.BAD_DEBT_EXPENSE, debit=invoice.amount_due, refs=refs,
                       description=f"Invoice {invoice.number} uncollectible"),
               Posting(Key.ACCOUNTS_RECEIVABLE, credit=invoice.amount_due, refs=refs,
                       description=f"Invoice {invoice.number} uncollectible")])


def _receivable(settlement: InvoiceSettlement | None, *, after: bool = False) -> str:
    """Where an invoice's money moves: AR, or bad-debt expense while it is written off."""
    status = None
    if settlement is not None:
        status = settlement.status_after if after else settlement.status_before
    return Key.BAD_DEBT_EXPENSE if status == Invoice.Status.UNCOLLECTIBLE \
        else Key.ACCOUNTS_RECEIVABLE


def _payment(organization: Organization, source: str) -> Payment | None:
    kind, _, rest = source.partition(":")
    if kind != "payment":
        return None
    try:
        payment_id = uuid.UUID(rest)
    except ValueError:
        return None
    return Payment.objects.for_organization(organization).filter(id=payment_id).first()


def _money_account(payment: Payment | None) -> str:
    """A card's money is with the gateway until its payout; the rest is cash."""
    return Key.GATEWAY_RECEIVABLE if payment is not None \
        and payment.method == Payment.Method.CARD else Key.CASH


def payment_applied_post(*, organization: Organization, source: str, currency: str,
                         applied: Decimal, to_credit: Decimal, invoice: Invoice | None,
                         customer_id: uuid.UUID | None = None) -> JournalEntry | None:
    """Money received (``source``: ``payment:<id>``): Dr gateway receivable (card) or cash
    (offline) the whole amount; Cr AR what paid the invoice (bad-debt expense, a recovery,
    when it was written off), Cr customer credit the excess. Idempotent per source."""
    if applied + to_credit <= 0:
        return None
    payment = _payment(organization, source)
    customer = invoice.customer_id if invoice is not None else (
        payment.customer_id if payment is not None else customer_id)
    refs = Refs(invoice=invoice.id if invoice is not None else None,
                payment=payment.id if payment is not None else None, customer=customer)
    settlement = InvoiceSettlement.objects.for_organization(organization).filter(
        source=source).first() if applied else None
    label = f"invoice {invoice.number}" if invoice is not None else "a prepaid purchase"
    postings = [
        Posting(_money_account(payment), debit=applied + to_credit, refs=refs,
                description=f"Payment {source}"),
        Posting(_receivable(settlement), credit=applied, refs=refs,
                description=f"Payment of {label}"),
        Posting(Key.CUSTOMER_CREDIT, credit=to_credit, refs=refs,
                description="Kept as customer credit"),
    ]
    effective = payment.received_on if payment is not None and payment.received_on else None
    return entry_post(organization=organization, source_type=PAYMENT_APPLIED, source_id=source,
                      currency=currency, effective_date=effective or today(organization),
                      lines=postings, memo=f"Payment {source} for {label}")


def payment_refunded_post(*, organization: Organization, source: str, payment_source: str,
                          taken_from: str, currency: str, amount: Decimal,
                          invoice: Invoice | None,
                          customer_id: uuid.UUID | None = None) -> JournalEntry | None:
    """Money given back (``source``: the refund's settlement or credit movement): Dr AR (the
    invoice owes it again; bad-debt expense while written off) or customer credit (refunded
    out of credit), Cr gateway receivable (card) or cash. Idempotent per source."""
    if amount <= 0:
        return None
    payment = _payment(organization, payment_source)
    debit: str
    if taken_from == "credit":
        debit = Key.CUSTOMER_CREDIT
    else:
        settlement = InvoiceSettlement.objects.for_organization(organization).filter(
            source=source).first()
        debit = _receivable(settlement, after=True)
    customer = invoice.customer_id if invoice is not None else (
        payment.customer_id if payment is not None else customer_id)
    refs = Refs(invoice=invoice.id if invoice is not None else None,
                payment=payment.id if payment is not None else None, customer=customer)
    # one refund may take from the payment's credit and from its invoice under one source:
    # two movements, two entries
    return entry_post(
        organization=organization, source_type=PAYMENT_REFUNDED,
        source_id=f"{taken_from}:{source}",
        currency=currency, effective_date=today(organization),
        memo=f"Refund of {payment_source}",
        lines=[Posting(debit, debit=amount, refs=refs, description=f"Refund {source}"),
               Posting(_money_account(payment), credit=amount, refs=refs,
                       description=f"Refund of {payment_source}")])


def credit_note_issued_post(*, organization: Organization,
                            note: CreditNote) -> JournalEntry | None:
    """A credit note: each line's amount net of tax comes off deferred revenue, as far as
    its schedule has not recognized it (the schedule shrinks by it), else off revenue; its
    tax off sales tax payable; Cr AR what it took off the amount due (bad-debt expense when
    the invoice was written off) and customer credit what went to the balance."""
    invoice = note.invoice
    inclusive = note.total == note.subtotal and note.tax_total != 0
    refs = Refs(invoice=invoice.id, credit_note=note.id, customer=invoice.customer_id)
    postings: list[Posting] = []
    note_lines = list(CreditNoteLine.objects.for_organization(organization)
                      .filter(credit_note=note).select_related("invoice_line")
                      .order_by("created_at", "id"))
    for note_line in note_lines:
        line = note_line.invoice_line
        net = note_line.amount - (note_line.tax_amount if inclusive else Decimal(0))
        line_refs = Refs(invoice=invoice.id, credit_note=note.id,
                         customer=invoice.customer_id,
                         product=line.product_id if line is not None else None)
        schedule = RevenueSchedule.objects.for_organization(organization).filter(
            source=f"invoice_line:{line.id}").first() if line is not None else None
        if schedule is not None and net:
            from_revenue, from_deferred = recognition.schedule_reduce(
                organization=organization, schedule=schedule, amount=net)
            postings.append(_side(Key.DEFERRED_REVENUE, from_deferred, line_refs,
                                  note_line.description, debit_side=True))
            postings.append(_side(Key.REVENUE, from_revenue, line_refs, note_line.description,
                                  debit_side=True))
        elif _deferred_without_schedule(organization, invoice, line):
            postings.append(_side(Key.DEFERRED_REVENUE, net, line_refs, note_line.description,
                                  debit_side=True))
        else:
            postings.append(_side(Key.REVENUE, net, line_refs, note_line.description,
                                  debit_side=True))
    # the tax: the note's, its rounding residual to the largest line
    residual = note.total - note.tax_total - sum((p.debit - p.credit for p in postings),
                                                  Decimal(0))
    if residual and postings:
        postings.append(_side(Key.REVENUE, residual, refs, "Rounding", debit_side=True))
    postings.append(_side(Key.SALES_TAX_PAYABLE, note.tax_total, refs,
                          f"Tax of credit note {note.number}", debit_side=True))
    settlement = InvoiceSettlement.objects.for_organization(organization).filter(
        source=f"credit_note:{note.id}").first()
    postings.append(_side(_receivable(settlement), note.amount_credited, refs,
                          f"Credit note {note.number}", debit_side=False))
    postings.append(_side(Key.CUSTOMER_CREDIT, note.to_customer_credit, refs,
                          f"Credit note {note.number} to the credit balance",
                          debit_side=False))
    if not any(p.debit or p.credit for p in postings):
        return None
    return entry_post(organization=organization, source_type=CREDIT_NOTE_ISSUED,
                      source_id=note.id, currency=note.currency,
                      effective_date=today(organization, note.created_at), lines=postings,
                      memo=f"Credit note {note.number} on invoice {invoice.number}")


def _deferred_without_schedule(organization: Organization, invoice: Invoice,
                               line: InvoiceLine | None) -> bool:
    """A line the finalization deferred without a schedule (ratable, no period)."""
    if line is None:
        return False
    finalized = entry_existing(organization=organization, source_type=FINALIZED,
                               source_id=str(invoice.id))
    if finalized is None:
        return False
    return JournalLine.objects.for_organization(organization).filter(
        entry=finalized, account__system_key=Key.DEFERRED_REVENUE,
        product_id=line.product_id, description=line.description).exists()


def credit_movement_post(*, organization: Organization, name: str,
                         movement: CustomerCredit) -> JournalEntry | None:
    """A movement of the customer's credit balance that no other event posts: granted by a
    person (Dr revenue: a concession), by an invoice of credits or given back by a voided
    invoice (Dr AR); applied to an invoice (Dr customer credit / Cr AR); expired (Dr customer
    credit / Cr revenue: breakage). Idempotent per movement."""
    grant = movement.grant
    amount = abs(movement.amount)
    if grant is None or amount == 0:
        return None
    refs = Refs(invoice=movement.invoice_id, customer=movement.customer_id)
    Kind = CreditGrant.Kind
    if name == CREDIT_GRANTED:
        if movement.kind == CustomerCredit.Kind.RETURNED or grant.kind == Kind.INVOICE:
            debit = Key.ACCOUNTS_RECEIVABLE
        elif grant.kind == Kind.GRANT:
            debit = Key.REVENUE
        else:  # an overpayment, a prepaid purchase, a credit note: posted by their events
            return None
        lines = [Posting(debit, debit=amount, refs=refs, description=grant.reason[:300]),
                 Posting(Key.CUSTOMER_CREDIT, credit=amount, refs=refs,
                         description=movement.description)]
    elif name == CREDIT_APPLIED:
        lines = [Posting(Key.CUSTOMER_CREDIT, debit=amount, refs=refs,
                         description=movement.description),
                 Posting(Key.ACCOUNTS_RECEIVABLE, credit=amount, refs=refs,
                         description=movement.description)]
    elif name == CREDIT_EXPIRED:
        lines = [Posting(Key.CUSTOMER_CREDIT, debit=amount, refs=refs,
                         description=movement.description),
                 Posting(Key.REVENUE, credit=amount, refs=refs,
                         description="Breakage: customer credit expired unused")]
    else:
        return None
    return entry_post(organization=organization, source_type=name, source_id=movement.id,
                      currency=movement.currency,
                      effective_date=today(organization, movement.created_at), lines=lines,
                      memo=movement.description)


# --- Domain-event handlers (registered in ``RevrecConfig.ready``) -----------------------------


def _organization(event: DomainEvent) -> Organization | None:
    """The event's organization; None for one that is gone (nothing to post)."""
    return Organization.objects.filter(id=event.organization_id).first()


def _invoice(organization: Organization | None, invoice_id: object) -> Invoice | None:
    if organization is None or not invoice_id:
        return None
    return invoicing_selectors.invoice_get(organization=organization,
                                           invoice_id=uuid.UUID(str(invoice_id)))


def on_invoice_finalized(event: DomainEvent) -> None:
    organization = _organization(event)
    invoice = _invoice(organization, event.payload.get("invoice"))
    if organization is not None and invoice is not None:
        invoice_finalized_post(organization=organization, invoice=invoice)


def on_invoice_voided(event: DomainEvent) -> None:
    organization = _organization(event)
    invoice = _invoice(organization, event.payload.get("invoice"))
    if organization is not None and invoice is not None:
        invoice_voided_post(organization=organization, invoice=invoice)


def on_invoice_uncollectible(event: DomainEvent) -> None:
    organization = _organization(event)
    invoice = _invoice(organization, event.payload.get("invoice"))
    if organization is not None and invoice is not None:
        invoice_uncollectible_post(organization=organization, invoice=invoice)


def on_payment_applied(event: DomainEvent) -> None:
    organization = _organization(event)
    payload = event.payload
    if organization is None or not payload.get("source"):
        return
    payment_applied_post(
        organization=organization, source=str(payload["source"]),
        currency=str(payload["currency"]), applied=as_decimal(str(payload["applied"])),
        to_credit=as_decimal(str(payload["to_credit"])),
        invoice=_invoice(organization, payload.get("invoice")))


def on_payment_refunded(event: DomainEvent) -> None:
    organization = _organization(event)
    payload = event.payload
    if organization is None or not payload.get("source"):
        return
    payment_refunded_post(
        organization=organization, source=str(payload["source"]),
        payment_source=str(payload.get("payment") or ""),
        taken_from=str(payload.get("from") or "invoice"), currency=str(payload["currency"]),
        amount=as_decimal(str(payload["amount"])),
        invoice=_invoice(organization, payload.get("invoice")))


def on_credit_note_issued(event: DomainEvent) -> None:
    organization = _organization(event)
    note_id = event.payload.get("credit_note")
    if organization is None or not note_id:
        return
    note = (CreditNote.objects.for_organization(organization).select_related("invoice")
            .filter(id=uuid.UUID(str(note_id))).first())
    if note is not None:
        credit_note_issued_post(organization=organization, note=note)


def on_credit_movement(event: DomainEvent) -> None:
    organization = _organization(event)
    movement_id = event.payload.get("movement")
    if organization is None or not movement_id:
        return
    movement = (CustomerCredit.objects.for_organization(organization).select_related("grant")
                .filter(id=uuid.UUID(str(movement_id))).first())
    if movement is not None:
        credit_movement_post(organization=organization, name=event.name, movement=movement)


SUBSCRIPTIONS = (
    (FINALIZED, on_invoice_finalized),
    (VOIDED, on_invoice_voided),
    (UNCOLLECTIBLE, on_invoice_uncollectible),
    (PAYMENT_APPLIED, on_payment_applied),
    (PAYMENT_REFUNDED, on_payment_refunded),
    (CREDIT_NOTE_ISSUED, on_credit_note_issued),
    (CREDIT_GRANTED, on_credit_movement),
    (CREDIT_APPLIED, on_credit_movement),
    (CREDIT_EXPIRED, on_credit_movement),
)
