"""The contract page's "Entitlements" panel (``CONTRACT_DETAIL``): what the phase in force
today grants (its products' features and its overrides), the overrides of every phase, and a
form to change one feature from a date (``contracts.services.contract_entitlements_set``: a
draft is rewritten, an active contract amended)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contracts import services as contracts_services
from contracts.models import Contract, Phase
from entitlements import selectors
from entitlements.forms import ContractEntitlementsForm
from entitlements.models import Feature
from entitlements.views.common import carried, carry, features_of, included, qty
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES


def _overridable(features: Iterable[Feature]) -> list[Feature]:
    """The features a phase may override: a prepaid balance comes from lots, not phases."""
    return [f for f in features if f.kind != Feature.Kind.PREPAID]


def _override_text(override: Any, feature: Feature | None) -> str:
    value = override.get("value") if isinstance(override, dict) else override
    if isinstance(value, bool):
        return "on" if value else "off"
    unit = feature.unit if feature is not None else ""
    return " ".join(filter(None, [qty(value), unit]))


def _phase_on(phases: list[Phase], today: date) -> tuple[Phase | None, bool]:
    """The phase in force on ``today`` (True), else the next one to start (False)."""
    for phase in phases:
        if phase.start_date <= today and (phase.end_date is None or today < phase.end_date):
            return phase, True
    return next((p for p in phases if p.start_date > today), None), False


def _granted_by(organization, phase: Phase, features: dict[str, Feature]) -> list[dict]:
    """What ``phase`` grants: its products' features, and its overrides that replace them."""
    overrides = phase.entitlements or {}
    rows = []
    products = list({item.product_id for item in phase.items.all()})
    for row in selectors.product_features(organization=organization, product_ids=products):
        if row.feature.archived_at is None:
            rows.append({"key": row.feature.key, "feature": row.feature, "product": row.product,
                         "value": included(row), "policy": row.policy or row.feature.policy,
                         "replaced": row.feature.key in overrides})
    for key, override in overrides.items():
        feature = features.get(key)
        rows.append({"key": key, "feature": feature, "product": None,
                     "value": _override_text(override, feature),
                     "policy": override.get("policy") or (feature.policy if feature else ""),
                     "replaced": False})
    return sorted(rows, key=lambda r: (r["key"], r["product"] is None))


def contract_panel(request, contract: Contract) -> str:
    """The contract page's "Entitlements" section (``CONTRACT_DETAIL``): what the phase in
    force today grants (its products' features and its overrides), the overrides of every
    phase, and a form to change one feature from a date."""
    organization = request.organization
    features = {f.key: f for f in features_of(organization)}
    phases = list(contract.phases.all())
    if not features and not any(p.entitlements for p in phases):
        return ""
    today = timezone.now().astimezone(ZoneInfo(contract.time_zone)).date()
    phase, in_force = _phase_on(phases, today)

    def build(data, _):
        return ContractEntitlementsForm(data, features=_overridable(features.values()),
                                        auto_id="ce-%s")

    refused = carried(request, "contract", contract.id, build)
    return render_to_string("entitlements/_contract_panel.html", {
        "contract": contract, "phase": phase, "in_force": in_force, "today": today,
        "rows": _granted_by(organization, phase, features) if phase else [],
        "schedule": [{"phase": p, "overrides": [(k, _override_text(v, features.get(k)),
                                                 v.get("policy", ""))
                                                for k, v in p.entitlements.items()]}
                     for p in phases if p.entitlements],
        "form": refused[1] if refused else build(None, ""),
        "open_form": refused is not None,
        "changeable": contract.status in (Contract.Status.DRAFT, Contract.Status.ACTIVE),
    }, request=request)


def _contract_errors_onto(form: ContractEntitlementsForm, error: ValidationError) -> None:
    """``entitlements.<key>.value`` on value, ``.policy`` on policy, the key on feature."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for path, found in error.message_dict.items():
        field: str | None = path if path in ("effective_date",) else None
        if path == "entitlements" or path.startswith("entitlements."):
            rest = path.split(".", 2)[2] if path.count(".") >= 2 else ""
            field = rest if rest in ("value", "policy") else "feature"
        form.add_error(field, found if field or path == "__all__" else
                       [f"{path}: {message}" for message in found])


@member_required(roles=WRITE_ROLES)
@require_POST
def contract_entitlements_change(request, contract_id):
    contract = get_object_or_404(Contract.objects.for_organization(request.organization),
                                 id=contract_id)
    form = ContractEntitlementsForm(
        request.POST, features=_overridable(features_of(request.organization)), auto_id="ce-%s")
    back = reverse("contracts:contract-detail", args=[contract.id]) + "#entitlements"
    if form.is_valid():
        try:
            contracts_services.contract_entitlements_set(
                contract=contract, effective_date=form.cleaned_data["effective_date"],
                entitlements=form.change(), created_by=request.user)
        except ValidationError as error:
            _contract_errors_onto(form, error)
        else:
            data = form.cleaned_data
            what = "no longer overrides" if data["remove"] else "changes"
            messages.success(request, f"{contract.name} {what} {data['feature']} from "
                                      f"{data['effective_date'].isoformat()}.")
            return redirect(back)
    carry(request, "contract", contract.id, form)
    return redirect(back)
