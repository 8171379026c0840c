"""The invoice template editor: the organization's template, edited with a live preview on a
real invoice. A tenant's template is rendered only by ``invoicing.rendering``'s sandbox, in a
child process with time and memory limits: what a template does neither runs here nor reaches
the dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from invoicing import rendering, services
from invoicing.forms import (
    TemplateForm,
)
from invoicing.models import (
    Invoice,
    InvoiceTemplate,
)
from invoicing.rendering import TemplateError
from invoicing.services.templates import EMPTY_HTML
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES

RECENT_INVOICES = 25  # offered for the template preview


def _active_template(organization) -> InvoiceTemplate | None:
    return InvoiceTemplate.objects.filter(organization=organization, active=True).order_by(
        "-updated_at").first()

def _recent_invoices(organization) -> list[Invoice]:
    return list(Invoice.objects.filter(organization=organization).select_related("customer")
                .order_by("-created_at")[:RECENT_INVOICES])

def _chosen(invoices: list[Invoice], wanted) -> Invoice | None:
    """The invoice to preview on: the one asked for when it is one of the organization's
    recent invoices, else the most recent."""
    return next((i for i in invoices if str(i.id) == str(wanted)), invoices[0] if invoices else None)

def _preview(invoice: Invoice | None, html: str, css: str) -> dict:
    if invoice is None:
        return {"missing": True}
    try:
        return {"rendered": rendering.render_invoice_html(invoice, html=html, css=css),
                "invoice": invoice}
    except TemplateError as error:
        return _error(error, html)

def _error(error: TemplateError | services.TemplateRefused, html: str) -> dict:
    source = html.splitlines()
    line = error.line
    message = error.reason if isinstance(error, services.TemplateRefused) else error.message
    return {"error": message, "line": line,
            "source": source[line - 1].strip() if line and line <= len(source) else ""}

def _editor_page(request, form, invoices, chosen, preview, template=None):
    return render(request, "invoicing/template_editor.html", {
        "form": form, "invoices": invoices, "chosen": chosen, "preview": preview,
        "template": template or _active_template(request.organization),
        "context_help": rendering.__doc__, "active": "invoices",
    })

@member_required
def template_editor(request):
    template = _active_template(request.organization)
    html, css = (template.html, template.css) if template else rendering.default_template()
    invoices = _recent_invoices(request.organization)
    chosen = _chosen(invoices, request.GET.get("invoice"))
    form = TemplateForm(initial={"html": html, "css": css})
    return _editor_page(request, form, invoices, chosen, _preview(chosen, html, css), template)

@member_required(roles=WRITE_ROLES)
@require_POST
def template_preview(request):
    """The preview of the posted template on a real invoice. Stores nothing, but runs a
    template that is not saved, so only those who may save one (``template_save``'s roles)
    may preview it; an htmx request gets the preview pane only."""
    form = TemplateForm(request.POST)
    invoices = _recent_invoices(request.organization)
    chosen = _chosen(invoices, request.POST.get("invoice"))
    if form.is_valid() and form.cleaned_data["html"].strip():
        preview = _preview(chosen, form.cleaned_data["html"], form.cleaned_data["css"])
    else:
        preview = {"error": EMPTY_HTML, "line": None}
    if request.headers.get("HX-Request"):
        return render(request, "invoicing/_template_preview.html", {"preview": preview})
    return _editor_page(request, form, invoices, chosen, preview)

@member_required(roles=WRITE_ROLES)
@require_POST
def template_save(request):
    """Save the organization's template, only once it parses and renders a real invoice
    (``invoice_template_save`` decides; a refusal is shown in the preview pane)."""
    organization = request.organization
    form = TemplateForm(request.POST)
    invoices = _recent_invoices(organization)
    chosen = _chosen(invoices, request.POST.get("invoice"))
    if form.is_valid():
        try:
            services.invoice_template_save(organization=organization,
                                           html=form.cleaned_data["html"],
                                           css=form.cleaned_data["css"], invoice=chosen)
        except services.TemplateRefused as error:
            messages.error(request, "Not saved: the template does not render.")
            return _editor_page(request, form, invoices, chosen,
                                _error(error, form.cleaned_data["html"]))
        except ValidationError as error:
            errors_onto(form, error)
    if not form.is_valid():
        problems = [str(m) for errors in form.errors.values() for m in errors]
        return _editor_page(request, form, invoices, chosen,
                            {"error": " ".join(problems), "line": None})
    messages.success(request, "Template saved: invoices render with it from now on"
                     + ("." if chosen else " (checked for syntax only: no invoice to try it on)."))
    url = reverse("invoicing:template-editor")
    return redirect(f"{url}?invoice={chosen.id}" if chosen else url)

@member_required(roles=WRITE_ROLES)
@require_POST
def template_reset(request):
    """Back to the shipped template; the organization's own stays stored, inactive."""
    services.invoice_template_reset(organization=request.organization)
    messages.success(request, "Invoices use the default template again.")
    return redirect("invoicing:template-editor")
