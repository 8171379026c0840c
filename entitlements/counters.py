"""Usage counters: how much of a meter each customer used, per day of the customer's time
zone, kept as events are ingested so that a check never reads the event table.

Two homes, one truth:

- **PostgreSQL** (``UsageCounter``) is the truth. Events add to it in their own ingestion
  transaction (``usage.ingested``, published by metering), by one ``INSERT ... ON CONFLICT
  DO UPDATE`` per tracked meter: a batch is counted exactly when it is stored, and a
  duplicate event, never stored, is never counted. Consuming calls read it, under a lock.
- **Redis** is the hot path of checks: one hash per (organization, customer, meter), a
  field per day, loaded from PostgreSQL the first time it is read and then moved by the
  same amounts once the ingestion commits. An amount is added only to a hash that exists
  (a Lua script), so a flushed or expired hash is simply loaded again from the truth.
- **Reconciliation** (:func:`reconcile`) recounts the days from the events, repairs the
  PostgreSQL rows that differ, then repairs the Redis hashes that differ from PostgreSQL,
  and records what it found.

Only additive meters (count, sum) can carry a limit; a feature on another meter is refused
when it is written.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction

from entitlements.models import Feature, UsageCounter
from metering.models import Meter
from metering.selectors import meter_sql

logger = logging.getLogger(__name__)

#: A hash lives a day after its last load; an active customer's is reloaded at worst daily.
HASH_SECONDS = 24 * 3600
LOADED = "_"  # the field that says a hash was loaded from PostgreSQL


@dataclass(frozen=True)
class Delta:
    customer: str
    meter_key: str
    day: date
    value: Decimal


def number(value: Decimal | None) -> str | None:
    """A quantity as the API writes it: a decimal string, no exponent, no trailing zeros."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def redis() -> Any:
    """The raw client of the cache's Redis (Lua, hashes, pipelines); one per process
    (``zenskar.core.cache``)."""
    return cache._cache.get_client(write=True)  # type: ignore[attr-defined]  # noqa: SLF001


def cache_key(name: str) -> str:
    """A Redis key under the cache's own prefix (so deployments and test runs sharing one
    Redis server never meet)."""
    return cache.make_key(f"ent:{name}")


def hash_key(organization_id: uuid.UUID | str, customer: str, meter_key: str) -> str:
    return cache_key(f"c:{organization_id}:{meter_key}:{customer}")


def tracked_meters(*, organization_id: uuid.UUID, event_names: Iterable[str] | None = None
                   ) -> list[Meter]:
    """The meters that features count (not archived), optionally only those of
    ``event_names``."""
    keys = Feature.objects.for_organization(organization_id).filter(
        kind__in=[Feature.Kind.METERED, Feature.Kind.PREPAID], archived_at__isnull=True,
    ).values_list("meter_key", flat=True)
    meters = Meter.objects.for_organization(organization_id).filter(key__in=keys)
    if event_names is not None:
        meters = meters.filter(event_name__in=list(event_names))
    return list(meters)


_COUNT_SQL = """
WITH batch AS (
    SELECT metering_event.customer AS customer,
           (metering_event."timestamp" AT TIME ZONE coalesce(c.time_zone, 'UTC'))::date AS day,
           sum({value}) AS value
    FROM metering_event
    LEFT JOIN contracts_customer c
           ON c.organization_id = %(organization)s AND c.external_id = metering_event.customer
    WHERE {where}
    GROUP BY 1, 2
), counted AS (
    INSERT INTO entitlements_usagecounter
        (organization_id, customer, meter_key, day, value, created_at)
    SELECT %(organization)s, customer, %(meter_key)s, day, value, now()
    FROM batch
    ORDER BY customer, day  -- one lock order for every batch
    ON CONFLICT (organization_id, customer, meter_key, day)
    DO UPDATE SET value = entitlements_usagecounter.value + excluded.value
)
SELECT customer, day, value FROM batch
"""


def _count_sql(meter: Meter, where: list[str], params: dict[str, Any]) -> str:
    value, filters = meter_sql(meter, params)
    clauses = ["metering_event.organization_id = %(organization)s",
               "metering_event.event_name = %(event_name)s", *where, *filters]
    return _COUNT_SQL.format(value=value, where=" AND ".join(clauses))


