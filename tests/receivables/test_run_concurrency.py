"""Two hourly runs at the same moment, each in its own thread and database connection (a
beat that fired twice, two workers): every due step reminds each invoice once.

Five customers in Germany each have one invoice finalized at noon on 2026-03-01 with 30-day
terms (due 2026-03-31); the policy e-mails at +7. Both runs happen at 09:00 on 2026-04-07:
5 invoices x 1 step = 5 reminders and 5 e-mails in all, whichever run takes them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core import mail

from receivables import reminders
from receivables.models import Reminder
from tests.support import COMMITTING
from tests.support.concurrency import at_once
from tests.support.factories import CustomerFactory
from tests.support.receivables import email_step, issued, policy
from zenskar.celery import app

AT = datetime(2026, 4, 7, 9, tzinfo=UTC)


@COMMITTING
@pytest.mark.parametrize("locked", [True, False], ids=["with the run's lock",
                                                      "the constraint alone"])
def test_two_runs_at_once_remind_each_invoice_once(tenant, clock, monkeypatch, locked):
    if not locked:  # the lock only saves work; the unique constraint is the guarantee
        monkeypatch.setattr(reminders, "_lock", lambda organization: None)
    for n in range(5):
        customer = CustomerFactory(organization=tenant.organization, external_id=f"kunde-{n}",
                                   country="DE", currency="EUR", payment_terms_days=30,
                                   time_zone="UTC", emails=[f"ap@kunde-{n}.test"])
        issued(tenant, customer, "100.00", date(2026, 3, 1))
    policy(tenant, "Germany", {"match": "all", "rules": [
        {"field": "country", "op": "eq", "value": "DE"}]}, [email_step(7, "Seven")])
    clock.at(AT)
    organization = tenant.organization
    app.conf.task_always_eager = True
    try:
        results = at_once(lambda: reminders.reminders_run(organization=organization),
                          lambda: reminders.reminders_run(organization=organization),
                          organization=organization)
    finally:
        app.conf.task_always_eager = False
    assert sum(r.queued for r in results) == 5
    with tenant.context():
        rows = list(Reminder.objects.values_list("invoice_id", "status"))
    assert len(rows) == 5 and len({invoice for invoice, _ in rows}) == 5
    assert {status for _, status in rows} == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == [f"ap@kunde-{n}.test" for n in range(5)]
