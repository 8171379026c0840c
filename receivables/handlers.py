"""What receivables does when money arrives: entitlements paused by a reminder step resume
once the customer owes nothing on an invoice a pause was for."""

from __future__ import annotations

from zenskar import events


def on_invoice_settled(event: events.DomainEvent) -> None:
    """``payment.applied``, ``credit_note.issued``, ``invoice.voided``, in the transaction:
    when the customer no longer has an open invoice whose reminder paused its entitlements,
    publish ``customer.entitlements_resumed``."""
    from invoicing.models import Invoice
    from receivables import segments
    from receivables.models import Reminder, ReminderStep

    invoice_id = event.payload.get("invoice")
    if not invoice_id:
        return
    organization = event.organization_id
    invoice = Invoice.objects.for_organization(organization).filter(id=invoice_id).first()
    if invoice is None:
        return
    pausing = Reminder.objects.for_organization(organization).filter(
        customer_id=invoice.customer_id, action=ReminderStep.Action.PAUSE_ENTITLEMENTS,
        action_done_at__isnull=False)
    if not pausing.filter(invoice_id=invoice.id).exists():
        return
    still_open = segments.open_invoices(organization).filter(
        id__in=pausing.values("invoice_id"))
    if still_open.exists():
        return
    events.publish(events.DomainEvent(name="customer.entitlements_resumed",
                                      organization_id=organization,
                                      payload={"customer": str(invoice.customer_id)}))
