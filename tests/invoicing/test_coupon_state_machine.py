"""Random sequences of what moves customer coupons, on one customer with two contracts:
redemptions and removals of percentage and fixed coupons (once, repeating, forever), time
passing, generation runs (drafts rated and re-rated), finalization, voids, and drafts deleted
(a contract cancelled from the date of its first open draft: its drafts leave the schedule and
the next run deletes them). After every step:

- a fixed coupon never took more than its amount, and what it took (its applications on
  invoices that stand) is exactly what its discount lines say on those invoices;
- each coupon line of an invoice has its application, and the other way round;
- no invoice goes below zero (no correction can occur here: nothing final is ever changed);
- a percentage coupon ``once`` discounts at most one invoice that stands, a ``repeating`` one
  at most N per contract; a removed coupon is on no draft rated since.

And every generation run is run twice: the second changes nothing a coupon consumed.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
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

from invoicing import services
from invoicing.models import Coupon, CouponApplication, CouponRedemption, Invoice, InvoiceLine
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)
HORIZON = date(2026, 9, 1)  # every simulated day is in the past: drafts can be final
PRICES = [Decimal("100.00"), Decimal("40.00"), Decimal("250.00"), Decimal("99.99")]
COUPONS = {  # code -> terms
    "FIXED150": {"kind": "fixed", "amount_off": "150.00", "currency": "USD",
                 "duration": "once"},
    "FIXED60F": {"kind": "fixed", "amount_off": "60.00", "currency": "USD",
                 "duration": "forever", "products": ["SUPPORT"]},
    "FIXED80R2": {"kind": "fixed", "amount_off": "80.00", "currency": "USD",
                  "duration": "repeating", "duration_periods": 2},
    "PCT20R3": {"kind": "percent", "percent_off": "20", "duration": "repeating",
                "duration_periods": 3},
    "PCT50O": {"kind": "percent", "percent_off": "50", "duration": "once"},
    "PCT10F": {"kind": "percent", "percent_off": "10", "duration": "forever",
               "products": ["PLATFORM"]},
}
CALLS: Counter = Counter()  # what the API answered, over the run (shown with -s)


def flat(sku: str, amount: Decimal) -> dict:
    return {"product": sku, "model": "flat_fee", "timing": "advance",
            "pricing": {"amount": str(amount)}}


class CouponMachine(RuleBasedStateMachine):
    """One organization per example (a fresh tenant), driven through the API and the
    services the schedule runs."""

    @initialize(platform=st.sampled_from(PRICES), support=st.sampled_from(PRICES),
                support_starts=st.sampled_from([START, date(2026, 2, 1), date(2026, 3, 15)]))
    def setup(self, platform, support, support_starts):
        owner = _user()
        self.organization = tenancy.organization_create(
            name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}", owner=owner)
        _, secret = tenancy.api_key_create(organization=self.organization, name="k",
                                           role="admin")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.customer = self.post("customers", {"external_id": "acme", "name": "Acme",
                                                "currency": "USD", "country": "US"})
        for sku in ("PLATFORM", "SUPPORT"):
            self.post("products", {"name": sku.title(), "sku": sku, "kind": "recurring",
                                   "revenue_rule": "ratable"})
        for code, terms in COUPONS.items():
            self.post("coupons", {"code": code, "name": code.title(), **terms})
        self.contracts = [
            self.post("contracts", {
                "customer": "acme", "name": sku.title(), "start_date": starts.isoformat(),
                "end_date": "2027-01-01", "status": "active",
                "phases": [{"start_date": starts.isoformat(), "end_date": "2027-01-01",
                            "items": [flat(sku, price)]}]})
            for sku, price, starts in (("PLATFORM", platform, START),
                                       ("SUPPORT", support, support_starts))]
        self.patch("invoice-settings", {"grace_period_hours": 24 * 400})  # we finalize
        self.today = START
        self.cancelled = False

    # --- plumbing --------------------------------------------------------------------------

    def post(self, path, body, status=(200, 201)):
        response = self.api.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code in status, (path, response.status_code, response.json())
        CALLS[f"POST {path.split('/')[0]}: {response.status_code}"] += 1
        return response.json()

    def patch(self, path, body):
        response = self.api.patch(f"/api/v1/{path}", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    def context(self):
        return tenant_context(self.organization)

    def invoices(self, *statuses) -> list[Invoice]:
        with self.context():
            return list(Invoice.objects.filter(organization=self.organization,
                                               status__in=statuses)
                        .order_by("billing_date", "created_at"))

    def consumed(self) -> dict[tuple[uuid.UUID, uuid.UUID], Decimal]:
        """(redemption, invoice) -> amount, for every application."""
        with self.context():
            return {(row.redemption_id, row.invoice_id): row.amount
                    for row in CouponApplication.objects.filter(organization=self.organization)}

    # --- rules -----------------------------------------------------------------------------

    @precondition(lambda self: self.today < HORIZON)
    @rule(days=st.integers(1, 50))
    def time_passes(self, days):
        """Days pass, and the hourly run with them."""
        CALLS["rule time_passes"] += 1
        self.today = min(self.today + timedelta(days=days), HORIZON)
        self.generation_runs_twice()

    @rule(code=st.sampled_from(sorted(COUPONS)), case=st.sampled_from([str.upper, str.lower]))
    def redeem(self, code, case):
        # a second redemption of the same coupon is refused (400 already_redeemed)
        self.post(f"customers/{self.customer['id']}/coupons", {"code": case(code)},
                  status=(201, 400))

    @rule(pick=st.integers(0, 100))
    def remove(self, pick):
        with self.context():
            ids = list(CouponRedemption.objects.filter(organization=self.organization)
                       .order_by("created_at").values_list("id", flat=True))
        if not ids:
            return
        response = self.api.delete(
            f"/api/v1/customers/{self.customer['id']}/coupons/{ids[pick % len(ids)]}")
        assert response.status_code == 200, response.json()
        CALLS["DELETE coupon"] += 1

    @rule()
    def generation_runs_twice(self):
        """The hourly run, and at once again: the second rates every draft again and must
        change nothing consumed."""
        with self.context():
            services.invoices_generate(organization=self.organization, today=self.today)
        first = self.consumed()
        CALLS[f"generation, {len(first)} applications"] += 1
        with self.context():
            services.invoices_generate(organization=self.organization, today=self.today)
        assert self.consumed() == first
        with self.context():  # a removed coupon is on no draft rated since
            assert not CouponApplication.objects.filter(
                organization=self.organization, invoice__status="draft",
                redemption__removed_at__isnull=False).exists()

    @rule()
    def drafts_finalize(self):
        CALLS["rule drafts_finalize"] += 1
        now = datetime.combine(date(2027, 12, 31), time(0), ZoneInfo("UTC"))
        with self.context():
            services.invoices_finalize_due(organization=self.organization, now=now)

    @rule(pick=st.integers(0, 100))
    def one_draft_finalized(self, pick):
        CALLS["rule one_draft_finalized"] += 1
        drafts = self.invoices("draft")
        if drafts:
            self.post(f"invoices/{drafts[pick % len(drafts)].id}/finalize", {})

    @rule(pick=st.integers(0, 100))
    def void(self, pick):
        CALLS["rule void"] += 1
        final = self.invoices("finalized")
        if final:
            self.post(f"invoices/{final[pick % len(final)].id}/void", {})

    @precondition(lambda self: not self.cancelled)
    @rule()
    def drafts_deleted(self):
        """SUPPORT cancelled from the date of its first open draft: every invoice before it is
        untouched (nothing to correct), its drafts leave the schedule, and the next run
        deletes them (their coupon applications with them)."""
        support = self.contracts[1]
        with self.context():
            first = Invoice.objects.filter(organization=self.organization,
                                           contract_id=support["id"], status="draft") \
                .order_by("billing_date").first()
            final_after = first is not None and Invoice.objects.filter(
                organization=self.organization, contract_id=support["id"],
                billing_date__gte=first.billing_date).exclude(status="draft").exists()
        if first is None or final_after:  # a final invoice after it would be corrected
            return
        self.post(f"contracts/{support['id']}/cancel",
                  {"effective_date": first.billing_date.isoformat()})
        self.cancelled = True
        CALLS["drafts deleted"] += 1
        self.generation_runs_twice()
        with self.context():
            assert not Invoice.objects.filter(id=first.id).exists()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def coupon_lines_and_applications_agree(self):
        with self.context():
            lines: dict[tuple[str, uuid.UUID], Decimal] = defaultdict(Decimal)
            for line in InvoiceLine.objects.filter(organization=self.organization,
                                                   derivation__has_key="coupon"):
                lines[(line.derivation["redemption_id"], line.invoice_id)] -= line.amount
            applications = {(str(r), i): amount for (r, i), amount in self.consumed().items()}
        assert dict(lines) == applications

    @invariant()
    def a_fixed_coupon_never_takes_more_than_its_amount(self):
        with self.context():
            for redemption in CouponRedemption.objects.filter(
                    organization=self.organization).select_related("coupon"):
                coupon = redemption.coupon
                standing = CouponApplication.objects.filter(redemption=redemption).exclude(
                    invoice__status="void")
                taken = sum(standing.values_list("amount", flat=True), Decimal(0))
                on_lines = -sum(InvoiceLine.objects.filter(
                    organization=self.organization,
                    derivation__redemption_id=str(redemption.id)).exclude(
                    invoice__status="void").values_list("amount", flat=True), Decimal(0))
                assert taken == on_lines
                if coupon.kind == Coupon.Kind.FIXED:
                    assert taken <= coupon.amount_off, (coupon.code, taken)
                counts = Counter(standing.values_list("invoice__contract_id", flat=True))
                if coupon.duration == Coupon.Duration.ONCE and coupon.kind == "percent":
                    assert sum(counts.values()) <= 1, coupon.code
                if coupon.duration == Coupon.Duration.REPEATING:
                    assert max(counts.values(), default=0) <= coupon.duration_periods

    @invariant()
    def no_invoice_goes_below_zero(self):
        with self.context():
            negative = list(Invoice.objects.filter(organization=self.organization,
                                                   total__lt=0).values_list("id", "total"))
        assert negative == []


def _user():
    from django.contrib.auth import get_user_model

    email = f"owner-{uuid.uuid4().hex[:8]}@acme.test"
    return get_user_model().objects.create_user(username=email, email=email, password="x" * 12)


def test_coupons_hold_over_random_sequences():
    CALLS.clear()
    run_state_machine_as_test(CouponMachine, settings=settings(
        max_examples=15, stateful_step_count=30, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck)))
    print(sorted(CALLS.items()))
