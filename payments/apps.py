from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from payments import customer_panels, home
        from payments.checkout.links import invoice_payment_link_attach
        from payments.refunds import on_credit_note_issued
        from payments.tasks import charge_when_finalized
        from payments.views import payments_found
        from zenskar import events
        from zenskar.dashboard import panels

        # Database work, in the publisher's transaction:
        # - an invoice whose PDF or e-mail goes out gets its pay link (a checkout session),
        #   stored on the invoice through invoicing's services; renewed when about to expire;
        events.subscribe("invoice.delivering", invoice_payment_link_attach)
        # - a credit note whose money goes back to the invoice's payments: the refunds are
        #   written in the note's transaction (sent to the gateway after it commits).
        events.subscribe("credit_note.issued", on_credit_note_issued)

        # Work outside the database, after commit: the automatic charge (a task).
        events.subscribe("invoice.finalized", charge_when_finalized, phase="commit")

        # Pages (the dashboard's panels): the global search finds payments by reference.
        panels.register(panels.SEARCH, payments_found)

        # The home page: collected by month.
        panels.register(panels.HOME, home.home_panel)

        # The customer page: the last payment in its summary strip, its "Payments" section
        # (after the invoices), its payments and refunds in the activity.
        panels.register(panels.CUSTOMER_SUMMARY, customer_panels.customer_summary_panel)
        panels.register(panels.CUSTOMER_DETAIL, customer_panels.customer_payments_panel,
                        order=20)
        panels.register_timeline(panels.CUSTOMER_TIMELINE, customer_panels.customer_timeline)
