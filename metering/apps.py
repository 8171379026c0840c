from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Usage metering"

    def ready(self) -> None:
        from metering import selectors
        from zenskar import events

        # Database work, in the publisher's transaction: a contract that names a meter key no
        # meter of the organization has is refused (contracts.meters publishes the keys).
        events.subscribe("contract.meters_named", selectors.contract_meters_check)
