"""What the entitlements pages and panels share: figures written for people, the usage bar's
row, a service's refusal put on its form, and a refused panel form carried back to its page.

A panel's form posts to an entitlements URL and redirects back to the page it is on (a page of
an earlier app); when it is refused, what was typed and the errors are kept in the session
(``carry``) and the panel shows the form again with them, once (``carried``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404

from contracts.models import Product
from entitlements import selectors, services
from entitlements.forms import ProductFeatureForm
from entitlements.models import Feature, ProductFeature
from zenskar.dashboard.forms import errors_onto
from zenskar.formatting import format_quantity

CARRIED = "entitlements:refused_form"
CARRIED_SECONDS = 300
# A check's reason as the dashboard writes it, and the tone of its badge.
REASONS = {
    "granted": ("on", "ok"), "disabled": ("off", "muted"), "not_granted": ("not granted", ""),
    "within_limit": ("within limit", "ok"), "limit_reached": ("limit reached", "danger"),
    "balance_exhausted": ("balance used up", "danger"), "soft_limit": ("past soft limit", "warn"),
    "overage": ("in overage", "warn"), "paused": ("paused", "danger"),
}


def qty(value: Any) -> str:
    return "" if value is None or value == "" else format_quantity(value)


def features_of(organization, *, archived: bool = False):
    features = Feature.objects.for_organization(organization)
    return features if archived else features.filter(archived_at__isnull=True)


def get_feature(request, feature_id) -> Feature:
    return get_object_or_404(Feature.objects.for_organization(request.organization),
                             id=feature_id)


def usage_row(entry: selectors.Entitlement) -> dict[str, Any]:
    """One feature as a customer has it, for a table with a usage bar: the figures written
    for people, and the bar's share of the limit (None without a limit)."""
    answer, feature = entry.answer, entry.feature
    reason, tone = REASONS.get(answer["reason"], (answer["reason"], ""))
    row = {"feature": feature, "kind": answer["kind"], "reason": reason, "tone": tone,
           "granted": answer["reason"] != "not_granted", "allowed": answer["allowed"],
           "policy": answer["policy"], "limit": qty(answer["limit"]),
           "used": qty(answer["used"]), "remaining": qty(answer["remaining"]),
           "resets_at": (datetime.fromisoformat(answer["resets_at"])
                         if answer["resets_at"] else None), "bar": None}
    share = entry.share
    if share is not None and answer["used"] is not None:
        shown = min(max(share, Decimal(0)), Decimal(1))
        row["bar"] = {"value": format(shown.quantize(Decimal("0.0001")), "f"),
                      "low": format(Decimal(str(feature.notify_at)).normalize(), "f"),
                      "percent": format_quantity(share * 100, max_decimals=0),
                      "full": share >= 1}
    return row


def onto(form: forms.Form, error: ValidationError, names: dict[str, str] | None = None) -> None:
    """A service's refusal on the form, its field names translated by ``names``."""
    if names and hasattr(error, "error_dict"):
        error = ValidationError({names.get(key, key): value
                                 for key, value in error.error_dict.items()})
    errors_onto(form, error)


def carry(request, name: str, subject: uuid.UUID, form: forms.Form, row: str = "") -> None:
    """Keep a refused panel form (what was typed and its errors) for the page it goes back to,
    and say so at the top of that page."""
    errors = {key: [str(message) for message in found] for key, found in form.errors.items()}
    request.session[CARRIED] = {
        "name": name, "subject": str(subject), "row": row, "at": time.time(),
        "data": {key: form.data.get(key) for key in form.data
                 if key != "csrfmiddlewaretoken"},
        "errors": errors}
    problems = [f"{form[key].label}: {message}" if key in form.fields else message
                for key, found in errors.items() for message in found]
    messages.error(request, f"Nothing was changed. {' '.join(problems)}")


def carried(request, name: str, subject: uuid.UUID,
            build: Callable[[Any, str], forms.Form]) -> tuple[str, forms.Form] | None:
    """The refused form of ``name`` about ``subject``, bound again with its errors: once, on
    the page it was sent back to (a form left there for longer is forgotten)."""
    stored = request.session.get(CARRIED)
    if not stored or (stored["name"], stored["subject"]) != (name, str(subject)):
        return None
    del request.session[CARRIED]
    if time.time() - stored.get("at", 0) > CARRIED_SECONDS:
        return None
    form = build(stored["data"], stored["row"])
    form.is_valid()
    for key, found in stored["errors"].items():
        field = None if key == "__all__" or key not in form.fields else key
        for message in found:
            if message not in form.errors.get(field or "__all__", []):
                form.add_error(field, message)
    return stored["row"], form


def included(row: ProductFeature) -> str:
    """What a product includes of a feature, as a person reads it."""
    feature = row.feature
    if feature.kind == Feature.Kind.BOOLEAN:
        return "on" if row.enabled else "off"
    value = " ".join(filter(None, [qty(row.value), feature.unit]))
    if feature.kind == Feature.Kind.PREPAID:
        return f"{value} per unit bought"
    if feature.kind == Feature.Kind.METERED:
        return f"{value} {feature.get_reset_display().lower()}" if feature.reset else value
    return value


def include(form: ProductFeatureForm, product: Product, feature: Feature) -> bool:
    """``product_feature_set`` with what the form holds; False (the form says why) when
    refused."""
    data = form.cleaned_data
    if feature.kind != Feature.Kind.BOOLEAN and not data["value"].strip():
        form.add_error("value", "Give the number, the limit per window or the units per unit "
                                "bought.")
        return False
    try:
        services.product_feature_set(
            product=product, feature=feature,
            value=None if feature.kind == Feature.Kind.BOOLEAN else data["value"].strip(),
            policy=data["policy"], grant_on=data["grant_on"] or ProductFeature.GrantOn.PAID,
            expires_after_days=data["expires_after_days"])
    except ValidationError as error:
        onto(form, error)
        return False
    return True

