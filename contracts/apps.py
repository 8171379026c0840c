from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = "Customers, products and contracts"

    def ready(self) -> None:
        from contracts import home, list_views, views
        from zenskar.dashboard import panels

        # The dashboard's global search (a panel slot of the dashboard's own page): the
        # customers and contracts that match.
        panels.register(panels.SEARCH, list_views.customers_found)
        panels.register(panels.SEARCH, list_views.contracts_found)
        # The home page: recurring revenue (MRR, ARR, their movement) and upcoming renewals.
        panels.register(panels.HOME, home.home_panel)
        # The customer page's activity: its contracts and their amendments (the later apps
        # add theirs).
        panels.register_timeline(panels.CUSTOMER_TIMELINE, views.customer_timeline)
