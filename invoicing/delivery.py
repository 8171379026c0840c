"""PDFs and e-mails of invoices: work outside the database, run by tasks after commit."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from invoicing.models import Invoice


def invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice's PDF: the stored one of a finalized invoice (rendered once, at
    finalization), or a fresh rendering of a draft (never stored: it still changes)."""
    from invoicing.rendering import render_invoice_pdf

    if invoice.pdf and invoice.status != Invoice.Status.DRAFT:
        return bytes(invoice.pdf)
    pdf = render_invoice_pdf(invoice)
    if invoice.status != Invoice.Status.DRAFT:
        Invoice.objects.filter(pk=invoice.pk, pdf__isnull=True).update(
            pdf=pdf, pdf_rendered_at=timezone.now())
    return pdf


def invoice_send(*, invoice: Invoice) -> Invoice:
    """E-mail a finalized invoice, PDF attached, to the customer's billing addresses; record
    when. Sending again sends again (a person asked for it)."""
    from django.core.exceptions import ValidationError

    from invoicing.emails import invoice_email_send

    if invoice.status == Invoice.Status.DRAFT:
        raise ValidationError({"status": ["Finalize the invoice before sending it."]})
    invoice_pdf(invoice=invoice)
    invoice.refresh_from_db()
    if invoice_email_send(invoice, payment_url=payment_url(invoice)):
        invoice.sent_at = timezone.now()
        invoice.save(update_fields=["sent_at", "updated_at"])
    return invoice


def payment_url(invoice: Invoice) -> str | None:
    """The hosted payment page's link for the invoice; payments provide it when installed."""
    return _payment_link(invoice) if _payment_link else None


_payment_link = None


def register_payment_link(function) -> None:
    """Payments (a later app) registers how to make an invoice's signed payment link."""
    global _payment_link
    _payment_link = function


def after_finalize(invoice: Invoice) -> None:
    """Queue the PDF and the e-mail once the finalization commits."""
    from invoicing import tasks

    organization_id, invoice_id = str(invoice.organization_id), str(invoice.id)
    transaction.on_commit(lambda: tasks.deliver_invoice.delay(organization_id, invoice_id))
