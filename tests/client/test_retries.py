"""The client's behaviour on the wire, against answers written here (an httpx mock transport):
which answers it retries and how long it waits, the errors it raises with the API's body, and
how ingestion splits and reports. The live server's tests are in test_live.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from zenskar_client import (
    AuthenticationFailed,
    Client,
    ConnectionFailed,
    IngestInterrupted,
    InvalidRequest,
    NotFound,
    RateLimited,
    Retry,
    ServerError,
)
from zenskar_client.ingest import MAX_BATCH_EVENTS

from tests.support.client import Sleeps

CUSTOMER = {"id": "1b7c0c1e-0000-4000-8000-000000000001", "external_id": "acme",
            "name": "Acme", "created_at": "2026-11-01T00:00:00Z",
            "updated_at": "2026-11-01T00:00:00Z"}


def error(status: int, kind: str, message: str, **extra) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": kind, "message": message, **extra}})


class Script:
    """Answers the requests in order (a response, an exception to raise, or a function of the
    request that returns the response), and keeps them."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else answer(request)


def client_for(script: Script, sleeps: Sleeps, **retry) -> Client:
    return Client("zk_test_key", "https://billing.test", sleep=sleeps,
                  retry=Retry(jitter=0, **retry), transport=httpx.MockTransport(script))


def test_it_authenticates_with_the_key_as_a_bearer_token():
    script = Script(httpx.Response(200, json=CUSTOMER))
    client = client_for(script, Sleeps())

    assert client.customers.get(CUSTOMER["id"]) == CUSTOMER

    [request] = script.requests
    assert request.headers["Authorization"] == "Bearer zk_test_key"
    assert str(request.url) == f"https://billing.test/api/v1/customers/{CUSTOMER['id']}"


def test_5xx_and_lost_connections_are_retried_with_exponential_backoff():
    sleeps = Sleeps()
    script = Script(httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(502),
                    httpx.Response(200, json=CUSTOMER))
    client = client_for(script, sleeps, backoff=0.5)

    assert client.customers.get(CUSTOMER["id"])["external_id"] == "acme"

    assert sleeps == [0.5, 1.0, 2.0]  # 0.5 x 2^0, 2^1, 2^2
    assert client.retries == 3


def test_a_429_waits_what_retry_after_says():
    sleeps = Sleeps()
    limited = error(429, "rate_limited", "Too many requests. Try again in 7 seconds.",
                    retry_after=7)
    limited.headers["Retry-After"] = "7"
    script = Script(limited, httpx.Response(200, json=CUSTOMER))

    client_for(script, sleeps).customers.get(CUSTOMER["id"])

    assert sleeps == [7.0]


def test_a_retry_after_longer_than_the_client_waits_is_raised_at_once():
    sleeps = Sleeps()
    limited = error(429, "rate_limited", "Too many requests. Try again in 3600 seconds.",
                    retry_after=3600)
    limited.headers["Retry-After"] = "3600"

    with pytest.raises(RateLimited) as raised:
        client_for(Script(limited), sleeps, max_retry_after=300).customers.get(CUSTOMER["id"])

    assert (raised.value.retry_after, sleeps) == (3600, [])


def test_the_tries_run_out():
    sleeps = Sleeps()
    script = Script(*[httpx.ReadTimeout("slow")] * 3)

    with pytest.raises(ConnectionFailed):
        client_for(script, sleeps, attempts=3, backoff=1).customers.get(CUSTOMER["id"])
    with pytest.raises(ServerError) as raised:
        client_for(Script(*[httpx.Response(500)] * 2), Sleeps(),
                   attempts=2).customers.get(CUSTOMER["id"])

    assert sleeps == [1.0, 2.0]  # three tries, two waits
    assert (raised.value.status, raised.value.type) == (500, "api_error")


def test_a_post_keeps_its_idempotency_key_on_every_try():
    script = Script(httpx.ReadError("reset"), httpx.Response(201, json=CUSTOMER))

    client_for(script, Sleeps()).customers.create(external_id="acme", name="Acme")

    first, second = script.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.content == second.content
    assert json.loads(first.content) == {"external_id": "acme", "name": "Acme"}


@pytest.mark.parametrize(("status", "kind", "raised"), [
    (400, "invalid_request", InvalidRequest), (401, "authentication_failed",
                                               AuthenticationFailed),
    (404, "not_found", NotFound)], ids=["400", "401", "404"])
def test_a_refusal_is_a_typed_error_carrying_the_body(status, kind, raised):
    body = {"type": kind, "message": "country: 'ZZ' is not a country",
            "fields": {"country": ["'ZZ' is not a country"]},
            "codes": {"country": ["invalid_country"]}}
    script = Script(httpx.Response(status, json={"error": body}))

    with pytest.raises(raised) as caught:
        client_for(script, Sleeps()).customers.create(external_id="acme", name="Acme",
                                                       country="ZZ")

    assert caught.value.status == status
    assert caught.value.body == {"error": body}
    assert caught.value.codes == {"country": ["invalid_country"]}
    assert len(script.requests) == 1  # a refusal is not retried


