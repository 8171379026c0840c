"""Corrections of finalized invoices: credit notes -- documents with their own gapless number,
a PDF and an e-mail -- and where their money goes.

Guarantees:
- the credit notes of an invoice never exceed it, per line, in amount and in tax: a note
  line's tax is the line's tax share of everything credited on it so far (this note
  included), rounded once, less the tax already credited on it -- never more than the
  line's tax; a full credit of what is left of a line credits exactly the tax left on it;
  and the tax of all of an invoice's notes never exceeds the invoice's tax;
- a note that would credit nothing (or round to zero) is refused before it takes a number;
- its money goes where it was told (``destination``): ``reduce_due`` (the default while
  something is due: off the amount due, what goes beyond it to the customer's credit),
  ``customer_credit`` (all of it to the credit balance), or ``refund`` (back to the
  invoice's payments, newest first: at most what they still pay);
- issuing locks the invoice, writes the note, its settlement rows and credit lot in one
  transaction, and publishes ``credit_note.issued`` (payments refunds the payments on it;
  delivery e-mails the note after commit), written to the outbox too.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invoicing import selectors, taxes
from invoicing.models import (
    CreditGrant,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
)
from invoicing.services.drafts import _next_number, invoice_settings
from invoicing.services.settlement import Kind, amount_text, announce, locked, save, settle
from zenskar.money import format_money, minor_units, round_money

Credited = dict[UUID, tuple[Decimal, Decimal]]  # line id -> (amount, tax) credited so far

Destination = CreditNote.Destination
CREDITABLE = (Invoice.Status.FINALIZED, Invoice.Status.PAID, Invoice.Status.UNCOLLECTIBLE)


def line_tax(line: InvoiceLine, *, credited: Decimal, tax_credited: Decimal,
             amount: Decimal, currency: str) -> Decimal:
    """The tax of crediting ``amount`` more of ``line`` (``credited`` and ``tax_credited``
    before): the line's share of its tax for everything credited so far, rounded once, less
    the tax already credited, within what is left of the line's tax."""
    if not line.tax_amount or not line.amount:
        return Decimal(0)
    cumulative = credited + amount
    share = line.tax_amount if cumulative == line.amount else round_money(
        line.tax_amount * cumulative / line.amount, currency)
    tax = share - tax_credited
    left = line.tax_amount - tax_credited
    if line.tax_amount > 0:
        return max(Decimal(0), min(tax, left))
    return min(Decimal(0), max(tax, left))


def _wanted(invoice: Invoice, lines: list[tuple[InvoiceLine, Decimal]] | None,
            credited: Credited) -> list[tuple[InvoiceLine, Decimal]]:
    """The (line, amount) pairs to credit: those asked for, checked; or -- a full credit --
    what is left of every line (credits and discounts included: a full credit is what is left
    of the invoice)."""
    invoice_lines = {line.id: line for line in invoice.lines.all()}
    if lines is None:
        return [(line, line.amount - credited.get(line.id, (Decimal(0), Decimal(0)))[0])
                for line in invoice_lines.values()
                if line.amount - credited.get(line.id, (Decimal(0), Decimal(0)))[0] != 0]
    errors = {}
    for index, (line, amount) in enumerate(lines):
        if line.id not in invoice_lines:
            errors[f"lines[{index}].line"] = [ValidationError("Not a line of this invoice.",
                                                              code="not_found")]
            continue
        left = line.amount - credited.get(line.id, (Decimal(0), Decimal(0)))[0]
        if not amount.is_finite() or amount <= 0 or amount > left:
            errors[f"lines[{index}].amount"] = [ValidationError(
                "Must be more than 0 and at most "
                f"{round_money(max(left, Decimal(0)), invoice.currency)}.",
                code="out_of_bounds")]
        elif amount != round_money(amount, invoice.currency):
            errors[f"lines[{index}].amount"] = [ValidationError(
                f"Must have at most {minor_units(invoice.currency)} decimal places in "
                f"{invoice.currency}.", code="too_many_decimals")]
    ids = [line.id for line, _ in lines]
    if not errors and len(set(ids)) != len(ids):
        errors["lines"] = [ValidationError("Each line at most once in a credit note.",
                                           code="duplicate")]
    if errors:
        raise ValidationError(errors)
    return list(lines)


def _taxes(invoice: Invoice, wanted: list[tuple[InvoiceLine, Decimal]],
           credited: Credited) -> list[Decimal]:
    """Each note line's tax (see :func:`line_tax`), then held to the invoice's own tax: the
    notes of an invoice never credit more tax than it carried."""
    amounts = [line_tax(line, credited=credited.get(line.id, (Decimal(0), 0))[0],
                        tax_credited=credited.get(line.id, (Decimal(0), Decimal(0)))[1], amount=amount,
                        currency=invoice.currency) for line, amount in wanted]
    if invoice.tax_total <= 0:
        return amounts
    before = sum((tax for _, tax in credited.values()), Decimal(0))
    over = before + sum(amounts, Decimal(0)) - invoice.tax_total
    for index in reversed(range(len(amounts))):
        if over <= 0:
            break
        cut = min(over, max(amounts[index], Decimal(0)))
        amounts[index] -= cut
        over -= cut
    return amounts


