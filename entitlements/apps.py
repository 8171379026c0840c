from django.apps import AppConfig


class EntitlementsConfig(AppConfig):
    name = "entitlements"
    verbose_name = "Entitlements"

    def ready(self) -> None:
        from entitlements import handlers
        from entitlements.views import contract_panel, customer_panel, product_panel
        from zenskar import events
        from zenskar.dashboard import panels

        for name, handler, phase in handlers.SUBSCRIPTIONS:
            events.subscribe(name, handler, phase=phase)
        # Pages (the dashboard's panels): a customer's usage against its limits and prepaid
        # lots, what a product includes, what a contract grants.
        panels.register(panels.CUSTOMER_DETAIL, customer_panel.customer_panel)
        panels.register(panels.PRODUCT_DETAIL, product_panel.product_panel)
        panels.register(panels.CONTRACT_DETAIL, contract_panel.contract_panel)
