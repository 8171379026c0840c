from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self) -> None:
        from contracts.views import register_contract_panel
        from invoicing import delivery, failures, views
        from zenskar import events

        # The contract page shows what of the contract could not be billed.
        register_contract_panel(views.contract_billing_failures)
        # A contract deleted (never invoiced) has nothing left to bill: its failure is over.
        events.subscribe("contract.deleted", failures.on_contract_deleted)
        # A finalized invoice is rendered and sent once the finalization commits.
        events.subscribe("invoice.finalized", delivery.on_invoice_finalized, phase="commit")
