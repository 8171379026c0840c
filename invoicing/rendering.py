"""Invoice documents: the template context, and the HTML and PDF of an invoice.

Organization templates (HTML + CSS, Jinja2 syntax) render in a sandbox, autoescaped, with
only the context and filters below: no other template, file or network address (a logo must
be a ``data:`` URI). Whatever goes wrong is shown as an error with the template's line.

Limits. A template may be at most 100,000 characters (its CSS too) and print at most
5,000,000. One operation may build at most 100,000 characters or items (``*``, ``+``, ``~``,
``range``, ``join``, ``replace``, ``indent``, ``expandtabs``); widths and counts are at most
100,000 (``center``, ``ljust``, ``rjust``, ``zfill``, ``wordwrap``, ``truncate``, ``batch``,
``slice``, and the widths of one ``%``/``format`` added up); integers at most 10,000 bits.
A render stops after 5 s of template code, and is stopped from outside after 10 s (30 s for
a PDF) or when it needs more than 512 MB of memory.

The template context holds plain values only (``str``, ``Decimal``, ``date``, lists, dicts):

================  ========================================================================
name              value
================  ========================================================================
``organization``  ``name``, ``address`` (text), ``address_lines``, ``logo_url``, ``footer``
``customer``      ``name``, ``emails``, ``address_lines`` (country name last), ``country``
                  (ISO code), ``country_name``, ``tax_id``
``invoice``       ``number`` ("" while draft), ``status`` (draft, finalized, paid, void,
                  uncollectible), ``status_label``, ``issue_date``, ``due_date``,
                  ``period_start``, ``period_end`` (dates or None; periods are half-open),
                  ``currency``, ``subtotal``, ``tax_total``, ``total``,
                  ``amount_credited`` (credit notes that took off what is owed),
                  ``credit_applied`` (customer credit), ``amount_received`` (payments
                  applied), ``amount_refunded`` (refunds back out of them), ``amount_paid``
                  (received less refunded), ``amount_due`` -- all rounded to the currency;
                  ``total - amount_credited - credit_applied - amount_received +
                  amount_refunded = amount_due``; ``memo``
``lines``         list of ``description``, ``kind``, ``kind_label``, ``period_start``,
                  ``period_end``, ``quantity``, ``unit_price`` (or None), ``amount``,
                  ``tax_rate`` (percent, or None), ``tax_amount``, ``steps`` (how the
                  amount was derived, tier by tier, unrounded: list of ``kind``,
                  ``description``, ``quantity``, ``unit_price``, ``amount``), ``meter``,
                  ``usage_window``, ``usage_quantity`` (as recorded, or None)
``taxes``         the lines grouped by tax rate, lowest first: ``name``, ``rate``
                  (percent), ``base``, ``amount``
``payment_url``   the hosted payment link, or None (show "Pay online" only when set)
``locale``        the customer's locale, e.g. "en_US", "de_DE"
================  ========================================================================

Filters, in the customer's locale -- the platform's own formatters (:mod:`zenskar.formatting`),
so a template writes a value as the dashboard, the e-mails and the checkout do: ``money(amount,
currency=invoice.currency, exact=False)`` -> "$1,300.00", "1.300,00 €" (``exact`` keeps a unit
price's digits: "$0.002"); ``date(value, format="medium")`` -> "Mar 1, 2026" ("iso", "short",
"long", "full" or a CLDR pattern); ``date_range(start, end)`` -> "Mar 1 – Apr 1, 2026";
``quantity`` -> "250,000", "0.002". None prints as "".
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages

from invoicing import render_worker
from invoicing.sandbox import (
    DEFAULT_LOCALE,
    MAX_RENDER_SECONDS,
    DataOnlyURLFetcher,
    TemplateError,
)
from invoicing.sandbox import plain_number as _plain
from zenskar.money import round_money

from .models import Invoice, InvoiceLine, InvoiceSettings, InvoiceTemplate, TaxRate

__all__ = ["DataOnlyURLFetcher", "TemplateError", "customer_locale", "default_template",
           "invoice_context", "render_invoice_html", "render_invoice_pdf", "template_check"]

TEMPLATE_DIR = Path(__file__).parent / "templates" / "invoicing"
# The hard limits of one render, enforced outside the sandbox (invoicing.render_worker). A
# 1,000-line invoice takes about 0.1 s as HTML and 5 s as a PDF, and under 150 MB.
RENDER_TIMEOUT_SECONDS = 10.0  # the HTML of an invoice, or the check of a template
PDF_TIMEOUT_SECONDS = 30.0  # the HTML and then its PDF
RENDER_MEMORY_BYTES = 512 * 2**20  # memory a render may use beyond the renderer's own
_CITY_FIRST = frozenset({"US", "CA", "AU"})  # "City, Region Postcode"; elsewhere "Postcode City"


# --- the context -----------------------------------------------------------------------------


def customer_locale(customer: Any) -> str:
    """The locale an invoice is formatted in: the customer country's main language
    ("DE" -> "de_DE", "US" -> "en_US"); ``DEFAULT_LOCALE`` when unknown."""
    country = (customer.country or "").upper()
    for language in get_official_languages(country, de_facto=True) if country else ():
        try:
            return str(Locale.parse(f"{language}_{country}"))
        except (UnknownLocaleError, ValueError):
            continue
    return DEFAULT_LOCALE


def invoice_context(invoice: Invoice, *, payment_url: str | None = None,
                    locale: str | None = None) -> dict[str, Any]:
    """The documented template context of ``invoice`` (see the module docstring). Reads
    only; call inside the invoice's tenant context."""
    organization, customer = invoice.organization, invoice.customer
    locale = locale or customer_locale(customer)
    currency = str(invoice.currency)
    lines = list(InvoiceLine.objects.for_organization(organization).filter(invoice=invoice))
    return {
        "organization": _organization(organization),
        "customer": _customer(customer, locale),
        "invoice": {
            "number": str(invoice.number),
            "status": str(invoice.status),
            "status_label": dict(Invoice.Status.choices).get(invoice.status, invoice.status),
            **{name: getattr(invoice, name)
               for name in ("issue_date", "due_date", "period_start", "period_end")},
            "currency": currency,
            **{name: round_money(getattr(invoice, name), currency)
               for name in ("subtotal", "tax_total", "total", "amount_credited",
                            "credit_applied", "amount_paid", "amount_refunded", "amount_due")},
            "amount_received": round_money(invoice.amount_paid + invoice.amount_refunded,
                                           currency),
            "memo": invoice.memo,
        },
        "lines": [_line(line, currency) for line in lines],
        "taxes": _taxes(lines, invoice, currency),
        "payment_url": payment_url or None,
        "locale": locale,
    }


