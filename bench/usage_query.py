"""The bulk usage query at volume.

    .venv/bin/python bench/usage_query.py [--events 5000000] [--customers 10000] [--runs 3]

Loads (once; later runs reuse them) 5,000,000 events over 10,000 customers and 5 meters in one
month into a benchmark database, then times ``usage_by_customer`` -- the quantity of one meter
for every customer over that month, the query invoicing runs -- and, for scale, one customer's
quantity. Prints the times and the query plan.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from common import bench_environment

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)
SECONDS_IN_MONTH = int((MONTH_END - MONTH_START).total_seconds())


def _load(organization, events: int, customers: int) -> float:
    """Generate the events inside PostgreSQL (as the owner): seconds, not an hour of HTTP."""
    import psycopg

    from zenskar.core.db import owner_conninfo

    started = time.perf_counter()
    with psycopg.connect(owner_conninfo()) as conn:
        conn.execute(
            """
            INSERT INTO metering_event (organization_id, event_id, customer, event_name,
                                        "timestamp", properties, needs_adjustment, created_at)
            SELECT %(org)s, 'e-' || g, 'cus-' || ((g / 5) %% %(customers)s), 'meter_' || (g %% 5),
                   %(start)s + make_interval(secs => (g::bigint * 7919) %% %(seconds)s),
                   jsonb_build_object('tokens', jsonb_build_object('output', g %% 1000),
                                      'region', (ARRAY['eu', 'us', 'ap'])[1 + g %% 3]),
                   false, now()
            FROM generate_series(1, %(events)s) AS g
            """,
            {"org": organization.id, "customers": customers, "start": MONTH_START,
             "seconds": SECONDS_IN_MONTH, "events": events},
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE metering_event")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    bench_environment("zenskar_bench")
    from common import bench_tenant
    from django.db import connection

    from metering import selectors, services
    from metering.models import Event, Meter
    from zenskar.tenancy.context import tenant_context
    from zenskar.tenancy.models import Organization

    slug = f"bench-usage-v2-{args.events}-{args.customers}"
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        organization, _ = bench_tenant(slug)
    with tenant_context(organization):
        loaded = Event.objects.filter(organization=organization).count()
        if loaded != args.events:
            Event.objects.filter(organization=organization).delete()
            seconds = _load(organization, args.events, args.customers)
            print(f"loaded {args.events:,} events in {seconds:.1f} s")
        meter = Meter.objects.filter(organization=organization, key="tokens").first()
        if meter is None:
            meter = services.meter_create(
                organization=organization, key="tokens", name="Output tokens",
                event_name="meter_1", aggregation="sum", value_property="$.tokens.output",
            )

        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            rows = selectors.usage_by_customer(
                organization=organization, meter=meter, start=MONTH_START, end=MONTH_END
            )
            times.append(time.perf_counter() - started)
        total = sum(r.quantity for r in rows)
        started = time.perf_counter()
        one = selectors.usage(organization=organization, meter=meter, start=MONTH_START,
                              end=MONTH_END, customer="cus-42")
        single = time.perf_counter() - started

        sql, params, _ = selectors._query(
            organization=organization, meter=meter, start=MONTH_START, end=MONTH_END,
            customer=None, per_customer=True, group=False, granularity=None, time_zone="UTC",
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())

    print(f"events in the table   {args.events:,} over {args.customers:,} customers, 5 meters")
    print(f"bulk usage query      {statistics.median(times):.2f} s median of {args.runs} "
          f"(min {min(times):.2f}, max {max(times):.2f}): {len(rows):,} customers, "
          f"sum {total:,}")
    print(f"one customer          {single * 1000:.1f} ms (quantity {one[0].quantity})")
    print("plan of the bulk query:")
    print(plan)


if __name__ == "__main__":
    main()
