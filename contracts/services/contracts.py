"""Writes of contracts as documents: import, replace a draft, activate, cancel, amend, delete,
renew. A draft contract is edited freely. An active contract changes only by amendment from a
date: what came before that date stays exactly as it was, so the past bills as it did (and
invoicing corrects what an amendment changes of periods already invoiced).

Every write that changes what a contract grants publishes ``contract.changed`` in its
transaction (``common._publish_contract_changed``); a no-op (activating an active contract,
a renewal run before the end date) publishes nothing."""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contracts import documents, price_config
from contracts.documents import ContractDoc, DiscountDoc, DocumentError, ItemDoc, PhaseDoc
from contracts.models import (
    CADENCE_MONTHS,
    Amendment,
    Contract,
    Customer,
    Discount,
    Phase,
    PriceItem,
    Product,
)
from contracts.named_keys import feature_errors, meter_code, meter_errors
from contracts.selectors import contract_document
from contracts.services.common import (
    _check_date,
    _contract_changed,
    _document_refusal,
    _publish_contract_changed,
    _refusal,
)
from zenskar import events
from zenskar.tenancy.models import Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _resolve(organization: Organization, doc: ContractDoc) -> tuple[Customer, dict[str, Product]]:
    """Look up what the document names; raise ValidationError naming every unknown."""
    errors: dict[str, list[ValidationError]] = {}
    customer = Customer.objects.for_organization(organization).filter(
        external_id=doc.customer).first()
    if customer is None:
        errors["customer"] = [ValidationError(f"No customer has external_id {doc.customer!r}.",
                                              code="unknown_customer")]
    else:
        doc.currency = doc.currency or customer.currency
        doc.time_zone = doc.time_zone or customer.time_zone
        if doc.payment_terms_days is None:
            doc.payment_terms_days = customer.payment_terms_days
        if doc.currency != customer.currency:
            errors["currency"] = [ValidationError(
                f"The contract is in {doc.currency} but its customer is billed in "
                f"{customer.currency}.", code="currency_mismatch")]
    products = {
        p.sku: p
        for p in Product.objects.for_organization(organization).filter(sku__in=doc.products)
    }
    meters: dict[str, set[str]] = {}
    per_event: dict[str, set[str]] = {}
    for pi, phase in enumerate(doc.phases):
        for ii, item in enumerate(phase.items):
            path = f"phases[{pi}].items[{ii}]"
            if item.product not in products:
                errors.setdefault(f"{path}.product", []).append(ValidationError(
                    f"No product has SKU {item.product!r}.", code="unknown_product"))
            meters[f"{path}.meter"] = item.meters
            if item.per_event:
                per_event[f"{path}.meter"] = {item.meter}
    for field, messages in meter_errors(organization=organization, meters=meters,
                                        per_event=per_event).items():
        errors.setdefault(field, []).extend(ValidationError(m, code=meter_code(m))
                                            for m in messages)
    features = {f"phases[{pi}].entitlements.{key}": [key]
                for pi, phase in enumerate(doc.phases) for key in phase.entitlements}
    _add_feature_errors(errors, organization, features)
    if errors or customer is None:
        raise ValidationError(errors)
    return customer, products

def _add_feature_errors(errors: dict[str, list[ValidationError]], organization: Organization,
                        features: dict[str, list[str]]) -> None:
    """Add to ``errors`` the feature keys (by field) that the app keeping features refuses."""
    for field, messages in feature_errors(organization=organization, features=features).items():
        errors.setdefault(field, []).extend(ValidationError(m, code="unknown_feature")
                                            for m in messages)

def _parse(document: Any) -> ContractDoc:
    try:
        return documents.parse_contract_document(document)
    except DocumentError as error:
        raise _document_refusal(error.errors) from None

def _contract_fields(doc: ContractDoc) -> dict[str, Any]:
    return {
        "name": doc.name, "reference": doc.reference, "start_date": doc.start_date,
        "end_date": doc.end_date, "currency": doc.currency, "time_zone": doc.time_zone,
        "cadence": doc.cadence, "cadence_months": doc.cadence_months, "anchor": doc.anchor,
        "anchor_day": doc.anchor_day, "anchor_weekday": doc.anchor_weekday,
        "payment_terms_days": doc.payment_terms_days,
        "auto_renew": doc.auto_renew, "renewal_term_months": doc.renewal_term_months,
        "renewal_notice_days": doc.renewal_notice_days,
        "variables": {k: str(v) for k, v in doc.variables.items()},
    }

