"""The recognition run and the period close, worked out by hand: one schedule that fails stops
no other, missed days are caught up one step per calendar month, a day is recognized once (the
database says so), a period closes only when its checks pass (or by force) and a late event
then posts on the first open day, the Celery task and its beat entry. Every test that posts
ends with the trial balance at zero per currency."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from invoicing import services as invoicing
from payments import services as payments
from revrec import closing, recognition
from revrec.models import (
    Account,
    JournalEntry,
    JournalLine,
    PeriodClose,
    Recognition,
    RevenueSchedule,
)
from revrec.services import entry_post, lock_date, today
from revrec.tasks import recognize_revenue
from tests.support.factories import (
    CustomerFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    ProductFactory,
)
from tests.support.ledger import recognize_through, trial_balance_is_zero
from zenskar.celery import app as celery_app

pytestmark = pytest.mark.django_db

Key = Account.SystemKey
D = Decimal
YEAR_2026 = {"period_start": date(2026, 1, 1), "period_end": date(2027, 1, 1)}


# --- Helpers ------------------------------------------------------------------------------------


def _recognized(tenant):
    """[(effective date, system key, debit, credit)] of the recognition entries."""
    with tenant.context():
        rows = (JournalLine.objects.for_organization(tenant.organization)
                .filter(entry__source_type=recognition.RECOGNIZED)
                .select_related("entry", "account")
                .order_by("entry__effective_date", "entry__posted_at", "position"))
        return [(line.entry.effective_date, line.account.system_key, line.debit, line.credit)
                for line in rows]


def _invoice(tenant, customer, amount, rule="ratable", **line):
    """A draft one-off invoice of one line of ``amount`` (a product of ``rule``), summed as
    a draft is (no tax in these tests); the invoice's period is the line's."""
    invoice = InvoiceFactory(customer=customer, manual=True, subtotal=D(amount),
                             total=D(amount), amount_due=D(amount),
                             period_start=line.get("period_start"),
                             period_end=line.get("period_end"))
    product = ProductFactory(organization=tenant.organization, revenue_rule=rule)
    InvoiceLineFactory(invoice=invoice, amount=D(amount), product=product,
                       **{"description": f"{rule} {amount}", **line})
    return invoice


def _finalized(tenant, customer, amount, on=date(2026, 1, 1), rule="ratable", **line):
    """``_invoice`` finalized at noon UTC of ``on`` (its issue date)."""
    invoice = _invoice(tenant, customer, amount, rule, **line)
    with tenant.context():
        return invoicing.invoice_finalize(
            invoice=invoice, recompute=False,
            now=datetime(on.year, on.month, on.day, 12, tzinfo=UTC))


def _schedule(tenant, invoice):
    with tenant.context():
        return RevenueSchedule.objects.for_organization(tenant.organization).get(
            invoice_id=invoice.id)


def _codes(error: ValidationError, field="closed_through"):
    return [e.code for e in error.error_dict[field]]


# --- 1. One schedule that fails stops no other --------------------------------------------------


def test_a_schedule_that_fails_stops_no_other_and_the_next_run_recognizes_it(
        tenant, monkeypatch, as_at_commit):
    """Two yearly schedules from Jan 1: A of 1,200.00 and B of 365.00 (1.00 a day). Posting
    any line of B's raises (a bug, a bad row): the chunk of both fails, is retried schedule by
    schedule, and A recognizes January -- 1,200 x 31/365 = 101.917... -> 101.92 -- while B is
    reported failed and stays where it was. Once fixed, the next run recognizes B's January:
    365 x 31/365 = 31.00, and nothing more of A's."""
    customer = CustomerFactory(organization=tenant.organization)
    a = _finalized(tenant, customer, "1200.00", **YEAR_2026)
    b = _finalized(tenant, customer, "365.00", **YEAR_2026)
    real_entry_post = recognition.entry_post

    def failing_for_b(**kwargs):
        if any(posting.refs.invoice == b.id for posting in kwargs["lines"]):
            raise RuntimeError("B cannot be posted")
        return real_entry_post(**kwargs)

    monkeypatch.setattr(recognition, "entry_post", failing_for_b)
    result = recognize_through(tenant, date(2026, 1, 31))
    assert result.failed == [str(_schedule(tenant, b).id)]
    assert (result.schedules, result.recognitions, result.entries) == (1, 1, 1)
    assert dict(result.amounts) == {"USD": D("101.92")}
    assert _recognized(tenant) == [
        (date(2026, 1, 31), Key.DEFERRED_REVENUE, D("101.92"), D("0")),
        (date(2026, 1, 31), Key.REVENUE, D("0"), D("101.92"))]
    failed = _schedule(tenant, b)
    assert (failed.recognized, failed.recognized_through) == (D("0"), date(2026, 1, 1))
    with tenant.context():
        assert not Recognition.objects.for_organization(tenant.organization).filter(
            schedule=failed).exists()

    monkeypatch.setattr(recognition, "entry_post", real_entry_post)  # fixed
    again = recognize_through(tenant, date(2026, 1, 31))
    assert (again.failed, again.schedules, dict(again.amounts)) == ([], 1, {"USD": D("31.00")})
    assert _recognized(tenant)[2:] == [
        (date(2026, 1, 31), Key.DEFERRED_REVENUE, D("31.00"), D("0")),
        (date(2026, 1, 31), Key.REVENUE, D("0"), D("31.00"))]
    fixed, first = _schedule(tenant, b), _schedule(tenant, a)
    assert (fixed.recognized, fixed.recognized_through) == (D("31.00"), date(2026, 2, 1))
    assert (first.recognized, first.recognized_through) == (D("101.92"), date(2026, 2, 1))
    trial_balance_is_zero(tenant, as_at_commit)


