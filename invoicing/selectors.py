"""Reads for invoices: filtered lists, and the billing failures the runs recorded; what money
an invoice can take (the one "is payable" rule), credit notes, and the customer's balance
(credit lots and movements). Later apps (payments) read invoices through these functions,
never through ``invoicing.models``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from invoicing.models import (
    BillingFailure,
    CreditGrant,
    CreditNote,
    CreditNoteLine,
    CustomerCredit,
    Invoice,
    InvoiceLine,
    InvoiceSettlement,
)


def invoices_list(
    *, organization, status: str | None = None, customer: str | None = None,
    contract: uuid.UUID | None = None,
    date_from: date | None = None, date_to: date | None = None, overdue: bool = False,
    currency: str | None = None, issued_from: date | None = None,
    issued_to: date | None = None,
) -> QuerySet[Invoice]:
    """Invoices newest first. ``customer`` is an external id; dates bound the billing date
    (``date_to`` exclusive), ``issued_*`` the issue date likewise (a draft has none);
    ``overdue``: finalized, unpaid and past their due date; ``status`` may also be
    ``partially_paid`` (:data:`PARTIALLY_PAID`). Typed arguments: the API and the pages parse
    their query strings."""
    invoices = Invoice.objects.for_organization(organization).select_related("customer")
    if status == PARTIALLY_PAID:
        invoices = invoices.filter(partially_paid())
    elif status:
        invoices = invoices.filter(status=status)
    if customer:
        invoices = invoices.filter(customer__external_id=customer)
    if contract:
        invoices = invoices.filter(contract_id=contract)
    if currency:
        invoices = invoices.filter(currency=currency)
    if date_from:
        invoices = invoices.filter(billing_date__gte=date_from)
    if date_to:
        invoices = invoices.filter(billing_date__lt=date_to)
    if issued_from:
        invoices = invoices.filter(issue_date__gte=issued_from)
    if issued_to:
        invoices = invoices.filter(issue_date__lt=issued_to)
    if overdue:
        invoices = invoices.filter(status=Invoice.Status.FINALIZED, amount_due__gt=0,
                                   due_date__lt=timezone.now().date())
    return invoices


# A display status, computed from the amounts and never stored: a finalized invoice of which
# some, but not all, is paid.
PARTIALLY_PAID = "partially_paid"


def partially_paid() -> Q:
    """The invoices the pages call "Partially paid": finalized, paid in part, still due."""
    return Q(status=Invoice.Status.FINALIZED, amount_paid__gt=0, amount_due__gt=0)


def invoice_display_status(*, invoice: Invoice) -> str:
    """The status the pages show: the invoice's own, or ``partially_paid`` for a finalized
    invoice with some but not all of it paid (amounts net of refunds)."""
    if (invoice.status == Invoice.Status.FINALIZED and invoice.amount_paid > 0
            and invoice.amount_due > 0):
        return PARTIALLY_PAID
    return invoice.status


def invoices_search(*, organization, query: str, limit: int) -> list[Invoice]:
    """Invoices whose number contains ``query`` (any case), newest first, at most ``limit``."""
    return list(Invoice.objects.for_organization(organization).filter(
        number__icontains=query).select_related("customer")
        .order_by("-issue_date", "-created_at")[:limit])


def credit_notes_search(*, organization, query: str, limit: int) -> list[CreditNote]:
    """Credit notes whose number contains ``query`` (any case), newest first."""
    return list(CreditNote.objects.for_organization(organization).filter(
        number__icontains=query).select_related("invoice", "invoice__customer")
        .order_by("-created_at")[:limit])


FAILURE_STATUSES = ("open", "resolved")


def billing_failures_list(
    *, organization, status: str = "open", stage: str | None = None,
    contract: uuid.UUID | None = None,
) -> QuerySet[BillingFailure]:
    """The contracts and invoices the scheduled runs could not handle, the latest failure
    first. ``open``: still failing, tried again by the next run; ``resolved``: since
    handled. ``contract``: its own failures and those of its invoices."""
    failures = BillingFailure.objects.for_organization(organization).filter(
        resolved_at__isnull=status == "open",
    ).select_related("customer", "contract", "invoice")
    if stage:
        failures = failures.filter(stage=stage)
    if contract:
        failures = failures.filter(contract_id=contract)
    return failures.order_by("-last_failed_at", "-id")


def billing_failures_open(*, organization, contract=None,
                          limit: int = 20) -> tuple[list[BillingFailure], int]:
    """What the dashboard shows: the open failures (of ``contract`` and its invoices, when
    given), the latest first, at most ``limit`` of them; and how many are open in all."""
    failures = billing_failures_list(organization=organization,
                                     contract=contract.id if contract else None)
    return list(failures[:limit]), failures.count()


def contract_invoiced(*, organization, contract) -> bool:
    """Whether any invoice was written for the contract (else it may still be deleted)."""
    return Invoice.objects.for_organization(organization).filter(contract=contract).exists()


# --- Money an invoice can take ----------------------------------------------------------------

PAYABLE = (Invoice.Status.FINALIZED, Invoice.Status.UNCOLLECTIBLE)
#: An invoice that still owes: finalized, with money due. The one definition the invoice list,
#: the customer's figures and receivables' reminders share.
OWING = Q(status=Invoice.Status.FINALIZED, amount_due__gt=0)


def invoice_is_owing(invoice: Invoice) -> bool:
    """``OWING`` for one invoice in hand (its status and amount due as loaded)."""
    return invoice.status == Invoice.Status.FINALIZED and invoice.amount_due > 0
_REFUSALS = {
    Invoice.Status.DRAFT: "The invoice is a draft: finalize it before asking for payment.",
    Invoice.Status.PAID: "The invoice is already paid.",
    Invoice.Status.VOID: "The invoice is void: nothing is owed on it.",
}


def invoice_payable_refusal(*, invoice: Invoice) -> str | None:
    """THE rule of what can be paid: a finalized (or uncollectible) invoice with an amount
    due. Returns why ``invoice`` cannot be paid now, in words for people, or None."""
    if invoice.status not in PAYABLE:
        return _REFUSALS.get(invoice.status, "Only a finalized invoice is paid.")
    if invoice.amount_due <= 0:
        return "Nothing is due on this invoice."
    return None


def invoice_is_payable(*, invoice: Invoice) -> bool:
    return invoice_payable_refusal(invoice=invoice) is None


def invoice_payable_amount(*, invoice: Invoice) -> Decimal:
    """What a payment of the invoice would be now: its amount due when payable, else 0."""
    return invoice.amount_due if invoice_is_payable(invoice=invoice) else Decimal(0)


def invoice_is_draft(*, invoice: Invoice) -> bool:
    return invoice.status == Invoice.Status.DRAFT


def invoice_is_paid(*, invoice: Invoice) -> bool:
    return invoice.status == Invoice.Status.PAID


def invoice_is_uncollectible(*, invoice: Invoice) -> bool:
    return invoice.status == Invoice.Status.UNCOLLECTIBLE


def invoices(*, organization) -> QuerySet[Invoice]:
    """The organization's invoices, for a lookup by id (``get_scoped``) in a later app."""
    return Invoice.objects.for_organization(organization).select_related("customer")