def test_an_answer_without_the_error_body_still_has_one():
    script = Script(httpx.Response(404, text="<html>Not Found</html>"))

    with pytest.raises(NotFound) as caught:
        client_for(script, Sleeps()).customers.get(CUSTOMER["id"])

    assert caught.value.body == {"error": {"type": "not_found", "message": "HTTP 404 Not Found"}}


def test_a_query_parameter_the_operation_does_not_take_is_refused_before_sending():
    script = Script()
    client = client_for(script, Sleeps())
    from zenskar_client.operations import CUSTOMERS_GET

    with pytest.raises(TypeError, match="takes no query parameter"):
        client.call(CUSTOMERS_GET, path={"customer_id": "x"}, query={"expand": "all"})
    assert script.requests == []


# --- Ingestion ---------------------------------------------------------------------------------


def accepted(request: httpx.Request) -> httpx.Response:
    events = json.loads(request.content)["events"]
    return httpx.Response(200, json={"accepted": len(events), "duplicates": 0, "rejected": []})


def _events(count):
    return [{"customer": "acme", "event_name": "api_call",
             "timestamp": datetime(2026, 11, 1, tzinfo=UTC), "properties": {"n": Decimal("1.5")}}
            for _ in range(count)]


def test_events_without_an_id_get_one_and_keep_it():
    script = Script(httpx.ConnectError("refused"), accepted)
    events = _events(3)

    summary = client_for(script, Sleeps()).events.ingest(events, batch_size=10)

    ids = [event["event_id"] for event in events]
    assert len(set(ids)) == 3 and all(i.startswith("evt_") for i in ids)
    first, again = (json.loads(r.content)["events"] for r in script.requests)
    assert [e["event_id"] for e in first] == [e["event_id"] for e in again] == ids
    assert first[0]["timestamp"] == "2026-11-01T00:00:00+00:00"
    assert first[0]["properties"] == {"n": "1.5"}  # a Decimal goes as its exact text
    assert (summary.sent, summary.accepted, summary.batches, summary.retries) == (3, 3, 1, 1)


def test_batches_keep_within_the_count_and_the_bytes():
    script = Script(*[accepted] * 20)

    client_for(script, Sleeps()).events.ingest(_events(25), batch_size=10)
    by_count = [len(json.loads(r.content)["events"]) for r in script.requests]
    script.requests.clear()
    client_for(script, Sleeps()).events.ingest(_events(9), batch_size=100,
                                               max_batch_bytes=1024)
    by_bytes = [(len(json.loads(r.content)["events"]), len(r.content)) for r in script.requests]

    assert by_count == [10, 10, 5]
    assert all(size <= 1024 for _, size in by_bytes)
    assert sum(count for count, _ in by_bytes) == 9 and len(by_bytes) > 1
    with pytest.raises(ValueError, match="batch_size"):
        client_for(script, Sleeps()).events.ingest(_events(1), batch_size=MAX_BATCH_EVENTS + 1)


def test_a_batch_too_large_is_sent_in_halves_and_a_lone_event_too_large_is_rejected():
    too_large = error(413, "payload_too_large", "The body is too large.")
    script = Script(too_large, accepted, too_large)
    events = _events(2)

    summary = client_for(script, Sleeps()).events.ingest(events)

    # [a, b] -> 413; [a] -> accepted; [b] -> 413 alone: rejected, index 1
    assert [len(json.loads(r.content)["events"]) for r in script.requests] == [2, 1, 1]
    assert (summary.sent, summary.accepted) == (2, 1)
    assert [(r.index, r.event_id) for r in summary.rejected] == [(1, events[1]["event_id"])]


def test_rejections_name_their_place_in_the_whole_ingestion():
    def second_batch_rejects(request):
        events = json.loads(request.content)["events"]
        return httpx.Response(200, json={"accepted": len(events) - 1, "duplicates": 0,
                                         "rejected": [{"index": 1,
                                                       "event_id": events[1]["event_id"],
                                                       "errors": {"timestamp": ["bad"]}}]})

    client = client_for(Script(accepted, second_batch_rejects), Sleeps())

    summary = client.events.ingest(_events(6), batch_size=3)

    # the second batch holds events 3, 4, 5: its index 1 is event 4
    assert [(r.index, r.errors) for r in summary.rejected] == [(4, {"timestamp": ["bad"]})]
    assert (summary.sent, summary.accepted, summary.batches) == (6, 5, 2)


def test_a_refusal_stops_the_ingestion_with_what_was_done():
    script = Script(httpx.Response(200, json={"accepted": 2, "duplicates": 0, "rejected": []}),
                    error(401, "authentication_failed", "Invalid or revoked API key."))

    with pytest.raises(IngestInterrupted) as stopped:
        client_for(script, Sleeps()).events.ingest(_events(4), batch_size=2)

    assert (stopped.value.summary.sent, stopped.value.summary.accepted) == (2, 2)
    assert isinstance(stopped.value.__cause__, AuthenticationFailed)
