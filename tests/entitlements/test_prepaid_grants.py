"""Prepaid balances granted by invoices: when the product says ``finalized``, the lot comes
with the invoice's finalization (paid or not); a balance drawn to nothing is announced once
(``entitlement.balance_exhausted``), and a top-up makes room again."""

from __future__ import annotations

from datetime import UTC, datetime

from entitlements.models import Notice
from tests.support.entitlements import check, consume, feature, include
from tests.support.scenario import prepaid
from zenskar.webhooks.models import OutboxEvent


def test_a_block_granted_at_finalization_is_usable_before_it_is_paid(scenario, tenant, clock):
    clock.at(datetime(2026, 11, 2, 9, tzinfo=UTC))
    contract = prepaid(scenario, start="2026-11-01", end="2027-11-01")
    compute = next(p for p in scenario.get("products")["results"] if p["sku"] == "COMPUTE")
    feature(scenario, "compute_hours", "prepaid", meter="hours")
    include(scenario, compute["id"], "compute_hours", value="100", grant_on="finalized")
    scenario.run("2026-11-01")
    invoice = scenario.invoices(contract["id"])[0]
    if invoice["status"] == "draft":
        assert check(scenario, "acme", "compute_hours")["reason"] == "not_granted"
        invoice = scenario.finalize(invoice["id"])
    assert invoice["status"] == "finalized"  # unpaid
    granted = check(scenario, "acme", "compute_hours")
    assert (granted["allowed"], granted["limit"], granted["remaining"]) == (True, "100", "100")

    # All 100 hours taken: the balance is exhausted, announced once.
    assert consume(scenario, "acme", "compute_hours", "100", key="all")["remaining"] == "0"
    assert consume(scenario, "acme", "compute_hours", "1", key="more")["granted"] == "0"
    with tenant.context():
        kinds = sorted(Notice.objects.filter(organization=tenant.organization)
                       .values_list("kind", flat=True))
        outbox = OutboxEvent.objects.filter(organization=tenant.organization,
                                            event_type="entitlement.balance_exhausted")
        assert outbox.count() == 1
    assert kinds == ["entitlement.balance_exhausted", "entitlement.balance_topped_up"]

    # A person tops the balance up by 20 hours: 120 granted, 100 used, 20 left.
    customer = scenario.get("customers", external_id="acme")["results"][0]
    scenario.post(f"customers/{customer['id']}/balances",
                  {"feature": "compute_hours", "units": "20", "reason": "Goodwill"})
    topped = check(scenario, "acme", "compute_hours")
    assert (topped["limit"], topped["used"], topped["remaining"]) == ("120", "100", "20")
