"""The one write of a contract's entitlement overrides from a date on (the API's
``POST /contracts/{id}/entitlements`` and the dashboard alike).

The overrides live on the phases of the contract document (``contracts.entitlement_overrides``),
so changing them is changing the document: a draft is rewritten (``contract_update``), an
active contract is amended from the date (``contract_amend``), and both check the result as a
whole document and publish ``contract.changed``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from contracts import documents, entitlement_overrides
from contracts.models import Contract
from contracts.selectors import PREPAID_MODELS, contract_document
from contracts.services.common import _check_date, _document_refusal, _refusal
from contracts.services.contracts import (
    _add_feature_errors,
    _locked,
    contract_amend,
    contract_update,
)
from zenskar import bounds

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: Feature key -> override as in the document, or None to remove the key's override.
Changes = Mapping[str, Mapping[str, Any] | None]


@transaction.atomic
def contract_entitlements_set(
    *, contract: Contract, effective_date: date, entitlements: Changes, description: str = "",
    created_by: User | None = None,
) -> Contract:
    """Set (or, with ``None``, remove) the overrides of the features in ``entitlements`` from
    ``effective_date`` on; the other features' overrides stay as they are.

    A draft: the overrides are merged into every phase in force on or after the date (phases
    that end by then are left alone) and the draft is rewritten. An active contract: an
    amendment from the date whose phases are the current ones from that date (the phase in
    force on the date starting at the date), each with the overrides merged -- what came
    before the date is kept exactly. Refused (``would_bill_again``) when that split would
    bill a charge of the phase in force a second time: a prepaid purchase or a one-time fee
    is billed when its phase starts. Any other status is refused (``not_active``).
    Validates everything first (the overrides by the document's rules, then the whole
    document); nothing is written unless all is right. Locks the contract row."""
    contract = _locked(contract)
    if contract.status not in (Contract.Status.DRAFT, Contract.Status.ACTIVE):
        raise _refusal("status", f"A {contract.status} contract's entitlements no longer "
                                 "change.", "not_active")
    _check_date("effective_date", effective_date)
    if contract.end_date is not None and effective_date >= contract.end_date:
        raise _refusal("effective_date", "Must be before the contract's end_date.", "after_end")
    changes = _parsed_changes(contract, entitlements)
    document = contract_document(contract=contract)
    if contract.status == Contract.Status.DRAFT:
        for phase in _in_force_from(document["phases"], effective_date):
            phase["entitlements"] = entitlement_overrides.merged(phase["entitlements"], changes)
        return contract_update(contract=contract, document=document)
    _check_no_charge_billed_again(document, effective_date)
    phases = [_terms_of(phase) for phase in _in_force_from(document["phases"], effective_date)]
    for phase in phases:
        phase["start_date"] = max(date.fromisoformat(phase["start_date"]),
                                  effective_date).isoformat()
        phase["entitlements"] = entitlement_overrides.merged(phase["entitlements"], changes)
    contract_amend(contract=contract, effective_date=effective_date, phases=phases,
                   description=description or "Entitlements changed", created_by=created_by)
    contract.refresh_from_db()
    return contract


def _parsed_changes(contract: Contract,
                    entitlements: Any) -> dict[str, dict[str, Any] | None]:
    """``entitlements`` checked by the document's rules (errors named
    ``entitlements.<key>...``), and its keys by the app that keeps features."""
    errors: documents.Errors = {}
    if not isinstance(entitlements, Mapping) or not entitlements:
        problem = (documents.Problem("give at least one feature", "required")
                   if entitlements is None or isinstance(entitlements, Mapping) else
                   documents.Problem("must be an object of feature key: override or null",
                                     "invalid_type"))
        raise _document_refusal({"entitlements": [problem]})
    problems = bounds.coded_json_problems(entitlements)  # a NUL, a lone surrogate, nesting
    if problems:
        raise _document_refusal({
            "entitlements" if path in ("", "(body)") else f"entitlements.{path}":
                [documents.Problem(why, code)] for path, (why, code) in problems.items()})
    changes = entitlement_overrides.parse_overrides(
        documents._Reader(errors), entitlements, "entitlements", removals=True)
    if errors:
        raise _document_refusal(errors)
    refused: dict[str, list[ValidationError]] = {}
    _add_feature_errors(refused, contract.organization,
                        {f"entitlements.{key}": [key] for key, override in changes.items()
                         if override is not None})
    if refused:
        raise ValidationError(refused)
    return changes


def _check_no_charge_billed_again(document: dict[str, Any], day: date) -> None:
    """Refuse to split the phase running on ``day`` when it has a charge billed once, when its
    phase starts (a prepaid purchase, a one-time fee): the new phase from ``day`` would bill it
    again. Changing the overrides from the phase's own start, or a later phase's, is fine."""
    for phase in _in_force_from(document["phases"], day):
        if date.fromisoformat(phase["start_date"]) >= day:
            continue
        once = [item for item in phase["items"] if item["model"] in PREPAID_MODELS
                or (item["cadence"] or document["cadence"]) == "one_time"]
        if once:
            raise _refusal(
                "effective_date",
                f"The phase in force on {day} bills {once[0]['description']!r} once, when it "
                f"starts: changing entitlements from inside it would bill that again. Choose "
                f"the phase's start ({phase['start_date']}) or a later phase's.",
                "would_bill_again")


def _in_force_from(phases: list[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """The phases of a document still in force on or after ``day``."""
    return [p for p in phases if p["end_date"] is None or date.fromisoformat(p["end_date"]) > day]


def _terms_of(phase: dict[str, Any]) -> dict[str, Any]:
    """A copy of an exported phase without the ids of its rows (phase, items, their
    discounts): the amendment writes new rows, and records the terms, not the old rows."""
    terms = copy.deepcopy(phase)
    terms.pop("id", None)
    for item in terms["items"]:
        item.pop("id", None)
        for discount in item["discounts"]:
            discount.pop("id", None)
    return terms
