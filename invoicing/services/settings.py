"""The organization's invoicing settings: how invoices are numbered, when drafts become final,
what every invoice prints. The one writer of ``InvoiceSettings``, for the API and the dashboard
alike: their serializers and forms parse types, the rules are here.

Guarantees:
- every field is checked before anything is written: a ``ValidationError`` names each bad
  field with a code (``required``, ``invalid_characters``, ``max_length``, ``out_of_bounds``,
  ``invalid_text``, ``not_data_uri``, ``not_image``, ``too_large``, ``invalid_email``,
  ``invalid``) and nothing changes;
- the number prefix is stored upper-case, ASCII letters, digits, ``-`` and ``_``: invoice
  numbers read ``PREFIX-YEAR-000001``; a new prefix numbers the invoices finalized from now
  on (numbers already given never change);
- the logo is a data: URI of a PNG, JPEG, GIF or WebP image of at most 200 KB (its type read
  from its bytes, never from a name or a declared type) or nothing: rendering fetches nothing
  from the network;
- the support e-mail is one address or nothing: the payment page and its receipt show it to
  customers ("Questions? billing@example.com");
- the row is locked while it changes; fields not given keep their value.
"""

from __future__ import annotations

import base64
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
MAX_LOGO_URL = 350_000  # characters of a data: URI, read before it is decoded
MAX_LOGO_BYTES = 200 * 1024  # the image itself
LOGO_TYPES = "The logo must be a PNG, JPEG, GIF or WebP image."
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


def image_type(content: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, GIF or WebP image read from its first bytes (its magic
    number), or None for anything else -- whatever its name or declared type says."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def logo_data_uri(content: bytes) -> str:
    """An uploaded file as the data: URI :func:`invoice_settings_update` checks (its declared
    type is not trusted: the service reads the bytes)."""
    return "data:application/octet-stream;base64," + base64.b64encode(content).decode("ascii")


def _logo(value: Any, errors: dict[str, Any]) -> str:
    """Empty, or a data: URI of a PNG, JPEG, GIF or WebP image of at most ``MAX_LOGO_BYTES``,
    stored with the type its bytes say."""
    logo = str(value if value is not None else "").strip()
    if not logo:
        return ""
    if len(logo) > MAX_LOGO_URL:
        errors["logo_url"] = _error(f"At most {MAX_LOGO_URL} characters: an image of at most "
                                    f"{MAX_LOGO_BYTES // 1024} KB.", "max_length")
        return logo
    if not logo.lower().startswith("data:"):
        errors["logo_url"] = _error(
            "A data: URI of an image (data:image/png;base64,...), or nothing: invoices fetch "
            "nothing from the network.", "not_data_uri")
        return logo
    header, _, payload = logo[5:].partition(",")
    try:
        if not header.lower().endswith(";base64"):
            raise ValueError
        content = base64.b64decode(payload, validate=True)
    except ValueError:  # binascii.Error is one
        errors["logo_url"] = _error(LOGO_TYPES, "not_image")
        return logo
    if len(content) > MAX_LOGO_BYTES:
        errors["logo_url"] = _error(f"The image must be at most {MAX_LOGO_BYTES // 1024} KB.",
                                    "too_large")
        return logo
    kind = image_type(content)
    if kind is None:
        errors["logo_url"] = _error(LOGO_TYPES, "not_image")
        return logo
    return f"data:{kind};base64,{base64.b64encode(content).decode('ascii')}"


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
