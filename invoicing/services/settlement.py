"""Money on finalized invoices: payments applied and refunded, and the status that follows.
Invoicing is the one writer of an invoice's amounts and status; payments asks these functions
to apply or reverse its payments (DESIGN.md, "One owner per balance").

Guarantees:
- every movement of money on an invoice is an ``InvoiceSettlement`` row of its own, unique
  per organization by its ``source``: a retried application finds its row and does nothing
  twice; the invoice's amount fields change by exactly that row, in the same transaction,
  under the invoice's row lock -- so each field is the sum of the invoice's rows of its kind,
  and ``total - amount_credited - credit_applied - amount_paid = amount_due`` always;
- what is due is never overpaid: a payment beyond the amount due is refused (a 400 naming
  ``amount``) unless the caller keeps the excess as customer credit; money already taken
  (an asynchronous gateway success) always keeps its excess as credit;
- a refund takes back at most what its payment still pays of the invoice;
- the status follows the amount due: ``paid`` at zero; a refund that reopens a paid invoice
  puts it back to ``finalized``, or ``uncollectible`` when that is what the money found;
- each movement publishes its domain event (``payment.applied``, ``payment.refunded``) in the
  same transaction and writes it to the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction

from contracts.models import Customer
from invoicing import selectors
from invoicing.models import CreditGrant, CreditNote, Invoice, InvoiceSettlement
from zenskar import bounds, events
from zenskar.money import format_money, minor_units, round_money
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write

Kind = InvoiceSettlement.Kind
RECEIVES_MONEY = (Invoice.Status.FINALIZED, Invoice.Status.UNCOLLECTIBLE, Invoice.Status.PAID)


def announce(*, organization: Organization, name: str, subject_id: UUID | str,
             payload: dict[str, Any]) -> None:
    """A money event: to the outbox (webhooks, after commit) and to the domain-event
    subscribers (the ledger, in this transaction)."""
    outbox_write(organization=organization, event_type=name, subject_id=subject_id,
                 payload=payload)
    events.publish(events.DomainEvent(name=name, organization_id=organization.id,
                                      payload=payload))


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount in an event's payload: a decimal string with the currency's digits."""
    return str(round_money(amount, currency))


def locked(invoice: Invoice) -> Invoice:
    return (Invoice.objects.for_organization(invoice.organization_id).select_for_update()
            .get(pk=invoice.pk))


def _status_after(invoice: Invoice) -> str:
    if invoice.amount_due <= 0 and invoice.status in selectors.PAYABLE:
        return Invoice.Status.PAID
    if invoice.amount_due > 0 and invoice.status == Invoice.Status.PAID:
        paid_by = InvoiceSettlement.objects.for_organization(invoice.organization_id).filter(
            invoice=invoice, status_after=Invoice.Status.PAID,
        ).exclude(status_before=Invoice.Status.PAID).order_by("-created_at", "-id").first()
        if paid_by is not None and paid_by.status_before == Invoice.Status.UNCOLLECTIBLE:
            return Invoice.Status.UNCOLLECTIBLE
        return Invoice.Status.FINALIZED
    return invoice.status


def settle(invoice: Invoice, *, kind: str, amount: Decimal, source: str, reference: str = "",
           credit_note: CreditNote | None = None, description: str = "",
           status_before: str | None = None, move_status: bool = True) -> InvoiceSettlement:
    """Record one movement on ``invoice`` (locked by the caller) and change its amount
    fields and status by exactly it (``move_status=False``: a movement the caller balances
    in the same transaction, which leaves the amount due and status as they are). Not
    saved: the caller saves the invoice (one write)."""
    before = status_before or invoice.status
    if kind == Kind.PAYMENT:
        invoice.amount_paid += amount
        invoice.amount_due -= amount
    elif kind == Kind.REFUND:
        invoice.amount_paid -= amount
        invoice.amount_refunded += amount
        invoice.amount_due += amount
    elif kind == Kind.CREDIT_NOTE:
        invoice.amount_credited += amount
        invoice.amount_due -= amount
    elif kind == Kind.CREDIT_APPLIED:
        invoice.credit_applied += amount
        invoice.amount_due -= amount
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown settlement kind {kind!r}")
    if move_status:
        invoice.status = _status_after(invoice)
    return InvoiceSettlement.objects.create(
        organization_id=invoice.organization_id, invoice=invoice, kind=kind,
        currency=invoice.currency, amount=amount, source=source, reference=reference,
        credit_note=credit_note, description=description[:300], status_before=before,
        status_after=invoice.status)


