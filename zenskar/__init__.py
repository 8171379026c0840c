"""The billing platform's project package: settings, URLs, the Celery app and platform parts."""

from zenskar.celery import app as celery_app

__all__ = ["celery_app"]
