"""Usage quantities, aggregated in PostgreSQL.

``usage`` answers "how much of meter M did customer C use over [start, end)", optionally per
group and per day or hour; ``usage_by_customer`` answers it for every customer of the
organization in one query (what invoicing runs). Both build one parameterized SQL statement:
the filters, the value's JSON path and the grouping become SQL, the rows never reach Python.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet

from metering.models import Event, Meter, parse_path
from zenskar.events import DomainEvent
from zenskar.tenancy.models import Organization

GRANULARITIES = {"hour", "day"}
_NUMERIC = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


@dataclass(frozen=True)
class UsageRow:
    quantity: Decimal
    customer: str | None = None
    group: dict[str, str | None] | None = None
    bucket: datetime | None = None


def _aggregate_sql(meter: Meter) -> str:
    value = (
        "CASE jsonb_typeof(properties #> %(path)s::text[]) "
        "WHEN 'number' THEN (properties #>> %(path)s::text[])::numeric "
        "WHEN 'string' THEN CASE WHEN (properties #>> %(path)s::text[]) ~ %(numeric)s "
        "THEN (properties #>> %(path)s::text[])::numeric END END"
    )
    return {
        Meter.Aggregation.COUNT: "count(*)::numeric",
        Meter.Aggregation.SUM: f"coalesce(sum({value}), 0)",
        Meter.Aggregation.MAX: f"max({value})",
        Meter.Aggregation.MIN: f"min({value})",
        Meter.Aggregation.AVERAGE: f"avg({value})",
        Meter.Aggregation.UNIQUE_COUNT: "count(DISTINCT properties #>> %(path)s::text[])::numeric",
        Meter.Aggregation.WEIGHTED_SUM: "NULL::numeric",  # recurring: see recurring_usage
        Meter.Aggregation.LATEST: (
            f"(array_agg({value} ORDER BY \"timestamp\" DESC, id DESC) "
            f"FILTER (WHERE {value} IS NOT NULL))[1]"
        ),
    }[Meter.Aggregation(meter.aggregation)]


def _filters_sql(meter: Meter, params: dict[str, Any]) -> list[str]:
    clauses = []
    for index, rule in enumerate(meter.filters or []):
        path_key, value_key = f"fp{index}", f"fv{index}"
        params[path_key] = parse_path(rule["property"])
        target = f"(properties #> %({path_key})s::text[])"
        if rule["op"] == "equals":
            params[value_key] = json.dumps(rule["value"])
            clauses.append(f"{target} = %({value_key})s::jsonb")
        else:
            params[value_key] = [json.dumps(v) for v in rule["value"]]
            match = f"{target} = ANY(%({value_key})s::jsonb[])"
            clauses.append(match if rule["op"] == "in" else f"({target} IS NULL OR NOT {match})")
    return clauses


def meter_sql(meter: Meter, params: dict[str, Any]) -> tuple[str, list[str]]:
    """What a meter counts per event, as SQL over ``metering_event``'s columns: the value
    expression (1 for a count; the property's number for a sum) and the filter clauses, their
    values added to ``params``. Only additive meters (count, sum) have a per-event value:
    for the others a ValueError."""
    if meter.aggregation == Meter.Aggregation.COUNT:
        value = "1::numeric"
    elif meter.aggregation == Meter.Aggregation.SUM:
        params.setdefault("numeric", _NUMERIC)
        params["path"] = parse_path(meter.value_property)
        value = (
            "coalesce(CASE jsonb_typeof(properties #> %(path)s::text[]) "
            "WHEN 'number' THEN (properties #>> %(path)s::text[])::numeric "
            "WHEN 'string' THEN CASE WHEN (properties #>> %(path)s::text[]) ~ %(numeric)s "
            "THEN (properties #>> %(path)s::text[])::numeric END END, 0)"
        )
    else:
        raise ValueError(f"a {meter.aggregation} meter has no value per event")
    return value, _filters_sql(meter, params)


def _query(
    *, organization: Organization, meter: Meter, start: datetime, end: datetime,
    customer: str | None, per_customer: bool, group: bool, granularity: str | None,
    time_zone: str,
) -> tuple[str, dict[str, Any], list[str]]:
    params: dict[str, Any] = {
        "organization": organization.id, "event_name": meter.event_name,
        "start": start, "end": end, "numeric": _NUMERIC, "tz": time_zone,
        "path": parse_path(meter.value_property) if meter.value_property else [],
    }
    where = [
        "organization_id = %(organization)s", "event_name = %(event_name)s",
        '"timestamp" >= %(start)s', '"timestamp" < %(end)s',
    ]
    if customer is not None:
        params["customer"] = customer
        where.append("customer = %(customer)s")
    where += _filters_sql(meter, params)
    keys: list[str] = []
    if per_customer:
        keys.append("customer")
    group_names: list[str] = []
    if group:
        for index, path in enumerate(meter.group_by or []):
            params[f"gp{index}"] = parse_path(path)
            keys.append(f"properties #>> %(gp{index})s::text[]")
            group_names.append(path)
    if granularity:
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {sorted(GRANULARITIES)}")
        keys.append(f"date_trunc('{granularity}', \"timestamp\" AT TIME ZONE %(tz)s)")
    select = [*(f"{k} AS k{i}" for i, k in enumerate(keys)), f"{_aggregate_sql(meter)} AS q"]
    # Only fixed SQL fragments are joined here; every value is a parameter.
    sql = f"SELECT {', '.join(select)} FROM metering_event WHERE {' AND '.join(where)}"  # noqa: S608
    if keys:
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        sql += f" GROUP BY {positions} ORDER BY {positions}"
    return sql, params, group_names


def usage(
    *, organization: Organization, meter: Meter, start: datetime, end: datetime,
    customer: str | None = None, group: bool = False, granularity: str | None = None,
    time_zone: str = "UTC",
) -> list[UsageRow]:
    """Quantities of ``meter`` over ``[start, end)``: one row, or one per group and bucket.

    ``customer`` is an external id (None: all customers together). Buckets (``hour`` or
    ``day``) are in ``time_zone``. An aggregate over no events is 0 for count and sum and
    None (no value) for the others. A recurring meter (one level per customer, never
    grouped nor bucketed) is answered by ``recurring_usage``.
    """
    if meter.recurring:  # never grouped: one row, of no group (``{}``) when asked per group
        if granularity:
            raise ValueError("a recurring meter has one level per customer and window: "
                             "no buckets")
        rows = recurring_usage(organization=organization, meter=meter, start=start, end=end,
                               customer=customer)
        return [UsageRow(quantity=row.quantity, customer=row.customer,
                         group={} if group else None) for row in rows]
    sql, params, group_names = _query(
        organization=organization, meter=meter, start=start, end=end, customer=customer,
        per_customer=False, group=group, granularity=granularity, time_zone=time_zone,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = []
    for row in rows:
        groups = dict(zip(group_names, row[: len(group_names)], strict=True)) if group else None
        bucket = row[len(group_names)] if granularity else None
        result.append(UsageRow(quantity=row[-1], customer=customer, group=groups, bucket=bucket))
    return result


def usage_by_customer(
    *, organization: Organization, meter: Meter, start: datetime, end: datetime,
    group: bool = False,
) -> list[UsageRow]:
    """One row per customer (and group) that has events of ``meter`` in ``[start, end)``:
    the bulk form invoicing runs, one query for the whole organization. For a recurring meter,
    every customer with a level (events before ``end``)."""
    if meter.recurring:
        rows = recurring_usage(organization=organization, meter=meter, start=start, end=end,
                               per_customer=True)
        return [UsageRow(quantity=row.quantity, customer=row.customer,
                         group={} if group else None) for row in rows]
    sql, params, group_names = _query(
        organization=organization, meter=meter, start=start, end=end, customer=None,
        per_customer=True, group=group, granularity=None, time_zone="UTC",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        UsageRow(
            quantity=row[-1], customer=row[0],
            group=dict(zip(group_names, row[1:-1], strict=True)) if group else None,
        )
        for row in rows
    ]


# --- Recurring meters -------------------------------------------------------------------------
#
# A recurring meter's events each add (or, negative, remove) units of a level that persists:
# the level at an instant is the running total of every earlier event, floored at zero -- a
# removal beyond the level leaves 0 and is forgotten (a later addition starts from 0). The
# floored running total is computed without recursion: with S_n the plain running total,
# the floored level is S_n - min(0, min(S_1..S_n)).
#
# Every query reads the meter's events of the customer(s) up to ``end`` (the index on
# organization, event name and timestamp bounds it); the rows never reach Python.


def _levels_sql(meter: Meter, params: dict[str, Any], customer: str | None) -> str:
    """CTEs ``run`` and ``lvl``: each event before ``end`` with the level after it."""
    value, filters = meter_sql(Meter(aggregation=Meter.Aggregation.SUM,
                                     value_property=meter.value_property,
                                     filters=meter.filters), params)
    where = ["organization_id = %(organization)s", "event_name = %(event_name)s",
             '"timestamp" < %(end)s', *filters]
    if customer is not None:
        params["customer"] = customer
        where.append("customer = %(customer)s")
    window = "PARTITION BY customer ORDER BY \"timestamp\", id ROWS UNBOUNDED PRECEDING"
    # Only fixed SQL fragments are joined here; every value is a parameter.
    return (
        f"run AS (SELECT customer, \"timestamp\" AS ts, id, sum({value}) OVER w AS s "  # noqa: S608
        f"FROM metering_event WHERE {' AND '.join(where)} WINDOW w AS ({window})), "
        "lvl AS (SELECT customer, ts, id, s - least(0, min(s) OVER w) AS level FROM run "
        "WINDOW w AS (PARTITION BY customer ORDER BY ts, id ROWS UNBOUNDED PRECEDING))"
    )


_SEGMENTS_SQL = (
    # the level held at start (the last event before it), then each event of the window
    "pts AS ((SELECT DISTINCT ON (customer) customer, %(start)s::timestamptz AS ts, 0 AS ord, "
    "NULL::bigint AS id, level FROM lvl WHERE ts < %(start)s "
    "ORDER BY lvl.customer, lvl.ts DESC, lvl.id DESC) "
    "UNION ALL SELECT customer, ts, 1, id, level FROM lvl WHERE ts >= %(start)s), "
    "seg AS (SELECT customer, ts, level, lead(ts, 1, %(end)s::timestamptz) OVER "
    "(PARTITION BY customer ORDER BY ts, ord, id) AS until FROM pts)"
)


def recurring_usage(
    *, organization: Organization, meter: Meter, start: datetime, end: datetime,
    customer: str | None = None, per_customer: bool = False,
) -> list[UsageRow]:
    """A recurring meter over ``[start, end)``: for ``sum`` the level at ``end``; for
    ``weighted_sum`` the time-weighted level, units x seconds held / seconds of the window
    (10 seats for a third of a month and 13 for the rest: 12), to 10 decimal places. One
    row per customer with a level (``per_customer``), or the one customer's, or every
    customer's together."""
    params: dict[str, Any] = {"organization": organization.id, "event_name": meter.event_name,
                              "start": start, "end": end}
    ctes = _levels_sql(meter, params, customer)
    # Only fixed SQL fragments are joined below; every value is a parameter.
    if meter.aggregation == Meter.Aggregation.WEIGHTED_SUM:
        # rounded to the 10 decimal places a price's quantity takes
        sql = (f"WITH {ctes}, {_SEGMENTS_SQL} SELECT customer, round(coalesce(sum(level * "  # noqa: S608
               "extract(epoch FROM until - ts)), 0) / extract(epoch FROM %(end)s::timestamptz "
               "- %(start)s::timestamptz), 10) AS q FROM seg GROUP BY customer")
    else:
        sql = (f"WITH {ctes} SELECT DISTINCT ON (customer) customer, level AS q FROM lvl "  # noqa: S608
               "ORDER BY customer, ts DESC, id DESC")
    if not per_customer:
        sql = f"SELECT NULL, coalesce(sum(q), 0) FROM ({sql}) AS per_customer"  # noqa: S608
    else:
        sql = f"SELECT customer, q FROM ({sql}) AS per_customer ORDER BY customer"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if per_customer:
        return [UsageRow(quantity=q, customer=c) for c, q in rows]
    return [UsageRow(quantity=rows[0][1], customer=customer)]


@dataclass(frozen=True)
class LevelSpan:
    """A recurring meter's level over ``[start, end)``."""

    start: datetime
    end: datetime
    level: Decimal


#: The spans ``recurring_levels`` returns at most (the first ones, then the count of the rest).
MAX_SPANS = 24


def recurring_levels(
    *, organization: Organization, meter: Meter, customer: str, start: datetime,
    end: datetime,
) -> tuple[list[LevelSpan], int]:
    """The levels one customer held over ``[start, end)``, earliest first, consecutive spans
    of the same level merged and instants (events at the same moment) left out: the first
    ``MAX_SPANS`` and how many more there are. What explains a weighted sum."""
    params: dict[str, Any] = {"organization": organization.id, "event_name": meter.event_name,
                              "start": start, "end": end}
    sql = (f"WITH {_levels_sql(meter, params, customer)}, {_SEGMENTS_SQL} "  # noqa: S608
           "SELECT ts, until, level FROM seg WHERE until > ts ORDER BY ts")
    spans: list[LevelSpan] = []
    more = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for ts, until, level in cursor:
            if spans and spans[-1].level == level and spans[-1].end == ts:
                spans[-1] = LevelSpan(spans[-1].start, until, level)
            elif len(spans) < MAX_SPANS:
                spans.append(LevelSpan(ts, until, level))
            else:
                more += 1
    if spans and spans[0].start > start:
        spans.insert(0, LevelSpan(start, spans[0].start, Decimal(0)))
    return spans, more


@dataclass(frozen=True)
class EventAmount:
    """One event as a meter counts it: what a price per transaction reads."""

    event_id: str
    timestamp: datetime
    amount: Decimal


#: Events read per statement by ``event_amounts``: what it holds in memory at most.
EVENT_PAGE = 5_000
#: The aggregations whose events each count an amount of their own.
PER_EVENT_AGGREGATIONS = (Meter.Aggregation.SUM, Meter.Aggregation.COUNT)


def event_amounts(
    *, organization: Organization, meter: Meter, customer: str, start: datetime, end: datetime,
    page_size: int = EVENT_PAGE,
) -> Iterator[EventAmount]:
    """Each event ``meter`` counts for ``customer`` (an external id) in ``[start, end)``, with
    the amount it adds (a sum meter: its value, 0 when it has none; a count meter: 1),
    earliest first: by timestamp, then by event id (byte order, so ties are always broken the
    same way).

    Streamed: read ``page_size`` events per statement, each page starting after the last
    event of the one before (keyset), so a period of millions of events holds one page in
    memory and each statement is an index range scan on the customer's events. Only for
    additive meters (sum, count): ValueError otherwise."""
    if meter.aggregation not in PER_EVENT_AGGREGATIONS or meter.recurring:
        raise ValueError(f"a {meter.aggregation} meter has no amount per event")
    params: dict[str, Any] = {
        "organization": organization.id, "event_name": meter.event_name, "customer": customer,
        "start": start, "end": end, "page": page_size,
    }
    value, filters = meter_sql(meter, params)
    where = [
        "organization_id = %(organization)s", "customer = %(customer)s",
        "event_name = %(event_name)s", '"timestamp" >= %(start)s', '"timestamp" < %(end)s',
        *filters,
    ]
    # Only fixed SQL fragments are joined here; every value is a parameter.
    base = f'SELECT event_id, "timestamp", {value} FROM metering_event WHERE {" AND ".join(where)}'  # noqa: S608, E501
    order = ' ORDER BY "timestamp", event_id COLLATE "C" LIMIT %(page)s'
    after = (' AND "timestamp" >= %(after_at)s'
             ' AND ("timestamp", event_id COLLATE "C") > (%(after_at)s, %(after_id)s)')
    sql = base + order
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for event_id, timestamp, amount in rows:
            yield EventAmount(event_id=event_id, timestamp=timestamp, amount=amount)
        if len(rows) < page_size:
            return
        params["after_id"], params["after_at"] = rows[-1][0], rows[-1][1]
        sql = base + after + order


_PARAMETER = re.compile(r"%\((\w+)\)s")


def customer_usage(
    *, organization: Organization, customer: str, meters: list[Meter], start: datetime,
    end: datetime,
) -> list[tuple[Meter, Decimal | None]]:
    """Each of ``meters``'s quantity for one customer (an external id) over ``[start, end)``,
    in the order given: one statement whatever the number of meters (each meter's aggregate
    is a scalar subquery over the customer's index, their rows joined by UNION ALL). Count
    and sum are 0 with no events, the other aggregates None."""
    if not meters:
        return []
    parts: list[str] = []
    params: dict[str, Any] = {}
    for index, meter in enumerate(meters):
        sql, own, _ = _query(
            organization=organization, meter=meter, start=start, end=end, customer=customer,
            per_customer=False, group=False, granularity=None, time_zone="UTC",
        )
        # each meter's parameters under names of its own
        own_sql = _PARAMETER.sub(rf"%(m{index}_\1)s", sql)
        parts.append(f"SELECT {index} AS meter, ({own_sql}) AS q")
        params.update({f"m{index}_{name}": value for name, value in own.items()})
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        quantities = dict(cursor.fetchall())
    return [(meter, quantities.get(index)) for index, meter in enumerate(meters)]


def events_tail(*, organization: Organization, limit: int = 50) -> QuerySet[Event]:
    """The last events received, newest first (the dashboard's live tail)."""
    return Event.objects.for_organization(organization).order_by("-created_at", "-id")[:limit]


def unknown_meter_keys(*, organization: Organization | uuid.UUID,
                       keys: set[str]) -> set[str]:
    """The keys among ``keys`` that name no meter of the organization."""
    known = set(Meter.objects.for_organization(organization).filter(key__in=keys)
                .values_list("key", flat=True))
    return set(keys) - known


def contract_meters_check(event: DomainEvent) -> None:
    """``contract.meters_named``, in the contract's transaction (see ``contracts.meters``):
    refuse the keys that name no meter of the organization -- a ``ValidationError`` keyed by
    the document's fields that name them. A read: writes nothing."""
    named: dict[str, list[str]] = event.payload["meters"]
    unknown = unknown_meter_keys(organization=event.organization_id,
                                 keys={key for keys in named.values() for key in keys})
    errors = {field: [f"No meter has key {key!r}." for key in keys if key in unknown]
              for field, keys in named.items()}
    # The meters read event by event (a price per transaction): each event must count an
    # amount of its own, which only a sum or a count has.
    per_event: dict[str, list[str]] = event.payload.get("per_event") or {}
    if per_event:
        aggregations = dict(Meter.objects.for_organization(event.organization_id).filter(
            key__in={key for keys in per_event.values() for key in keys})
            .values_list("key", "aggregation"))
        recurring = set(Meter.objects.for_organization(event.organization_id).filter(
            key__in=set(aggregations), recurring=True).values_list("key", flat=True))
        for field, keys in per_event.items():
            errors.setdefault(field, []).extend(
                f"Meter {key!r} is recurring: its events change a level, they are no "
                "transactions a price per transaction could read." for key in keys
                if key in recurring)
            errors.setdefault(field, []).extend(
                f"Meter {key!r} takes the {Meter.Aggregation(aggregations[key]).label.lower()}: "
                "a price per transaction reads each event's amount, so its meter must sum a "
                "property (or count events)."
                for key in keys
                if key in aggregations and aggregations[key] not in PER_EVENT_AGGREGATIONS
                and key not in recurring)
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)


def meters_by_key(*, organization: Organization,
                  keys: set[str] | None = None) -> dict[str, Meter]:
    """The organization's meters by key (all of them, or those of ``keys``): what invoicing
    rates usage with, without reaching into this app's models."""
    meters = Meter.objects.for_organization(organization)
    if keys is not None:
        meters = meters.filter(key__in=keys)
    return {meter.key: meter for meter in meters}


def customers_with_late_events(*, organization: Organization) -> set[str]:
    """External ids of the customers with events that arrived after their period was
    invoiced (``needs_adjustment``): their closed periods must be re-rated."""
    return set(Event.objects.for_organization(organization).filter(needs_adjustment=True)
               .values_list("customer", flat=True).distinct())