def save(invoice: Invoice) -> None:
    invoice.save(update_fields=["amount_credited", "credit_applied", "amount_paid",
                                "amount_refunded", "amount_due", "status", "updated_at"])


# --- Payments ---------------------------------------------------------------------------------


def payment_amount_check(*, invoice: Invoice, amount: Decimal | None,
                         keep_excess_as_credit: bool = False) -> Decimal:
    """The amount a payment of ``invoice`` may take, before any money moves: ``amount`` (its
    amount due when None), more than zero, in the currency's digits, and no more than is due
    unless the excess is kept as customer credit. Raises ValidationError naming ``invoice``
    or ``amount``."""
    if invoice.status not in RECEIVES_MONEY:
        raise ValidationError({"invoice": [ValidationError(
            selectors.invoice_payable_refusal(invoice=invoice)
            or "Only a finalized invoice receives payments.", code="not_payable")]})
    due = max(invoice.amount_due, Decimal(0)) if invoice.status in selectors.PAYABLE \
        else Decimal(0)
    if amount is None:
        if due <= 0:
            raise ValidationError({"amount": [ValidationError(
                "Nothing is due on this invoice: say how much.", code="nothing_due")]})
        return due
    _check_money(amount, invoice.currency)
    if amount > due and not keep_excess_as_credit:
        raise ValidationError({"amount": [ValidationError(
            f"{format_money(amount, invoice.currency)} is more than the "
            f"{format_money(due, invoice.currency)} due; to keep the excess of "
            f"{format_money(amount - due, invoice.currency)} as the customer's credit, say so "
            "(keep_excess_as_credit).", code="more_than_due")]})
    return amount


def _sentence(error: Exception) -> str:
    """A bound's words as a sentence: "must be between 0 and 10" -> "Must be between 0..."."""
    text = str(error)
    return f"{text[:1].upper()}{text[1:]}."


def _check_money(amount: Decimal, currency: str, field: str = "amount") -> None:
    try:
        bounds.amount(amount)
    except bounds.BoundError as error:
        raise ValidationError({field: [ValidationError(_sentence(error),
                                                       code="out_of_bounds")]}) from None
    if amount <= 0:
        raise ValidationError({field: [ValidationError("Must be more than zero.",
                                                       code="not_positive")]})
    if round_money(amount, currency) != amount:
        raise ValidationError({field: [ValidationError(
            f"At most {minor_units(currency)} decimals in {currency}.",
            code="too_many_decimals")]})


@dataclass(frozen=True)
class PaymentApplication:
    """What a payment did: ``applied`` to the invoice, ``to_credit`` kept as credit."""

    applied: Decimal
    to_credit: Decimal
    settlement: InvoiceSettlement | None
    grant: CreditGrant | None


def _existing(organization: Organization, source: str) -> PaymentApplication | None:
    row = InvoiceSettlement.objects.for_organization(organization).filter(source=source).first()
    grant = CreditGrant.objects.for_organization(organization).filter(source=source).first()
    if row is None and grant is None:
        return None
    return PaymentApplication(row.amount if row else Decimal(0),
                              grant.amount if grant else Decimal(0), row, grant)