# --- 2. Missed days are caught up, a step per month ---------------------------------------------


def test_a_run_after_forty_missed_days_posts_one_step_per_calendar_month(tenant, as_at_commit):
    """1,200.00 for 2026 (365 days). A run through Jan 25: 1,200 x 25/365 = 82.191... ->
    82.19. Then no run for 40 days (Jan 26 - Mar 6); the run through Mar 6 catches up in one
    step per month, each dated the month's last day, the last the run's day:
      Jan 31 (31 days): 1,200 x 31/365 = 101.917... -> 101.92, less 82.19  = 19.73
      Feb 28 (59 days): 1,200 x 59/365 = 193.972... -> 193.97, less 101.92 = 92.05
      Mar 6  (65 days): 1,200 x 65/365 = 213.698... -> 213.70, less 193.97 = 19.73
    82.19 + 19.73 + 92.05 + 19.73 = 213.70: exactly the 65 days' figure."""
    invoice = _finalized(tenant, CustomerFactory(organization=tenant.organization), "1200.00",
                         **YEAR_2026)
    recognize_through(tenant, date(2026, 1, 25))
    result = recognize_through(tenant, date(2026, 1, 25) + timedelta(days=40))
    assert result.through == date(2026, 3, 6)
    assert (result.schedules, result.recognitions, result.entries) == (1, 3, 3)
    assert dict(result.amounts) == {"USD": D("131.51")}  # 19.73 + 92.05 + 19.73
    assert _recognized(tenant) == [
        (date(2026, 1, 25), Key.DEFERRED_REVENUE, D("82.19"), D("0")),
        (date(2026, 1, 25), Key.REVENUE, D("0"), D("82.19")),
        (date(2026, 1, 31), Key.DEFERRED_REVENUE, D("19.73"), D("0")),
        (date(2026, 1, 31), Key.REVENUE, D("0"), D("19.73")),
        (date(2026, 2, 28), Key.DEFERRED_REVENUE, D("92.05"), D("0")),
        (date(2026, 2, 28), Key.REVENUE, D("0"), D("92.05")),
        (date(2026, 3, 6), Key.DEFERRED_REVENUE, D("19.73"), D("0")),
        (date(2026, 3, 6), Key.REVENUE, D("0"), D("19.73")),
    ]
    with tenant.context():
        days = list(Recognition.objects.for_organization(tenant.organization)
                    .order_by("on").values_list("on", "kind", "amount"))
    assert days == [(date(2026, 1, 25), "ratable", D("82.19")),
                    (date(2026, 1, 31), "ratable", D("19.73")),
                    (date(2026, 2, 28), "ratable", D("92.05")),
                    (date(2026, 3, 6), "ratable", D("19.73"))]
    schedule = _schedule(tenant, invoice)
    assert (schedule.recognized, schedule.recognized_through, schedule.done) == (
        D("213.70"), date(2026, 3, 7), False)
    trial_balance_is_zero(tenant, as_at_commit)