def _write_phases(contract: Contract, phases: list[PhaseDoc],
                  products: dict[str, Product]) -> None:
    for phase_doc in phases:
        phase = Phase.objects.create(
            organization=contract.organization, contract=contract, name=phase_doc.name,
            start_date=phase_doc.start_date, end_date=phase_doc.end_date,
            entitlements=phase_doc.entitlements,
        )
        for position, item_doc in enumerate(phase_doc.items):
            _write_item(phase, item_doc, products[item_doc.product], position)

def _write_item(phase: Phase, item_doc: ItemDoc, product: Product, position: int) -> PriceItem:
    item = PriceItem.objects.create(
        organization=phase.organization, phase=phase, product=product,
        description=item_doc.description or product.name, position=position,
        timing=item_doc.timing, cadence=item_doc.cadence,
        cadence_months=item_doc.cadence_months, meter_key=item_doc.meter,
        quantity=item_doc.quantity, model=item_doc.model, pricing=item_doc.pricing,
    )
    for discount in item_doc.discounts:
        _write_discount(phase.contract, discount, price_item=item)
    return item

def _write_discount(contract: Contract, doc: DiscountDoc, *,
                    price_item: PriceItem | None = None) -> Discount:
    return Discount.objects.create(
        organization=contract.organization, contract=contract, price_item=price_item,
        description=doc.description, kind=doc.kind, value=doc.value, periods=doc.periods,
        starts_on=doc.starts_on, ends_on=doc.ends_on,
    )

@transaction.atomic
def contract_create(*, organization: Organization, document: Any) -> Contract:
    """Create a contract from its document (import). Validates everything first: nothing is
    written unless the whole document is right."""
    doc = _parse(document)
    customer, products = _resolve(organization, doc)
    contract = Contract(organization=organization, customer=customer, **_contract_fields(doc))
    _write_terms(contract, doc, products)
    _publish_contract_changed(contract)
    return contract


def _write_terms(contract: Contract, doc: ContractDoc, products: dict[str, Product]) -> None:
    """Save the contract row, then its phases, prices and discounts as ``doc`` says (the old
    ones already deleted), and activate it when the document asks."""
    contract.full_clean(validate_unique=False, validate_constraints=False)
    contract.save()
    _write_phases(contract, doc.phases, products)
    for discount in doc.discounts:
        _write_discount(contract, discount)
    if doc.status == "active":
        contract.status = Contract.Status.ACTIVE
        contract.save(update_fields=["status"])


def _locked(contract: Contract) -> Contract:
    return (Contract.objects.for_organization(contract.organization).select_for_update()
            .get(pk=contract.pk))

@transaction.atomic
def contract_update(*, contract: Contract, document: Any) -> Contract:
    """Replace a draft contract's terms with ``document``. Active contracts change only by
    amendment (see ``contract_amend``)."""
    contract = _locked(contract)
    if contract.status != Contract.Status.DRAFT:
        raise _refusal("status", "Only a draft contract is edited directly; amend an active one.",
                       "not_draft")
    doc = _parse(document)
    customer, products = _resolve(contract.organization, doc)
    contract.customer = customer
    for name, value in _contract_fields(doc).items():
        setattr(contract, name, value)
    contract.discounts.all().delete()
    contract.phases.all().delete()
    _write_terms(contract, doc, products)
    _publish_contract_changed(contract)
    return contract

@transaction.atomic
def contract_activate(*, contract: Contract) -> Contract:
    """Draft -> active, after checking the whole contract as a document. Idempotent."""
    contract = _locked(contract)
    if contract.status == Contract.Status.ACTIVE:
        return contract
    if contract.status != Contract.Status.DRAFT:
        raise _refusal("status", f"A {contract.status} contract cannot be activated.",
                       "invalid_status")
    doc = _parse(contract_document(contract=contract))
    _resolve(contract.organization, doc)
    contract.status = Contract.Status.ACTIVE
    contract.save(update_fields=["status", "updated_at"])
    _publish_contract_changed(contract)
    return contract

