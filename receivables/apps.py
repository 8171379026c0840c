from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    name = "receivables"
    verbose_name = "Receivables"

    def ready(self) -> None:
        from receivables import handlers, home
        from receivables import panels as collection_panels
        from zenskar import events
        from zenskar.dashboard import panels

        for name in ("payment.applied", "credit_note.issued", "invoice.voided"):
            events.subscribe(name, handlers.on_invoice_settled)
        # Pages (the dashboard's panels): an invoice's reminders, hold and "Request payment";
        # a customer's reminders, their pause and the statement.
        panels.register(panels.INVOICE_DETAIL, collection_panels.invoice_panel)
        panels.register(panels.CUSTOMER_DETAIL, collection_panels.customer_panel)
        # The home page: open and overdue receivables.
        panels.register(panels.HOME, home.home_panel)