def count_events(*, organization_id: uuid.UUID, event_ids: list[str]) -> list[Delta]:
    """Add the events just stored (by id) to their customers' day counters, in the caller's
    transaction. Returns what was added, for the cache once the transaction commits."""
    names = _event_names(organization_id, event_ids)
    if not names:
        return []
    deltas: list[Delta] = []
    for meter in tracked_meters(organization_id=organization_id, event_names=names):
        params: dict[str, Any] = {"organization": organization_id, "meter_key": meter.key,
                                  "event_name": meter.event_name, "ids": event_ids}
        sql = _count_sql(meter, ["metering_event.event_id = ANY(%(ids)s)"], params)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            deltas += [Delta(customer, meter.key, day, value)
                       for customer, day, value in cursor.fetchall() if value]
    return deltas


def _event_names(organization_id: uuid.UUID, event_ids: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT event_name FROM metering_event "
            "WHERE organization_id = %s AND event_id = ANY(%s)", [organization_id, event_ids])
        return {row[0] for row in cursor.fetchall()}


# --- Redis ------------------------------------------------------------------------------------

# Add to a day's field only when the hash was loaded: a missing hash is loaded from
# PostgreSQL on its next read, which already holds the amount.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""


def cache_add(*, organization_id: uuid.UUID, deltas: list[Delta]) -> None:
    """After commit: move the loaded Redis hashes by what the transaction counted."""
    if not deltas:
        return
    try:
        client = redis()
        script = client.register_script(_ADD)
        with client.pipeline(transaction=False) as pipe:
            for delta in deltas:
                script(keys=[hash_key(organization_id, delta.customer, delta.meter_key)],
                       args=[delta.day.isoformat(), str(delta.value)], client=pipe)
            pipe.execute()
    except Exception:  # noqa: BLE001 - the truth is committed; the next load repairs Redis
        logger.exception("entitlement counters: Redis not updated; hashes dropped")
        forget(organization_id=organization_id,
               pairs={(d.customer, d.meter_key) for d in deltas})


def forget(*, organization_id: uuid.UUID, pairs: set[tuple[str, str]]) -> None:
    try:
        redis().delete(*[hash_key(organization_id, c, m) for c, m in pairs])
    except Exception:  # noqa: BLE001
        logger.exception("entitlement counters: Redis unreachable")


def database_days(*, organization_id: uuid.UUID, customer: str, meter_key: str,
                  since: date | None = None) -> dict[date, Decimal]:
    rows = UsageCounter.objects.for_organization(organization_id).filter(
        customer=customer, meter_key=meter_key)
    if since is not None:
        rows = rows.filter(day__gte=since)
    return dict(rows.values_list("day", "value"))


def used(*, organization_id: uuid.UUID, customer: str, meter_key: str, start: date,
         end: date | None, exact: bool = False) -> Decimal:
    """Usage over the days ``[start, end)`` (``end`` None: on from ``start``). From Redis,
    loading the hash from PostgreSQL when it is missing; ``exact``: from PostgreSQL (what a
    consuming call reads, under its lock)."""
    if not exact:
        try:
            return _cached_used(organization_id, customer, meter_key, start, end)
        except Exception:  # noqa: BLE001 - Redis down: the truth answers, slower
            logger.exception("entitlement counters: Redis unreachable, reading PostgreSQL")
    rows = UsageCounter.objects.for_organization(organization_id).filter(
        customer=customer, meter_key=meter_key, day__gte=start)
    if end is not None:
        rows = rows.filter(day__lt=end)
    return sum(rows.values_list("value", flat=True), Decimal(0))


def _cached_used(organization_id: uuid.UUID, customer: str, meter_key: str, start: date,
                 end: date | None) -> Decimal:
    client = redis()
    key = hash_key(organization_id, customer, meter_key)
    days = client.hgetall(key)
    if not days:
        days = _load(client, key, organization_id, customer, meter_key)
    return sum_days(days, start, end)


def sum_days(days: dict[Any, Any], start: date, end: date | None) -> Decimal:
    """The usage of a loaded hash's days in ``[start, end)``."""
    total = Decimal(0)
    low, high = start.isoformat(), end.isoformat() if end else "9999-99-99"
    for field, value in days.items():
        name = field.decode() if isinstance(field, bytes) else field
        if name != LOADED and low <= name < high:
            total += Decimal(value.decode() if isinstance(value, bytes) else value)
    return total


# Write a whole hash at once, unless someone loaded it meanwhile (their load holds the
# same truth, or a newer one moved since by _ADD).
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


