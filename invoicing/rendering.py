"""Invoice documents: the template context, the sandbox that renders it, HTML and PDF.

Organization templates (HTML + CSS, Jinja2 syntax) render in an immutable sandbox:
autoescaped; no loader (``include``/``import``/``extends`` are refused before anything
runs); ``StrictUndefined``; no ``cycler``/``joiner``/``lipsum``; huge ``*``/``**`` results,
outputs over ``MAX_OUTPUT`` and renders over ``MAX_RENDER_SECONDS`` refused. Whatever goes
wrong raises :class:`TemplateError` (readable message + template line), nothing else. The
PDF is drawn by WeasyPrint with no base URL and a fetcher refusing all but ``data:`` URIs:
no file, no network address (so a logo must be a ``data:`` URI).

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
                  ``currency``, ``subtotal``, ``tax_total``, ``total``, ``credit_applied``,
                  ``amount_paid``, ``amount_due`` (rounded to the currency), ``memo``
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

Filters, in the customer's locale: ``money(amount, currency=invoice.currency,
exact=False)`` -> "$1,300.00", "1.300,00 €" (:func:`zenskar.money.format_money`; ``exact``
keeps a unit price's digits: "$0.002"); ``date(value, format="medium")`` -> "Mar 1, 2026"
("short", "long", "full" or a CLDR pattern); ``date_range(start, end)`` -> "Mar 1 – Apr 1,
2026"; ``quantity`` -> "250,000", "0.002". None prints as "".
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.languages import get_official_languages
from babel.numbers import format_currency, format_decimal
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from zenskar.money import as_decimal, format_money, round_money

from .models import Invoice, InvoiceLine, InvoiceSettings, InvoiceTemplate, TaxRate

__all__ = ["DataOnlyURLFetcher", "TemplateError", "customer_locale", "default_template",
           "invoice_context", "render_invoice_html", "render_invoice_pdf", "template_check"]

TEMPLATE_DIR = Path(__file__).parent / "templates" / "invoicing"
DEFAULT_LOCALE = "en_US"
MAX_SEQUENCE = 100_000  # longest string or list a template may build with "*"
MAX_POWER_BITS = 10_000  # largest integer a template may build with "**"
MAX_OUTPUT = 5_000_000  # characters of HTML
MAX_RENDER_SECONDS = 5.0
_deadline: ContextVar[float] = ContextVar("invoice_template_deadline", default=math.inf)
_CITY_FIRST = frozenset({"US", "CA", "AU"})  # "City, Region Postcode"; elsewhere "Postcode City"


class TemplateError(Exception):
    """A template that cannot be rendered: ``message`` for people, ``line`` (or None)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message, self.line = message, line
        super().__init__(f"Line {line}: {message}" if line else message)


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
    settings = InvoiceSettings.objects.for_organization(organization).first()
    currency = str(invoice.currency)
    lines = list(InvoiceLine.objects.for_organization(organization).filter(invoice=invoice))
    org_address = settings.address.strip() if settings else ""
    return {
        "organization": {
            "name": organization.name, "address": org_address,
            "address_lines": [line.strip() for line in org_address.splitlines() if line.strip()],
            "logo_url": settings.logo_url if settings else "",
            "footer": settings.footer if settings else "",
        },
        "customer": _customer(customer, locale),
        "invoice": {
            "number": str(invoice.number),
            "status": str(invoice.status),
            "status_label": dict(Invoice.Status.choices).get(invoice.status, invoice.status),
            **{name: getattr(invoice, name)
               for name in ("issue_date", "due_date", "period_start", "period_end")},
            "currency": currency,
            **{name: round_money(getattr(invoice, name), currency)
               for name in ("subtotal", "tax_total", "total", "credit_applied", "amount_paid",
                            "amount_due")},
            "memo": invoice.memo,
        },
        "lines": [_line(line, currency) for line in lines],
        "taxes": _taxes(lines, invoice, currency),
        "payment_url": payment_url or None,
        "locale": locale,
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


def _plain(value: Any) -> Decimal | None:
    """A stored number as a Decimal without trailing zeros (``25.0000000000`` -> ``25``)."""
    if value is None or value == "":
        return None
    if isinstance(value, float):  # a JSON number written by hand: its shortest repr
        value = str(value)
    number = as_decimal(value)
    return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


# --- the sandbox -----------------------------------------------------------------------------


class _InvoiceSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus limits on ``*`` and ``**`` (memory exhaustion) and a
    deadline checked on every call and attribute access (endless loops)."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_deadline()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints and abs(left).bit_length() * right > MAX_POWER_BITS:
            raise SecurityError("the result of ** is too large")
        for sequence, times in ((left, right), (right, left)) if operator == "*" else ():
            if isinstance(sequence, str | list | tuple) and isinstance(times, int) and (
                    len(sequence) * times > MAX_SEQUENCE):
                raise SecurityError("the result of * is too long")
        return super().call_binop(context, operator, left, right)


def _filter(function: Any) -> Any:
    """A filter that raises an undefined argument's own error (unknown name, unsafe
    attribute) and prints None (or "") as ""."""
    @functools.wraps(function)
    def checked(value: Any, *args: Any, **kwargs: Any) -> str:
        for argument in (value, *args, *kwargs.values()):
            if isinstance(argument, Undefined):
                argument._fail_with_undefined_error()
        return "" if value is None or value == "" else function(value, *args, **kwargs)
    return checked


@functools.lru_cache(maxsize=64)
def _environment(locale: str, invoice_currency: str) -> _InvoiceSandbox:
    env = _InvoiceSandbox(autoescape=True, undefined=StrictUndefined, loader=None, cache_size=0,
                          finalize=lambda value: "" if value is None else value)
    for name in ("cycler", "joiner", "lipsum"):
        env.globals.pop(name, None)

    @_filter
    def money(amount: Any, currency: str | None = None, exact: bool = False) -> str:
        value, currency = as_decimal(amount), str(currency or invoice_currency)
        if exact and value != round_money(value, currency):  # a unit price: every digit
            return format_currency(value, currency, locale=locale, decimal_quantization=False)
        return format_money(value, currency, locale)

    @_filter
    def date(value: Any, format: str = "medium") -> str:
        return format_date(_as_date(value), format=format, locale=locale)

    @_filter
    def date_range(start: Any, end: Any, skeleton: str = "yMMMd") -> str:
        if end is None:
            return date(start)
        return format_interval(_as_date(start), _as_date(end), skeleton, locale=locale)

    @_filter
    def quantity(value: Any) -> str:
        return format_decimal(_plain(value), locale=locale, decimal_quantization=False)

    env.filters.update(money=money, date=date, date_range=date_range, quantity=quantity)
    return env


def _as_date(value: Any) -> dt.date:
    value = dt.date.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(value, dt.date):
        raise TypeError(f"a date is needed, not {type(value).__name__}")
    return value.date() if isinstance(value, dt.datetime) else value


_FORBIDDEN_NODES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


def _compile(env: _InvoiceSandbox, source: str) -> Any:
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Syntax error: {exc.message}", exc.lineno) from None
    except Exception:  # e.g. RecursionError on absurd nesting
        raise TemplateError("The template could not be read.") from None
    for node in tree.find_all(_FORBIDDEN_NODES):
        raise TemplateError("A template cannot include, import or extend another template or "
                            "file; everything must be in this one template.", node.lineno)
    return env.from_string(tree)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return (f"Not allowed: {str(exc).rstrip('.')}. A template can only format and loop "
                "over the documented invoice data.")
    if isinstance(exc, UndefinedError):
        return (f"{(exc.message or '').rstrip('.')}. See the documented template context "
                "for the available names.")
    if isinstance(exc, TypeError | ValueError | ArithmeticError | LookupError):
        return str(exc) or type(exc).__name__  # a filter's or an operation's own words
    return f"{type(exc).__name__}: {exc}"


def _template_line(exc: BaseException) -> int | None:
    """The line of the innermost template frame (Jinja rewrites tracebacks to template lines)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _check_deadline() -> None:
    if time.monotonic() > _deadline.get():
        raise SecurityError(f"the template took more than {MAX_RENDER_SECONDS:g} s to render")


def _render(source: str, context: dict[str, Any]) -> str:
    template = _compile(_environment(context["locale"], context["invoice"]["currency"]), source)
    token, size, parts = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS), 0, []
    try:
        for part in template.generate(context):
            size += len(part)
            if size > MAX_OUTPUT:
                raise SecurityError(f"the output is longer than {MAX_OUTPUT:,} characters")
            _check_deadline()
            parts.append(part)
    except Exception as exc:  # whatever the template did, the caller gets a TemplateError
        raise TemplateError(_describe(exc), _template_line(exc)) from exc
    finally:
        _deadline.reset(token)
    return "".join(parts)


def template_check(html: str, *, locale: str = DEFAULT_LOCALE) -> None:
    """Raise :class:`TemplateError` when ``html`` does not parse or reaches for another
    template (for an editor's "save" button; rendering errors need an invoice)."""
    _compile(_environment(locale, "USD"), html)


# --- HTML and PDF ----------------------------------------------------------------------------


def default_template() -> tuple[str, str]:
    """The shipped template: ``(html, css)``."""
    html, css = (TEMPLATE_DIR / f"default_invoice.{ext}" for ext in ("html.j2", "css"))
    return html.read_text(encoding="utf-8"), css.read_text(encoding="utf-8")


def _with_css(html: str, css: str) -> str:
    if not css.strip():
        return html
    style = "<style>\n" + css.replace("</", "<\\/") + "\n</style>\n"
    head_end = html.lower().find("</head>")
    return html[:head_end] + style + html[head_end:] if head_end >= 0 else style + html


def render_invoice_html(
    invoice: Invoice, *, template: InvoiceTemplate | None = None, html: str | None = None,
    css: str | None = None, payment_url: str | None = None, locale: str | None = None,
) -> str:
    """``invoice`` as HTML, the CSS inlined in a ``<style>``. The template is ``html``/
    ``css`` when given (an editor's preview), else ``template``, else the organization's
    active InvoiceTemplate, else :func:`default_template`. Raises :class:`TemplateError`."""
    if html is None:
        template = template or InvoiceTemplate.objects.for_organization(
            invoice.organization).filter(active=True).order_by("-updated_at").first()
        html, own_css = (template.html, template.css) if template else default_template()
        css = own_css if css is None else css
    context = invoice_context(invoice, payment_url=payment_url, locale=locale)
    return _with_css(_render(html, context), css or "")


class DataOnlyURLFetcher(URLFetcher):
    """WeasyPrint's fetcher, refusing every URL but ``data:`` (no file, no network)."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.lower().startswith("data:"):
            raise ValueError(f"Refused to fetch {url[:80]!r}: only data: URIs are allowed.")
        return super().fetch(url, headers)


def render_invoice_pdf(invoice: Invoice, **options: Any) -> bytes:
    """``invoice`` as a PDF (A4 by the template's ``@page``). Takes the options of
    :func:`render_invoice_html`; nothing is fetched but ``data:`` URIs."""
    html = render_invoice_html(invoice, **options)
    return HTML(string=html, base_url=None, url_fetcher=DataOnlyURLFetcher()).write_pdf()
