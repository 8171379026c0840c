"""The hourly run beyond the everyday path: late policies, statement-style messages, the
webhook and task channels, actions, a mail server that is down, a template that fails.

The organization's zone is UTC. Invoices are finalized at noon on 2026-03-01 for customers
with 30-day terms: due 2026-03-31 (day 0).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from invoicing.models import Invoice
from receivables import reminders
from receivables.models import Reminder
from tests.support import free_port
from tests.support.factories import CustomerFactory
from tests.support.mail import body
from tests.support.receivables import email_step, issued, policy
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db

ISSUED = date(2026, 3, 1)
DUE = date(2026, 3, 31)
OVERDUE = {"match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": 1}]}


def at_day(n: int, hour: int = 9) -> datetime:
    day = DUE + timedelta(days=n)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def kunde(tenant):
    return CustomerFactory(organization=tenant.organization, external_id="kunde",
                           name="Kunde GmbH", country="DE", currency="EUR",
                           payment_terms_days=30, time_zone="UTC", emails=["ap@kunde.test"])


def log(tenant, invoice):
    with tenant.context():
        return [(r.offset_days, r.status) for r in
                Reminder.objects.filter(invoice=invoice).order_by("offset_days")]


def test_a_policy_made_late_sends_only_the_latest_due_step(tenant, kunde, smtp, hourly):
    invoice = issued(tenant, kunde, "100.00", ISSUED)
    policy(tenant, "Overdue", OVERDUE, [email_step(7, "Seven"), email_step(14, "Fourteen"),
                                        email_step(30, "Thirty")])
    hourly.run(tenant, at_day(20))  # +7 and +14 are both due: one message, the later
    hourly.run(tenant, at_day(21))
    assert [m["Subject"] for m in smtp.messages] == ["Fourteen"]
    assert log(tenant, invoice) == [(7, "skipped"), (14, "sent")]
    hourly.run(tenant, at_day(30))
    assert [m["Subject"] for m in smtp.messages] == ["Fourteen", "Thirty"]


def test_a_step_inserted_before_one_already_sent_is_not_sent_after_it(tenant, kunde, smtp,
                                                                      hourly):
    issued(tenant, kunde, "100.00", ISSUED)
    rules_policy = policy(tenant, "Overdue", OVERDUE, [email_step(14, "Fourteen")])
    hourly.run(tenant, at_day(15))
    from receivables import services

    with tenant.context():
        kept = rules_policy.steps.get()
        services.policy_set(segment=rules_policy.segment, steps=[
            email_step(7, "Seven"), {**email_step(14, "Fourteen"), "id": str(kept.id)}])
    hourly.run(tenant, at_day(16))
    assert [m["Subject"] for m in smtp.messages] == ["Fourteen"]


def test_statement_style_one_email_covers_every_open_invoice(tenant, kunde, smtp, hourly):
    first = issued(tenant, kunde, "100.00", ISSUED)
    second = issued(tenant, kunde, "250.50", ISSUED)
    policy(tenant, "Overdue", OVERDUE, [email_step(
        7, "{{ invoices | length }} open invoices",
        "{% for i in invoices %}{{ i.number }}={{ i.amount_due }};{% endfor %}"
        "{% for t in totals %}{{ t.currency }} {{ t.amount_due }}{% endfor %}")],
        statement=True)
    hourly.run(tenant, at_day(7))
    assert [m["Subject"] for m in smtp.messages] == ["2 open invoices"]
    # 100.00 + 250.50 = 350.50
    assert body(smtp.messages[0]).strip() == (
        f"{first.number}=100.00;{second.number}=250.50;EUR 350.50")
    with tenant.context():
        rows = list(Reminder.objects.filter(customer=kunde))
    assert len(rows) == 2 and len({r.message for r in rows}) == 1
    assert {r.status for r in rows} == {"sent"}


def test_webhook_and_task_steps(tenant, kunde, smtp, hourly):
    invoice = issued(tenant, kunde, "100.00", ISSUED)
    policy(tenant, "Overdue", OVERDUE, [
        {"offset_days": 3, "channel": "webhook"},
        {"offset_days": 10, "channel": "task", "subject": "Call {{ customer.name }}"}])
    hourly.run(tenant, at_day(3))
    hourly.run(tenant, at_day(3, 15))
    with tenant.context():
        events = list(OutboxEvent.objects.filter(event_type="invoice.reminder"))
    assert len(events) == 1
    assert events[0].payload["invoice_number"] == invoice.number
    assert events[0].payload["days_past_due"] == 3 and events[0].payload["offset_days"] == 3
    hourly.run(tenant, at_day(10))
    assert smtp.messages == []  # neither channel e-mails the customer
    assert log(tenant, invoice) == [(3, "sent"), (10, "open")]


def test_mark_uncollectible_action_runs_once(tenant, kunde, smtp, hourly):
    invoice = issued(tenant, kunde, "100.00", ISSUED)
    policy(tenant, "Overdue", OVERDUE, [email_step(60, "Final notice",
                                                   action="mark_uncollectible")])
    hourly.run(tenant, at_day(60))
    hourly.run(tenant, at_day(60, 15))
    with tenant.context():
        invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.UNCOLLECTIBLE
    assert [m["Subject"] for m in smtp.messages] == ["Final notice"]
    with tenant.context():
        row = Reminder.objects.get(invoice=invoice)
    assert row.action_done_at is not None and "Marked uncollectible" in row.detail


def test_retry_card_without_a_card_is_recorded_not_raised(tenant, kunde, smtp, hourly):
    invoice = issued(tenant, kunde, "100.00", ISSUED)
    policy(tenant, "Overdue", OVERDUE, [email_step(3, "Card", action="retry_card")])
    hourly.run(tenant, at_day(3))
    with tenant.context():
        row = Reminder.objects.get(invoice=invoice)
    assert row.status == "sent" and "no saved card" in row.detail


def test_a_mail_server_that_is_down_is_retried_until_it_answers(tenant, kunde, smtp, hourly,
                                                               settings):
    invoice = issued(tenant, kunde, "100.00", ISSUED)
    policy(tenant, "Overdue", OVERDUE, [email_step(7, "Seven")])
    up = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens: connection refused
    hourly.run(tenant, at_day(7, 1))  # the task's own retries are spent, then recorded
    with tenant.context():
        row = Reminder.objects.get(invoice=invoice)
    assert row.status == "failed" and row.detail.startswith(reminders.MAIL_SERVER)
    assert smtp.messages == []
    settings.EMAIL_PORT = up
    hourly.run(tenant, at_day(7, 2))  # the next hourly run tries again
    assert [m["Subject"] for m in smtp.messages] == ["Seven"]
    hourly.run(tenant, at_day(7, 3))
    assert len(smtp.messages) == 1
    assert log(tenant, invoice) == [(7, "sent")]


def test_a_template_that_fails_is_recorded_and_other_policies_go_on(tenant, kunde, smtp,
                                                                    hourly):
    other = CustomerFactory(organization=tenant.organization, external_id="other",
                            country="FR", currency="EUR", payment_terms_days=30,
                            time_zone="UTC", emails=["ap@other.test"])
    bad = issued(tenant, kunde, "100.00", ISSUED)
    issued(tenant, other, "100.00", ISSUED)
    policy(tenant, "Germany", {"match": "all", "rules": [
        {"field": "country", "op": "eq", "value": "DE"}]},
        [email_step(3, "Bad", "{{ 'x' * 10**9 }}")])
    policy(tenant, "Rest", OVERDUE, [email_step(3, "Fine")])
    hourly.run(tenant, at_day(3))
    assert [(m["To"], m["Subject"]) for m in smtp.messages] == [("ap@other.test", "Fine")]
    with tenant.context():
        row = Reminder.objects.get(invoice=bad)
    assert row.status == "failed" and row.detail.startswith("Template: Body")


def test_pause_entitlements_until_the_invoice_is_paid(tenant, kunde, smtp, hourly,
                                                      django_capture_on_commit_callbacks):
    from entitlements.selectors import suspension_active
    from tests.support.receivables import paid

    invoice = issued(tenant, kunde, "100.00", ISSUED)
    other = issued(tenant, kunde, "40.00", ISSUED)  # not behind the pause
    policy(tenant, "Overdue", {"match": "all", "rules": [
        {"field": "amount_due", "op": "gte", "value": "50"}]},
        [email_step(21, "Access paused", action="pause_entitlements")])
    hourly.run(tenant, at_day(21))
    with tenant.context():
        paused = suspension_active(organization=tenant.organization, customer=kunde)
    assert paused is not None and invoice.number in paused.reason
    with django_capture_on_commit_callbacks(execute=True):
        paid(tenant, hourly.clock, invoice, "60.00", DUE + timedelta(days=22))
    with tenant.context():  # 40.00 still due on it: still paused
        assert suspension_active(organization=tenant.organization, customer=kunde)
    with django_capture_on_commit_callbacks(execute=True):
        paid(tenant, hourly.clock, invoice, "40.00", DUE + timedelta(days=23))
    with tenant.context():  # the other open invoice never paused anything
        assert suspension_active(organization=tenant.organization, customer=kunde) is None
        assert Invoice.objects.get(pk=other.pk).amount_due > 0
