from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from invoicing import delivery
        from payments.checkout.links import invoice_payment_link
        from zenskar import events

        # Invoices link to their payment page (e-mails, PDFs).
        delivery.register_payment_link(invoice_payment_link)

        def charge_when_finalized(event):
            from payments.tasks import auto_charge

            auto_charge.delay(str(event.organization_id), event.payload["invoice"])

        events.subscribe("invoice.finalized", charge_when_finalized, phase="commit")

        # A credit note whose money goes back to the invoice's payments: the refunds are
        # written in the note's transaction, sent to the gateway after it commits.
        from payments.refunds import on_credit_note_issued

        events.subscribe("credit_note.issued", on_credit_note_issued)
