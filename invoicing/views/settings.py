"""Invoicing settings and tax rates; the rules are the services' (``invoicing.services``,
``invoicing.taxes``), the forms only translate."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from invoicing import services, taxes
from invoicing.forms import (
    SettingsForm,
    TaxRateForm,
)
from invoicing.models import (
    TaxRate,
)
from invoicing.services.settings import MAX_LOGO_BYTES, logo_data_uri
from invoicing.views.text import quantity_text
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES


def _settings_page(request, settings_form=None, rate_form=None):
    organization = request.organization
    settings_form = settings_form or SettingsForm(
        settings=services.invoice_settings(organization=organization))
    if request.membership.role not in WRITE_ROLES:
        for field in settings_form.fields.values():
            field.disabled = True
    return render(request, "invoicing/settings.html", {
        "form": settings_form, "rate_form": rate_form or TaxRateForm(),
        "logo_url": services.invoice_settings(organization=organization).logo_url,
        "rates": [(rate, quantity_text(rate.rate))
                  for rate in TaxRate.objects.filter(organization=organization)],
        "active": "invoices",
    })

@member_required
def settings_page(request):
    return _settings_page(request)

@member_required(roles=WRITE_ROLES)
@require_POST
def settings_save(request):
    organization = request.organization
    form = SettingsForm(request.POST, settings=services.invoice_settings(organization=organization))
    if not form.is_valid():
        return _settings_page(request, settings_form=form)
    fields = dict(form.cleaned_data)
    if "logo_url" not in request.POST:  # the page changes the logo with its own form
        fields.pop("logo_url", None)
    try:
        services.invoice_settings_update(organization=organization, **fields)
    except ValidationError as error:
        errors_onto(form, error)
        return _settings_page(request, settings_form=form)
    messages.success(request, "Invoicing settings saved.")
    return redirect("invoicing:settings")

@member_required(roles=WRITE_ROLES)
@require_POST
def logo_save(request):
    """The logo printed on invoices: an uploaded image file, read as bytes and handed to
    ``invoice_settings_update`` as a data: URI (the service checks the bytes are a PNG, JPEG,
    GIF or WebP image of at most 200 KB, whatever the file's name); or removed."""
    if "remove" in request.POST:
        services.invoice_settings_update(organization=request.organization, logo_url="")
        messages.success(request, "Logo removed: invoices print none.")
        return redirect(f"{reverse('invoicing:settings')}#logo")
    upload = request.FILES.get("logo")
    if upload is None:
        messages.error(request, "Choose an image file: PNG, JPEG, GIF or WebP, at most 200 KB.")
        return redirect(f"{reverse('invoicing:settings')}#logo")
    # one byte past the bound is enough for the service to refuse a larger file
    content = upload.read(MAX_LOGO_BYTES + 1)
    try:
        services.invoice_settings_update(organization=request.organization,
                                         logo_url=logo_data_uri(content))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Logo saved: invoices print it from now on.")
    return redirect(f"{reverse('invoicing:settings')}#logo")

@member_required(roles=WRITE_ROLES)
@require_POST
def tax_rate_create(request):
    form = TaxRateForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, rate_form=form)
    try:
        rate = taxes.tax_rate_create(organization=request.organization, **form.cleaned_data)
    except ValidationError as error:
        errors_onto(form, error)
        return _settings_page(request, rate_form=form)
    messages.success(request, f"Tax rate {rate.name} ({quantity_text(rate.rate)}%) added.")
    return redirect("invoicing:settings")

@member_required(roles=WRITE_ROLES)
@require_POST
def tax_rate_delete(request, rate_id):
    rate = get_object_or_404(TaxRate, id=rate_id, organization=request.organization)
    taxes.tax_rate_delete(tax_rate=rate)
    messages.success(request, f"Tax rate {rate.name} deleted.")
    return redirect("invoicing:settings")
