"""The invoice e-mail, sent through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import io

import pytest
from pypdf import PdfReader

from invoicing.emails import invoice_email_message, invoice_email_send
from tests.support.invoices import NUMBER, build_invoice, pdf_text
from tests.support.mail import body

pytestmark = pytest.mark.django_db

PAY = "https://pay.test/i/inv_8f2k3"


def test_the_finalized_invoice_arrives_with_its_pdf(tenant, smtp):
    with tenant.context():
        invoice = build_invoice(tenant, emails=["ap@initech.test", "cfo@initech.test"])
        assert invoice_email_send(invoice, payment_url=PAY) is True

    [envelope] = smtp.envelopes
    assert envelope.mail_from == "billing@acme.test"
    assert envelope.rcpt_tos == ["ap@initech.test", "cfo@initech.test"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == f"Invoice {NUMBER} from Acme"
    assert message["To"] == "ap@initech.test, cfo@initech.test"
    assert body(message) == (
        "Hello Initech LLC,\n\n"
        f"Please find attached invoice {NUMBER} from Acme.\n\n"
        "Amount due: $1,645.00\nDue date: March 31, 2026\n\n"
        f"Pay online: {PAY}\n\n"
        "Thank you,\nAcme\n"
    )
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{NUMBER}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert NUMBER in text and "$1,745.00" in text and "Initech LLC" in text
    assert "Pay online" in text


def test_a_customer_without_an_address_gets_nothing(tenant, smtp):
    with tenant.context():
        invoice = build_invoice(tenant, emails=())
        assert invoice_email_send(invoice, payment_url=PAY) is False
    assert smtp.envelopes == []


def test_the_stored_pdf_is_attached_as_is(tenant):
    with tenant.context():
        invoice = build_invoice(tenant, pdf=b"%PDF-1.7 stored at finalization")
        message = invoice_email_message(invoice)
    assert message.attachments == [
        (f"{NUMBER}.pdf", b"%PDF-1.7 stored at finalization", "application/pdf")]
    assert "Pay online" not in message.body
    assert message.body.endswith("Amount due: $1,645.00\nDue date: March 31, 2026\n\n"
                                 "Thank you,\nAcme\n")


def test_without_a_stored_pdf_one_is_rendered(tenant):
    with tenant.context():
        invoice = build_invoice(tenant)
        message = invoice_email_message(invoice, payment_url=PAY)
    [(name, pdf, mimetype)] = message.attachments
    assert (name, mimetype) == (f"{NUMBER}.pdf", "application/pdf")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert PAY in pdf_text(pdf)
