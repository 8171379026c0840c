"""Corrections of finalized invoices: credit notes."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invoicing import taxes
from invoicing.models import (
    CreditNote,
    CreditNoteLine,
    CustomerCredit,
    Invoice,
    InvoiceLine,
)
from invoicing.services.drafts import _next_number, invoice_settings
from zenskar.money import minor_units, round_money
from zenskar.webhooks.outbox import outbox_write


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
