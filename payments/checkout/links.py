"""Hosted checkout links: signed, expiring, one organization's invoice only.

A link carries the organization's id and the checkout session's id, signed with the
installation's secret (``django.core.signing``) and timestamped: a tampered link fails the
signature, an old one fails the age check -- both show a friendly page, never a 500.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from invoicing import selectors as invoicing
from invoicing import services as invoicing_services
from payments.models import CheckoutSession

SALT = "zenskar.checkout"
LINK_DAYS = 30


class LinkError(Exception):
    pass


def checkout_for_invoice(*, invoice, success_url: str = "", cancel_url: str = "",
                         days: int = LINK_DAYS) -> CheckoutSession:
    """The open checkout session of an invoice (one per invoice and return addresses)."""
    with transaction.atomic():
        session = CheckoutSession.objects.for_organization(invoice.organization).filter(
            invoice=invoice, kind="invoice",
            status=CheckoutSession.Status.OPEN, success_url=success_url,
            cancel_url=cancel_url, expires_at__gt=timezone.now() + timedelta(days=1),
        ).first()
        if session is None:
            session = CheckoutSession.objects.create(
                organization=invoice.organization, kind="invoice", customer=invoice.customer,
                invoice=invoice, amount=invoice.amount_due, currency=invoice.currency,
                description=f"Invoice {invoice.number}", success_url=success_url,
                cancel_url=cancel_url, expires_at=timezone.now() + timedelta(days=days))
    return session


def checkout_for_prepaid(*, customer, amount, description: str, success_url: str = "",
                         cancel_url: str = "") -> CheckoutSession:
    return CheckoutSession.objects.create(
        organization=customer.organization, kind="prepaid", customer=customer, amount=amount,
        currency=customer.currency, description=description, success_url=success_url,
        cancel_url=cancel_url, expires_at=timezone.now() + timedelta(days=LINK_DAYS))


def signed_token(session: CheckoutSession) -> str:
    return signing.dumps({"o": str(session.organization_id), "s": str(session.id)}, salt=SALT,
                         compress=True)


def link(session: CheckoutSession) -> str:
    return settings.PUBLIC_URL + reverse("payments:checkout", args=[signed_token(session)])


def read_token(token: str) -> tuple[str, str]:
    """(organization id, session id) of a link, or LinkError: tampered or expired."""
    try:
        data = signing.loads(token, salt=SALT, max_age=timedelta(days=LINK_DAYS + 1))
    except signing.SignatureExpired:
        raise LinkError("This payment link has expired.") from None
    except signing.BadSignature:
        raise LinkError("This payment link is not valid.") from None
    return data["o"], data["s"]


def invoice_payment_link_attach(event) -> None:
    """``invoice.delivering``, in the publisher's transaction (its PDF or e-mail is about to
    go out): give a payable invoice its pay link -- the open checkout session (made, or
    reused) and its signed link -- and hand it to invoicing, which stores it on the invoice
    for the PDF and the e-mail (``invoicing.services.invoice_payment_link_set``). A link that
    stays valid for more than a day is kept as it is (the stored PDF and the e-mail carry the
    same one); an invoice with nothing due gets none. Database work only: no gateway call."""
    invoice_id = event.payload.get("invoice")
    invoice = invoicing.invoice_get(organization=event.organization_id,
                                    invoice_id=invoice_id) if invoice_id else None
    if invoice is None or not invoicing.invoice_is_payable(invoice=invoice):
        return
    if invoice.payment_url and invoice.payment_url_expires_at is not None and \
            invoice.payment_url_expires_at > timezone.now() + timedelta(days=1):
        return
    session = checkout_for_invoice(invoice=invoice)
    invoicing_services.invoice_payment_link_set(invoice=invoice, url=link(session),
                                                expires_at=session.expires_at)