def _organization(organization: Any) -> dict[str, Any]:
    """The sender, as every document shows it: name, address, logo and footer (the invoice
    settings')."""
    settings = InvoiceSettings.objects.for_organization(organization).first()
    address = settings.address.strip() if settings else ""
    return {
        "name": organization.name, "address": address,
        "address_lines": [line.strip() for line in address.splitlines() if line.strip()],
        "logo_url": settings.logo_url if settings else "",
        "footer": settings.footer if settings else "",
    }


def _customer(customer: Any, locale: str) -> dict[str, Any]:
    country = (customer.country or "").upper()
    country_name = Locale.parse(locale).territories.get(country, country) if country else ""
    if country in _CITY_FIRST:
        region_postcode = " ".join(filter(None, [customer.region, customer.postal_code]))
        places = [", ".join(filter(None, [customer.city, region_postcode]))]
    else:
        places = [" ".join(filter(None, [customer.postal_code, customer.city])), customer.region]
    address = [customer.address_line1, customer.address_line2, *places, country_name]
    return {"name": customer.name, "emails": list(customer.emails or []),
            "address_lines": [part for part in address if part], "country": country,
            "country_name": country_name, "tax_id": customer.tax_id}


def _line(line: InvoiceLine, currency: str) -> dict[str, Any]:
    derivation = line.derivation if isinstance(line.derivation, dict) else {}
    return {
        "description": line.description,
        "kind": str(line.kind),
        "kind_label": dict(InvoiceLine.Kind.choices).get(line.kind, ""),
        "period_start": line.period_start, "period_end": line.period_end,
        "quantity": _plain(line.quantity), "unit_price": _plain(line.unit_price),
        "amount": round_money(line.amount, currency),
        "tax_rate": _plain(line.tax_rate), "tax_amount": round_money(line.tax_amount, currency),
        "steps": [
            {"kind": str(step.get("kind", "")), "description": str(step.get("description", "")),
             **{name: _plain(step.get(name)) for name in ("quantity", "unit_price", "amount")}}
            for step in derivation.get("steps") or [] if isinstance(step, dict)
        ],
        "meter": derivation.get("meter"), "usage_window": derivation.get("usage_window"),
        "usage_quantity": _plain(derivation.get("usage_quantity")),
    }


