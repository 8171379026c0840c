"""The Celery application. Configured from Django settings (``CELERY_*``); the beat schedule
lives here, in code, so it is reviewed like code."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zenskar.settings")

app = Celery("zenskar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["zenskar.api", "zenskar.tenancy", "zenskar.webhooks"])

app.conf.beat_schedule = {
    # Fan-out: one task per organization, each under that organization's row-level security.
    "purge-expired-idempotency-keys": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=17),
        "args": ("api.purge_expired_idempotency_keys",),
    },
    "generate-and-finalize-invoices": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=10),  # hourly: each contract bills on its own local date
        "args": ("invoicing.generate_invoices",),
    },
    "expire-customer-credit": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=25),  # hourly: an expiry is an instant, in any zone
        "args": ("invoicing.expire_credits",),
    },
    "retry-failed-charges": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=20),
        "args": ("payments.retry_due_charges",),
    },
    "send-pending-refunds": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=35),
        "args": ("payments.send_pending_refunds",),
    },
    "renew-or-end-contracts": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=5),  # hourly: every time zone's midnight is on the hour
        "args": ("contracts.renew_or_end_contracts",),
    },
    "recognize-revenue": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=40),  # hourly: through yesterday in each organization's zone
        "args": ("revrec.recognize_revenue",),
    },
    "send-payment-reminders": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute=45),  # hourly: each organization's day turns on the hour
        "args": ("receivables.run_reminders",),
    },
    "entitlement-notices": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute="*"),  # the usage ingested in the last minute
        "args": ("entitlements.evaluate_notices",),
    },
    "expire-prepaid-balances": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute="*/5"),
        "args": ("entitlements.expire_balances",),
    },
    "reconcile-entitlement-counters": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute="*/15"),
        "args": ("entitlements.reconcile_counters",),
    },
    "sync-data-sources": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute="*"),  # each source has its own interval and back-off
        "args": ("metering.sync_due_sources",),
    },
    "dispatch-webhook-events": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute="*"),  # besides the dispatch each outbox write queues
        "args": ("webhooks.dispatch_events",),
    },
    "send-webhook-deliveries": {
        "task": "tenancy.for_each_organization",
        "schedule": crontab(minute="*"),  # each delivery has its own retry schedule
        "args": ("webhooks.send_due_deliveries",),
    },
}
