"""What happens at the limit (hard, soft, overage), the notifications sent through the
outbox once per window, prepaid lots that expire, and the edges of the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.models import Customer
from entitlements import handlers
from entitlements.models import BalanceLot, Feature, Notice
from entitlements.services import balance_grant, balances_expire, notices_evaluate
from tests.support.entitlements import check, consume, feature, include
from tests.support.scenario import flat
from zenskar.webhooks.models import OutboxEvent


def _plan(scenario, *, limit="100", policy="hard", notify_at=None) -> None:
    scenario.customer()
    plan = scenario.product("PLAN")
    scenario.meter("api_calls", event_name="api_call")
    fields = {"notify_at": notify_at} if notify_at else {}
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly", **fields)
    include(scenario, plan["id"], "api_calls", value=limit, policy=policy)
    scenario.contract(start="2026-11-01", end="2027-11-01", items=[flat("PLAN", "10.00")])


def _calls(scenario, count, prefix="c", day="2026-11-20"):
    scenario.events(*[(f"{prefix}-{i}", "acme", "api_call", f"{day}T09:00:00Z", {})
                      for i in range(count)])


def test_soft_limit_allows_past_the_limit_and_says_so(scenario, clock):
    _plan(scenario, limit="10", policy="soft")
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    _calls(scenario, 10)
    over = check(scenario, "acme", "api_calls")
    assert (over["allowed"], over["reason"], over["remaining"]) == (True, "soft_limit", "0")
    taken = consume(scenario, "acme", "api_calls", 3, key="k")
    # soft: all 3 granted, 10 + 3 = 13 used, remaining never below 0
    assert (taken["granted"], taken["used"], taken["remaining"]) == ("3", "13", "0")


def test_overage_allows_and_the_excess_is_billed_through_the_contract(scenario, clock):
    scenario.customer()
    plan = scenario.product("PLAN")
    scenario.product("CALLS", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    include(scenario, plan["id"], "api_calls", value="10", policy="overage")
    contract = scenario.contract(start="2026-11-01", end="2027-11-01", items=[
        flat("PLAN", "10.00"),
        {"product": "CALLS", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "0.50", "included_units": "10"}}])
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    _calls(scenario, 10)
    taken = consume(scenario, "acme", "api_calls", 4, key="k")
    assert (taken["allowed"], taken["granted"], taken["reason"]) == (True, "4", "overage")
    clock.at(datetime(2026, 12, 1, 12, tzinfo=UTC))
    scenario.run("2026-12-01")
    november = next(i for i in scenario.invoices(contract["id"])
                    if i["billing_date"] == "2026-12-01")
    usage_line = next(line for line in scenario.invoice(november["id"])["lines"]
                      if line["kind"] == "usage")
    # 10 + 4 = 14 calls, 10 included: 4 x 0.50 = 2.00 of overage billed
    assert usage_line["amount"] == "2.00"


def test_limit_notices_are_sent_once_per_window(scenario, tenant, clock):
    _plan(scenario, limit="10", notify_at="0.8")
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    _calls(scenario, 7)
    with tenant.context():
        pairs = handlers.dirty_take(tenant.organization.id)
        assert pairs == {("acme", "api_calls")}
        notices_evaluate(organization=tenant.organization, pairs=pairs)
        assert not Notice.objects.filter(organization=tenant.organization).exists()  # 7 < 8
    _calls(scenario, 1, prefix="d")  # 8 = 80 % of 10
    with tenant.context():
        notices_evaluate(organization=tenant.organization,
                         pairs=handlers.dirty_take(tenant.organization.id))
    consume(scenario, "acme", "api_calls", 2, key="last-two")  # 10: the limit
    _calls(scenario, 1, prefix="e")  # 11: past it, nothing new to say
    with tenant.context():
        notices_evaluate(organization=tenant.organization,
                         pairs=handlers.dirty_take(tenant.organization.id))
        kinds = sorted(Notice.objects.filter(organization=tenant.organization)
                       .values_list("kind", flat=True))
        outbox = sorted(OutboxEvent.objects.filter(
            organization=tenant.organization, event_type__startswith="entitlement.")
            .values_list("event_type", flat=True))
    assert kinds == outbox == ["entitlement.limit_approaching", "entitlement.limit_reached"]
    # December is another window: its notices are new ones.
    clock.at(datetime(2026, 12, 20, 12, tzinfo=UTC))
    _calls(scenario, 10, prefix="dec", day="2026-12-20")
    with tenant.context():
        notices_evaluate(organization=tenant.organization,
                         pairs=handlers.dirty_take(tenant.organization.id))
        assert Notice.objects.filter(organization=tenant.organization).count() == 4
    listed = scenario.get("entitlements/notices")["results"]
    assert len(listed) == 4 and {n["customer"] for n in listed} == {"acme"}


def _prepaid(scenario, tenant) -> tuple[Customer, Feature]:
    scenario.customer()
    scenario.meter("hours", event_name="compute", aggregation="sum", value_property="$.hours")
    feature(scenario, "compute_hours", "prepaid", meter="hours")
    with tenant.context():
        return (Customer.objects.get(organization=tenant.organization, external_id="acme"),
                Feature.objects.get(organization=tenant.organization, key="compute_hours"))


def test_prepaid_lots_draw_down_earliest_expiry_first_and_forfeit_the_rest(
        scenario, tenant, clock, django_capture_on_commit_callbacks):
    customer, hours = _prepaid(scenario, tenant)
    start = clock.at(datetime(2026, 11, 2, 9, tzinfo=UTC))
    with tenant.context(), django_capture_on_commit_callbacks(execute=True):
        balance_grant(customer=customer, feature=hours, units="100", source="grant:a",
                      expires_at=start + timedelta(days=10), now=start)
        balance_grant(customer=customer, feature=hours, units="50", source="grant:b", now=start)
        # a retried grant finds its lot
        balance_grant(customer=customer, feature=hours, units="100", source="grant:a",
                      expires_at=start + timedelta(days=10), now=start)
    clock.at(datetime(2026, 11, 5, 9, tzinfo=UTC))
    scenario.events(("h-1", "acme", "compute", "2026-11-05T08:00:00Z", {"hours": 70}))
    assert check(scenario, "acme", "compute_hours")["remaining"] == "80"  # 150 - 70
    expiry = clock.at(datetime(2026, 11, 12, 10, tzinfo=UTC))
    with tenant.context(), django_capture_on_commit_callbacks(execute=True):
        assert balances_expire(organization=tenant.organization, now=expiry) == 1
        assert balances_expire(organization=tenant.organization, now=expiry) == 0
        lot = BalanceLot.objects.get(organization=tenant.organization, source="grant:a")
    # 70 hours drew lot a (expiring first) down to 30; lot b (no expiry) still holds 50.
    # At a's expiry: 80 left - 50 of b = 30 forfeited; 150 - 30 - 70 = 50 remain.
    assert lot.forfeited == 30
    after = check(scenario, "acme", "compute_hours")
    assert (after["limit"], after["used"], after["remaining"]) == ("120", "70", "50")
    with tenant.context():
        topped = Notice.objects.filter(organization=tenant.organization,
                                       kind=Notice.Kind.BALANCE_TOPPED_UP).count()
    assert topped == 2  # two lots, the retry sent nothing


def test_the_check_api_refuses_bad_input_with_4xx(scenario, tenant, other_tenant, clock):
    _plan(scenario)
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    client = scenario.client
    for params, status, field in [
        ({"feature": "api_calls"}, 400, "customer"),
        ({"customer": "acme"}, 400, "feature"),
        ({"customer": "acme\x00", "feature": "api_calls"}, 400, "customer"),
        ({"customer": "x" * 300, "feature": "api_calls"}, 400, "customer"),
        ({"customer": "acme", "feature": "api_calls", "amount": "1" * 40}, 400, "amount"),
        ({"customer": "acme", "feature": "api_calls", "amount": "-1"}, 400, "amount"),
        ({"customer": "acme", "feature": "api_calls", "amount": "NaN"}, 400, "amount"),
    ]:
        response = client.get("/api/v1/entitlements/check", params)
        assert response.status_code == status, (params, response.json())
        error = response.json()["error"]
        # the field named (a NUL is refused at the door, by a message naming it)
        assert field in error.get("fields", {}) or field in error["message"], params
    unknown = client.get("/api/v1/entitlements/check", {"customer": "nobody",
                                                        "feature": "api_calls"})
    assert unknown.status_code == 404
    assert "nobody" in unknown.json()["error"]["message"]
    assert client.get("/api/v1/entitlements/check", {"customer": "acme",
                                                     "feature": "nope"}).status_code == 404
    for body, field in [({"customer": "acme", "feature": "api_calls", "amount": 1.5,
                          "key": "k"}, "amount"),
                        ({"customer": "acme", "feature": "api_calls", "amount": "0",
                          "key": "k"}, "amount"),
                        ({"customer": "acme", "feature": "api_calls", "amount": "2.5",
                          "key": "k"}, "amount"),  # a count meter counts whole events
                        ({"customer": "acme", "feature": "api_calls", "amount": "1",
                          "key": ""}, "key")]:
        response = client.post("/api/v1/entitlements/consume", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json()["error"]["fields"], body
    # A key is one call: reused for another customer, it is refused, not replayed.
    scenario.customer("globex")
    assert consume(scenario, "acme", "api_calls", 1, key="k-shared")["granted"] == "1"
    reused = client.post("/api/v1/entitlements/consume", {
        "customer": "globex", "feature": "api_calls", "amount": "1", "key": "k-shared"},
        format="json")
    assert reused.status_code == 400
    assert reused.json()["error"]["codes"]["key"] == ["key_reused"]
    # Another organization's engineers know nothing of acme.
    foreign = other_tenant.client().get("/api/v1/entitlements/check",
                                        {"customer": "acme", "feature": "api_calls"})
    assert foreign.status_code == 404


def test_batch_check_and_the_customers_list(scenario, tenant, clock):
    _plan(scenario, limit="100")
    feature(scenario, "sso", "boolean")
    feature(scenario, "exports", "boolean")
    plan = next(p for p in scenario.get("products")["results"] if p["sku"] == "PLAN")
    include(scenario, plan["id"], "sso", enabled=True)
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    _calls(scenario, 30)
    batch = scenario.get("entitlements/batch-check", customer="acme",
                         features="api_calls,sso,exports")
    assert [(e["feature"], e["allowed"], e["reason"]) for e in batch["entitlements"]] == [
        ("api_calls", True, "within_limit"), ("sso", True, "granted"),
        ("exports", False, "not_granted")]
    customer = scenario.get("customers", external_id="acme")["results"][0]
    listed = scenario.get(f"customers/{customer['id']}/entitlements")["entitlements"]
    by_key = {e["feature"]: e for e in listed}
    assert (by_key["api_calls"]["used"], by_key["api_calls"]["remaining"]) == ("30", "70")
    assert by_key["exports"]["reason"] == "not_granted"
