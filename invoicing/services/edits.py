"""Hand edits of drafts and one-off invoices: a line added, a quantity changed, each audited and
kept across recomputations. Every input is held to ``zenskar.bounds``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from contracts.models import Customer
from invoicing.models import (
    Invoice,
    InvoiceAudit,
    InvoiceLine,
)
from invoicing.services.drafts import _draft_locked, _event_payload, _totals
from zenskar import bounds
from zenskar.core.dates import local_date
from zenskar.money import round_money
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write


@transaction.atomic
def invoice_add_line(*, invoice: Invoice, description: str, quantity: Decimal,
                     unit_price: Decimal, actor: str) -> InvoiceLine:
    """Add a one-off line to a draft (kept across recomputations), with an audit entry."""
    invoice = _draft_locked(invoice)
    if not description.strip():
        raise ValidationError({"description": [ValidationError("A line needs a description.",
                                                               code="required")]})
    errors = {}
    for name, value in (("quantity", quantity), ("unit_price", unit_price)):
        try:
            bounds.price_number(value, allow_negative=True)
        except bounds.BoundError as error:
            errors[name] = [ValidationError(str(error), code="out_of_bounds")]
    if errors:
        raise ValidationError(errors)
    try:
        amount = round_money(bounds.line_amount(quantity, unit_price), invoice.currency)
    except bounds.BoundError as error:
        raise ValidationError({"unit_price": [ValidationError(str(error),
                                                              code="out_of_bounds")]}) from None
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
    try:
        bounds.quantity(quantity)
    except bounds.BoundError as error:
        raise ValidationError({"quantity": [ValidationError(str(error),
                                                            code="out_of_bounds")]}) from None
    if line.unit_price is None:
        raise ValidationError({"quantity": [ValidationError(
            "This line's amount is not quantity x price (tiers or a formula): add a manual "
            "line instead.", code="not_per_unit")]})
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


@transaction.atomic
def invoice_create_one_off(*, organization: Organization, customer: Customer,
                           lines: list[dict[str, Any]], memo: str = "", actor: str = "") -> Invoice:
    """A one-off draft invoice with manual lines ({description, quantity, unit_price})."""
    if not lines:
        raise ValidationError({"lines": [ValidationError("At least one line.",
                                                         code="required")]})
    invoice = Invoice.objects.create(
        organization=organization, customer=customer, contract=None,
        billing_date=local_date(customer.time_zone), currency=customer.currency, memo=memo,
        manual=True, finalize_after=None)
    for line in lines:
        invoice_add_line(invoice=invoice, actor=actor, description=line["description"],
                         quantity=Decimal(str(line["quantity"])),
                         unit_price=Decimal(str(line["unit_price"])))
    invoice.refresh_from_db()
    outbox_write(organization=organization, event_type="invoice.created",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    return invoice