@transaction.atomic
def credit_note_create(*, invoice: Invoice, reason: str,
                       lines: list[tuple[InvoiceLine, Decimal]] | None = None,
                       destination: str | None = None) -> CreditNote:
    """Credit a finalized invoice, fully (``lines`` None: what is left of it) or per line
    (line, amount), and send the money where ``destination`` says (the module docstring).
    Every rule is checked here, before a number is taken; a ValidationError names the
    field."""
    invoice = locked(invoice)
    if invoice.status not in CREDITABLE:
        raise ValidationError({"invoice": [ValidationError(
            "Only a finalized, paid or uncollectible invoice is credited.",
            code="invalid_status")]})
    if not (reason or "").strip():
        raise ValidationError({"reason": [ValidationError("Say why.", code="required")]})
    destination = destination or (Destination.REDUCE_DUE if invoice.amount_due > 0
                                  else Destination.CUSTOMER_CREDIT)
    if destination not in Destination.values:
        raise ValidationError({"destination": [ValidationError(
            f"One of {', '.join(Destination.values)}.", code="invalid_choice")]})
    credited = selectors.invoice_lines_credited(invoice=invoice)
    wanted = _wanted(invoice, lines, credited)
    tax = _taxes(invoice, wanted, credited)
    subtotal = sum((amount for _, amount in wanted), Decimal(0))
    inclusive = taxes.is_inclusive(invoice)
    total = subtotal + (Decimal(0) if inclusive else sum(tax, Decimal(0)))
    if not wanted or subtotal <= 0 or total <= 0:
        # a note crediting nothing would still take a number of the gapless sequence
        raise ValidationError({"lines": [ValidationError(
            "Nothing is left to credit on this invoice.", code="nothing_to_credit")]})
    refunds = _refunds(invoice, total) if destination == Destination.REFUND else []
    settings = invoice_settings(organization=invoice.organization)
    note = CreditNote.objects.create(
        organization=invoice.organization, invoice=invoice, customer=invoice.customer,
        reason=reason.strip()[:300], destination=destination, currency=invoice.currency,
        number=_next_number(invoice.organization, "credit_note", timezone.now().year,
                            settings.number_prefix),
        subtotal=subtotal, tax_total=sum(tax, Decimal(0)), total=total)
    CreditNoteLine.objects.bulk_create([
        CreditNoteLine(organization=invoice.organization, credit_note=note, invoice_line=line,
                       description=line.description, amount=amount, tax_amount=line_tax_)
        for (line, amount), line_tax_ in zip(wanted, tax, strict=True)])
    _move_money(invoice, note, refunds)
    return note


def _refunds(invoice: Invoice, total: Decimal) -> list[tuple[str, Decimal]]:
    """What each payment of the invoice gives back for a refund of ``total``, newest
    first; refused when they pay less than that."""
    paying = selectors.invoice_payments_refundable(invoice=invoice)
    available = sum((amount for _, amount in paying), Decimal(0))
    if available < total:
        money = format_money(available, invoice.currency)
        raise ValidationError({"destination": [ValidationError(
            f"The invoice's payments pay {money} of it: a refund gives back at most that. "
            "Choose reduce_due or customer_credit, or credit less.", code="more_than_paid")]})
    split, rest = [], total
    for source, amount in paying:
        if rest <= 0:
            break
        split.append((source, min(amount, rest)))
        rest -= min(amount, rest)
    return split


def _move_money(invoice: Invoice, note: CreditNote, refunds: list[tuple[str, Decimal]]) -> None:
    from invoicing.services import wallet

    total = note.total
    if note.destination == Destination.REDUCE_DUE:
        note.amount_credited = min(total, max(invoice.amount_due, Decimal(0)))
    elif note.destination == Destination.REFUND:
        note.amount_credited = note.to_refund = total
    note.to_customer_credit = total - note.amount_credited
    note.save(update_fields=["amount_credited", "to_customer_credit", "to_refund"])
    # a refund takes off what is owed and what was paid alike: the amount due stays
    balanced = note.destination != Destination.REFUND
    if note.amount_credited > 0:
        settle(invoice, kind=Kind.CREDIT_NOTE, amount=note.amount_credited,
               source=f"credit_note:{note.id}", credit_note=note,
               description=f"Credit note {note.number}", move_status=balanced)
    for payment_source, amount in refunds:
        row = settle(invoice, kind=Kind.REFUND, amount=amount, credit_note=note,
                     source=f"credit_note:{note.id}:{payment_source}", reference=payment_source,
                     description=f"Refund by credit note {note.number}", move_status=False)
        announce(organization=invoice.organization, name="payment.refunded", subject_id=row.id,
                 payload={"source": row.source, "payment": payment_source, "from": "invoice",
                          "credit_note": str(note.id), "invoice": str(invoice.id),
                          "invoice_number": invoice.number, "currency": invoice.currency,
                          "customer": invoice.customer.external_id,
                          "amount": amount_text(amount, invoice.currency)})
    save(invoice)
    if note.to_customer_credit > 0:
        wallet.grant_create(
            organization=invoice.organization, customer=invoice.customer,
            currency=invoice.currency, amount=note.to_customer_credit,
            kind=CreditGrant.Kind.CREDIT_NOTE, source=f"credit_note:{note.id}",
            invoice=invoice, reason=f"Credit note {note.number}")
    announce(organization=invoice.organization, name="credit_note.issued", subject_id=note.id,
             payload=credit_note_payload(note, refunds))


def credit_note_payload(note: CreditNote,
                        refunds: Sequence[tuple[str, Decimal]] = ()) -> dict[str, Any]:
    invoice = note.invoice
    return {
        "credit_note": str(note.id), "number": note.number, "invoice": str(invoice.id),
        "invoice_number": invoice.number, "customer": invoice.customer.external_id,
        "currency": note.currency, "reason": note.reason, "destination": note.destination,
        **{name: amount_text(getattr(note, name), note.currency) for name in (
            "subtotal", "tax_total", "total", "amount_credited", "to_customer_credit",
            "to_refund")},
        "refunds": [{"payment": source.removeprefix("payment:"),
                     "amount": amount_text(amount, note.currency)}
                    for source, amount in refunds],
        "amount_due": amount_text(invoice.amount_due, note.currency), "status": invoice.status,
    }
