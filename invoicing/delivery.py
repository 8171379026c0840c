"""PDFs and e-mails of invoices and credit notes: work outside the database, run by tasks after
commit.

Guarantees:
- an invoice's delivery is its own task: one invoice that cannot be rendered or mailed never
  stops another's;
- a failure worth retrying (a mail server that cannot be reached: ``OSError``) is retried by
  the task with back-off; when those retries are spent, or at once for any other failure,
  it is recorded as a billing failure of the invoice, shown to the finance team and tried
  again by the hourly invoicing run. A later delivery resolves it;
- delivering twice mails once (``sent_at``), and the PDF of a finalized invoice (of a credit
  note) is stored once.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from invoicing import failures
from invoicing.models import BillingFailure, CreditNote, Invoice
from zenskar import events
from zenskar.tenancy.models import Organization


def invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice's PDF: the stored one of a finalized invoice (rendered once, at
    finalization), or a fresh rendering of a draft (never stored: it still changes).

    The pay link: one rule for the PDF and the e-mail (``payment_url``). A finalized invoice
    with money due carries its hosted payment link in both -- the same link, of the invoice's
    checkout session, stored on the invoice when its first document went out -- so the
    stored PDF a customer forwards to their accounts-payable team can be paid from. A draft
    has none (it is not owed yet)."""
    from invoicing.rendering import render_invoice_pdf

    if invoice.pdf and invoice.status != Invoice.Status.DRAFT:
        return bytes(invoice.pdf)
    link = _payment_link_attached(invoice) if invoice.status != Invoice.Status.DRAFT else None
    pdf = render_invoice_pdf(invoice, payment_url=link)
    if invoice.status != Invoice.Status.DRAFT:
        Invoice.objects.for_organization(invoice.organization_id).filter(
            pk=invoice.pk, pdf__isnull=True).update(pdf=pdf, pdf_rendered_at=timezone.now())
    return pdf


def invoice_send(*, invoice: Invoice) -> Invoice:
    """E-mail a finalized invoice, PDF attached, to the customer's billing addresses; record
    when. Sending again sends again (a person asked for it)."""
    from django.core.exceptions import ValidationError

    from invoicing.emails import invoice_email_send

    if invoice.status == Invoice.Status.DRAFT:
        raise ValidationError({"status": [ValidationError(
            "Finalize the invoice before sending it.", code="not_finalized")]})
    invoice_pdf(invoice=invoice)
    link = _payment_link_attached(invoice)
    invoice.refresh_from_db()
    if invoice_email_send(invoice, payment_url=link):
        invoice.sent_at = timezone.now()
        invoice.save(update_fields=["sent_at", "updated_at"])
    return invoice


def invoice_deliver(*, invoice: Invoice, retries_left: bool) -> str:
    """The delivery task's body: the PDF of a finalized invoice, and its e-mail when the
    organization sends automatically and it was not sent yet. ``retries_left``: an
    ``OSError`` is raised for the task to retry; otherwise (and for any other error) the
    failure is recorded, not raised. Returns "delivered" or "failed"."""
    from invoicing.services import invoice_settings

    try:
        invoice_pdf(invoice=invoice)
        if invoice.sent_at is None and invoice_settings(
                organization=invoice.organization).auto_send:
            invoice_send(invoice=invoice)
    except Exception as error:
        if (retries_left and isinstance(error, OSError)) or not failures.isolated(error):
            raise
        failures.billing_failure_record(organization=invoice.organization,
                                        stage=BillingFailure.Stage.DELIVERY, invoice=invoice,
                                        error=error)
        return "failed"
    failures.billing_failure_resolve(organization=invoice.organization,
                                     stage=BillingFailure.Stage.DELIVERY, subject_id=invoice.id,
                                     resolution="Delivered on a later try.")
    return "delivered"


