"""The customer page's "Entitlements" panel (``CUSTOMER_DETAIL``): a banner while the
customer is paused for non-payment, every feature as the customer has it with a usage bar
against its limit, the prepaid lots, and a form to give prepaid units
(``services.balance_grant``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts.models import Customer
from entitlements import selectors, services
from entitlements.forms import BalanceGrantForm
from entitlements.models import Feature
from entitlements.views.common import carried, carry, features_of, onto, qty, usage_row
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES


def customer_panel(request, customer: Customer) -> str:
    """The customer page's "Entitlements" section (``CUSTOMER_DETAIL``): every feature as the
    customer has it, with a usage bar against its limit; the prepaid lots; a form to give
    prepaid units; above them, while the customer is paused for non-payment, a banner saying
    since when (the day in the customer's time zone) and why. Nothing when the organization
    has no features."""
    organization = request.organization
    features = list(features_of(organization))
    if not features:
        return ""
    prepaid = [f for f in features if f.kind == Feature.Kind.PREPAID]
    refused = carried(request, "lot", customer.id,
                      lambda data, _: BalanceGrantForm(data, features=prepaid, auto_id="lot-%s"))
    rows = [usage_row(entry) for entry in
            selectors.customer_entitlements(organization=organization, customer=customer)]
    pause = selectors.suspension_active(organization=organization, customer=customer)
    return render_to_string("entitlements/_customer_panel.html", {
        "customer": customer, "rows": rows, "time_zone": customer.time_zone,
        "pause": pause, "paused_on": pause.paused_at.astimezone(
            ZoneInfo(customer.time_zone)).date() if pause else None,
        "lots": selectors.lots_of(organization=organization, customer=customer),
        "form": refused[1] if refused else BalanceGrantForm(features=prepaid, auto_id="lot-%s"),
        "has_prepaid": bool(prepaid), "open_form": refused is not None,
    }, request=request)


def _end_of(day: date | None, zone: str) -> datetime | None:
    """The end of ``day`` in ``zone``: when units usable through it expire."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))


@member_required(roles=WRITE_ROLES)
@require_POST
def balance_grant(request, customer_id):
    customer = get_object_or_404(Customer.objects.for_organization(request.organization),
                                 id=customer_id)
    prepaid = {str(f.id): f for f in features_of(request.organization).filter(
        kind=Feature.Kind.PREPAID)}
    form = BalanceGrantForm(request.POST, features=prepaid.values(), auto_id="lot-%s")
    back = reverse("contracts:customer-detail", args=[customer.id]) + "#entitlements"
    if form.is_valid():
        data = form.cleaned_data
        feature = prepaid[data["feature"]]
        try:
            lot = services.balance_grant(
                customer=customer, feature=feature, units=data["units"].strip(),
                source=f"grant:{uuid.uuid4()}", reason=data["reason"],
                expires_at=_end_of(data["expires_on"], customer.time_zone))
        except ValidationError as error:
            onto(form, error, {"expires_at": "expires_on"})
        else:
            messages.success(request, f"Gave {customer.name} {qty(lot.units)} "
                                      f"{feature.unit or 'units'} of {feature.name}.")
            return redirect(back)
    carry(request, "lot", customer.id, form)
    return redirect(back)

