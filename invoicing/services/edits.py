"""Hand edits of drafts and one-off invoices: a line added or removed, a quantity changed, each
audited and kept across recomputations; a one-off invoice written, a draft deleted. Every input
is held to ``zenskar.bounds``.

Guarantees:
- every edit locks the draft's row and re-checks that it is a draft: a finalized invoice never
  changes (a credit note corrects it);
- totals and taxes are recomputed in the same transaction, as the sum of the rounded lines;
- only what a person wrote is removed by hand: a generated line would come back at the next
  recomputation (its quantity is set to 0 instead), a contract's draft at the next generation
  run (the contract is changed, or the invoice voided, instead);
- a draft with money recorded against it (payments, credit) is never deleted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from contracts.models import Customer
from invoicing.models import (
    CreditGrant,
    CustomerCredit,
    Invoice,
    InvoiceAudit,
    InvoiceLine,
    InvoiceSettlement,
)
from invoicing.services.drafts import _draft_locked, _event_payload, _totals
from zenskar import bounds
from zenskar.core.dates import local_date
from zenskar.money import is_valid_currency, round_money
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
    problem = bounds.text_problem(description)
    if problem:
        raise ValidationError({"description": [ValidationError(f"The text {problem}.",
                                                               code="invalid_text")]})
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


MAX_ONE_OFF_LINES = 100
MAX_TERMS_DAYS = 365
MAX_MEMO = 2_000


def _refusal(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _one_off_terms(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 0 <= value <= MAX_TERMS_DAYS:
        raise _refusal("payment_terms_days",
                       f"A whole number of days from 0 to {MAX_TERMS_DAYS}, or empty for the "
                       "customer's terms.", "out_of_bounds")
    return value


def _one_off_lines(lines: list[dict[str, Any]]) -> list[tuple[str, Decimal, Decimal]]:
    """The lines as (description, quantity, unit price), every bad field of every line named
    ``lines[i].<field>`` at once."""
    if not lines:
        raise _refusal("lines", "At least one line.", "required")
    if len(lines) > MAX_ONE_OFF_LINES:
        raise _refusal("lines", f"At most {MAX_ONE_OFF_LINES} lines.", "max_length")
    errors: dict[str, list[ValidationError]] = {}
    parsed = []
    for index, line in enumerate(lines):
        description = str(line.get("description") or "").strip()
        if not description:
            errors[f"lines[{index}].description"] = [ValidationError(
                "A line needs a description.", code="required")]
        elif len(description) > 500:
            errors[f"lines[{index}].description"] = [ValidationError(
                "At most 500 characters.", code="max_length")]
        numbers = {}
        for name, given in (("quantity", line.get("quantity", 1)),
                            ("unit_price", line.get("unit_price"))):
            if given is None or given == "":
                errors[f"lines[{index}].{name}"] = [ValidationError(
                    "Required: a number, e.g. 12.50.", code="required")]
                continue
            try:
                numbers[name] = bounds.price_number(given, allow_negative=True)
            except bounds.BoundError as error:
                errors[f"lines[{index}].{name}"] = [ValidationError(str(error),
                                                                    code=error.code)]
        if len(numbers) == 2:
            parsed.append((description, numbers["quantity"], numbers["unit_price"]))
    if errors:
        raise ValidationError(errors)
    return parsed


@transaction.atomic
def invoice_create_one_off(*, organization: Organization, customer: Customer,
                           lines: list[dict[str, Any]], memo: str = "",
                           currency: str | None = None,
                           payment_terms_days: int | None = None,
                           actor: str = "") -> Invoice:
    """A one-off draft invoice with manual lines ({description, quantity, unit_price}), in
    ``currency`` (the customer's unless given), due ``payment_terms_days`` after its issue
    date (the customer's terms unless given). Taxed as every invoice of the customer is (the
    rate of its country). Every field is checked before anything is written: a
    ``ValidationError`` names each bad one (``lines[i].quantity``...) and nothing is created."""
    if customer.organization_id != organization.id:
        raise _refusal("customer", "No such customer.", "not_found")
    currency = (currency or customer.currency or "").strip().upper()
    errors: dict[str, list[ValidationError]] = {}
    if not is_valid_currency(currency):
        errors["currency"] = [ValidationError("An ISO 4217 currency code, e.g. USD.",
                                              code="invalid_currency")]
    memo = (memo or "").replace("\r\n", "\n").strip()
    problem = bounds.text_problem(memo)
    if problem:
        errors["memo"] = [ValidationError(f"The text {problem}.", code="invalid_text")]
    elif len(memo) > MAX_MEMO:
        errors["memo"] = [ValidationError(f"At most {MAX_MEMO} characters.", code="max_length")]
    for check in (lambda: _one_off_terms(payment_terms_days), lambda: _one_off_lines(lines)):
        try:
            check()
        except ValidationError as error:
            errors.update(error.error_dict)
    if errors:
        raise ValidationError(errors)
    invoice = Invoice.objects.create(
        organization=organization, customer=customer, contract=None,
        billing_date=local_date(customer.time_zone), currency=currency, memo=memo,
        manual=True, finalize_after=None, payment_terms_days=_one_off_terms(payment_terms_days))
    for description, quantity, unit_price in _one_off_lines(lines):
        invoice_add_line(invoice=invoice, actor=actor, description=description,
                         quantity=quantity, unit_price=unit_price)
    invoice.refresh_from_db()
    outbox_write(organization=organization, event_type="invoice.created",
                 subject_id=invoice.id, payload=_event_payload(invoice))
    return invoice


@transaction.atomic
def invoice_remove_line(*, line: InvoiceLine, actor: str) -> Invoice:
    """Remove a line added by hand from a draft, with an audit entry; the totals and taxes
    are recomputed. A generated line is refused: the next recomputation would bring it back
    (its quantity is set to 0 instead). Returns the invoice."""
    invoice = _draft_locked(line.invoice)
    found = InvoiceLine.objects.for_organization(invoice.organization).filter(
        invoice=invoice, pk=line.pk).first()
    if found is None:
        raise _refusal("line", "This line is no longer on the invoice.", "not_found")
    line = found
    if line.kind != InvoiceLine.Kind.MANUAL:
        raise _refusal(
            "line", "This line is computed from the contract and the usage: it comes back "
                    "when the draft is recomputed. Set its quantity to 0 instead.",
            "generated_line")
    InvoiceAudit.objects.create(organization=invoice.organization, invoice=invoice, actor=actor,
                                action="line_removed", details={
                                    "description": line.description,
                                    "quantity": str(line.quantity),
                                    "unit_price": str(line.unit_price),
                                    "amount": str(round_money(line.amount,
                                                              invoice.currency))})
    line.delete()
    invoice.edited = True
    _totals(invoice, invoice.customer)
    invoice.save()
    return invoice


CONTRACT_DRAFT = ("A contract's draft comes back at the next run: change the contract or void "
                  "the invoice.")
MONEY_RECORDED = ("Money was recorded against this draft (a payment or credit): void it "
                  "instead, so the records stay.")


def _money_recorded(invoice: Invoice) -> bool:
    organization = invoice.organization
    return (invoice.amount_paid != 0 or invoice.credit_applied != 0
            or invoice.amount_credited != 0 or invoice.amount_refunded != 0
            or InvoiceSettlement.objects.for_organization(organization).filter(
                invoice=invoice).exists()
            or invoice.credit_notes.exists()
            or CreditGrant.objects.for_organization(organization).filter(
                invoice=invoice).exists()
            or CustomerCredit.objects.for_organization(organization).filter(
                invoice=invoice).exists())


@transaction.atomic
def invoice_delete(*, invoice: Invoice, actor: str) -> None:
    """Delete a draft that never had a number, with its lines and audit trail, under the
    invoice's row lock; writes ``invoice.deleted`` to the outbox. Refused (a
    ``ValidationError`` on ``status``, nothing deleted): an invoice that is not a draft or had
    a number, a contract's draft (generation would bring it back: the contract is changed or
    the invoice voided instead), a draft with money recorded against it."""
    invoice = (Invoice.objects.for_organization(invoice.organization).select_for_update()
               .select_related("customer").get(pk=invoice.pk))
    if invoice.status != Invoice.Status.DRAFT or invoice.number:
        raise _refusal("status", "Only a draft is deleted; a finalized invoice is voided or "
                                 "credited instead.", "not_draft")
    if invoice.contract_id is not None:
        raise _refusal("status", CONTRACT_DRAFT, "contract_draft")
    if _money_recorded(invoice):
        raise _refusal("status", MONEY_RECORDED, "money_recorded")
    payload = {**_event_payload(invoice), "status": "deleted", "deleted_by": actor}
    invoice_id = invoice.id
    try:
        with transaction.atomic():
            invoice.delete()
    except ProtectedError:  # another app's money record (a payment) points at it
        raise _refusal("status", MONEY_RECORDED, "money_recorded") from None
    outbox_write(organization=invoice.organization, event_type="invoice.deleted",
                 subject_id=invoice_id, payload=payload)
