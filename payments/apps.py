from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from invoicing import delivery
        from payments.checkout import invoice_payment_link
        from zenskar import events

        # Invoices link to their payment page (e-mails, PDFs).
        delivery.register_payment_link(invoice_payment_link)

        def charge_when_finalized(event):
            from payments.tasks import auto_charge

            auto_charge.delay(str(event.organization_id), event.payload["invoice"])

        events.subscribe("invoice.finalized", charge_when_finalized, phase="commit")
