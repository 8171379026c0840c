"""Ingestion over random streams, batch limits and lost answers (Hypothesis), against a small
fake of the batch endpoint that stores each event id once and replays its first answer to a
reused Idempotency-Key, as the API does: every event is stored exactly once, every request
keeps within the limits, and the summary counts each event once."""

from __future__ import annotations

import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from zenskar_client import Client, Retry

from tests.support.client import Sleeps


class FakeBatchEndpoint:
    """POST /api/v1/events/batch: stores new ids, counts the known ones as duplicates; the
    answer of request number n is lost (after the work is done) when ``lost[n]``."""

    def __init__(self, lost: list[bool]):
        self.lost = lost
        self.stored: list[str] = []
        self.replies: dict[str, dict] = {}
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.bodies.append(body)
        key = request.headers["Idempotency-Key"]
        if key not in self.replies:
            events = json.loads(body)["events"]
            new = [e["event_id"] for e in events if e["event_id"] not in self.stored]
            self.stored += new
            self.replies[key] = {"accepted": len(new), "duplicates": len(events) - len(new),
                                 "rejected": []}
        number = len(self.bodies) - 1
        if number < len(self.lost) and self.lost[number]:
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(200, json=self.replies[key])


def _at_most_five_in_a_row(flags: list[bool]) -> list[bool]:
    kept, run = [], 0
    for flag in flags:
        flag = flag and run < 5
        run = run + 1 if flag else 0
        kept.append(flag)
    return kept


@settings(max_examples=60, deadline=None, derandomize=True)
@given(count=st.integers(min_value=0, max_value=120),
       batch_size=st.integers(min_value=1, max_value=40),
       max_batch_bytes=st.integers(min_value=1024, max_value=6000),
       lost=st.lists(st.booleans(), max_size=30),
       with_ids=st.booleans())
def test_every_event_is_stored_once_within_the_limits(count, batch_size, max_batch_bytes, lost,
                                                      with_ids):
    server = FakeBatchEndpoint(_at_most_five_in_a_row(lost))  # a request has 6 tries
    events = [{"customer": "acme", "event_name": "api_call",
               "timestamp": "2026-11-02T00:00:00Z", "properties": {"n": n},
               **({"event_id": f"e-{n}"} if with_ids else {})} for n in range(count)]
    client = Client("zk_test_key", "https://billing.test", retry=Retry(jitter=0),
                    sleep=Sleeps(), transport=httpx.MockTransport(server))

    summary = client.events.ingest(events, batch_size=batch_size,
                                   max_batch_bytes=max_batch_bytes)

    ids = [event["event_id"] for event in events]
    assert sorted(server.stored) == sorted(ids) and len(set(ids)) == count
    assert (summary.sent, summary.accepted, summary.duplicates, summary.rejected) == (
        count, count, 0, [])
    assert summary.retries == len(server.bodies) - summary.batches
    for body in server.bodies:
        assert len(json.loads(body)["events"]) <= batch_size
        assert len(body) <= max_batch_bytes