# --- 3. A day is recognized once: the database says so ------------------------------------------


def test_the_database_refuses_a_second_recognition_of_a_day(tenant):
    """One recognition of (schedule, Jan 31, ratable, no source): a second row of the same
    four is refused by the unique constraint, by the ORM and by the run's own raw INSERT."""
    invoice = _finalized(tenant, CustomerFactory(organization=tenant.organization), "1200.00",
                         **YEAR_2026)
    recognize_through(tenant, date(2026, 1, 31))
    schedule = _schedule(tenant, invoice)
    with tenant.context():
        first = Recognition.objects.for_organization(tenant.organization).get()
        assert (first.schedule_id, first.on, first.kind, first.source, first.amount) == (
            schedule.id, date(2026, 1, 31), "ratable", "", D("101.92"))
        with pytest.raises(IntegrityError, match="revrec_recognition_once_per_day"):
            with transaction.atomic():
                Recognition.objects.create(
                    organization=tenant.organization, schedule=schedule, on=date(2026, 1, 31),
                    kind=Recognition.Kind.RATABLE, amount=D("1.00"), entry=first.entry)
        with pytest.raises(IntegrityError, match="revrec_recognition_once_per_day"):
            with transaction.atomic():
                recognition._recognitions_insert(
                    [(schedule, date(2026, 1, 31), D("1.00"), first.entry)])
        with pytest.raises(IntegrityError, match="revrec_recognition_once_per_day"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO revrec_recognition (id, organization_id, created_at, "
                    'schedule_id, "on", kind, amount, entry_id, source) '
                    "VALUES (%s, %s, now(), %s, '2026-01-31', 'ratable', 1, %s, '')",
                    [uuid.uuid4(), tenant.organization.id, schedule.id, first.entry_id])
        assert Recognition.objects.for_organization(tenant.organization).count() == 1


# --- 4. The period close ------------------------------------------------------------------------


def test_a_period_closes_only_when_its_checks_pass_or_by_force(tenant, as_at_commit):
    """January 2026: a point-in-time invoice of 100.00 issued Jan 5, and a draft dated Jan 15.
    The close through Jan 31 is refused (the draft), and so is a close of today (not ended);
    forced, it closes and keeps its checks as they stood."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization)
    _finalized(tenant, customer, "100.00", on=date(2026, 1, 5), rule="point_in_time")
    InvoiceFactory(customer=customer, manual=True, billing_date=date(2026, 1, 15))

    with tenant.context():
        with pytest.raises(ValidationError) as refused:
            closing.period_close(organization=organization, through=date(2026, 1, 31))
        assert _codes(refused.value) == ["drafts_past_their_date"]
        assert "1 draft invoice(s) dated on or before 2026-01-31" in str(refused.value)
        with pytest.raises(ValidationError) as not_ended:
            closing.period_close(organization=organization, through=today(organization),
                                 force=True)
        assert _codes(not_ended.value) == ["not_ended"]
        assert not PeriodClose.objects.for_organization(organization).exists()
        assert lock_date(organization) is None

        close = closing.period_close(organization=organization, through=date(2026, 1, 31),
                                     closed_by="ana@acme.test", force=True, note="January")
        assert (close.closed_through, close.closed_by, close.note) == (
            date(2026, 1, 31), "ana@acme.test", "January")
        assert [(c["name"], c["passed"], c["blocking"], c["count"]) for c in close.checks] == [
            ("drafts_past_their_date", False, True, 1),
            ("unposted_events", True, True, 0),
            ("recognition_behind", True, True, 0),
            ("unapplied_payments", True, False, 0)]
        assert lock_date(organization) == date(2026, 1, 31)
        with pytest.raises(ValidationError) as again:
            closing.period_close(organization=organization, through=date(2026, 1, 31))
        assert _codes(again.value) == ["already_closed"]
    trial_balance_is_zero(tenant, as_at_commit)


def test_after_a_close_a_late_event_posts_on_the_first_open_day_until_reopened(
        tenant, as_at_commit):
    """Closed through Jan 31. Then:
    - a bank transfer received on Jan 20, recorded now: Dr cash 100.00 / Cr AR 100.00, posted
      on Feb 1 (the first open day), its memo naming Jan 20;
    - an invoice of 2026 (1,200.00, ratable) finalized on Feb 10: its January, 1,200 x 31/365
      = 101.917... -> 101.92, belongs to Jan 31 and posts on Feb 1; its February (1,200 x
      59/365 = 193.972... -> 193.97, less 101.92 = 92.05) on Feb 28;
    - an entry dated Jan 20 posts on Feb 1.
    Reopened through Dec 31, 2025 (a close of its own; the first keeps its checks): an entry
    dated Jan 20 posts on Jan 20."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization)
    invoice = _finalized(tenant, customer, "100.00", on=date(2026, 1, 5), rule="point_in_time")
    with tenant.context():
        first = closing.period_close(organization=organization, through=date(2026, 1, 31))
        assert all(check["passed"] for check in first.checks)
        payment = payments.payment_record_offline(
            invoice=invoice, amount=D("100.00"), method="bank_transfer", reference="TR-1",
            received_on=date(2026, 1, 20), actor="ana@acme.test")
        paid = JournalEntry.objects.for_organization(organization).get(
            source_type="payment.applied")
    assert paid.source_id == f"payment:{payment.id}"
    assert paid.effective_date == date(2026, 2, 1)
    assert paid.memo.endswith("(belongs to 2026-01-20, in a closed period: posted on "
                              "2026-02-01, the first open day)")
    with tenant.context():
        assert [(line.account.system_key, line.debit, line.credit)
                for line in paid.lines.select_related("account").order_by("position")] == [
            (Key.CASH, D("100.00"), D("0")), (Key.ACCOUNTS_RECEIVABLE, D("0"), D("100.00"))]

    _finalized(tenant, customer, "1200.00", on=date(2026, 2, 10), **YEAR_2026)
    recognize_through(tenant, date(2026, 2, 28))
    assert _recognized(tenant) == [
        (date(2026, 2, 1), Key.DEFERRED_REVENUE, D("101.92"), D("0")),
        (date(2026, 2, 1), Key.REVENUE, D("0"), D("101.92")),
        (date(2026, 2, 28), Key.DEFERRED_REVENUE, D("92.05"), D("0")),
        (date(2026, 2, 28), Key.REVENUE, D("0"), D("92.05"))]
    with tenant.context():
        january = JournalEntry.objects.for_organization(organization).get(
            source_type=recognition.RECOGNIZED, effective_date=date(2026, 2, 1))
        assert "belongs to 2026-01-31" in january.memo
        assert Recognition.objects.for_organization(organization).order_by("on").first().on \
            == date(2026, 1, 31)

        def late(source_id):
            return entry_post(organization=organization, source_type="test.late",
                              source_id=source_id, currency="USD",
                              effective_date=date(2026, 1, 20), memo="Late",
                              lines=[(Key.CASH, D("5.00"), D(0), None),
                                     (Key.REVENUE, D(0), D("5.00"), None)])

        closed = late("closed")
        assert (closed.effective_date, closed.memo) == (
            date(2026, 2, 1), "Late (belongs to 2026-01-20, in a closed period: posted on "
                              "2026-02-01, the first open day)")

        reopened = closing.period_reopen(organization=organization, through=date(2025, 12, 31),
                                         reopened_by="ana@acme.test")
        assert (reopened.closed_through, reopened.note) == (
            date(2025, 12, 31), "Reopened after 2025-12-31")
        assert lock_date(organization) == date(2025, 12, 31)
        first.refresh_from_db()
        assert first.closed_through == date(2026, 1, 31)
        assert len(first.checks) == 4
        assert PeriodClose.objects.for_organization(organization).count() == 2
        opened = late("open")
        assert (opened.effective_date, opened.memo) == (date(2026, 1, 20), "Late")
        with pytest.raises(ValidationError) as forward:
            closing.period_reopen(organization=organization, through=date(2026, 3, 31))
        assert _codes(forward.value) == ["not_earlier"]
    trial_balance_is_zero(tenant, as_at_commit)


# --- 5. The Celery task -------------------------------------------------------------------------


def test_the_task_recognizes_through_the_day_given_and_a_second_call_posts_nothing(
        tenant, as_at_commit):
    """The task, called as beat's fan-out calls it (organization id, day): 1,200.00 of 2026
    recognizes January, 1,200 x 31/365 = 101.92; a draft of January's usage (as used, 123.40,
    period ended Feb 1) is accrued: Dr unbilled revenue 123.40 / Cr revenue 123.40. A second
    call writes nothing."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization)
    _finalized(tenant, customer, "1200.00", **YEAR_2026)
    _invoice(tenant, customer, "123.40", "as_used", kind="usage",
             period_start=date(2026, 1, 1), period_end=date(2026, 2, 1))

    first = recognize_revenue(str(organization.id), "2026-01-31")
    amounts = first.pop("amounts")
    assert first == {"through": "2026-01-31", "accrued": 1, "schedules": 1,
                     "recognitions": 1, "entries": 1, "failed": []}
    assert {currency: D(amount) for currency, amount in amounts.items()} == {
        "USD": D("101.92")}
    with tenant.context():
        posted = JournalEntry.objects.for_organization(organization).count()
        accrual = [(line.account.system_key, line.debit, line.credit) for line in
                   JournalLine.objects.for_organization(organization)
                   .filter(entry__source_type="revenue.accrued").select_related("account")
                   .order_by("position")]
    assert posted == 3  # finalized, accrued, recognized
    assert accrual == [(Key.UNBILLED_REVENUE, D("123.40"), D("0")),
                       (Key.REVENUE, D("0"), D("123.40"))]
    assert _recognized(tenant) == [
        (date(2026, 1, 31), Key.DEFERRED_REVENUE, D("101.92"), D("0")),
        (date(2026, 1, 31), Key.REVENUE, D("0"), D("101.92"))]

    second = recognize_revenue(str(organization.id), "2026-01-31")
    assert second == {"through": "2026-01-31", "accrued": 0, "schedules": 0,
                      "recognitions": 0, "entries": 0, "amounts": {}, "failed": []}
    with tenant.context():
        assert JournalEntry.objects.for_organization(organization).count() == posted
    trial_balance_is_zero(tenant, as_at_commit)


# --- 6. The beat schedule -----------------------------------------------------------------------


def test_the_beat_schedule_runs_recognition_for_every_organization_hourly():
    entry = celery_app.conf.beat_schedule["recognize-revenue"]
    assert entry["task"] == "tenancy.for_each_organization"
    assert entry["args"] == ("revrec.recognize_revenue",)
    assert str(entry["schedule"]._orig_minute) == "40"
    assert str(entry["schedule"]._orig_hour) == "*"
    assert "revrec.recognize_revenue" in celery_app.tasks
    assert "tenancy.for_each_organization" in celery_app.tasks
