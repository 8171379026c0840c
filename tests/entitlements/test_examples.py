"""The product description's two examples, end to end through the API.

1. A customer buys 100 hours of compute for $20 and is entitled to 100 hours: the invoice
   is paid -> 100 granted -> 60 used -> 40 remain -> a call for 45 more is denied (hard)
   -> what is left is taken -> 0 remain and the next call is denied.
2. A "Gold plan" includes 1,000 API calls a month, "exceeding which the service is
   cancelled": the 1,000th call of a month is allowed, the 1,001st denied, and the next
   month starts again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.support.entitlements import check, consume, feature, include
from tests.support.scenario import flat, prepaid


def _pay(scenario, invoice) -> None:
    if invoice["status"] == "draft":
        invoice = scenario.finalize(invoice["id"])
    scenario.post(f"invoices/{invoice['id']}/payments",
                  {"method": "bank_transfer", "reference": "TR-1"})


def test_100_hours_bought_for_20_dollars(scenario, clock):
    clock.at(datetime(2026, 11, 2, 9, tzinfo=UTC))
    contract = prepaid(scenario, start="2026-11-01", end="2027-11-01")
    compute = next(p for p in scenario.get("products")["results"] if p["sku"] == "COMPUTE")
    feature(scenario, "compute_hours", "prepaid", meter="hours", unit="hours")
    include(scenario, compute["id"], "compute_hours", value="100")  # 100 hours per block
    scenario.run("2026-11-01")
    purchase = scenario.invoices(contract["id"])[0]
    assert purchase["total"] == "20.00"  # one block of 100 hours at 20.00

    # Finalized but unpaid: nothing granted yet (the product grants on payment).
    if purchase["status"] == "draft":
        purchase = scenario.finalize(purchase["id"])
    assert check(scenario, "acme", "compute_hours")["reason"] == "not_granted"

    _pay(scenario, purchase)
    granted = check(scenario, "acme", "compute_hours")
    assert {k: granted[k] for k in ("allowed", "limit", "used", "remaining", "reason")} == {
        "allowed": True, "limit": "100", "used": "0", "remaining": "100",
        "reason": "within_limit"}

    # 60 hours of usage pushed through the metering API: 100 - 60 = 40 left.
    clock.at(datetime(2026, 11, 25, 9, tzinfo=UTC))
    scenario.events(("h-1", "acme", "compute", "2026-11-20T10:00:00Z", {"hours": 25}),
                    ("h-2", "acme", "compute", "2026-11-21T10:00:00Z", {"hours": "35"}))
    after_60 = check(scenario, "acme", "compute_hours")
    assert (after_60["used"], after_60["remaining"], after_60["allowed"]) == ("60", "40", True)
    # A resend of an event already counted changes nothing.
    scenario.events(("h-2", "acme", "compute", "2026-11-21T10:00:00Z", {"hours": "35"}))
    assert check(scenario, "acme", "compute_hours")["remaining"] == "40"

    # 45 more would take the balance to -5: denied (hard), nothing consumed.
    denied = consume(scenario, "acme", "compute_hours", "45", key="job-1")
    assert (denied["allowed"], denied["granted"], denied["remaining"], denied["reason"]) == (
        False, "0", "40", "balance_exhausted")
    assert check(scenario, "acme", "compute_hours", amount="45")["allowed"] is False

    # Asked for 45 again, taking what is left: 40 granted, 40 - 40 = 0 remain.
    partial = consume(scenario, "acme", "compute_hours", "45", key="job-2", partial=True)
    assert (partial["allowed"], partial["granted"], partial["remaining"]) == (True, "40", "0")
    exhausted = check(scenario, "acme", "compute_hours")
    assert (exhausted["allowed"], exhausted["remaining"], exhausted["used"],
            exhausted["reason"]) == (False, "0", "100", "balance_exhausted")

    # The consumed hours are usage like any other: the meter holds 60 + 40 = 100 hours.
    usage = scenario.get("usage", meter="hours", customer="acme",
                         start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")
    assert [Decimal(row["quantity"]) for row in usage["rows"]] == [Decimal(100)]


def test_gold_plan_1000_calls_a_month(scenario, clock):
    scenario.customer()
    gold = scenario.product("GOLD")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    include(scenario, gold["id"], "api_calls", value="1000")  # 1,000 calls a month
    scenario.contract(start="2026-11-01", end="2027-11-01", items=[flat("GOLD", "499.00")])

    clock.at(datetime(2026, 12, 15, 12, tzinfo=UTC))
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-12-15T09:00:00Z", {})
                      for i in range(999)])
    # 999 calls made: the 1,000th is allowed (999 + 1 <= 1,000) ...
    thousandth = check(scenario, "acme", "api_calls")
    assert (thousandth["allowed"], thousandth["used"], thousandth["remaining"]) == (
        True, "999", "1")
    assert thousandth["resets_at"] == "2027-01-01T00:00:00+00:00"
    taken = consume(scenario, "acme", "api_calls", 1, key="call-1000")
    assert (taken["allowed"], taken["used"], taken["remaining"]) == (True, "1000", "0")
    # ... the 1,001st is denied: 1,000 + 1 > 1,000.
    over = consume(scenario, "acme", "api_calls", 1, key="call-1001")
    assert (over["allowed"], over["granted"], over["reason"]) == (False, "0", "limit_reached")
    assert check(scenario, "acme", "api_calls")["allowed"] is False
    # A retried call gets its first answer and consumes nothing.
    again = consume(scenario, "acme", "api_calls", 1, key="call-1000")
    assert (again["replayed"], again["used"]) == (True, "1000")

    # January: a new month, a new allowance.
    clock.at(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    january = check(scenario, "acme", "api_calls")
    assert (january["allowed"], january["used"], january["remaining"], january["limit"]) == (
        True, "0", "1000", "1000")
    assert consume(scenario, "acme", "api_calls", 1, key="jan-1")["allowed"] is True