def _taxes(lines: list[InvoiceLine], invoice: Invoice, currency: str) -> list[dict[str, Any]]:
    groups: dict[Decimal, dict[str, Any]] = {}
    for line in lines:
        if line.tax_rate is None:
            continue
        group = groups.setdefault(line.tax_rate, {"base": Decimal(0), "amount": Decimal(0)})
        group["base"] += line.amount
        group["amount"] += line.tax_amount
    names = {  # the last wins: an active, whole-country rate names its group
        tax_rate.rate: tax_rate.name for tax_rate in TaxRate.objects.for_organization(
            invoice.organization).filter(country=(invoice.customer.country or "").upper(),
                                         rate__in=list(groups)).order_by("active", "-region")
    }
    return [{"name": names.get(rate, "Tax"), "rate": _plain(rate),
             "base": round_money(group["base"], currency),
             "amount": round_money(group["amount"], currency)}
            for rate, group in sorted(groups.items())]


def template_check(html: str, *, locale: str = DEFAULT_LOCALE) -> None:
    """Raise :class:`TemplateError` when ``html`` does not compile or reaches for another
    template (for an editor's "save" button; rendering errors need an invoice). Compiled in
    the render worker, under its limits."""
    render_worker.run("check", html, locale=locale, seconds=RENDER_TIMEOUT_SECONDS,
                      memory_bytes=RENDER_MEMORY_BYTES)


# --- HTML and PDF ----------------------------------------------------------------------------


def default_template() -> tuple[str, str]:
    """The shipped template: ``(html, css)``."""
    html, css = (TEMPLATE_DIR / f"default_invoice.{ext}" for ext in ("html.j2", "css"))
    return html.read_text(encoding="utf-8"), css.read_text(encoding="utf-8")


def _source(invoice: Invoice, template: InvoiceTemplate | None, html: str | None,
            css: str | None) -> tuple[str, str]:
    if html is None:
        template = template or InvoiceTemplate.objects.for_organization(
            invoice.organization).filter(active=True).order_by("-updated_at").first()
        html, own_css = (template.html, template.css) if template else default_template()
        css = own_css if css is None else css
    return html, css or ""


def _run(kind: str, invoice: Invoice, *, template: InvoiceTemplate | None = None,
         html: str | None = None, css: str | None = None, payment_url: str | None = None,
         locale: str | None = None) -> Any:
    source, css = _source(invoice, template, html, css)
    context = invoice_context(invoice, payment_url=payment_url, locale=locale)
    return render_worker.run(
        kind, source, context=context, css=css, sandbox_seconds=MAX_RENDER_SECONDS,
        seconds=PDF_TIMEOUT_SECONDS if kind == "pdf" else RENDER_TIMEOUT_SECONDS,
        memory_bytes=RENDER_MEMORY_BYTES)


def render_invoice_html(
    invoice: Invoice, *, template: InvoiceTemplate | None = None, html: str | None = None,
    css: str | None = None, payment_url: str | None = None, locale: str | None = None,
) -> str:
    """``invoice`` as HTML, the CSS inlined in a ``<style>``. The template is ``html``/
    ``css`` when given (an editor's preview), else ``template``, else the organization's
    active InvoiceTemplate, else :func:`default_template`. The context is read here; the
    template runs in the render worker, within ``RENDER_TIMEOUT_SECONDS`` and
    ``RENDER_MEMORY_BYTES``. Raises :class:`TemplateError`."""
    return _run("html", invoice, template=template, html=html, css=css,
                payment_url=payment_url, locale=locale)


def render_invoice_pdf(invoice: Invoice, **options: Any) -> bytes:
    """``invoice`` as a PDF (A4 by the template's ``@page``). Takes the options of
    :func:`render_invoice_html`; nothing is fetched but ``data:`` URIs. The HTML and the PDF
    are made in the render worker, within ``PDF_TIMEOUT_SECONDS`` and
    ``RENDER_MEMORY_BYTES``. Raises :class:`TemplateError`."""
    return _run("pdf", invoice, **options)
