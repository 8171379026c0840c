"""The receivables schedule: the hourly reminder run, and the delivery of each reminder.
Both are safe to run twice (a reminder step is sent once per invoice: a database
constraint)."""

from __future__ import annotations

from receivables import reminders
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="receivables.run_reminders", time_limit=1800)
def run_reminders(organization) -> dict:
    """Queue the reminders due now; each is delivered by ``deliver_reminder``."""
    result = reminders.reminders_run(organization=organization)
    return {"queued": result.queued, "skipped": result.skipped, "requeued": result.requeued,
            "failed_segments": result.failed_segments}


@tenant_task(name="receivables.deliver_reminder", time_limit=300, max_retries=5,
             autoretry_for=(OSError,), retry_backoff=True, retry_jitter=True)
def deliver_reminder(organization, message: str) -> str:
    """Deliver one message. A mail server that cannot be reached is retried with back-off;
    after the last retry it is recorded on the reminder, and the hourly run tries again."""
    retries_left = deliver_reminder.request.retries < deliver_reminder.max_retries
    return reminders.reminder_deliver(organization=organization, message=message,
                                      retries_left=retries_left)
