"""Automatic collection: charge on finalization, retry failed charges on schedule."""

from __future__ import annotations

from django.utils import timezone

from invoicing.models import Invoice
from payments import services
from payments.models import ChargeSchedule
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="payments.auto_charge", time_limit=120)
def auto_charge(organization, invoice_id: str) -> str | None:
    """One automatic charge attempt of an invoice. Safe to run twice: the attempt's payment
    row (unique by its idempotency key) makes the second a no-op."""
    invoice = Invoice.objects.filter(organization=organization, id=invoice_id).first()
    if invoice is None:
        return None
    payment = services.auto_charge(invoice=invoice)
    return payment.status if payment else None


@tenant_task(name="payments.retry_due_charges", time_limit=600)
def retry_due_charges(organization) -> int:
    due = ChargeSchedule.objects.filter(organization=organization, stopped=False,
                                        next_attempt_at__lte=timezone.now())
    count = 0
    for schedule in due.select_related("invoice"):
        services.auto_charge(invoice=schedule.invoice)
        count += 1
    return count
