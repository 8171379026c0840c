"""Credit note documents: the template context, and the HTML and PDF of a credit note.

A credit note renders like an invoice (:mod:`invoicing.rendering`): the shipped template
``templates/invoicing/default_credit_note.html.j2`` with the invoice's CSS, in the same
sandbox, in the render worker, under the same limits of time and memory, with the same
filters (``money``, ``date``, ``date_range``, ``quantity``). Its context holds plain values
only:

===============  =========================================================================
name             value
===============  =========================================================================
``organization``  as the invoice's: ``name``, ``address``, ``address_lines``, ``logo_url``,
                  ``footer``
``customer``      as the invoice's: ``name``, ``emails``, ``address_lines``, ``country``,
                  ``country_name``, ``tax_id``
``credit_note``   ``number``, ``issue_date`` (a date), ``reason``, ``currency``,
                  ``destination`` (reduce_due, customer_credit, refund),
                  ``destination_label``, ``subtotal``, ``tax_total``, ``total``,
                  ``amount_credited`` (taken off what the invoice owes),
                  ``to_customer_credit`` (added to the customer's credit balance),
                  ``to_refund`` (paid back to the invoice's payments) -- all rounded to the
                  currency; ``total = amount_credited + to_customer_credit``
``invoice``       the invoice it credits: ``number``, ``issue_date``, ``total``,
                  ``currency`` (the ``money`` filter's default, as for an invoice)
``lines``         list of ``description``, ``amount``, ``tax_rate`` (percent, or None),
                  ``tax_amount``
``locale``        the customer's locale, e.g. "en_US"
===============  =========================================================================
"""

from __future__ import annotations

from typing import Any

from invoicing import render_worker
from invoicing.models import CreditNote
from invoicing.rendering import (
    PDF_TIMEOUT_SECONDS,
    RENDER_MEMORY_BYTES,
    RENDER_TIMEOUT_SECONDS,
    TEMPLATE_DIR,
    _customer,
    _organization,
    customer_locale,
)
from invoicing.sandbox import MAX_RENDER_SECONDS
from invoicing.sandbox import plain_number as _plain
from zenskar.core.dates import local_date
from zenskar.money import round_money

__all__ = ["credit_note_context", "default_credit_note_template",
           "render_credit_note_html", "render_credit_note_pdf"]


def credit_note_context(note: CreditNote, *, locale: str | None = None) -> dict[str, Any]:
    """The documented template context of ``note`` (see the module docstring). Reads
    only; call inside the note's tenant context."""
    invoice, organization = note.invoice, note.organization
    customer = invoice.customer
    locale = locale or customer_locale(customer)
    currency = str(note.currency)
    issued = local_date(organization.time_zone, note.created_at)
    return {
        "organization": _organization(organization),
        "customer": _customer(customer, locale),
        "credit_note": {
            "number": note.number, "issue_date": issued, "reason": note.reason,
            "currency": currency, "destination": str(note.destination),
            "destination_label": dict(CreditNote.Destination.choices).get(note.destination, ""),
            **{name: round_money(getattr(note, name), currency)
               for name in ("subtotal", "tax_total", "total", "amount_credited",
                            "to_customer_credit", "to_refund")},
        },
        "invoice": {"number": invoice.number, "issue_date": invoice.issue_date,
                    "total": round_money(invoice.total, currency), "currency": currency},
        "lines": [{"description": line.description,
                   "amount": round_money(line.amount, currency),
                   "tax_rate": _plain(line.invoice_line.tax_rate),
                   "tax_amount": round_money(line.tax_amount, currency)}
                  for line in note.lines.select_related("invoice_line").order_by(
                      "invoice_line__position", "invoice_line__created_at")],
        "locale": locale,
    }


def default_credit_note_template() -> tuple[str, str]:
    """The shipped credit note template and the invoice's CSS: ``(html, css)``."""
    return ((TEMPLATE_DIR / "default_credit_note.html.j2").read_text(encoding="utf-8"),
            (TEMPLATE_DIR / "default_invoice.css").read_text(encoding="utf-8"))


def _run(kind: str, note: CreditNote) -> Any:
    html, css = default_credit_note_template()
    return render_worker.run(
        kind, html, context=credit_note_context(note), css=css,
        sandbox_seconds=MAX_RENDER_SECONDS,
        seconds=PDF_TIMEOUT_SECONDS if kind == "pdf" else RENDER_TIMEOUT_SECONDS,
        memory_bytes=RENDER_MEMORY_BYTES)


def render_credit_note_html(note: CreditNote) -> str:
    """``note`` as HTML. Raises :class:`~invoicing.sandbox.TemplateError`."""
    return _run("html", note)


def render_credit_note_pdf(note: CreditNote) -> bytes:
    """``note`` as a PDF. Raises :class:`~invoicing.sandbox.TemplateError`."""
    return _run("pdf", note)
