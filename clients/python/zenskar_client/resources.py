"""The API's resources as the client offers them: ``client.customers``, ``client.events``,
``client.usage``, ``client.invoices``, ``client.entitlements``. Each method is one operation of
``operations`` and answers the API's body, typed by ``models``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, Literal, TypeVar, Unpack, cast
from urllib.parse import parse_qs, urlsplit

from zenskar_client import operations as ops
from zenskar_client.ingest import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, IngestSummary, NewEvent
from zenskar_client.models import (
    CheckOut,
    ContractUsage,
    Customer,
    CustomerRequest,
    CustomerUsage,
    IngestOut,
    UpcomingInvoice,
    UsageOut,
)

if TYPE_CHECKING:
    from zenskar_client.client import Client

T = TypeVar("T")
Day = date | str  # a date, or its YYYY-MM-DD


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    results: list[T]
    next_cursor: str | None
    previous_cursor: str | None


def _cursor(url: str | None) -> str | None:
    if not url:
        return None
    return parse_qs(urlsplit(url).query).get("cursor", [None])[0]


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client


class Customers(_Resource):
    def create(self, *, idempotency_key: str | None = None,
               **fields: Unpack[CustomerRequest]) -> Customer:
        """A customer (``external_id`` unique in the organization: usage events name it).
        Safe to retry with the same ``idempotency_key``."""
        return cast(Customer, self._client.call(ops.CUSTOMERS_CREATE, body=fields,
                                                idempotency_key=idempotency_key))

    def get(self, customer_id: str) -> Customer:
        return cast(Customer, self._client.call(ops.CUSTOMERS_GET,
                                                path={"customer_id": customer_id}))

    def list(self, *, external_id: str | None = None, search: str | None = None,
             limit: int | None = None, cursor: str | None = None) -> Page[Customer]:
        """One page of customers, newest first (``limit`` 1 to 500)."""
        body = self._client.call(ops.CUSTOMERS_LIST, query={
            "external_id": external_id, "search": search, "limit": limit, "cursor": cursor})
        return Page(results=cast(builtins.list[Customer], body["results"]),
                    next_cursor=_cursor(body.get("next")),
                    previous_cursor=_cursor(body.get("previous")))

    def iterate(self, *, search: str | None = None, page_size: int = 100) -> Iterator[Customer]:
        """Every customer, page after page."""
        cursor = None
        while True:
            page = self.list(search=search, limit=page_size, cursor=cursor)
            yield from page.results
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def find(self, external_id: str) -> Customer | None:
        """The customer with this ``external_id``, or None."""
        return next(iter(self.list(external_id=external_id, limit=1).results), None)


class Events(_Resource):
    def send(self, event: NewEvent, *, idempotency_key: str | None = None) -> IngestOut:
        """One usage event (it gets an ``event_id`` when it has none). ``accepted`` is 1, or
        ``duplicates`` is 1 when its id was stored already; a refused event raises
        ``InvalidRequest`` naming each bad field."""
        from zenskar_client.ingest import prepared

        return cast(IngestOut, self._client.call(ops.EVENTS_SEND, content=prepared(event)[1],
                                                 idempotency_key=idempotency_key))

    def send_batch(self, events: Sequence[NewEvent], *,
                   idempotency_key: str | None = None) -> IngestOut:
        """Up to 10,000 events in one request (each gets an ``event_id`` when it has none):
        each is judged on its own -- ``accepted``, ``duplicates``, ``rejected`` with reasons.
        For more, or to retry on your behalf, use ``ingest``."""
        from zenskar_client.ingest import batch_body, prepared

        if not 1 <= len(events) <= MAX_BATCH_EVENTS:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH_EVENTS} events, not {len(events)}")
        return cast(IngestOut, self._client.call(
            ops.EVENTS_SEND_BATCH, content=batch_body([prepared(e)[1] for e in events]),
            idempotency_key=idempotency_key))

    def ingest(self, events: Iterable[NewEvent], *, batch_size: int = 1000,
               max_batch_bytes: int = MAX_BATCH_BYTES) -> IngestSummary:
        """Send any number of events in batches and say what became of them (see
        ``zenskar_client.ingest.ingest``)."""
        from zenskar_client.ingest import ingest

        return ingest(self._client, events, batch_size=batch_size,
                      max_batch_bytes=max_batch_bytes)


class Usage(_Resource):
    def get(self, *, meter: str, start: datetime | str, end: datetime | str,
            customer: str | None = None, group_by: bool = False,
            granularity: Literal["hour", "day"] | None = None,
            time_zone: str | None = None) -> UsageOut:
        """The meter's aggregate over ``[start, end)``: per customer, or for ``customer`` (an
        external id), optionally per group-by value and per hour or day in ``time_zone``."""
        return cast(UsageOut, self._client.call(ops.USAGE_GET, query={
            "meter": meter, "start": start, "end": end, "customer": customer,
            "group_by": True if group_by else None, "granularity": granularity,
            "time_zone": time_zone}))

    def quantity(self, *, meter: str, customer: str, start: datetime | str,
                 end: datetime | str) -> Decimal:
        """The customer's usage of ``meter`` over ``[start, end)`` as one number."""
        rows = self.get(meter=meter, start=start, end=end, customer=customer)["rows"]
        return sum((Decimal(row["quantity"]) for row in rows if row["quantity"] is not None),
                   Decimal(0))

    def current(self, customer_id: str, *, as_of: Day | None = None) -> CustomerUsage:
        """For each of the customer's contracts in force on ``as_of`` (default: today in the
        contract's time zone), the billing period containing it and each usage-priced item's
        quantity and amount so far. Computed by the API, never saved."""
        return cast(CustomerUsage, self._client.call(
            ops.CUSTOMER_CURRENT_USAGE, path={"customer_id": customer_id},
            query={"as_of": as_of}))

    def current_for_contract(self, contract_id: str, *,
                             as_of: Day | None = None) -> ContractUsage:
        """The same for one contract (``in_force`` false: no period, no items)."""
        return cast(ContractUsage, self._client.call(
            ops.CONTRACT_CURRENT_USAGE, path={"contract_id": contract_id},
            query={"as_of": as_of}))


class Invoices(_Resource):
    def upcoming(self, customer_id: str, *, as_of: Day | None = None) -> UpcomingInvoice:
        """The customer's next invoice as of ``as_of`` (default: today), on the usage up to
        the end of that day; ``billing_date`` is None when no contract bills again."""
        return cast(UpcomingInvoice, self._client.call(
            ops.UPCOMING_INVOICE, path={"customer_id": customer_id}, query={"as_of": as_of}))


class Entitlements(_Resource):
    def check(self, *, customer: str, feature: str,
              amount: Decimal | int | str | None = None) -> CheckOut:
        """Whether ``customer`` (an external id) may use ``feature`` (``amount`` of it), with
        the limit, what is used and what remains."""
        return cast(CheckOut, self._client.call(ops.ENTITLEMENTS_CHECK, query={
            "customer": customer, "feature": feature, "amount": amount}))