def invoice_get(*, organization, invoice_id) -> Invoice | None:
    return invoices(organization=organization).filter(id=invoice_id).first()


def invoice_amounts(*, invoice: Invoice) -> dict[str, Decimal]:
    """The invoice's amounts as every page shows them, so they add up:
    ``total - amount_credited - credit_applied - amount_received + amount_refunded =
    amount_due`` (``amount_received``: every payment applied, before refunds;
    ``amount_paid``: after them)."""
    return {"total": invoice.total, "amount_credited": invoice.amount_credited,
            "credit_applied": invoice.credit_applied,
            "amount_received": invoice.amount_paid + invoice.amount_refunded,
            "amount_refunded": invoice.amount_refunded, "amount_paid": invoice.amount_paid,
            "amount_due": invoice.amount_due}


def invoice_paid_by(*, invoice: Invoice, source: str) -> Decimal:
    """What the payment ``source`` (e.g. ``payment:<id>``) still pays of the invoice: what
    it applied less the refunds taken back from it."""
    rows = InvoiceSettlement.objects.for_organization(invoice.organization).filter(invoice=invoice)
    paid = rows.filter(kind=InvoiceSettlement.Kind.PAYMENT, source=source).aggregate(
        total=Sum("amount"))["total"] or Decimal(0)
    back = rows.filter(kind=InvoiceSettlement.Kind.REFUND, reference=source).aggregate(
        total=Sum("amount"))["total"] or Decimal(0)
    return paid - back


def invoice_payments_refundable(*, invoice: Invoice) -> list[tuple[str, Decimal]]:
    """``(payment source, what it still pays)`` of the invoice's payments, newest first: the
    order a credit note's refund takes them back in."""
    rows = InvoiceSettlement.objects.for_organization(invoice.organization).filter(invoice=invoice)
    back: dict[str, Decimal] = {}
    for reference, amount in rows.filter(kind=InvoiceSettlement.Kind.REFUND).values_list(
            "reference", "amount"):
        back[reference] = back.get(reference, Decimal(0)) + amount
    paid = rows.filter(kind=InvoiceSettlement.Kind.PAYMENT).order_by("-created_at", "-id")
    return [(row.source, row.amount - back.get(row.source, Decimal(0))) for row in paid
            if row.amount - back.get(row.source, Decimal(0)) > 0]


