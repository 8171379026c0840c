"""The pay link an invoice carries: the hosted payment page's address, in its PDF and e-mail.

Payments makes the link (a checkout session and its signed, expiring token: payments' rows and
secret) and hands it here, from its in-transaction handler of ``invoice.delivering`` (published
by ``invoicing.delivery`` before an invoice's PDF or e-mail goes out; the handler makes one
when the invoice has none or it is about to expire); invoicing owns the invoice's fields, so
it stores it and delivery reads it from the invoice. No earlier app calls into a later one.

Guarantees:
- writes only the link and its expiry: what the invoice bills (amounts, status, number) never
  changes, so a finalized invoice stays as it was issued;
- only a finalized (or uncollectible) invoice with money due carries one; a draft never does.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invoicing.models import Invoice
from invoicing.selectors import invoice_is_payable


@transaction.atomic
def invoice_payment_link_set(*, invoice: Invoice, url: str, expires_at: datetime) -> Invoice:
    """Store ``url`` (valid until ``expires_at``) as the invoice's pay link, replacing the one
    it had. Refused for an invoice nothing can be paid on (a draft, a paid or void one)."""
    if not invoice_is_payable(invoice=invoice):
        raise ValidationError({"invoice": ["Only an invoice with money due has a pay link."]})
    Invoice.objects.for_organization(invoice.organization_id).filter(pk=invoice.pk).update(
        payment_url=url, payment_url_expires_at=expires_at, updated_at=timezone.now())
    invoice.payment_url, invoice.payment_url_expires_at = url, expires_at
    return invoice
