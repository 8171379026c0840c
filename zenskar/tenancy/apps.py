from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "zenskar.tenancy"
    label = "tenancy"
    verbose_name = "Organizations and access"

    def ready(self) -> None:
        from zenskar.tenancy import context  # noqa: F401 - registers the reconnect hook
