"""Random sequences of everything that changes money, on one customer: amendments (two on the
same effective date, ones effective on dates already invoiced and final), cancellations (on the
start date too), usage with late events, generation and finalization on random days, credit
notes (partial, full, repeated, to what is due, to credit, refunded), payments (partial, exact,
over with the excess kept as credit), refunds (of the excess, of what reached the invoice),
credit grants and expiries. After every step the books reconcile; once everything is billed and
final, a flat fee has been billed for exactly the days it was in force.

The expected amounts are the test's own: it keeps the contract's terms as a timeline of daily
prices and prorates by days itself (a month's fee x days in force / days in the month).
"""

from __future__ import annotations

import calendar
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient

from contracts.models import Customer
from invoicing import services
from invoicing.models import (
    CreditGrant,
    CreditNote,
    CustomerCredit,
    Invoice,
    InvoiceLine,
    InvoiceSettlement,
)
from payments.models import Payment
from zenskar.money import round_money
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2027, 1, 1)
HORIZON = date(2026, 10, 1)  # every simulated day is in the past: drafts can be final
PRICES = [Decimal("100.00"), Decimal("250.00"), Decimal("310.00"), Decimal("99.99")]
CENT = Decimal("0.01")
CALLS: Counter = Counter()  # what the API answered, over the run (shown with -s)


def flat(amount: Decimal) -> dict:
    return {"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
            "pricing": {"amount": str(amount)}}


USAGE = {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "0.50"}}