# --- Credit notes -----------------------------------------------------------------------------


def credit_notes_list(*, organization, invoice=None, customer_external_id: str | None = None,
                      customer_id: uuid.UUID | None = None, currency: str | None = None,
                      destination: str | None = None, issued_from: datetime | None = None,
                      issued_before: datetime | None = None) -> QuerySet[CreditNote]:
    """Credit notes, newest first; of one invoice, or of the customer with this external id
    or this id (either matches, when both are given); in ``currency``, sending their money
    to ``destination``, issued in [``issued_from``, ``issued_before``)."""
    notes = CreditNote.objects.for_organization(organization).select_related(
        "invoice", "invoice__customer")
    if invoice is not None:
        notes = notes.filter(invoice=invoice)
    if currency:
        notes = notes.filter(currency=currency)
    if destination:
        notes = notes.filter(destination=destination)
    if issued_from is not None:
        notes = notes.filter(created_at__gte=issued_from)
    if issued_before is not None:
        notes = notes.filter(created_at__lt=issued_before)
    match = Q()
    if customer_external_id:
        match |= Q(invoice__customer__external_id=customer_external_id)
    if customer_id is not None:
        match |= Q(invoice__customer_id=customer_id)
    return notes.filter(match) if match else notes


def invoice_lines_credited(*, invoice: Invoice) -> dict:
    """Per invoice line id: ``(amount, tax)`` its credit notes credited so far."""
    credited: dict = {}
    for line_id, amount, tax in CreditNoteLine.objects.for_organization(
            invoice.organization).filter(credit_note__invoice=invoice).values_list(
            "invoice_line_id", "amount", "tax_amount"):
        before = credited.get(line_id, (Decimal(0), Decimal(0)))
        credited[line_id] = (before[0] + amount, before[1] + tax)
    return credited


def invoice_lines_left(*, invoice: Invoice) -> list[tuple[InvoiceLine, Decimal]]:
    """Each line of the invoice with what is left to credit on it."""
    credited = invoice_lines_credited(invoice=invoice)
    lines = InvoiceLine.objects.for_organization(invoice.organization).filter(invoice=invoice)
    return [(line, line.amount - credited.get(line.id, (Decimal(0), 0))[0])
            for line in lines.select_related("product")]


# --- The customer's balance -------------------------------------------------------------------