@transaction.atomic
def payment_apply(*, organization: Organization, customer: Customer, currency: str,
                  amount: Decimal, source: str, invoice: Invoice | None = None,
                  keep_excess_as_credit: bool = False, reference: str = "") -> PaymentApplication:
    """Money received (``source``: the payment, e.g. ``payment:<id>``): it pays ``invoice``
    up to its amount due, and the rest becomes the customer's credit -- only when
    ``keep_excess_as_credit`` (else a ValidationError on ``amount``: nothing is written).
    Without an invoice (a prepaid purchase) it is all credit. An invoice no longer payable
    (paid, voided since the money was taken) keeps it all as credit. Idempotent by
    ``source``; locks the invoice."""
    from invoicing.services import wallet

    found = _existing(organization, source)
    if found is not None:
        return found
    _check_money(amount, currency)
    label = reference or source
    if invoice is None:
        grant = wallet.grant_create(
            organization=organization, customer=customer, currency=currency, amount=amount,
            kind=CreditGrant.Kind.PREPAID, source=source, reason=f"Prepaid purchase {label}")
        _announce_payment(organization, source, None, customer, currency, Decimal(0), amount)
        return PaymentApplication(Decimal(0), amount, None, grant)
    invoice = locked(invoice)
    if invoice.currency != currency:
        raise ValidationError({"currency": [ValidationError(
            f"The invoice is in {invoice.currency}.", code="currency_mismatch")]})
    if invoice.status == Invoice.Status.DRAFT:
        raise ValidationError({"invoice": [ValidationError(
            selectors.invoice_payable_refusal(invoice=invoice) or "", code="not_payable")]})
    due = max(invoice.amount_due, Decimal(0)) if invoice.status in selectors.PAYABLE \
        else Decimal(0)
    applied = min(amount, due)
    excess = amount - applied
    if excess > 0 and not keep_excess_as_credit:
        payment_amount_check(invoice=invoice, amount=amount)  # raises, naming amount
    row = None
    if applied > 0:
        row = settle(invoice, kind=Kind.PAYMENT, amount=applied, source=source,
                     description=f"Payment {label}")
        save(invoice)
    to_credit: CreditGrant | None = None
    if excess > 0:
        to_credit = wallet.grant_create(
            organization=organization, customer=invoice.customer, currency=currency,
            amount=excess, kind=CreditGrant.Kind.OVERPAYMENT, source=source, invoice=invoice,
            reason=f"Overpayment of invoice {invoice.number} ({label})")
    _announce_payment(organization, source, invoice, invoice.customer, currency, applied,
                      excess)
    return PaymentApplication(applied, excess, row, to_credit)


def _announce_payment(organization: Organization, source: str, invoice: Invoice | None,
                      customer: Customer, currency: str, applied: Decimal,
                      to_credit: Decimal) -> None:
    announce(organization=organization, name="payment.applied", subject_id=source[:64],
             payload={"source": source, "invoice": str(invoice.id) if invoice else None,
                      "invoice_number": invoice.number if invoice else None,
                      "customer": customer.external_id, "currency": currency,
                      "applied": amount_text(applied, currency),
                      "to_credit": amount_text(to_credit, currency),
                      "amount_due": amount_text(invoice.amount_due, currency) if invoice
                      else None,
                      "status": invoice.status if invoice else None})


@transaction.atomic
def payment_refund(*, invoice: Invoice, payment_source: str, amount: Decimal,
                   source: str) -> InvoiceSettlement:
    """A refund taken back out of what the payment ``payment_source`` paid of the invoice:
    the invoice owes it again (a paid invoice reopens). At most what that payment still pays
    of it (else a ValidationError on ``from``). Idempotent by ``source``; locks the
    invoice."""
    organization = invoice.organization
    existing = InvoiceSettlement.objects.for_organization(organization).filter(
        source=source).first()
    if existing is not None:
        return existing
    _check_money(amount, invoice.currency)
    invoice = locked(invoice)
    paying = selectors.invoice_paid_by(invoice=invoice, source=payment_source)
    if amount > paying:
        raise ValidationError({"from": [ValidationError(
            f"This payment pays {format_money(paying, invoice.currency)} of invoice "
            f"{invoice.number}: at most that is refunded from the invoice.",
            code="more_than_paid")]})
    row = settle(invoice, kind=Kind.REFUND, amount=amount, source=source,
                 reference=payment_source, description=f"Refund of {payment_source}")
    save(invoice)
    announce(organization=organization, name="payment.refunded", subject_id=row.id,
             payload={"source": source, "payment": payment_source, "from": "invoice",
                      "invoice": str(invoice.id), "invoice_number": invoice.number,
                      "customer": invoice.customer.external_id, "currency": invoice.currency,
                      "amount": amount_text(amount, invoice.currency),
                      "amount_due": amount_text(invoice.amount_due, invoice.currency),
                      "status": invoice.status})
    return row
