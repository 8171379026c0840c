"""The organization's invoice template: HTML and CSS rendered in the sandbox
(``invoicing.rendering``). The one writer of ``InvoiceTemplate``; the template editor's form
only parses what was typed.

Guarantees:
- a template is saved only once it compiles (checked in the render worker, under its time
  and memory limits) and, when an invoice is given, renders that invoice: a template that
  does neither is refused with a ``ValidationError`` on ``html`` (code ``template_syntax`` or
  ``template_render``, the message naming the line) and nothing is written;
- at most one template is in use: saving updates the active one (its row locked), or makes
  it; resetting deactivates it -- the rows stay stored, invoices use the shipped template;
- nothing here renders inside a transaction: the checks run first, the write is short.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invoicing import rendering
from invoicing.models import Invoice, InvoiceTemplate
from invoicing.rendering import TemplateError
from zenskar import bounds
from zenskar.tenancy.models import Organization

EMPTY_HTML = "The HTML template is empty."


class TemplateRefused(ValidationError):
    """A template that does not compile or does not render: a ``ValidationError`` on
    ``html`` that keeps, for an editor, the sandbox's reason and the line it names."""

    def __init__(self, error: TemplateError, *, code: str) -> None:
        self.reason, self.line = error.message, error.line
        super().__init__({"html": [ValidationError(str(error), code=code)]})


def _source(name: str, value: Any, errors: dict[str, Any], *, required: bool) -> str:
    text = str(value if value is not None else "").replace("\r\n", "\n")
    problem = bounds.text_problem(text)
    if problem:
        errors[name] = [ValidationError(f"The template {problem}.", code="invalid_text")]
    elif required and not text.strip():
        errors[name] = [ValidationError(EMPTY_HTML, code="required")]
    return text


def invoice_template_check(*, html: Any, css: Any = "", invoice: Invoice | None = None
                           ) -> tuple[str, str]:
    """``(html, css)`` as they would be stored, once the template compiles and -- when
    ``invoice`` is given -- renders it; else ``ValidationError`` (``TemplateRefused`` for
    what the sandbox refused). Writes nothing."""
    errors: dict[str, list[ValidationError]] = {}
    html = _source("html", html, errors, required=True)
    css = _source("css", css, errors, required=False)
    if errors:
        raise ValidationError(errors)
    try:
        rendering.template_check(html)
    except TemplateError as error:
        raise TemplateRefused(error, code="template_syntax") from None
    if invoice is not None:
        try:
            rendering.render_invoice_html(invoice, html=html, css=css)
        except TemplateError as error:
            raise TemplateRefused(error, code="template_render") from None
    return html, css


def invoice_template_save(*, organization: Organization, html: Any, css: Any = "",
                          invoice: Invoice | None = None) -> InvoiceTemplate:
    """Save the organization's template, once :func:`invoice_template_check` passes (on
    ``invoice``, one of the organization's, when given); invoices render with it from now
    on."""
    if invoice is not None and invoice.organization_id != organization.id:
        raise ValidationError({"invoice": [ValidationError("No such invoice.",
                                                           code="not_found")]})
    html, css = invoice_template_check(html=html, css=css, invoice=invoice)
    with transaction.atomic():
        template = (InvoiceTemplate.objects.for_organization(organization).select_for_update()
                    .filter(active=True).order_by("-updated_at").first())
        if template is None:
            return InvoiceTemplate.objects.create(organization=organization, html=html, css=css)
        template.html, template.css = html, css
        template.save(update_fields=["html", "css", "updated_at"])
        return template


@transaction.atomic
def invoice_template_reset(*, organization: Organization) -> int:
    """Back to the shipped template: the organization's own stay stored, inactive. Returns
    how many were in use (0: already the default)."""
    return InvoiceTemplate.objects.for_organization(organization).filter(active=True).update(
        active=False, updated_at=timezone.now())