def _truncate_at(contract: Contract, effective: date) -> None:
    """End every phase at ``effective``: later phases go, the one running is cut."""
    contract.phases.filter(start_date__gte=effective).delete()
    running = contract.phases.filter(start_date__lt=effective).order_by("-start_date").first()
    if running is not None and (running.end_date is None or running.end_date > effective):
        running.end_date = effective
        running.save(update_fields=["end_date"])

@transaction.atomic
def contract_cancel(*, contract: Contract, effective_date: date) -> Contract:
    """Cancel from ``effective_date`` (the first day no longer covered). Terms before it stay;
    invoicing bills the final, prorated period, and credits what it billed beyond it (also
    for periods already invoiced and final). Idempotent for the same date.

    Cancelled from its start date (a draft: any date up to its start) nothing is owed: every
    phase goes, kept on an amendment row; invoicing credits whatever was billed already."""
    contract = _locked(contract)
    if contract.status == Contract.Status.CANCELLED and (
            contract.end_date == effective_date
            or (effective_date <= contract.start_date and not contract.phases.exists())):
        return contract
    if contract.status not in (Contract.Status.ACTIVE, Contract.Status.DRAFT):
        raise _refusal("status", f"A {contract.status} contract cannot be cancelled.",
                       "invalid_status")
    _check_date("effective_date", effective_date)
    if effective_date <= contract.start_date:
        if contract.status == Contract.Status.ACTIVE and effective_date < contract.start_date:
            raise _refusal("effective_date", "Must not be before the contract's start_date.",
                           "before_start")
        # from its start: nothing is owed (invoicing credits what was billed already)
        effective_date = contract.start_date
    if contract.end_date is not None and effective_date > contract.end_date:
        raise _refusal("effective_date", "Must not be after the contract's end_date.",
                       "after_end")
    if effective_date > contract.start_date:
        _truncate_at(contract, effective_date)
        contract.end_date = effective_date
    else:
        Amendment.objects.create(
            organization=contract.organization, contract=contract, effective_date=effective_date,
            description="Cancelled from its start: nothing is billed",
            before=contract_document(contract=contract), changes={"phases": []},
        )
        contract.phases.all().delete()
    contract.status = Contract.Status.CANCELLED
    contract.cancelled_at = timezone.now()
    contract.auto_renew = False
    contract.save()
    _publish_contract_changed(contract)
    return contract

@transaction.atomic
def contract_amend(
    *, contract: Contract, effective_date: date, phases: list[dict[str, Any]],
    end_date: Any = ..., description: str = "", created_by: User | None = None,
) -> Amendment:
    """Change an active contract from ``effective_date`` on.

    ``phases`` are the terms from that date: the first starts on ``effective_date``, the last
    ends on the contract's (possibly new) ``end_date``. Phases before the date are kept as
    they are; the phase running on the date is cut there. The contract's document before the
    change is kept on the Amendment row.
    """
    contract = _locked(contract)
    if contract.status != Contract.Status.ACTIVE:
        raise _refusal("status", "Only an active contract is amended.", "not_active")
    _check_date("effective_date", effective_date)
    if effective_date < contract.start_date:
        # on the start date itself the new terms replace the plan from day one
        raise _refusal("effective_date", "Must not be before the start_date.", "before_start")
    new_end = contract.end_date if end_date is ... else end_date
    if isinstance(new_end, str):
        new_end = date.fromisoformat(new_end)
    before = contract_document(contract=contract)
    if new_end is not None and new_end <= effective_date:
        raise _refusal("end_date", "Must be after the effective_date.", "invalid_period")
    kept = [
        copy.deepcopy(p) for p in before["phases"]
        if date.fromisoformat(p["start_date"]) < effective_date
    ]
    for phase in kept:
        if phase["end_date"] is None or date.fromisoformat(phase["end_date"]) > effective_date:
            phase["end_date"] = effective_date.isoformat()
    after = {**before, "end_date": new_end.isoformat() if new_end else None,
             "phases": kept + list(phases)}
    if new_end is None:
        after["auto_renew"] = False
    try:
        doc = documents.parse_contract_document(after)
    except DocumentError as error:
        # Report the new phases' errors by their index in the amendment, not the document.
        offset = len(kept)
        raise _document_refusal(_reindex(error.errors, offset)) from None
    _, products = _resolve(contract.organization, doc)
    _truncate_at(contract, effective_date)
    _write_phases(contract, doc.phases[len(kept):], products)
    contract.end_date = new_end
    contract.auto_renew = after["auto_renew"]
    contract.save(update_fields=["end_date", "auto_renew", "updated_at"])
    amendment = Amendment.objects.create(
        organization=contract.organization, contract=contract, effective_date=effective_date,
        description=description,
        before=before,
        changes={"phases": price_config.normalized(list(phases)),
                 "end_date": after["end_date"]},
        created_by=created_by,
    )
    _publish_contract_changed(contract)
    return amendment

