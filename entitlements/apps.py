from django.apps import AppConfig


class EntitlementsConfig(AppConfig):
    name = "entitlements"
    verbose_name = "Entitlements"

    def ready(self) -> None:
        from entitlements import handlers
        from zenskar import events

        for name, handler, phase in handlers.SUBSCRIPTIONS:
            events.subscribe(name, handler, phase=phase)
