from django.apps import AppConfig


class RevrecConfig(AppConfig):
    name = "revrec"
    verbose_name = "Revenue recognition"

    def ready(self) -> None:
        from revrec import home, postings
        from zenskar import events
        from zenskar.dashboard import panels

        # Database work, in the publisher's transaction: the ledger posts with the billing
        # event that causes it, or not at all (an entry is unique per source event, so a
        # retried event posts once).
        for name, handler in postings.SUBSCRIPTIONS:
            events.subscribe(name, handler)
        # The home page: revenue recognized by month.
        panels.register(panels.HOME, home.home_panel)
