"""Reminders, time-travelled against a real SMTP server on loopback.

The organization's zone is UTC. Every invoice is finalized at noon on 2026-03-01 for a
customer with 30-day terms: due 2026-03-31 (day 0). The hourly job runs five times a day
(01:00, 06:00, 11:00, 16:00, 21:00) from day 0 to day 20.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from receivables.models import Reminder
from tests.support.factories import CustomerFactory
from tests.support.mail import body
from tests.support.receivables import email_step, issued, paid, policy

pytestmark = pytest.mark.django_db

ISSUED = date(2026, 3, 1)
DUE = date(2026, 3, 31)  # 2026-03-01 + 30 days
HOURS = (1, 6, 11, 16, 21)
OVERDUE_IN_GERMANY = {"match": "all", "rules": [
    {"field": "days_past_due", "op": "gte", "value": 7},
    {"field": "country", "op": "eq", "value": "DE"}]}


def customer(tenant, external_id, country, email):
    return CustomerFactory(organization=tenant.organization, external_id=external_id,
                           name=external_id.title(), country=country, currency="EUR",
                           payment_terms_days=30, time_zone="UTC", emails=[email])


def days(hourly, tenant, first: int, last: int, on_day=None) -> None:
    """The hourly job, five times on each day from ``first`` to ``last`` after the due date;
    ``on_day(n)`` first, at 00:30 of day n."""
    for n in range(first, last + 1):
        day = DUE + timedelta(days=n)
        if on_day:
            on_day(n)
        for hour in HOURS:
            hourly.run(tenant, datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def sent_on(smtp) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the server was given, in order."""
    return [(m["To"], m["Subject"]) for m in smtp.messages]


def test_overdue_in_germany_reminded_at_7_and_14_days_once_each(tenant, smtp, hourly):
    kunde = customer(tenant, "kunde", "DE", "ap@kunde.test")
    client = customer(tenant, "client", "FR", "ap@client.test")  # not in Germany
    invoice = issued(tenant, kunde, "1190.00", ISSUED)
    issued(tenant, client, "500.00", ISSUED)
    assert invoice.due_date == DUE
    policy(tenant, "Overdue a week in Germany", OVERDUE_IN_GERMANY, [
        email_step(7, "First reminder: {{ invoice.number }}"),
        email_step(14, "Second reminder: {{ invoice.number }}, {{ days_past_due }} days")])

    days(hourly, tenant, 0, 6)
    assert smtp.messages == []  # before day 7 the invoice is not in the segment
    days(hourly, tenant, 7, 7)
    assert sent_on(smtp) == [("ap@kunde.test", f"First reminder: {invoice.number}")]
    days(hourly, tenant, 8, 20)
    assert sent_on(smtp) == [("ap@kunde.test", f"First reminder: {invoice.number}"),
                             ("ap@kunde.test", f"Second reminder: {invoice.number}, 14 days")]
    # the e-mail carries the amount and the hosted payment link
    text = body(smtp.messages[1])
    assert "1.190,00" in text and "/pay/" in text, text
    with tenant.context():
        log = list(Reminder.objects.filter(invoice=invoice).order_by("offset_days"))
    assert [(r.offset_days, r.status, r.sent_at.date()) for r in log] == [
        (7, "sent", DUE + timedelta(days=7)), (14, "sent", DUE + timedelta(days=14))]


def test_paying_at_day_10_stops_the_day_14_reminder(tenant, smtp, hourly):
    kunde = customer(tenant, "kunde", "DE", "ap@kunde.test")
    invoice = issued(tenant, kunde, "1190.00", ISSUED)
    policy(tenant, "Overdue a week in Germany", OVERDUE_IN_GERMANY,
           [email_step(7, "First"), email_step(14, "Second")])

    def pay_on_day_10(n):
        if n == 10:
            paid(tenant, hourly.clock, invoice, "1190.00", DUE + timedelta(days=10))

    days(hourly, tenant, 0, 20, on_day=pay_on_day_10)
    assert [m["Subject"] for m in smtp.messages] == ["First"]


def test_first_matching_segment_wins(tenant, smtp, hourly):
    kunde = customer(tenant, "kunde", "DE", "ap@kunde.test")
    issued(tenant, kunde, "100.00", ISSUED)
    policy(tenant, "Germany", {"match": "all", "rules": [
        {"field": "country", "op": "eq", "value": "DE"}]}, [email_step(3, "Germany +3")])
    policy(tenant, "Overdue a week in Germany", OVERDUE_IN_GERMANY,
           [email_step(7, "Overdue +7"), email_step(14, "Overdue +14")])

    days(hourly, tenant, 0, 20)
    # in both segments; only the first's steps
    assert [m["Subject"] for m in smtp.messages] == ["Germany +3"]
