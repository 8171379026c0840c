from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self) -> None:
        from invoicing import delivery, failures, home
        from invoicing.views import coupons, customer, invoices, money, search
        from zenskar import events
        from zenskar.dashboard import panels

        # Pages (the dashboard's panels): the contract page shows what of the contract could
        # not be billed; the customer page its balance, its movements and "Grant credit".
        panels.register(panels.CONTRACT_DETAIL, invoices.contract_billing_failures)
        panels.register(panels.CUSTOMER_DETAIL, money.customer_balance_panel)
        # ... and its coupons, what is left of them, "Apply coupon" and "Remove"
        panels.register(panels.CUSTOMER_DETAIL, coupons.customer_coupons_panel)
        # The customer page's summary strip (open, overdue, credit, billed), its "Invoices"
        # section first of the sections, and its invoices and credit notes in the activity.
        panels.register(panels.CUSTOMER_SUMMARY, customer.customer_summary_panel)
        panels.register(panels.CUSTOMER_DETAIL, customer.customer_invoices_panel, order=10)
        panels.register_timeline(panels.CUSTOMER_TIMELINE, customer.customer_timeline)
        # The dashboard's global search: invoices and credit notes by number.
        panels.register(panels.SEARCH, search.invoices_found)
        panels.register(panels.SEARCH, search.credit_notes_found)
        # The home page: billed by month, drafts to review, billing failures, top customers.
        panels.register(panels.HOME, home.home_panel)

        # Database work, in the publisher's transaction: a contract deleted (never invoiced)
        # has nothing left to bill, so its failure is over.
        events.subscribe("contract.deleted", failures.on_contract_deleted)

        # Work outside the database, after commit: a finalized invoice is rendered and sent,
        # a credit note rendered and e-mailed (each a task).
        events.subscribe("invoice.finalized", delivery.on_invoice_finalized, phase="commit")
        events.subscribe("credit_note.issued", delivery.on_credit_note_issued, phase="commit")
