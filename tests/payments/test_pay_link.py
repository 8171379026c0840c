"""The pay link of an invoice's PDF and e-mail, through the dispatcher: before a document of a
finalized invoice goes out, invoicing publishes ``invoice.delivering``; payments' handler (in
that transaction) opens the invoice's checkout session and hands its link to invoicing's
service, which stores it on the invoice; delivery reads it from there. Invoicing never calls
into payments."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from invoicing import delivery
from invoicing.models import Invoice
from payments.checkout.links import invoice_payment_link_attach
from payments.models import CheckoutSession
from tests.support.payments import bill, offline
from zenskar import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _sessions(tenant, invoice) -> int:
    with tenant.context():
        return CheckoutSession.objects.for_organization(tenant.organization).filter(
            invoice=invoice).count()


def test_the_first_document_stores_the_link_of_the_invoices_checkout_session(
        scenario, tenant, locmem):
    invoice, _ = bill(scenario)
    assert invoice.payment_url == "" and _sessions(tenant, invoice) == 0  # finalized only

    with tenant.context():
        delivery.invoice_send(invoice=invoice)
        invoice.refresh_from_db()
        [session] = CheckoutSession.objects.for_organization(tenant.organization).filter(
            invoice=invoice)
    assert "/pay/" in invoice.payment_url
    assert invoice.payment_url_expires_at == session.expires_at
    [message] = mail.outbox
    assert f"Pay online: {invoice.payment_url}" in message.body

    with tenant.context():  # sent again: the same link, the same session
        delivery.invoice_send(invoice=Invoice.objects.get(pk=invoice.pk))
    assert f"Pay online: {invoice.payment_url}" in mail.outbox[1].body
    assert _sessions(tenant, invoice) == 1


def test_a_link_about_to_expire_is_renewed_before_the_e_mail_goes_out(
        scenario, tenant, locmem):
    invoice, _ = bill(scenario)
    with tenant.context():
        delivery.invoice_send(invoice=invoice)
        invoice.refresh_from_db()
        old = invoice.payment_url
        soon = timezone.now() + timedelta(hours=3)
        CheckoutSession.objects.for_organization(tenant.organization).update(expires_at=soon)
        Invoice.objects.for_organization(tenant.organization).filter(pk=invoice.pk).update(
            payment_url_expires_at=soon)

        delivery.invoice_send(invoice=invoice)
        invoice.refresh_from_db()
    assert invoice.payment_url != old
    assert invoice.payment_url_expires_at > timezone.now() + timedelta(days=29)
    assert f"Pay online: {invoice.payment_url}" in mail.outbox[1].body
    assert _sessions(tenant, invoice) == 2


def test_an_invoice_with_nothing_due_gets_no_link(scenario, tenant, locmem):
    invoice, _ = bill(scenario)
    offline(tenant, invoice)  # paid in full
    with tenant.context():
        delivery.invoice_send(invoice=Invoice.objects.get(pk=invoice.pk))
        invoice.refresh_from_db()
    assert invoice.payment_url == "" and _sessions(tenant, invoice) == 0
    assert "Pay online" not in mail.outbox[0].body


def test_a_stored_link_is_not_shown_once_nothing_is_due(scenario, tenant, locmem):
    invoice, _ = bill(scenario)
    with tenant.context():
        delivery.invoice_send(invoice=invoice)
    offline(tenant, invoice)
    with tenant.context():
        invoice.refresh_from_db()
        assert invoice.payment_url  # kept, but no longer offered
        assert delivery.payment_url(invoice) is None


def test_without_a_subscriber_documents_go_out_without_a_link(scenario, tenant, locmem):
    invoice, _ = bill(scenario)
    events.unsubscribe("invoice.delivering", invoice_payment_link_attach)
    try:
        with tenant.context():
            delivery.invoice_send(invoice=invoice)
    finally:
        events.subscribe("invoice.delivering", invoice_payment_link_attach)
    assert "Pay online" not in mail.outbox[0].body
