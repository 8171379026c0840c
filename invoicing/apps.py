from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self) -> None:
        from contracts.views import register_contract_panel, register_customer_panel
        from invoicing import delivery, failures
        from invoicing.views import invoices, money
        from zenskar import events

        # The contract page shows what of the contract could not be billed.
        register_contract_panel(invoices.contract_billing_failures)
        # The customer page shows the customer's balance, its movements and "Grant credit".
        register_customer_panel(money.customer_balance_panel)
        # A contract deleted (never invoiced) has nothing left to bill: its failure is over.
        events.subscribe("contract.deleted", failures.on_contract_deleted)
        # A finalized invoice is rendered and sent once the finalization commits.
        events.subscribe("invoice.finalized", delivery.on_invoice_finalized, phase="commit")
        # A credit note is rendered and e-mailed once its issue commits.
        events.subscribe("credit_note.issued", delivery.on_credit_note_issued, phase="commit")