def customer_credit_balance(*, customer, currency: str) -> Decimal:
    """The customer's credit balance in ``currency``: the sum of its movements (equal to
    what is left of its lots)."""
    total = CustomerCredit.objects.for_organization(customer.organization_id).filter(
        customer=customer, currency=currency,
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


def credit_left_from(*, organization, source: str) -> Decimal:
    """What is left of the credit lot ``source`` made (e.g. the excess of ``payment:<id>``
    kept as credit); 0 when it made none."""
    grant = CreditGrant.objects.for_organization(organization).filter(source=source).first()
    return grant.remaining if grant is not None else Decimal(0)


@dataclass(frozen=True)
class CurrencyBalance:
    currency: str
    credit_balance: Decimal
    open_amount_due: Decimal
    overdue: Decimal


def customer_balance(*, organization, customer, today: date | None = None) -> list[CurrencyBalance]:
    """Per currency the customer has money in: its credit balance, what its open invoices
    (finalized or uncollectible) still owe, and the part of that past its due date. The
    customer's own currency always comes first, zeros included."""
    today = today or timezone.now().date()
    credit = dict(CustomerCredit.objects.for_organization(organization).filter(customer=customer)
                  .order_by().values_list("currency").annotate(total=Sum("amount")))
    open_invoices = Invoice.objects.for_organization(organization).filter(
        customer=customer, status__in=PAYABLE, amount_due__gt=0).order_by()
    due = dict(open_invoices.values_list("currency").annotate(total=Sum("amount_due")))
    late = dict(open_invoices.filter(due_date__lt=today).values_list("currency")
                .annotate(total=Sum("amount_due")))
    currencies = [customer.currency] + sorted((set(credit) | set(due)) - {customer.currency})
    return [CurrencyBalance(currency, credit.get(currency) or Decimal(0),
                            due.get(currency) or Decimal(0), late.get(currency) or Decimal(0))
            for currency in currencies]


@dataclass(frozen=True)
class CustomerFigures:
    """The customer page's summary figures in one currency."""

    currency: str
    open_due: Decimal  # what finalized invoices still owe (the invoice list's "open")
    overdue: Decimal  # the part of it past the due date
    billed: Decimal  # the totals of the invoices issued in the window
    credit: Decimal  # the credit balance


def customer_figures(*, organization, customer, billed_from: date,
                     today: date | None = None) -> list[CustomerFigures]:
    """Per currency the customer has money in, its own currency first (zeros included):
    what its finalized invoices still owe and the part past due (as the invoice list's
    "Finalized" and "Overdue" tabs count them), the totals of the invoices issued from
    ``billed_from`` through ``today`` (finalized, since paid or written off: not a draft, not
    a voided one) and its credit balance. Two queries, whatever the number of invoices."""
    today = today or timezone.now().date()
    open_ = OWING
    rows = (Invoice.objects.for_organization(organization).filter(customer=customer)
            .order_by().values("currency").annotate(
                open_due=Sum("amount_due", filter=open_),
                overdue=Sum("amount_due", filter=open_ & Q(due_date__lt=today)),
                billed=Sum("total", filter=Q(status__in=(*PAYABLE, Invoice.Status.PAID),
                                             issue_date__gte=billed_from,
                                             issue_date__lte=today))))
    invoices = {row["currency"]: row for row in rows}
    credit = dict(CustomerCredit.objects.for_organization(organization).filter(customer=customer)
                  .order_by().values_list("currency").annotate(total=Sum("amount")))
    currencies = [customer.currency] + sorted((set(invoices) | set(credit))
                                              - {customer.currency})
    zero = Decimal(0)
    return [CustomerFigures(currency, invoices.get(currency, {}).get("open_due") or zero,
                            invoices.get(currency, {}).get("overdue") or zero,
                            invoices.get(currency, {}).get("billed") or zero,
                            credit.get(currency) or zero)
            for currency in currencies]


def customer_credit_movements(*, organization, customer,
                              currency: str | None = None) -> QuerySet[CustomerCredit]:
    movements = CustomerCredit.objects.for_organization(organization).filter(customer=customer)
    if currency:
        movements = movements.filter(currency=currency)
    return movements.select_related("grant", "invoice")


def customer_credit_grants(*, organization, customer, currency: str | None = None,
                           open_only: bool = False) -> QuerySet[CreditGrant]:
    grants = CreditGrant.objects.for_organization(organization).filter(customer=customer)
    if currency:
        grants = grants.filter(currency=currency)
    if open_only:
        grants = grants.filter(remaining__gt=0)
    return grants


# --- Reconciliation ---------------------------------------------------------------------------


def reconciliation(*, organization) -> dict[str, dict[str, Decimal]]:
    """Per currency, the books of every finalized (not void) invoice from its settlement
    rows, beside the open amounts due; and the credit balance from the movements beside what
    is left of the lots. ``books == open_due`` and ``credit_movements == credit_lots``
    always hold (see README, "Reconciliation")."""
    live = ~Q(invoice__status__in=(Invoice.Status.DRAFT, Invoice.Status.VOID))
    settled = InvoiceSettlement.objects.for_organization(organization).filter(live).order_by()
    by_kind: dict = {}
    for currency, kind, total in settled.values_list("currency", "kind").annotate(
            total=Sum("amount")):
        by_kind.setdefault(currency, {})[kind] = total
    invoices_ = Invoice.objects.for_organization(organization).exclude(
        status__in=(Invoice.Status.DRAFT, Invoice.Status.VOID)).order_by()
    totals = dict(invoices_.values_list("currency").annotate(total=Sum("total")))
    due = dict(invoices_.values_list("currency").annotate(total=Sum("amount_due")))
    movements = dict(CustomerCredit.objects.for_organization(organization).order_by()
                     .values_list("currency").annotate(total=Sum("amount")))
    lots = dict(CreditGrant.objects.for_organization(organization).order_by()
                .values_list("currency").annotate(total=Sum("remaining")))
    result = {}
    for currency in set(totals) | set(movements) | set(lots):
        kinds = by_kind.get(currency, {})
        zero = Decimal(0)
        books = (totals.get(currency, zero) - kinds.get("credit_note", zero)
                 - kinds.get("payment", zero) - kinds.get("credit_applied", zero)
                 + kinds.get("refund", zero))
        result[currency] = {"books": books, "open_due": due.get(currency, zero),
                            "credit_movements": movements.get(currency, zero),
                            "credit_lots": lots.get(currency, zero)}
    return result
