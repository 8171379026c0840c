from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "zenskar.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks and the outbox"