def _reindex(errors: documents.Errors, offset: int) -> documents.Errors:
    def shift(match: re.Match[str]) -> str:
        index = int(match.group(1)) - offset
        return f"phases[{index}]" if index >= 0 else match.group(0)

    return {re.sub(r"^phases\[(\d+)\]", shift, key): value for key, value in errors.items()}

def _invoiced(contract: Contract) -> bool:
    """Whether invoicing wrote an invoice for the contract: its invoices point here (the same
    foreign key, PROTECT, refuses deleting the contract)."""
    return contract.invoices.exists()

@transaction.atomic
def contract_delete(*, contract: Contract) -> None:
    """Delete a contract never invoiced: a draft, or one whose billing failed from its first
    period (a price beyond what an invoice holds, written before input bounds existed). A
    contract with invoices is cancelled instead. Publishes ``contract.deleted`` (invoicing
    resolves the contract's billing failures), then ``contract.changed``, in the transaction
    and after the row is gone."""
    contract = _locked(contract)
    if _invoiced(contract):
        raise _refusal("status", "This contract has invoices: cancel it instead.", "invoiced")
    contract_id = contract.id
    changed = _contract_changed(contract)  # while the row still has its id
    contract.delete()
    events.publish(events.DomainEvent(name="contract.deleted",
                                      organization_id=contract.organization_id,
                                      payload={"contract": str(contract_id)}))
    events.publish(changed)

def cadence_months(cadence: str, months: int | None) -> int | None:
    """Months per period for a cadence choice; None for one-time and for weekly (counted
    in weeks)."""
    if cadence == "one_time":
        return None
    known = {str(choice): count for choice, count in CADENCE_MONTHS.items()}
    return known.get(cadence, months)

@transaction.atomic
def contract_renew_or_end(*, contract: Contract, today: date) -> Contract:
    """On or after its end date, an active contract renews (auto-renew: the end moves by the
    renewal term and the last phase's prices carry on, recorded as an amendment) or ends.
    Idempotent: a contract whose end is still ahead is left alone."""
    contract = _locked(contract)
    if contract.status != Contract.Status.ACTIVE or contract.end_date is None:
        return contract
    renewed = False
    while contract.end_date is not None and contract.end_date <= today:
        if not (contract.auto_renew and contract.renewal_term_months):
            contract.status = Contract.Status.ENDED
            contract.save(update_fields=["status", "updated_at"])
            _publish_contract_changed(contract)
            return contract
        before = contract_document(contract=contract)
        old_end = contract.end_date
        new_end = old_end + relativedelta(months=contract.renewal_term_months)
        last = contract.phases.order_by("-start_date").first()
        if last is not None:  # a contract with no phase left bills nothing: its end moves
            last.end_date = new_end
            last.save(update_fields=["end_date"])
        contract.end_date = new_end
        contract.save(update_fields=["end_date", "updated_at"])
        Amendment.objects.create(
            organization=contract.organization, contract=contract, effective_date=old_end,
            description=f"Renewed automatically for {contract.renewal_term_months} months",
            before=before, changes={"end_date": new_end.isoformat()},
        )
        renewed = True
    if renewed:
        _publish_contract_changed(contract)
    return contract
