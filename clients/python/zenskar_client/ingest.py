"""Sending usage events in bulk: ``client.events.ingest(events, batch_size=1000)``.

Guarantees:

- every event has an id before it is first sent: one without gets ``evt_`` and 32 random hex
  digits, written into the event itself (a dict), so that ingesting the same events again sends
  the same ids;
- batches keep within the API's limits (``POST /api/v1/events/batch``): at most 10,000 events
  and 16 MiB per request (``batch_size``, ``max_batch_bytes``); events are read from the
  iterable one batch at a time, so a generator of any length is fine;
- a batch whose answer is lost (connection reset, timeout), a 429 (after its ``Retry-After``)
  or a 5xx is sent again as it was: the same ids and the same ``Idempotency-Key``. The API
  stores an event once per id, and replays its first answer to a retried batch, so nothing is
  counted twice and the summary counts each event once;
- a batch refused as too large (413) is sent again in two halves; an event alone that is too
  large is reported as rejected;
- any other refusal (a revoked key, ...) stops the ingestion: ``IngestInterrupted`` carries the
  summary of what was done and the error as its cause.

The summary: ``sent`` (events handed to the API), ``accepted`` (stored now), ``duplicates``
(stored already, by an earlier send), ``rejected`` (each with its index in the iterable, its id
and the reasons), ``batches`` (requests that succeeded) and ``retries`` (requests tried again).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from zenskar_client import operations as ops
from zenskar_client.client import dumps
from zenskar_client.errors import PayloadTooLarge, ZenskarError
from zenskar_client.models import IngestOut

if TYPE_CHECKING:
    from zenskar_client.client import Client

MAX_BATCH_EVENTS = 10_000  # metering.services.MAX_BATCH
MAX_BATCH_BYTES = 16 * 1024 * 1024  # the API's EVENTS_MAX_BODY_BYTES default
_OPEN, _CLOSE = b'{"events":[', b"]}"


class NewEvent(TypedDict):
    """A usage event to send: ``event_id`` may be left out (one is made), ``timestamp`` may be
    an aware ``datetime``; ``properties`` values may be ``Decimal`` (sent as exact strings)."""

    event_id: NotRequired[str]
    customer: str
    event_name: str
    timestamp: str | datetime
    properties: NotRequired[dict[str, Any] | None]


@dataclass(frozen=True)
class Rejected:
    index: int  # the event's place in what was ingested, from 0
    event_id: str | None
    errors: dict[str, list[str]]


@dataclass
class IngestSummary:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    batches: int = 0
    retries: int = 0


class IngestInterrupted(ZenskarError):
    """The ingestion stopped at a refusal it cannot get past; ``summary`` says what was done
    before it (the events of the refused batch and after it were not stored by this call)."""

    def __init__(self, summary: IngestSummary, error: Exception) -> None:
        self.summary = summary
        super().__init__(f"ingestion stopped after {summary.sent} events: {error}")


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def with_id(event: NewEvent) -> str:
    """The event's id; one is made (and written into the event) when it has none."""
    event_id = event.get("event_id")
    if not event_id:
        event_id = new_event_id()
        if isinstance(event, MutableMapping):
            event["event_id"] = event_id
    return event_id


def prepared(event: NewEvent) -> tuple[str, bytes]:
    """The event's id, and the event as the API reads it, with that id."""
    event_id = with_id(event)
    return event_id, dumps({**event, "event_id": event_id})


def batch_body(encoded: Sequence[bytes]) -> bytes:
    return _OPEN + b",".join(encoded) + _CLOSE


@dataclass(frozen=True)
class _Pending:
    index: int
    event_id: str
    encoded: bytes


class _Ingestion:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.summary = IngestSummary()

    def send(self, batch: list[_Pending]) -> None:
        """One batch, retried by the client; split when the API finds it too large."""
        try:
            result = cast(IngestOut, self.client.call(
                ops.EVENTS_SEND_BATCH, content=batch_body([p.encoded for p in batch]),
                idempotency_key=str(uuid.uuid4())))
        except PayloadTooLarge:
            if len(batch) > 1:
                half = len(batch) // 2
                self.send(batch[:half])
                self.send(batch[half:])
                return
            self.summary.sent += 1
            self.summary.rejected.append(Rejected(
                index=batch[0].index, event_id=batch[0].event_id,
                errors={"event": ["is larger than the API accepts in one request"]}))
            return
        summary = self.summary
        summary.batches += 1
        summary.sent += len(batch)
        summary.accepted += result["accepted"]
        summary.duplicates += result["duplicates"]
        summary.rejected += [Rejected(index=batch[r["index"]].index, event_id=r["event_id"],
                                      errors=r["errors"]) for r in result["rejected"]]


def ingest(client: Client, events: Iterable[NewEvent], *, batch_size: int = 1000,
           max_batch_bytes: int = MAX_BATCH_BYTES) -> IngestSummary:
    """Send ``events`` in batches of at most ``batch_size`` events and ``max_batch_bytes``
    bytes; the module says what is guaranteed."""
    if not 1 <= batch_size <= MAX_BATCH_EVENTS:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH_EVENTS}, not {batch_size}")
    if not 1024 <= max_batch_bytes <= MAX_BATCH_BYTES:
        raise ValueError(f"max_batch_bytes must be 1024 to {MAX_BATCH_BYTES}")
    run = _Ingestion(client)
    retries_before = client.retries
    batch: list[_Pending] = []
    size = len(_OPEN) + len(_CLOSE)
    try:
        for index, event in enumerate(events):
            event_id, encoded = prepared(event)
            if batch and (len(batch) >= batch_size
                          or size + len(encoded) + 1 > max_batch_bytes):
                run.send(batch)
                batch, size = [], len(_OPEN) + len(_CLOSE)
            batch.append(_Pending(index=index, event_id=event_id, encoded=encoded))
            size += len(encoded) + 1
        if batch:
            run.send(batch)
    except ZenskarError as error:
        run.summary.retries = client.retries - retries_before
        raise IngestInterrupted(run.summary, error) from error
    run.summary.retries = client.retries - retries_before
    return run.summary
