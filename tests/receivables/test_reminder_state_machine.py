"""Random sequences of the hourly job (run once, twice in a row, after 1 hour to 3 days),
payments (partial and full), disputes, promises to pay and a paused customer, on two invoices
of one customer under two ordered segments. After every step:

- each step reminds each invoice at most once (one e-mail per invoice and step);
- an e-mail went out only for an invoice that was open, not disputed, not under a promise to
  pay and whose customer was not paused, when the job ran;
- it followed the first segment the invoice matched then ("Big": amount due >= 1,000.00;
  else "Due": from 5 days before the due date), and its step was due (today >= due + offset);
- an invoice's reminders never go back: each one's offset is later than the one before.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from contracts.models import Customer
from invoicing import services as invoicing
from invoicing.models import Invoice, InvoiceLine
from payments import services as payments
from receivables import reminders, services
from zenskar.celery import app
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context

pytestmark = pytest.mark.django_db

ISSUED = date(2026, 3, 1)  # 30-day terms: due 2026-03-31
BIG = [(1, "Big+1"), (5, "Big+5")]
DUE = [(-3, "Due-3"), (2, "Due+2"), (7, "Due+7"), (14, "Due+14")]
SENT: Counter = Counter()  # e-mails per step label over the run: the examples reached them


class ReminderMachine(RuleBasedStateMachine):
    @initialize(amounts=st.lists(st.sampled_from(["300.00", "999.99", "1000.00", "1500.00"]),
                                 min_size=2, max_size=2))
    def setup(self, amounts):
        from django.contrib.auth import get_user_model

        email = f"owner-{uuid.uuid4().hex[:8]}@acme.test"
        owner = get_user_model().objects.create_user(username=email, email=email,
                                                     password="x" * 12)
        self.organization = tenancy.organization_create(
            name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}", owner=owner)
        self.now = datetime(2026, 3, 27, 0, 30, tzinfo=UTC)
        timezone.now = lambda: self.now  # restored by the test
        with tenant_context(self.organization):
            self.customer = Customer.objects.create(
                organization=self.organization, external_id="kunde", name="Kunde",
                country="DE", currency="EUR", payment_terms_days=30, emails=["ap@kunde.test"])
            self.invoices = [self._issue(amount) for amount in amounts]
            for name, rules, steps in (
                    ("Big", {"field": "amount_due", "op": "gte", "value": "1000.00"}, BIG),
                    ("Due", {"field": "days_past_due", "op": "gte", "value": -5}, DUE)):
                segment = services.segment_create(
                    organization=self.organization, name=name,
                    rules={"match": "all", "rules": [rules]})
                services.policy_set(segment=segment, steps=[
                    {"offset_days": offset, "channel": "email", "body": "Pay {{ invoice.number }}",
                     "subject": label + " {{ invoice.number }}"} for offset, label in steps])
        self.disputed: set[int] = set()
        self.promised: dict[int, date] = {}
        self.paused = False
        self.sent: list[tuple[str, str, date]] = []  # (invoice number, label, day)
        mail.outbox.clear()

    def _issue(self, amount: str) -> Invoice:
        invoice = Invoice.objects.create(organization=self.organization, customer=self.customer,
                                         currency="EUR", billing_date=ISSUED, manual=True)
        InvoiceLine.objects.create(organization=self.organization, invoice=invoice,
                                   kind="one_time", description="Services",
                                   amount=Decimal(amount))
        return invoicing.invoice_finalize(invoice=invoice, recompute=False,
                                          now=datetime(2026, 3, 1, 12, tzinfo=UTC))

    # --- what the world does -------------------------------------------------------------


    @rule(which=st.integers(0, 1), share=st.sampled_from(["0.3", "0.5", "1"]))
    def pay(self, which, share):
        with tenant_context(self.organization):
            invoice = Invoice.objects.get(pk=self.invoices[which].pk)
            if invoice.amount_due <= 0:
                return
            amount = (invoice.amount_due * Decimal(share)).quantize(Decimal("0.01"))
            payments.payment_record_offline(invoice=invoice, amount=amount,
                                            method="bank_transfer", reference="TR",
                                            received_on=self.now.date(), actor="ana@acme.test")

    @rule(which=st.integers(0, 1), hold=st.sampled_from(
        ["dispute", "clear dispute", "promise", "pause", "resume"]), days=st.integers(0, 6))
    def hold(self, which, hold, days):
        """A dispute set or cleared, a promise to pay within ``days``, the customer paused
        or resumed."""
        invoice = self.invoices[which]
        with tenant_context(self.organization):
            if hold in ("dispute", "clear dispute"):
                services.invoice_hold_set(invoice=invoice, disputed=hold == "dispute")
                (self.disputed.add if hold == "dispute" else self.disputed.discard)(which)
            elif hold == "promise":
                on = self.now.date() + timedelta(days=days)
                services.invoice_hold_set(invoice=invoice, promised_on=on)
                self.promised[which] = on
            else:
                services.customer_hold_set(customer=self.customer, paused=hold == "pause")
                self.paused = hold == "pause"

    @rule(hours=st.sampled_from([24, 1, 6, 72]), twice=st.booleans())
    def hourly_job(self, hours, twice):
        """Time moves on by ``hours``, then the job runs (once, or twice in a row)."""
        self.now += timedelta(hours=hours)
        self._run(twice)

    @rule()
    def a_day_of_jobs(self):
        """The job five times over the next day."""
        for _ in range(5):
            self.now += timedelta(hours=5)
            self._run(False)

    def _run(self, twice):
        today = self.now.date()
        with tenant_context(self.organization):
            state = {i: Invoice.objects.get(pk=inv.pk) for i, inv in enumerate(self.invoices)}
        before = len(mail.outbox)
        for _ in range(2 if twice else 1):
            with tenant_context(self.organization):
                reminders.reminders_run(organization=self.organization)
        for message in mail.outbox[before:]:
            label, number = message.subject.split(" ", 1)
            which = next(i for i, inv in state.items() if inv.number == number)
            invoice = state[which]
            # it was open and not on hold when the job ran
            assert invoice.status == Invoice.Status.FINALIZED and invoice.amount_due > 0
            assert which not in self.disputed and not self.paused
            assert self.promised.get(which, date.min) < today
            # the first matching segment's step, and it was due
            steps = BIG if invoice.amount_due >= Decimal("1000.00") else DUE
            offset = dict((lab, off) for off, lab in steps)[label]
            assert today >= invoice.due_date + timedelta(days=offset), (label, today)
            self.sent.append((number, label, today))
            SENT[label] += 1

    # --- what must always hold -----------------------------------------------------------

    @invariant()
    def each_step_once_per_invoice(self):
        pairs = [(number, label) for number, label, _ in self.sent]
        assert len(pairs) == len(set(pairs)), pairs

    @invariant()
    def reminders_never_go_back(self):
        offsets = dict((lab, off) for off, lab in BIG + DUE)
        for invoice in self.invoices:
            mine = [offsets[label] for number, label, _ in self.sent if number == invoice.number]
            assert mine == sorted(mine) and len(mine) == len(set(mine)), mine


def test_reminders_hold_over_random_sequences(monkeypatch):
    monkeypatch.setattr(timezone, "now", timezone.now)  # the machine moves it; put back after
    monkeypatch.setattr("django.db.transaction.on_commit", lambda func, *a, **k: func())
    app.conf.task_always_eager = True
    SENT.clear()
    try:
        run_state_machine_as_test(ReminderMachine, settings=settings(
            max_examples=12, stateful_step_count=25, deadline=None, derandomize=True,
            database=None, suppress_health_check=list(HealthCheck)))
    finally:
        app.conf.task_always_eager = False
    # the sequences reached both segments' steps, not only the early ones
    assert {"Big+1", "Due-3", "Due+7"} <= set(SENT), SENT
