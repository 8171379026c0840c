from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Usage metering"

    def ready(self) -> None:
        from contracts.meters import register_meter_lookup
        from metering.selectors import unknown_meter_keys

        # Contracts name meters by key; from now on an unknown key is refused when saved.
        register_meter_lookup(unknown_meter_keys)
