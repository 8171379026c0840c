"""The invoice and credit note e-mails: a short text body (``invoicing/emails/*.txt``, on the
project's e-mail base ``templates/emails/base.txt``), the PDF attached, to the customer's billing
addresses, through Django's configured e-mail backend (``EMAIL_URL`` in the
settings).

These functions send and return; they write nothing. The caller (``invoicing.delivery``)
runs them after commit and records ``sent_at``.
"""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from zenskar.formatting import format_date, format_money

from .models import CreditNote, Invoice
from .rendering import customer_locale, render_invoice_pdf

__all__ = ["credit_note_email_message", "credit_note_email_send", "invoice_email_message",
           "invoice_email_send"]


def invoice_email_message(invoice: Invoice, *, payment_url: str | None = None) -> EmailMessage:
    """The e-mail for ``invoice``: to every billing address of its customer, subject
    "Invoice {number} from {organization}", the amount due, the due date and the pay link
    (when given) in the body, the PDF attached as "{number}.pdf". The stored PDF is used
    when there is one; otherwise the PDF is rendered now (and not stored)."""
    customer = invoice.customer
    organization = invoice.organization.name
    locale = customer_locale(customer)
    number = invoice.number or f"draft-{invoice.billing_date:%Y-%m-%d}"
    body = render_to_string("invoicing/emails/invoice.txt", {
        "name": customer.name, "sender": organization, "number": number,
        "amount_due": format_money(invoice.amount_due, invoice.currency, locale),
        "due_date": format_date(invoice.due_date, locale=locale, style="long")
        if invoice.due_date else "",
        "payment_url": payment_url,
    })
    message = EmailMessage(
        subject=f"Invoice {number} from {organization}", body=body,
        to=list(customer.emails or []),
    )
    pdf = bytes(invoice.pdf) if invoice.pdf else render_invoice_pdf(
        invoice, payment_url=payment_url
    )
    message.attach(f"{number}.pdf", pdf, "application/pdf")
    return message


def invoice_email_send(invoice: Invoice, *, payment_url: str | None = None) -> bool:
    """Send the invoice e-mail. False, and nothing sent (nor rendered), when the customer
    has no e-mail address; True once the backend accepted it. Backend errors (SMTP down)
    raise, so the calling task can retry."""
    if not invoice.customer.emails:
        return False
    invoice_email_message(invoice, payment_url=payment_url).send(fail_silently=False)
    return True


def credit_note_email_message(note: CreditNote) -> EmailMessage:
    """The e-mail for a credit note: to every billing address of the invoice's customer,
    subject "Credit note {number} from {organization}", what it credits and where the money
    goes, the PDF attached as "{number}.pdf"."""
    from .delivery import credit_note_pdf

    invoice, organization = note.invoice, note.organization.name
    customer = invoice.customer
    locale = customer_locale(customer)

    def money(amount) -> str:
        return format_money(amount, note.currency, locale) if amount else ""

    body = render_to_string("invoicing/emails/credit_note.txt", {
        "name": customer.name, "sender": organization, "number": note.number,
        "invoice_number": invoice.number, "reason": note.reason,
        "total": format_money(note.total, note.currency, locale),
        # where the money goes: refunded, or off what the invoice owes; the rest to credit
        "to_refund": money(note.to_refund), "amount_credited": money(note.amount_credited),
        "to_customer_credit": money(note.to_customer_credit),
    })
    message = EmailMessage(subject=f"Credit note {note.number} from {organization}",
                           body=body, to=list(customer.emails or []))
    message.attach(f"{note.number}.pdf", credit_note_pdf(note=note), "application/pdf")
    return message


def credit_note_email_send(note: CreditNote) -> bool:
    """Send the credit note e-mail. False, and nothing sent, when the customer has no e-mail
    address; True once the backend accepted it. Backend errors raise (the task retries)."""
    if not note.invoice.customer.emails:
        return False
    credit_note_email_message(note).send(fail_silently=False)
    return True
