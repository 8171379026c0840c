"""The invoicing schedule: generate drafts, finalize those past their grace period, and
deliver (PDF, e-mail) each finalized invoice and each credit note; expire customer credit
past its date. Every task is safe to run twice."""

from __future__ import annotations

from datetime import date

from invoicing import delivery, services
from invoicing.bulk_usage import BulkUsage
from invoicing.models import CreditNote, Invoice
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="invoicing.generate_invoices", time_limit=3600)
def generate_invoices(organization, today: str | None = None) -> dict:
    """Drafts for every billing date due, then finalization of those past their grace, then
    the deliveries that failed before are queued again. A contract or draft that fails is
    recorded (``invoicing.failures``) and counted; the others go on."""
    result = services.invoices_generate(
        organization=organization, today=date.fromisoformat(today) if today else None,
        usage=BulkUsage(organization))
    finalization = services.invoices_finalize_due(organization=organization)
    return {"created": result.created, "recomputed": result.recomputed,
            "failed": result.failed, "finalized": finalization.finalized,
            "finalize_failed": finalization.failed,
            "deliveries_retried": delivery.deliveries_retry(organization=organization)}


@tenant_task(name="invoicing.deliver_invoice", time_limit=300, max_retries=5,
             autoretry_for=(OSError,), retry_backoff=True)
def deliver_invoice(organization, invoice_id: str) -> str | None:
    """Render the PDF of a finalized invoice and e-mail it when the organization sends
    automatically. Already sent: nothing to do. A mail server that cannot be reached is
    retried with back-off; after the last retry (or at once, for any other error) the
    failure is recorded on the invoice and the hourly run tries again."""
    invoice = Invoice.objects.for_organization(organization).filter(id=invoice_id).first()
    if invoice is None or invoice.status == Invoice.Status.DRAFT:
        return None
    retries_left = deliver_invoice.request.retries < deliver_invoice.max_retries
    return delivery.invoice_deliver(invoice=invoice, retries_left=retries_left)


@tenant_task(name="invoicing.deliver_credit_note", time_limit=300, max_retries=5,
             autoretry_for=(OSError,), retry_backoff=True)
def deliver_credit_note(organization, credit_note_id: str) -> str | None:
    """Render a credit note's PDF (stored once) and e-mail it when the organization sends
    automatically; sent before: nothing to do. A mail server that cannot be reached is
    retried with back-off."""
    note = CreditNote.objects.for_organization(organization).filter(id=credit_note_id).first()
    if note is None:
        return None
    return delivery.credit_note_deliver(note=note)


@tenant_task(name="invoicing.expire_credits", time_limit=600)
def expire_credits(organization) -> int:
    """Expire the customer credit past its date (a movement per lot, unique: running twice
    expires once). Returns how many lots expired."""
    return services.credits_expire_due(organization=organization)
