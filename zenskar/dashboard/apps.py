from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "zenskar.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard shell"