def deliveries_retry(*, organization: Organization) -> int:
    """Queue the delivery of every invoice whose delivery failed (an open failure), once the
    surrounding transaction commits; resolve those of invoices voided or deleted since.
    Returns how many were queued."""
    from invoicing import tasks

    stage = BillingFailure.Stage.DELIVERY
    failures.billing_failures_of_void_invoices_resolve(organization=organization, stage=stage)
    invoice_ids = [str(pk) for pk in BillingFailure.objects.for_organization(organization).filter(
        stage=stage, resolved_at__isnull=True,
    ).values_list("invoice_id", flat=True)]
    for invoice_id in invoice_ids:
        transaction.on_commit(
            lambda i=invoice_id: tasks.deliver_invoice.delay(str(organization.id), i))
    return len(invoice_ids)


def payment_link(*, invoice: Invoice) -> str | None:
    """The hosted payment link of a finalized invoice with money due, made (by payments)
    when it has none or it is about to expire; None when nothing is due. For any message
    that asks the customer to pay (the invoice e-mail, a reminder)."""
    return _payment_link_attached(invoice)


def _payment_link_attached(invoice: Invoice) -> str | None:
    """Before a document of a finalized invoice goes out (its PDF, its e-mail): publish
    ``invoice.delivering``, whose in-transaction handlers give it its pay link (payments:
    through ``invoicing.services.invoice_payment_link_set``, only when it has none or it is
    about to expire), then read the link from the invoice."""
    with transaction.atomic():
        events.publish(events.DomainEvent(name="invoice.delivering",
                                          organization_id=invoice.organization_id,
                                          payload={"invoice": str(invoice.id)}))
    invoice.refresh_from_db(fields=["payment_url", "payment_url_expires_at"])
    return payment_url(invoice)


def payment_url(invoice: Invoice) -> str | None:
    """The pay link the invoice's PDF and e-mail carry: the hosted payment page's link
    stored on the invoice (payments makes it, see ``invoicing.services.payment_links``),
    while money is due on it and the link has not expired; else None."""
    from invoicing.selectors import invoice_is_payable

    if not invoice.payment_url or not invoice_is_payable(invoice=invoice):
        return None
    expires_at = invoice.payment_url_expires_at
    if expires_at is not None and expires_at <= timezone.now():
        return None
    return invoice.payment_url


def on_invoice_finalized(event) -> None:
    """``invoice.finalized``, after commit: queue the PDF and the e-mail (the finalization
    publishes the event; it knows nothing of delivery)."""
    from invoicing import tasks

    tasks.deliver_invoice.delay(str(event.organization_id), event.payload["invoice"])


# --- Credit notes -----------------------------------------------------------------------------


def credit_note_pdf(*, note: CreditNote) -> bytes:
    """The credit note's PDF: rendered once (a note never changes), then the stored one."""
    from invoicing.credit_note_rendering import render_credit_note_pdf

    if note.pdf:
        return bytes(note.pdf)
    pdf = render_credit_note_pdf(note)
    CreditNote.objects.for_organization(note.organization_id).filter(
        pk=note.pk, pdf__isnull=True).update(pdf=pdf, pdf_rendered_at=timezone.now())
    return pdf


def credit_note_deliver(*, note: CreditNote) -> str:
    """The delivery task's body: the note's PDF, and its e-mail to the customer's billing
    addresses when the organization sends automatically and it was not sent yet. Returns
    "sent", "stored" (no e-mail: none due, or no address) or "sent before"."""
    from invoicing.emails import credit_note_email_send
    from invoicing.services import invoice_settings

    credit_note_pdf(note=note)
    note.refresh_from_db()
    if note.sent_at is not None:
        return "sent before"
    if not invoice_settings(organization=note.organization).auto_send:
        return "stored"
    if not credit_note_email_send(note):
        return "stored"
    CreditNote.objects.for_organization(note.organization_id).filter(
        pk=note.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    return "sent"


def on_credit_note_issued(event) -> None:
    """``credit_note.issued``, after commit: queue the note's PDF and e-mail."""
    from invoicing import tasks

    tasks.deliver_credit_note.delay(str(event.organization_id), event.payload["credit_note"])
