"""The organization's invoicing settings: how invoices are numbered, when drafts become final,
what every invoice prints. The one writer of ``InvoiceSettings``, for the API and the dashboard
alike: their serializers and forms parse types, the rules are here.

Guarantees:
- every field is checked before anything is written: a ``ValidationError`` names each bad
  field with a code (``required``, ``invalid_characters``, ``max_length``, ``out_of_bounds``,
  ``invalid_text``, ``not_data_uri``, ``invalid_email``, ``invalid``) and nothing changes;
- the number prefix is stored upper-case, ASCII letters, digits, ``-`` and ``_``: invoice
  numbers read ``PREFIX-YEAR-000001``; a new prefix numbers the invoices finalized from now
  on (numbers already given never change);
- the logo is a ``data:image/...`` URI or nothing: rendering fetches nothing from the network;
- the support e-mail is one address or nothing: the payment page and its receipt show it to
  customers ("Questions? billing@example.com");
- the row is locked while it changes; fields not given keep their value.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from invoicing.models import InvoiceSettings
from invoicing.services.drafts import invoice_settings
from zenskar import bounds
from zenskar.tenancy.models import Organization

SETTINGS_FIELDS = ("number_prefix", "grace_period_hours", "auto_finalize", "auto_send",
                   "address", "footer", "logo_url", "support_email")
MAX_PREFIX = 20  # the column
MAX_GRACE_PERIOD_HOURS = 24 * 366 * 10  # ten years: a draft waits at most that for late usage
MAX_PRINTED_TEXT = 2_000  # the address and the footer, each
MAX_LOGO_URL = 350_000  # a data: URI of an image of about 256 KB
MAX_EMAIL = 254  # the column (RFC 5321's path limit)

PREFIX_CHARACTERS = "Letters, digits, - and _ only."


def _error(message: str, code: str) -> list[ValidationError]:
    return [ValidationError(message, code=code)]


def _prefix(value: Any, errors: dict[str, Any]) -> str:
    prefix = str(value if value is not None else "").strip().upper()
    if not prefix:
        errors["number_prefix"] = _error(
            "Required: the start of every invoice number, e.g. INV.", "required")
    elif not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in prefix):
        errors["number_prefix"] = _error(PREFIX_CHARACTERS, "invalid_characters")
    elif len(prefix) > MAX_PREFIX:
        errors["number_prefix"] = _error(f"At most {MAX_PREFIX} characters.", "max_length")
    return prefix


def _text(name: str, value: Any, errors: dict[str, Any]) -> str:
    text = str(value if value is not None else "").replace("\r\n", "\n").strip()
    problem = bounds.text_problem(text)
    if problem:
        errors[name] = _error(f"The text {problem}.", "invalid_text")
    elif len(text) > MAX_PRINTED_TEXT:
        errors[name] = _error(f"At most {MAX_PRINTED_TEXT} characters.", "max_length")
    return text


def _logo(value: Any, errors: dict[str, Any]) -> str:
    logo = str(value if value is not None else "").strip()
    if len(logo) > MAX_LOGO_URL:
        errors["logo_url"] = _error(f"At most {MAX_LOGO_URL} characters.", "max_length")
    elif logo and not logo.lower().startswith("data:image/"):
        errors["logo_url"] = _error(
            "A data: URI of an image (data:image/png;base64,...), or nothing: invoices fetch "
            "nothing from the network.", "not_data_uri")
    return logo


def _email(value: Any, errors: dict[str, Any]) -> str:
    email = str(value if value is not None else "").strip()
    if not email:
        return ""
    problem = bounds.text_problem(email)
    if problem:
        errors["support_email"] = _error(f"The text {problem}.", "invalid_text")
    elif len(email) > MAX_EMAIL:
        errors["support_email"] = _error(f"At most {MAX_EMAIL} characters.", "max_length")
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["support_email"] = _error(
                "One e-mail address, e.g. billing@example.com, or nothing.", "invalid_email")
    return email


def _checked(settings: InvoiceSettings, fields: dict[str, Any]) -> InvoiceSettings:
    errors: dict[str, list[ValidationError]] = {}
    if "number_prefix" in fields:
        settings.number_prefix = _prefix(fields["number_prefix"], errors)
    if "grace_period_hours" in fields:
        hours = fields["grace_period_hours"]
        if (not isinstance(hours, int) or isinstance(hours, bool)
                or not 0 <= hours <= MAX_GRACE_PERIOD_HOURS):
            errors["grace_period_hours"] = _error(
                f"A whole number of hours from 0 to {MAX_GRACE_PERIOD_HOURS}.", "out_of_bounds")
        else:
            settings.grace_period_hours = hours
    for name in ("auto_finalize", "auto_send"):
        if name in fields:
            if not isinstance(fields[name], bool):
                errors[name] = _error("true or false.", "invalid")
            else:
                setattr(settings, name, fields[name])
    for name in ("address", "footer"):
        if name in fields:
            setattr(settings, name, _text(name, fields[name], errors))
    if "logo_url" in fields:
        settings.logo_url = _logo(fields["logo_url"], errors)
    if "support_email" in fields:
        settings.support_email = _email(fields["support_email"], errors)
    if errors:
        raise ValidationError(errors)
    return settings


@transaction.atomic
def invoice_settings_update(*, organization: Organization, **fields: Any) -> InvoiceSettings:
    """Change the organization's invoicing settings (any of ``SETTINGS_FIELDS``; others are
    ignored). Creates the row with its defaults on first use, then locks it."""
    settings = invoice_settings(organization=organization)
    settings = InvoiceSettings.objects.for_organization(organization).select_for_update().get(
        pk=settings.pk)
    _checked(settings, {k: v for k, v in fields.items() if k in SETTINGS_FIELDS})
    settings.save()
    return settings
