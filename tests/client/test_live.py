"""The Python client against the live test server, as a tenant's engineer uses it: create a
customer, push usage in batches, read it back, preview what it costs; and the guarantees of
its ingestion when answers are lost or the API throttles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from zenskar_client import Client, InvalidRequest, NotFound

from tests.support.client import LosingTransport, api_key
from tests.support.entitlements import feature
from tests.support.scenario import Scenario
from zenskar.core import ratelimit

START = datetime(2026, 11, 2, tzinfo=UTC)


def _calls(count: int, *, customer: str = "acme") -> list[dict]:
    """``count`` events without ids, one second apart from START; event i carries
    ``calls = i % 5 + 1``."""
    return [{"customer": customer, "event_name": "api_call",
             "timestamp": START + timedelta(seconds=i), "properties": {"calls": i % 5 + 1}}
            for i in range(count)]


@pytest.fixture
def acme(tenant, live_client):
    """A customer made through the client, and a meter summing the events' ``calls``."""
    scenario = Scenario(tenant)  # a usage window of ten years
    scenario.meter("api_calls", event_name="api_call", aggregation="sum",
                   value_property="$.calls")
    return live_client().customers.create(external_id="acme", name="Acme", currency="USD",
                                          country="US")


def _usage(client: Client) -> Decimal:
    return client.usage.quantity(meter="api_calls", customer="acme", start=START,
                                 end=START + timedelta(days=1))


def test_ten_thousand_events_in_batches_are_counted_once(acme, live_client):
    client = live_client()
    events = _calls(10_000)

    summary = client.events.ingest(events, batch_size=1000)
    again = client.events.ingest(events, batch_size=2500)  # the same events: ids kept

    assert (summary.sent, summary.accepted, summary.duplicates, summary.rejected,
            summary.batches, summary.retries) == (10_000, 10_000, 0, [], 10, 0)
    assert (again.sent, again.accepted, again.duplicates, again.batches) == (
        10_000, 0, 10_000, 4)
    # calls cycle 1..5: 2,000 cycles x (1 + 2 + 3 + 4 + 5) = 30,000
    assert _usage(client) == Decimal(30_000)
    assert client.customers.find("acme")["id"] == acme["id"]


def test_a_lost_answer_is_retried_with_the_same_ids_and_counted_once(acme, live_client, sleeps):
    losing = LosingTransport(path="/api/v1/events/batch", lose=1)
    client = live_client(transport=losing)

    summary = client.events.ingest(_calls(300), batch_size=100)

    batches = [sent for sent in losing.sent if sent.path == "/api/v1/events/batch"]
    assert len(batches) == 4  # the first batch twice: its answer was lost
    first, retried = batches[0], batches[1]
    assert retried.body == first.body  # the same events with the same ids
    assert retried.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
    # the API replayed its first answer: 100 accepted, not 100 duplicates
    assert (summary.sent, summary.accepted, summary.duplicates, summary.retries) == (
        300, 300, 0, 1)
    assert sleeps == [0.5]  # one back-off, no real wait
    # 300 events: 60 cycles x 15 = 900
    assert _usage(client) == Decimal(900)


def test_the_same_events_sent_again_by_a_new_run_are_duplicates(acme, live_client):
    events = _calls(50)
    live_client().events.ingest(events)
    losing = LosingTransport(path="/api/v1/events/batch", lose=1)

    again = live_client(transport=losing).events.ingest(events)  # as after a crash

    assert (again.accepted, again.duplicates, again.retries) == (0, 50, 1)
    # 50 events: 10 cycles x 15 = 150, counted once
    assert _usage(live_client()) == Decimal(150)


def test_a_throttled_batch_waits_out_retry_after(acme, live_client, sleeps, settings,
                                                 monkeypatch):
    moment = [1_800_000_010.0]  # 10 s into a minute
    monkeypatch.setattr(ratelimit, "now", lambda: moment[0])
    sleeps.then = lambda seconds: moment.__setitem__(0, moment[0] + seconds)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api_key": "2/min"}}
    client = live_client()

    summary = client.events.ingest(_calls(30), batch_size=10)

    # two batches in the minute; the third is refused until it ends: 60 - 10 = 50 s
    assert sleeps == [50]
    assert (summary.sent, summary.accepted, summary.batches, summary.retries) == (30, 30, 3, 1)


def test_a_refused_event_comes_back_with_its_place_and_reasons(acme, live_client):
    events = _calls(3)
    events[1]["timestamp"] = datetime.now(UTC) + timedelta(days=1)

    summary = live_client().events.ingest(events)

    [rejected] = summary.rejected
    assert (rejected.index, rejected.event_id) == (1, events[1]["event_id"])
    assert list(rejected.errors) == ["timestamp"]
    assert (summary.sent, summary.accepted) == (3, 2)


def test_previews_and_checks_read_as_typed_bodies(tenant, acme, live_client):
    scenario = Scenario(tenant)
    scenario.product("API", kind="usage")
    feature(scenario, "sso", "boolean")  # granted by no product
    contract = scenario.contract(start="2026-11-01", end="2027-11-01", items=[
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "0.01"}}])
    client = live_client()
    client.events.ingest(_calls(20))

    usage = client.usage.current(acme["id"], as_of=date(2026, 11, 15))
    one = client.usage.current_for_contract(contract["id"], as_of="2026-11-15")
    upcoming = client.invoices.upcoming(acme["id"], as_of=date(2026, 11, 15))
    check = client.entitlements.check(customer="acme", feature="sso")

    # 20 events: 4 cycles x 15 = 60 calls x 0.01 = 0.60
    [contract_usage] = usage["contracts"]
    assert contract_usage == one | {"computed_at": contract_usage["computed_at"]}
    assert [(i["meter"], i["quantity"], i["total"]) for i in one["items"]] == [
        ("api_calls", "60", "0.60")]
    assert (upcoming["billing_date"], upcoming["total"]) == ("2026-12-01", "0.60")
    assert (check["allowed"], check["reason"]) == (False, "not_granted")


def test_errors_carry_the_apis_body(tenant, acme, live_client, other_tenant, live_server):
    client = live_client()

    with pytest.raises(InvalidRequest) as bad:
        client.usage.current(acme["id"], as_of="2201-01-01")
    with pytest.raises(NotFound) as elsewhere, Client(api_key(other_tenant),
                                                       live_server.url) as globex:
        globex.invoices.upcoming(acme["id"])

    assert bad.value.codes == {"as_of": ["out_of_bounds"]}
    assert bad.value.status == 400
    assert elsewhere.value.type == "not_found"
