"""Writes of a draft contract's phases and price items, one at a time (the contract editor and
the API's phase and item endpoints). Each publishes ``contract.changed`` in its transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction

from contracts import documents
from contracts.documents import ItemDoc
from contracts.models import (
    Contract,
    Phase,
    PriceItem,
    Product,
)
from contracts.named_keys import meter_code, meter_errors
from contracts.selectors import contract_document
from contracts.services.common import (
    _document_refusal,
    _publish_contract_changed,
    _refusal,
)
from contracts.services.contracts import _locked, _write_discount, _write_item


def _draft(contract: Contract) -> Contract:
    contract = _locked(contract)
    if contract.status != Contract.Status.DRAFT:
        raise _refusal("status", "Only a draft contract is edited directly; amend an active one.",
                       "not_draft")
    return contract

def _check_phase_range(contract: Contract, start: date, end: date | None, *,
                       exclude: UUID | None = None) -> None:
    errors: dict[str, list[ValidationError]] = {}
    if start < contract.start_date:
        errors["start_date"] = [ValidationError(
            f"Must not be before the contract's start ({contract.start_date}).",
            code="before_start")]
    if contract.end_date and (end is None or end > contract.end_date):
        errors["end_date"] = [ValidationError(
            f"Must not be after the contract's end ({contract.end_date}).", code="after_end")]
    if end is not None and end <= start:
        errors["end_date"] = [ValidationError("Must be after start_date.",
                                              code="invalid_period")]
    others = contract.phases.exclude(pk=exclude) if exclude else contract.phases.all()
    for other in others:
        if (other.end_date is None or start < other.end_date) and (end is None or other.start_date < end):
            errors.setdefault("start_date", []).append(ValidationError(
                f"Overlaps the phase {other.start_date} - {other.end_date or 'open'}.",
                code="overlap"))
    if errors:
        raise ValidationError(errors)

@transaction.atomic
def phase_create(*, contract: Contract, start_date: date, end_date: date | None, name: str = "") -> Phase:
    contract = _draft(contract)
    _check_phase_range(contract, start_date, end_date)
    phase = Phase.objects.create(
        organization=contract.organization, contract=contract, name=name,
        start_date=start_date, end_date=end_date,
    )
    _publish_contract_changed(contract)
    return phase

@transaction.atomic
def phase_update(*, phase: Phase, **fields: Any) -> Phase:
    contract = _draft(phase.contract)
    start = fields.get("start_date", phase.start_date)
    end = fields.get("end_date", phase.end_date)
    _check_phase_range(contract, start, end, exclude=phase.pk)
    phase.start_date, phase.end_date = start, end
    phase.name = fields.get("name", phase.name)
    phase.save()
    _publish_contract_changed(contract)
    return phase

@transaction.atomic
def phase_delete(*, phase: Phase) -> None:
    contract = _draft(phase.contract)
    phase.delete()
    _publish_contract_changed(contract)

def _item_doc(contract: Contract, data: dict[str, Any]) -> tuple[ItemDoc, Product]:
    errors: documents.Errors = {}
    reader = documents._Reader(errors)
    variables = {k: Decimal(str(v)) for k, v in (contract.variables or {}).items()}
    item = documents.parse_item(reader, data, "", contract.currency, variables)
    errors = {k.lstrip("."): v for k, v in errors.items()}
    if item is None or errors:
        raise _document_refusal(
            errors or {"item": [documents.Problem("Invalid price item.", "invalid_document")]})
    product = Product.objects.for_organization(contract.organization).filter(
        sku=item.product).first()
    refused: dict[str, list[ValidationError]] = {}
    if item.cadence == "weekly" and contract.anchor == "day_of_month":
        refused["cadence"] = [ValidationError(
            "Weekly periods are anchored on the calendar (a weekday) or on the anniversary of "
            "the start date, not on the contract's day of the month.", code="invalid_choice")]
    if product is None:
        refused["product"] = [ValidationError(f"No product has SKU {item.product!r}.",
                                              code="unknown_product")]
    per_event = {"meter": {item.meter}} if item.per_event else None
    for field, messages in meter_errors(organization=contract.organization,
                                        meters={"meter": item.meters},
                                        per_event=per_event).items():
        refused.setdefault(field, []).extend(ValidationError(m, code=meter_code(m))
                                             for m in messages)
    if refused or product is None:
        raise ValidationError(refused)
    return item, product

@transaction.atomic
def price_item_create(*, phase: Phase, data: dict[str, Any]) -> PriceItem:
    """Add a price item to a draft's phase. ``data`` is the item as in the document."""
    contract = _draft(phase.contract)
    item_doc, product = _item_doc(contract, data)
    item = _write_item(phase, item_doc, product, position=phase.items.count())
    _publish_contract_changed(contract)
    return item

@transaction.atomic
def price_item_update(*, item: PriceItem, data: dict[str, Any]) -> PriceItem:
    """Replace a draft's price item with ``data`` (the item as in the document)."""
    contract = _draft(item.phase.contract)
    current = contract_document(contract=contract)
    merged = next(
        i for p in current["phases"] for i in p["items"] if i["id"] == str(item.id)
    )
    merged = {**merged, **data}
    item_doc, product = _item_doc(contract, merged)
    item.product = product
    item.description = item_doc.description or product.name
    item.timing, item.cadence = item_doc.timing, item_doc.cadence
    item.cadence_months, item.meter_key = item_doc.cadence_months, item_doc.meter
    item.quantity, item.model, item.pricing = item_doc.quantity, item_doc.model, item_doc.pricing
    item.save()
    item.discounts.all().delete()
    for discount in item_doc.discounts:
        _write_discount(contract, discount, price_item=item)
    _publish_contract_changed(contract)
    return item

@transaction.atomic
def price_item_delete(*, item: PriceItem) -> None:
    contract = _draft(item.phase.contract)
    item.delete()
    _publish_contract_changed(contract)
