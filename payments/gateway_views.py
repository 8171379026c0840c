"""The payment gateway's settings page (owners and admins): the account in use -- its kind,
mode, publishable key, retry days and the secret key masked (``sk_test_…4242``) -- set through
``payments.services.gateway_account_set`` (the service the API's ``PUT /gateway`` calls), and
"Test connection", which calls the gateway with the stored keys as ``POST /gateway/test``
does. A secret is never shown in full, never put back into a page: an empty secret field
keeps the stored one."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from payments import services
from payments.gateways import GatewayError, gateway_for
from payments.models import GatewayAccount
from zenskar.crypto import decrypt_json
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import MANAGE_ROLES

SECRETS = ("secret_key", "webhook_secret")
KEY_PREFIX = re.compile(r"^[a-z]+_(?:test|live)_")


def masked(secret: str) -> str:
    """A secret as a page may show it: its kind and its last four characters
    (``sk_test_…4242``), or dots alone when it is too short to show any of it."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "••••"
    prefix = KEY_PREFIX.match(secret)
    return f"{prefix.group(0) if prefix else ''}…{secret[-4:]}"


class GatewayForm(forms.Form):
    """Fields only: ``gateway_account_set`` holds the rules (Stripe needs its secret key,
    retry days are ascending whole days from 1 to 60); its errors land on these fields."""

    kind = forms.ChoiceField(choices=GatewayAccount.Kind.choices, label="Gateway")
    mode = forms.ChoiceField(choices=GatewayAccount.Mode.choices, initial="test")
    secret_key = forms.CharField(
        required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Stripe's secret key (sk_test_… or sk_live_…). Empty: the stored one is kept.")
    publishable_key = forms.CharField(required=False, max_length=200,
                                      help_text="pk_test_… or pk_live_…: the checkout page "
                                                "uses it to take cards.")
    webhook_secret = forms.CharField(
        required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="The signing secret of the webhook endpoint (whsec_…). Empty: the stored one "
                  "is kept.")
    retry_days = forms.CharField(
        required=False, label="Retry failed charges after (days)",
        help_text="Ascending days after a failed automatic charge, e.g. 1, 3, 5, 7.")

    def clean_retry_days(self) -> list[int] | None:
        text = self.cleaned_data["retry_days"].strip()
        if not text:
            return None
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValidationError("Whole days separated by commas, e.g. 1, 3, 5, 7.") from None


def _stored(account: GatewayAccount | None) -> dict:
    return decrypt_json(account.encrypted_credentials) if account else {}


def _page(request, form: GatewayForm | None = None, status: int = 200):
    account = services.gateway_account(organization=request.organization)
    stored = _stored(account)
    if form is None:
        form = GatewayForm(initial={
            "kind": account.kind, "mode": account.mode,
            "publishable_key": account.publishable_key,
            "retry_days": ", ".join(str(day) for day in account.retry_days),
        } if account else {"kind": GatewayAccount.Kind.STRIPE, "mode": "test",
                           "retry_days": ", ".join(map(str, services.DEFAULT_RETRY_DAYS))})
    return render(request, "payments/dashboard/gateway_settings.html", {
        "account": account, "form": form, "active": "settings",
        "secret_key": masked(stored.get("secret_key", "")),
        "webhook_secret": masked(stored.get("webhook_secret", "")),
        "webhook_url": settings.PUBLIC_URL + reverse("payments-webhook",
                                                     args=[request.organization.id]),
    }, status=status)


@member_required(roles=MANAGE_ROLES)
def gateway_settings(request):
    if request.method != "POST":
        return _page(request)
    form = GatewayForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    fields = dict(form.cleaned_data)
    stored = _stored(services.gateway_account(organization=request.organization))
    for name in SECRETS:  # empty: keep the stored one, as the API does when it is omitted
        fields[name] = fields[name] or stored.get(name, "")
    try:
        account = services.gateway_account_set(organization=request.organization, **fields)
    except ValidationError as error:
        errors_onto(form, error)
        return _page(request, form, status=400)
    messages.success(request, f"Payment gateway saved: {account.get_kind_display()}, "
                              f"{account.get_mode_display().lower()} mode.")
    return redirect("payments_dashboard:gateway-settings")


@member_required(roles=MANAGE_ROLES)
@require_POST
def gateway_test(request):
    account = services.gateway_account(organization=request.organization)
    if account is None:
        messages.error(request, "No gateway is set up yet.")
        return redirect("payments_dashboard:gateway-settings")
    try:
        ok, message = gateway_for(account).test_connection()
    except GatewayError as error:
        ok, message = False, str(error)
    (messages.success if ok else messages.error)(request, f"Test connection: {message}")
    return redirect("payments_dashboard:gateway-settings")
