"""The invoicing schedule: generate drafts, finalize those past their grace period, and
deliver (PDF, e-mail) each finalized invoice. Every task is safe to run twice."""

from __future__ import annotations

from datetime import date

from invoicing import delivery, services
from invoicing.bulk_usage import BulkUsage
from invoicing.models import Invoice
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="invoicing.generate_invoices", time_limit=3600)
def generate_invoices(organization, today: str | None = None) -> dict:
    """Drafts for every billing date due, then finalization of those past their grace."""
    result = services.invoices_generate(
        organization=organization, today=date.fromisoformat(today) if today else None,
        usage=BulkUsage(organization))
    finalized = services.invoices_finalize_due(organization=organization)
    return {"created": result.created, "recomputed": result.recomputed,
            "finalized": finalized}


@tenant_task(name="invoicing.deliver_invoice", time_limit=300, max_retries=5,
             autoretry_for=(OSError,), retry_backoff=True)
def deliver_invoice(organization, invoice_id: str) -> str | None:
    """Render the PDF of a finalized invoice and e-mail it when the organization sends
    automatically. Already sent: nothing to do."""
    invoice = Invoice.objects.filter(organization=organization, id=invoice_id).first()
    if invoice is None or invoice.status == Invoice.Status.DRAFT:
        return None
    delivery.invoice_pdf(invoice=invoice)
    if invoice.sent_at is None and services.invoice_settings(
            organization=organization).auto_send:
        delivery.invoice_send(invoice=invoice)
    return "delivered"