def _load(client: Any, key: str, organization_id: uuid.UUID, customer: str,
          meter_key: str) -> dict[str, str]:
    """Load a hash from PostgreSQL: every day with usage, and the marker."""
    with transaction.atomic():
        days = {day.isoformat(): str(value) for day, value in database_days(
            organization_id=organization_id, customer=customer, meter_key=meter_key).items()}
    days[LOADED] = "1"
    flat = [part for pair in days.items() for part in pair]
    client.register_script(_LOAD)(keys=[key], args=[HASH_SECONDS, *flat])
    return days


# --- Reconciliation ---------------------------------------------------------------------------

_RECOUNT_SQL = """
SELECT metering_event.customer,
       (metering_event."timestamp" AT TIME ZONE coalesce(c.time_zone, 'UTC'))::date AS day,
       sum({value})
FROM metering_event
LEFT JOIN contracts_customer c
       ON c.organization_id = %(organization)s AND c.external_id = metering_event.customer
WHERE {where}
GROUP BY 1, 2
"""


def recount(*, organization_id: uuid.UUID, meter: Meter, since: date
            ) -> dict[tuple[str, date], Decimal]:
    """The day counters of ``meter`` from ``since`` on, counted afresh from the events (the
    day a day before ``since`` in UTC covers every time zone's ``since``)."""
    params: dict[str, Any] = {"organization": organization_id, "event_name": meter.event_name,
                              "since": since}
    value, filters = meter_sql(meter, params)
    clauses = ["metering_event.organization_id = %(organization)s",
               "metering_event.event_name = %(event_name)s",
               "metering_event.\"timestamp\" >= %(since)s::date - 1", *filters]
    sql = _RECOUNT_SQL.format(value=value, where=" AND ".join(clauses))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(customer, day): total for customer, day, total in cursor.fetchall()
                if day >= since}


@dataclass
class Repair:
    checked: int = 0
    database: int = 0
    cache: int = 0
    drift: list[dict[str, Any]] | None = None


def reconcile_meter(*, organization_id: uuid.UUID, meter: Meter, since: date,
                    result: Repair) -> None:
    """Repair ``meter``'s day counters from ``since`` against the events (in one
    transaction, the rows locked), then the Redis hashes against PostgreSQL."""
    drift = result.drift if result.drift is not None else []
    with transaction.atomic():
        truth = recount(organization_id=organization_id, meter=meter, since=since)
        rows = {(row.customer, row.day): row for row in UsageCounter.objects.for_organization(
            organization_id).select_for_update().filter(meter_key=meter.key, day__gte=since)}
        result.checked += len(set(truth) | set(rows))
        for (customer, day), value in truth.items():
            row = rows.get((customer, day))
            if row is None or row.value != value:
                drift.append({"where": "database", "customer": customer, "meter": meter.key,
                              "day": day.isoformat(),
                              "held": number(row.value) if row else "0",
                              "now": number(value)})
                UsageCounter.objects.update_or_create(
                    organization_id=organization_id, customer=customer, meter_key=meter.key,
                    day=day, defaults={"value": value})
                result.database += 1
        for (customer, day), row in rows.items():
            if (customer, day) not in truth and row.value != 0:
                drift.append({"where": "database", "customer": customer, "meter": meter.key,
                              "day": day.isoformat(), "held": number(row.value), "now": "0"})
                row.value = Decimal(0)
                row.save(update_fields=["value"])
                result.database += 1
    _reconcile_cache(organization_id, meter.key, drift, result)
    result.drift = drift


def _reconcile_cache(organization_id: uuid.UUID, meter_key: str, drift: list[dict[str, Any]],
                     result: Repair) -> None:
    """Every loaded hash of the meter against PostgreSQL; a hash that differs is dropped
    (the next read loads the truth)."""
    client = redis()
    per_customer: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for customer, day, value in UsageCounter.objects.for_organization(organization_id).filter(
            meter_key=meter_key).values_list("customer", "day", "value"):
        per_customer[customer][day.isoformat()] = value
    prefix = hash_key(organization_id, "", meter_key)
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        name = key.decode() if isinstance(key, bytes) else key
        customer = name[len(prefix):]
        cached = {(f.decode() if isinstance(f, bytes) else f): Decimal(
            v.decode() if isinstance(v, bytes) else v) for f, v in client.hgetall(key).items()}
        cached.pop(LOADED, None)
        truth = {day: value for day, value in per_customer.get(customer, {}).items() if value}
        if {d: v for d, v in cached.items() if v} != truth:
            drift.append({"where": "cache", "customer": customer, "meter": meter_key,
                          "held": number(sum(cached.values(), Decimal(0))),
                          "now": number(sum(truth.values(), Decimal(0)))})
            client.delete(key)
            result.cache += 1
