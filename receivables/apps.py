from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    name = "receivables"
    verbose_name = "Receivables"

    def ready(self) -> None:
        from receivables import handlers
        from zenskar import events

        for name in ("payment.applied", "credit_note.issued", "invoice.voided"):
            events.subscribe(name, handlers.on_invoice_settled)
