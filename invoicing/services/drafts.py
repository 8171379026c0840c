"""What every stage of an invoice shares: the organization's settings, a draft's lines as rows,
its totals and taxes, the gapless numbers, the event payload. No workflow of its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from contracts.models import Contract, Customer
from invoicing import taxes
from invoicing.models import (
    Invoice,
    InvoiceLine,
    InvoiceSettings,
    NumberSequence,
    TaxRate,
)
from invoicing.rating import LineDraft
from zenskar import bounds
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

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


def _write_lines(invoice: Invoice, drafts: list[LineDraft], overrides: dict[str, str], *,
                 new: bool = False, rate: TaxRate | None = None) -> list[InvoiceLine]:
    if not new:
        InvoiceLine.objects.for_organization(invoice.organization_id).filter(
            invoice=invoice).exclude(kind="manual").delete()
    manual = 0 if new else InvoiceLine.objects.for_organization(invoice.organization_id).filter(
        invoice=invoice, kind="manual").count()
    rows = _line_rows(invoice, drafts, overrides, manual)
    if new:  # the whole invoice is these lines: tax them before the one insert
        tax = taxes.compute(lines=rows, rate=rate, currency=invoice.currency)
        for row, (line_rate, line_tax) in zip(rows, tax.per_line, strict=True):
            row.tax_rate, row.tax_amount = line_rate, line_tax
    InvoiceLine.objects.bulk_create(rows)
    return rows


def _line_rows(invoice: Invoice, drafts: list[LineDraft], overrides: dict[str, str],
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
            product_id=draft.product_id, kind=draft.kind,
            description=draft.description[:500], period_start=draft.period_start,
            period_end=draft.period_end, quantity=quantity, unit_price=draft.unit_price,
            amount=amount, derivation={**draft.derivation, "key": draft.key},
            position=manual + position,
        ))
    return rows


_UNSET = object()


def _totals(invoice: Invoice, customer: Customer, *, lines: list[InvoiceLine] | None = None,
            rate: TaxRate | None | object = _UNSET, fresh: bool = False) -> None:
    """``fresh``: ``lines`` are not written yet: their tax is set on them, not saved."""
    fresh = fresh or lines is not None
    lines = list(invoice.lines.all()) if lines is None else lines
    subtotal = sum((line.amount for line in lines), Decimal(0))
    if not isinstance(rate, TaxRate | None):  # not given: the customer's rate now
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
    periods = [(line.period_start, line.period_end) for line in lines
               if line.period_start is not None and line.period_end is not None]
    if periods:
        invoice.period_start = min(p[0] for p in periods)
        invoice.period_end = max(p[1] for p in periods)


def _draft_locked(invoice: Invoice) -> Invoice:
    invoice = (Invoice.objects.for_organization(invoice.organization).select_for_update()
               .get(pk=invoice.pk))
    if invoice.status != Invoice.Status.DRAFT:
        raise ValidationError({"status": [ValidationError(
            "A finalized invoice never changes; issue a credit note instead.",
            code="not_draft")]})
    return invoice


def _next_number(organization: Organization, kind: str, year: int, prefix: str) -> str:
    NumberSequence.objects.bulk_create(
        [NumberSequence(organization=organization, kind=kind, year=year)],
        ignore_conflicts=True,
    )
    sequence = NumberSequence.objects.for_organization(organization).select_for_update().get(
        kind=kind, year=year)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    label = "" if kind == "invoice" else "CN-"
    return f"{prefix}-{label}{year}-{sequence.last_value:06d}"


def _event_payload(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice": str(invoice.id), "number": invoice.number, "status": invoice.status,
        "customer": invoice.customer.external_id if invoice.customer_id else None,
        # amounts with the currency's digits, as the API writes them (webhooks carry this)
        "currency": invoice.currency, "total": str(round_money(invoice.total, invoice.currency)),
        "amount_due": str(round_money(invoice.amount_due, invoice.currency)),
        "billing_date": invoice.billing_date.isoformat(),
    }
