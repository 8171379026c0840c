from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "zenskar.core"
    label = "core"
    verbose_name = "Platform core"
