"""Grants follow the contract: an amendment changes the limit from its effective date (at
once, no cache in the way), the contract's end removes the entitlement, and a phase's
override replaces what its products include."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.entitlements import check, consume, feature, include
from tests.support.scenario import flat


def _gold_and_platinum(scenario) -> dict:
    scenario.customer()
    gold = scenario.product("GOLD")
    platinum = scenario.product("PLATINUM")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    feature(scenario, "sso", "boolean")
    include(scenario, gold["id"], "api_calls", value="1000")
    include(scenario, platinum["id"], "api_calls", value="5000")
    include(scenario, platinum["id"], "sso", enabled=True)
    return scenario.contract(start="2026-11-01", end="2027-01-01",
                             items=[flat("GOLD", "499.00")])


def test_an_amendment_mid_month_raises_the_limit_at_once(scenario, clock):
    contract = _gold_and_platinum(scenario)
    clock.at(datetime(2026, 11, 14, 12, tzinfo=UTC))
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-11-14T09:00:00Z", {})
                      for i in range(1000)])
    at_limit = check(scenario, "acme", "api_calls")
    assert (at_limit["allowed"], at_limit["limit"], at_limit["remaining"]) == (
        False, "1000", "0")
    assert check(scenario, "acme", "sso")["allowed"] is False  # Gold has no SSO

    # Upgraded to Platinum from today, the 14th: the limit is 5,000 at once, the month's
    # 1,000 calls already made still count: 5,000 - 1,000 = 4,000 left.
    scenario.post(f"contracts/{contract['id']}/amendments", {
        "effective_date": "2026-11-14",
        "phases": [{"start_date": "2026-11-14", "end_date": "2027-01-01",
                    "items": [flat("PLATINUM", "999.00")]}]})
    raised = check(scenario, "acme", "api_calls")
    assert (raised["allowed"], raised["limit"], raised["used"], raised["remaining"]) == (
        True, "5000", "1000", "4000")
    assert check(scenario, "acme", "sso")["allowed"] is True
    assert consume(scenario, "acme", "api_calls", 1, key="after-upgrade")["allowed"] is True


def test_the_contracts_end_removes_the_entitlement(scenario, clock):
    _gold_and_platinum(scenario)
    clock.at(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))  # the last minute of the term
    assert check(scenario, "acme", "api_calls")["allowed"] is True
    clock.at(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))  # end_date 2027-01-01 is not covered
    ended = check(scenario, "acme", "api_calls")
    assert (ended["allowed"], ended["reason"], ended["limit"]) == (False, "not_granted", None)
    denied = consume(scenario, "acme", "api_calls", 1, key="after-end")
    assert (denied["allowed"], denied["granted"]) == (False, "0")


def test_cancelling_the_contract_removes_the_entitlement(scenario, clock):
    contract = _gold_and_platinum(scenario)
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert check(scenario, "acme", "api_calls")["allowed"] is True
    scenario.post(f"contracts/{contract['id']}/cancel", {"effective_date": "2026-11-20"},
                  status=200)
    assert check(scenario, "acme", "api_calls")["reason"] == "not_granted"


def test_a_phase_override_replaces_what_the_product_includes(scenario, clock):
    scenario.customer()
    gold = scenario.product("GOLD")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    feature(scenario, "seats", "numeric")
    include(scenario, gold["id"], "api_calls", value="1000")
    include(scenario, gold["id"], "seats", value="10")
    contract = scenario.contract(start="2026-11-01", end="2027-11-01", phases=[
        {"start_date": "2026-11-01", "end_date": "2027-11-01", "items": [flat("GOLD", "499.00")],
         "entitlements": {"api_calls": {"value": "2500", "policy": "soft"}}}])
    clock.at(datetime(2026, 11, 10, tzinfo=UTC))
    calls = check(scenario, "acme", "api_calls")
    assert (calls["limit"], calls["policy"]) == ("2500", "soft")
    # The product's 10 seats stand (no override for seats): 10 allowed, 11 not.
    assert check(scenario, "acme", "seats", amount="10")["allowed"] is True
    assert check(scenario, "acme", "seats", amount="11")["allowed"] is False

    # Overrides changed from the 15th through the contract's own service (an amendment).
    scenario.post(f"contracts/{contract['id']}/entitlements", {
        "effective_date": "2026-11-15", "entitlements": {"seats": {"value": "25"},
                                                         "api_calls": None}}, status=200)
    clock.at(datetime(2026, 11, 15, 8, tzinfo=UTC))
    assert check(scenario, "acme", "seats", amount="25")["allowed"] is True
    assert check(scenario, "acme", "api_calls")["limit"] == "1000"  # the product's again


def test_several_contracts_add_their_limits_and_the_most_lenient_policy_wins(scenario, clock):
    scenario.customer()
    gold = scenario.product("GOLD")
    addon = scenario.product("CALLS-PACK")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    include(scenario, gold["id"], "api_calls", value="1000")
    include(scenario, addon["id"], "api_calls", value="500", policy="overage")
    scenario.contract(start="2026-11-01", end="2027-11-01", items=[flat("GOLD", "499.00")])
    scenario.contract(start="2026-11-01", end="2027-11-01", items=[flat("CALLS-PACK", "50.00")])
    clock.at(datetime(2026, 11, 10, tzinfo=UTC))
    both = check(scenario, "acme", "api_calls")
    # 1,000 + 500 = 1,500; overage (the pack's) is more lenient than hard (Gold's).
    assert (both["limit"], both["policy"]) == ("1500", "overage")
