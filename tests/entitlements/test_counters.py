"""The usage counters' two homes: PostgreSQL, the truth, moved with the events in their
transaction; Redis, the hot path, loaded from it. Redis lost or wrong never grants more
than the limit, and the reconciliation repairs and reports every drift."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.cache import cache

from entitlements import counters
from entitlements.models import Reconciliation, UsageCounter
from entitlements.services import reconcile
from tests.support.entitlements import check, consume, feature, include
from tests.support.scenario import flat


def _limit_of_10(scenario) -> None:
    scenario.customer()
    plan = scenario.product("STARTER")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    include(scenario, plan["id"], "api_calls", value="10")
    scenario.contract(start="2026-11-01", end="2027-11-01", items=[flat("STARTER", "9.00")])


def _flush_redis(isolated_cache) -> None:
    """What a Redis restart without persistence does to this test's keys."""
    client = counters.redis()
    keys = list(client.scan_iter(match=f"{isolated_cache}:*", count=1000))
    if keys:
        client.delete(*keys)


def _counter_rows(tenant) -> dict[date, Decimal]:
    with tenant.context():
        return dict(UsageCounter.objects.filter(organization=tenant.organization,
                                                customer="acme", meter_key="api_calls")
                    .values_list("day", "value"))


def test_events_count_once_per_day_of_the_customers_zone(scenario, tenant, clock):
    scenario.customer(time_zone="America/New_York")
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    # 03:00 UTC on the 19th is 22:00 on the 18th in New York (UTC-5); 05:00 UTC is 00:00.
    scenario.events(("e-1", "acme", "api_call", "2026-11-19T03:00:00Z", {}),
                    ("e-2", "acme", "api_call", "2026-11-19T05:00:00Z", {}),
                    ("e-3", "acme", "api_call", "2026-11-19T06:00:00Z", {}),
                    ("e-3", "acme", "api_call", "2026-11-19T06:00:00Z", {}),  # a resend
                    ("x-1", "acme", "other_event", "2026-11-19T06:00:00Z", {}))
    assert _counter_rows(tenant) == {date(2026, 11, 18): Decimal(1), date(2026, 11, 19): 2}


def test_redis_lost_never_grants_more_than_the_limit(scenario, tenant, clock, isolated_cache):
    _limit_of_10(scenario)
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-11-20T09:00:00Z", {})
                      for i in range(7)])
    assert check(scenario, "acme", "api_calls")["used"] == "7"  # the hash is loaded
    _flush_redis(isolated_cache)
    # Consuming reads PostgreSQL under its lock: 10 - 7 = 3 left, 5 asked, 3 granted.
    taken = consume(scenario, "acme", "api_calls", 5, key="k-1", partial=True)
    assert (taken["granted"], taken["remaining"]) == ("3", "0")
    # The check reloads the hash from PostgreSQL: 7 + 3 = 10 used.
    after = check(scenario, "acme", "api_calls")
    assert (after["used"], after["allowed"]) == ("10", False)
    _flush_redis(isolated_cache)
    assert consume(scenario, "acme", "api_calls", 1, key="k-2")["granted"] == "0"


def test_the_reconciliation_repairs_and_reports_drift(scenario, tenant, clock, isolated_cache):
    _limit_of_10(scenario)
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-11-20T09:00:00Z", {})
                      for i in range(6)])
    assert check(scenario, "acme", "api_calls")["used"] == "6"
    # Drift in both homes: the database row says 2 (4 events lost), Redis says 1.
    with tenant.context():
        UsageCounter.objects.filter(organization=tenant.organization).update(value=2)
    client = counters.redis()
    key = counters.hash_key(tenant.organization.id, "acme", "api_calls")
    client.hset(key, "2026-11-20", "1")
    assert check(scenario, "acme", "api_calls")["used"] == "1"  # what Redis says

    with tenant.context():
        run = reconcile(organization=tenant.organization)
    assert (run.database_repaired, run.cache_repaired, run.error) == (1, 1, "")
    assert {(d["where"], d["held"], d["now"]) for d in run.drift} == {
        ("database", "2", "6"), ("cache", "1", "6")}
    assert _counter_rows(tenant) == {date(2026, 11, 20): Decimal(6)}
    repaired = check(scenario, "acme", "api_calls")
    assert (repaired["used"], repaired["remaining"]) == ("6", "4")
    # 10 - 6 = 4 left: asking 5 under the hard limit gets nothing, 4 gets 4.
    assert consume(scenario, "acme", "api_calls", 5, key="k-1")["granted"] == "0"
    assert consume(scenario, "acme", "api_calls", 4, key="k-2")["granted"] == "4"

    # A second run finds nothing to repair; both runs are listed through the API.
    with tenant.context():
        again = reconcile(organization=tenant.organization)
        assert (again.database_repaired, again.cache_repaired) == (0, 0)
        assert Reconciliation.objects.filter(organization=tenant.organization).count() == 2
    listed = scenario.get("entitlements/reconciliations")["results"]
    assert sorted(r["database_repaired"] for r in listed) == [0, 1]


def test_a_check_with_redis_unreachable_answers_from_postgresql(scenario, tenant, clock,
                                                                monkeypatch):
    _limit_of_10(scenario)
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-11-20T09:00:00Z", {})
                      for i in range(4)])

    def unreachable():
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(counters, "redis", unreachable)
    monkeypatch.setattr("entitlements.grants.redis", unreachable)
    down = check(scenario, "acme", "api_calls")
    assert (down["used"], down["remaining"], down["allowed"]) == ("4", "6", True)
    assert cache  # the API-key cache is Django's; it is not what is down here
