from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "zenskar.api"
    label = "api"
    verbose_name = "API machinery"

    def ready(self) -> None:
        from zenskar.api import schema  # noqa: F401 - registers the OpenAPI auth extension