def month_of(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    days = calendar.monthrange(day.year, day.month)[1]
    return start, start + timedelta(days=days)


class MoneyMachine(RuleBasedStateMachine):
    """One organization per example (a fresh tenant), driven through the API."""

    @initialize(price=st.sampled_from(PRICES))
    def setup(self, price):
        owner = tenancy_user()
        self.organization = tenancy.organization_create(
            name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}", owner=owner)
        self.organization.usage_window_days = 3650
        self.organization.save(update_fields=["usage_window_days"])
        _, secret = tenancy.api_key_create(organization=self.organization, name="k",
                                           role="admin")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.post("customers", {"external_id": "acme", "name": "Acme", "currency": "USD",
                                "country": "US"})
        self.post("products", {"name": "Platform", "sku": "PLATFORM", "kind": "recurring",
                               "revenue_rule": "ratable"})
        self.post("products", {"name": "API", "sku": "API", "kind": "usage",
                               "revenue_rule": "as_used"})
        self.post("meters", {"key": "api_calls", "name": "API calls", "event_name": "api_call",
                             "aggregation": "count"})
        self.contract = self.post("contracts", {
            "customer": "acme", "name": "Deal", "start_date": START.isoformat(),
            "end_date": END.isoformat(), "status": "active",
            "phases": [{"start_date": START.isoformat(), "end_date": END.isoformat(),
                        "items": [flat(price), USAGE]}]})
        self.patch("invoice-settings", {"grace_period_hours": 24 * 400})  # we finalize
        self.today = START
        self.generated_through = None
        self.timeline = [(START, price)]  # (from this day on, the monthly fee)
        self.ends = END  # the first day no longer covered
        self.events = 0

    # --- plumbing --------------------------------------------------------------------------

    def post(self, path, body, status=(200, 201)):
        response = self.api.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code in status, (path, response.status_code, response.json())
        CALLS[f"{path.split('/')[0]} .../{path.split('/')[-1]}: {response.status_code}"] += 1
        return response.json()

    def patch(self, path, body):
        response = self.api.patch(f"/api/v1/{path}", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    def context(self):
        return tenant_context(self.organization)

    def price_on(self, day: date) -> Decimal | None:
        if day >= self.ends:
            return None
        return [price for since, price in self.timeline if since <= day][-1]

    def generate(self):
        with self.context():
            services.invoices_generate(organization=self.organization, today=self.today)
        self.generated_through = self.today

    def finalize(self):
        now = datetime.combine(date(2027, 12, 31), time(0), ZoneInfo("UTC"))
        with self.context():
            services.invoices_finalize_due(organization=self.organization, now=now)

    # --- rules -----------------------------------------------------------------------------

    @precondition(lambda self: self.today < HORIZON)
    @rule(days=st.integers(1, 45))
    def time_passes(self, days):
        self.today = min(self.today + timedelta(days=days), HORIZON)

    @rule()
    def generation_runs(self):
        self.generate()

    @rule()
    def finalization_runs(self):
        self.finalize()

    @precondition(lambda self: self.ends == END)
    @rule(offset=st.integers(-200, 60), price=st.sampled_from(PRICES), same_as_last=st.booleans())
    def amend(self, offset, price, same_as_last):
        effective = self.today + timedelta(days=offset)
        if same_as_last and len(self.timeline) > 1:
            effective = self.timeline[-1][0]  # a second amendment on the same effective date
        effective = min(max(effective, START), END - timedelta(days=1))
        self.post(f"contracts/{self.contract['id']}/amendments", {
            "effective_date": effective.isoformat(),
            "phases": [{"start_date": effective.isoformat(), "end_date": END.isoformat(),
                        "items": [flat(price), USAGE]}]})
        self.timeline = [(since, p) for since, p in self.timeline if since < effective]
        self.timeline.append((effective, price))

    @precondition(lambda self: self.ends == END)
    @rule(offset=st.integers(-200, 30), on_start=st.booleans())
    def cancel(self, offset, on_start):
        effective = START if on_start else min(max(self.today + timedelta(days=offset), START),
                                               END - timedelta(days=1))
        self.post(f"contracts/{self.contract['id']}/cancel",
                  {"effective_date": effective.isoformat()})
        self.ends = effective

    @rule(days_back=st.integers(0, 90), count=st.integers(1, 4))
    def usage(self, days_back, count):
        when = max(START, self.today - timedelta(days=days_back))
        events = []
        for _ in range(count):
            self.events += 1
            events.append({"event_id": f"e{self.events}", "customer": "acme",
                           "event_name": "api_call",
                           "timestamp": f"{when.isoformat()}T12:00:00Z"})
        result = self.post("events/batch", {"events": events})
        assert result["rejected"] == [], result

    def open_invoices(self) -> list[Invoice]:
        with self.context():
            return list(Invoice.objects.filter(
                organization=self.organization, status__in=("finalized", "uncollectible"),
                amount_due__gt=0).order_by("billing_date"))

    @rule(pick=st.integers(0, 1000), how=st.sampled_from(["part", "exact", "over"]))
    def payment(self, pick, how):
        invoices = self.open_invoices()
        if not invoices:
            return
        invoice = invoices[pick % len(invoices)]
        due = invoice.amount_due
        amount = {"part": max(CENT, round_money(due / 3, "USD")), "exact": due,
                  "over": due + Decimal("25.00")}[how]
        self.post(f"invoices/{invoice.id}/payments", {
            "method": "bank_transfer", "amount": str(round_money(amount, "USD")),
            "reference": f"TR-{pick}", "keep_excess_as_credit": how == "over"})

    @rule(pick=st.integers(0, 1000), share=st.sampled_from(["all", "half"]),
          source=st.sampled_from([None, "credit", "invoice"]))
    def refund(self, pick, share, source):
        with self.context():
            payments = list(Payment.objects.filter(
                organization=self.organization,
                status__in=("succeeded", "partially_refunded")).order_by("created_at", "id"))
        if not payments:
            return
        payment = payments[pick % len(payments)]
        left = payment.amount - payment.refunded_amount
        amount = left if share == "all" else max(CENT, round_money(left / 2, "USD"))
        body = {"amount": str(round_money(amount, "USD")), "reason": "Refund"}
        if source:
            body["from"] = source
        # refused (400) when that source has less than the amount: the books must not move
        self.post(f"payments/{payment.id}/refunds", body, status=(201, 400))

    @rule(amount=st.sampled_from(["10.00", "75.50", "400.00"]), expires=st.booleans())
    def grant(self, amount, expires):
        body = {"amount": amount, "reason": "Goodwill"}
        if expires:
            body["expires_at"] = (timezone.now() + timedelta(days=30)).isoformat()
        with self.context():
            customer = Customer.objects.get(organization=self.organization, external_id="acme")
        self.post(f"customers/{customer.id}/balance/grants", body)

    @rule()
    def credits_expire(self):
        with self.context():
            services.credits_expire_due(organization=self.organization,
                                        now=timezone.now() + timedelta(days=60))

    @rule(pick=st.integers(0, 1000), share=st.sampled_from(["all", "half", "cent"]),
          destination=st.sampled_from([None, "reduce_due", "customer_credit", "refund"]))
    def credit_note(self, pick, share, destination):
        with self.context():
            lines = list(InvoiceLine.objects.filter(
                invoice__organization=self.organization,
                invoice__status__in=("finalized", "paid"), amount__gt=0)
                .order_by("created_at", "id"))
            credited = {}
            for note_line in CreditNote.objects.filter(organization=self.organization) \
                    .values_list("lines__invoice_line_id", "lines__amount"):
                credited[note_line[0]] = credited.get(note_line[0], Decimal(0)) + \
                    (note_line[1] or Decimal(0))
        open_lines = [(line, line.amount - credited.get(line.id, Decimal(0))) for line in lines]
        open_lines = [(line, left) for line, left in open_lines if left > 0]
        if not open_lines:
            return
        line, left = open_lines[pick % len(open_lines)]
        amount = {"all": left, "half": round_money(left / 2, "USD") or CENT, "cent": CENT}[share]
        body = {"reason": "Goodwill", "lines": [{"line": str(line.id), "amount": str(amount)}]}
        if destination:
            body["destination"] = destination
        # a refund needs payments to send it back to; what is not due cannot reduce the due
        self.post(f"invoices/{line.invoice_id}/credit-notes", body, status=(201, 400))

    @rule()
    def everything_is_billed(self):
        """Generation and finalization twice (the corrections the first pass found land on a
        draft of their own, which the second pass finalizes), then the flat-fee check."""
        for _ in range(2):
            self.generate()
            self.finalize()
        self.check_the_flat_fee_is_billed_for_its_days()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_books_reconcile(self):
        """Σ final totals − Σ credit notes (what they took off) − Σ payments applied (credit
        applied included) + Σ refunds that reopened an invoice = Σ open amounts due; and each
        invoice: total − credited − credit applied − paid = due."""
        with self.context():
            live = Invoice.objects.filter(organization=self.organization, currency="USD") \
                .exclude(status__in=("draft", "void"))
            rows = InvoiceSettlement.objects.filter(
                organization=self.organization, currency="USD").exclude(
                invoice__status__in=("draft", "void"))

            def total(query, field="amount"):
                return sum(query.values_list(field, flat=True), Decimal(0))

            books = (total(live, "total") - total(rows.filter(kind="credit_note"))
                     - total(rows.filter(kind__in=("payment", "credit_applied")))
                     + total(rows.filter(kind="refund")))
            assert books == total(live, "amount_due")
            for invoice in live:
                assert invoice.amount_due == (invoice.total - invoice.amount_credited
                                              - invoice.credit_applied
                                              - invoice.amount_paid), invoice.number
                assert invoice.amount_due >= 0 or invoice.total < 0, invoice.number
                assert (invoice.status == "paid") == (invoice.amount_due <= 0), invoice.number

    @invariant()
    def the_credit_balance_is_the_sum_of_its_movements_and_never_negative(self):
        with self.context():
            customer = Customer.objects.get(organization=self.organization, external_id="acme")
            movements = sum(CustomerCredit.objects.filter(
                organization=self.organization, customer=customer).values_list(
                "amount", flat=True), Decimal(0))
            lots = sum(CreditGrant.objects.filter(
                organization=self.organization, customer=customer).values_list(
                "remaining", flat=True), Decimal(0))
            balance = services.customer_credit_balance(customer=customer, currency="USD")
        assert balance == movements == lots
        assert balance >= 0

    def check_the_flat_fee_is_billed_for_its_days(self):
        if self.generated_through is None:
            return
        expected = Decimal(0)
        day = START
        while day < self.ends:  # every day in force, billed when its piece's date has come
            month_start, month_end = month_of(day)
            # the piece of the month this day is in is billed on its first day (in advance):
            # the month's start, or the day its terms began
            since = max([s for s, _ in self.timeline if s <= day] + [month_start])
            if since <= self.generated_through:
                expected += self.price_on(day) / (month_end - month_start).days
            day += timedelta(days=1)
        with self.context():
            lines = list(InvoiceLine.objects.filter(
                invoice__organization=self.organization, product__sku="PLATFORM")
                .exclude(invoice__status="void").values_list("amount", "invoice__status"))
        assert all(status != "draft" for _, status in lines)  # everything is final
        billed = sum((amount for amount, _ in lines), Decimal(0))
        assert abs(billed - expected) <= CENT * max(1, len(lines)), (billed, expected,
                                                                     self.timeline, self.ends)


def tenancy_user():
    from django.contrib.auth import get_user_model

    email = f"owner-{uuid.uuid4().hex[:8]}@acme.test"
    return get_user_model().objects.create_user(username=email, email=email, password="x" * 12)


def test_money_reconciles_over_random_sequences():
    CALLS.clear()
    run_state_machine_as_test(MoneyMachine, settings=settings(
        max_examples=int(__import__("os").environ.get("SM_EXAMPLES", "25")), stateful_step_count=25, deadline=None, derandomize=not __import__("os").environ.get("SM_RANDOM"),
        database=None, suppress_health_check=list(HealthCheck)))
    print(sorted(CALLS.items()))
