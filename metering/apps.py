from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Usage metering"

    def ready(self) -> None:
        from metering import customer_panel, home, selectors
        from zenskar import events
        from zenskar.dashboard import panels

        # Database work, in the publisher's transaction: a contract that names a meter key no
        # meter of the organization has is refused (contracts.meters publishes the keys).
        events.subscribe("contract.meters_named", selectors.contract_meters_check)
        # The home page: usage trends, events per day of each meter.
        panels.register(panels.HOME, home.home_panel)
        # The customer page: its usage of every meter over the last 30 days (after the
        # invoices and payments sections).
        panels.register(panels.CUSTOMER_DETAIL, customer_panel.customer_usage_panel, order=30)
