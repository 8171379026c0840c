"""A month's bill run at volume.

    .venv/bin/python bench/billrun.py [--contracts 10000] [--events 5000000] [--usage bulk]

Loads (once; later runs reuse them) 10,000 active contracts of mixed pricing models -- a flat
platform fee and per-seat fees in advance; graduated, package and volume usage in arrears on
three meters -- in three time zones, last month's (October's) invoices as already finalized,
and 5,000,000 usage events in October, into a benchmark database. Then times the generation
of November 1st's invoices (October's usage, November's fees: one invoice per contract), as
the scheduled task runs it but without finalization or PDFs, and in the same run the single
SQL aggregate of the same events per customer and meter. Prints invoices per second, both
times, their ratio, the peak memory, and the median time to render one invoice's PDF.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from common import bench_environment

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)
SECONDS_IN_MONTH = int((MONTH_END - MONTH_START).total_seconds())
LAST_RUN, RUN = date(2026, 10, 1), date(2026, 11, 1)  # the day after the month
TIME_ZONES = ("UTC", "Europe/Berlin", "America/New_York")

PRODUCTS = {  # sku: (kind, revenue rule)
    "PLATFORM": ("recurring", "ratable"), "SEATS": ("recurring", "ratable"),
    "API": ("usage", "as_used"), "TOKENS": ("usage", "as_used"), "COMPUTE": ("usage", "as_used"),
}
METERS = [  # key, event name, aggregation, value property
    ("api_calls", "api_call", "count", ""),
    ("tokens", "llm", "sum", "$.tokens"),
    ("compute_hours", "compute", "sum", "$.hours"),
]
ITEMS = {
    "PLATFORM": {"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
                 "pricing": {"amount": "500.00"}},
    "SEATS": {"product": "SEATS", "model": "per_unit", "timing": "advance", "quantity": "1",
              "pricing": {"unit_price": "12.00"}},
    "API": {"product": "API", "model": "graduated", "timing": "arrears", "meter": "api_calls",
            "pricing": {"tiers": [{"up_to": "100", "unit_price": "0"},
                                  {"up_to": None, "unit_price": "0.10"}]}},
    "TOKENS": {"product": "TOKENS", "model": "package", "timing": "arrears", "meter": "tokens",
               "pricing": {"package_size": "10000", "package_price": "4.00"}},
    "COMPUTE": {"product": "COMPUTE", "model": "volume", "timing": "arrears",
                "meter": "compute_hours",
                "pricing": {"tiers": [{"up_to": "400", "unit_price": "0.50"},
                                      {"up_to": None, "unit_price": "0.40"}]}},
}
PLANS = [  # contract i has plan i % 5
    ("PLATFORM", "API"),
    ("SEATS", "TOKENS"),
    ("PLATFORM", "COMPUTE"),
    ("PLATFORM", "SEATS", "API", "TOKENS"),
    ("SEATS", "API", "TOKENS", "COMPUTE"),
]


def _plan_items() -> list[list]:
    """Each plan's items, validated once by the contract document's parser."""
    from contracts.documents import parse_contract_document

    plans = []
    for plan in PLANS:
        doc = parse_contract_document({
            "customer": "template", "name": "template", "start_date": LAST_RUN.isoformat(),
            "phases": [{"start_date": LAST_RUN.isoformat(),
                        "items": [ITEMS[sku] for sku in plan]}],
        })
        plans.append(doc.phases[0].items)
    return plans


def _load_contracts(organization, count: int) -> float:
    """Customers, contracts, phases, items and October's finalized invoices, written in one
    transaction with bulk inserts (the documents were validated once per plan)."""
    from django.db import transaction

    from contracts import services as contracts
    from contracts.models import Contract, Customer, Phase, PriceItem
    from invoicing.models import Invoice, InvoiceLine
    from metering import services as metering

    started = time.perf_counter()
    plans = _plan_items()
    with transaction.atomic():
        products = {
            sku: contracts.product_create(organization=organization, name=sku.title(), sku=sku,
                                          kind=kind, revenue_rule=rule)
            for sku, (kind, rule) in PRODUCTS.items()
        }
        for key, event_name, aggregation, value in METERS:
            metering.meter_create(organization=organization, key=key, name=key,
                                  event_name=event_name, aggregation=aggregation,
                                  value_property=value)
        customers, contract_rows, phases, items, invoices, lines = [], [], [], [], [], []
        for i in range(count):
            zone = TIME_ZONES[(i // 5) % len(TIME_ZONES)]
            customer = Customer(organization=organization, external_id=f"cus-{i:05d}",
                                name=f"Customer {i}", currency="USD", time_zone=zone,
                                emails=[f"ap@cus-{i}.test"])
            contract = Contract(organization=organization, customer=customer,
                                name=f"Contract {i}", status=Contract.Status.ACTIVE,
                                start_date=LAST_RUN, currency="USD", time_zone=zone)
            phase = Phase(organization=organization, contract=contract, start_date=LAST_RUN)
            invoice = Invoice(organization=organization, customer=customer, contract=contract,
                              billing_date=LAST_RUN, status=Invoice.Status.FINALIZED,
                              number=f"BENCH-2026-{i + 1:06d}", currency="USD",
                              issue_date=LAST_RUN, due_date=date(2026, 10, 31),
                              period_start=LAST_RUN, period_end=RUN, finalized_at=MONTH_START,
                              rerated_at=MONTH_START)
            total = Decimal(0)
            for position, doc in enumerate(plans[i % len(plans)]):
                quantity = Decimal(5 + i % 20) if doc.product == "SEATS" else doc.quantity
                item = PriceItem(organization=organization, phase=phase,
                                 product=products[doc.product], description=doc.product.title(),
                                 position=position, timing=doc.timing, meter_key=doc.meter,
                                 quantity=quantity, model=doc.model, pricing=doc.pricing)
                items.append(item)
                if doc.timing == "advance":  # billed on October 1st, for October
                    amount = Decimal(doc.pricing.get("amount") or
                                     quantity * Decimal(doc.pricing["unit_price"]))
                    total += amount
                    lines.append(InvoiceLine(
                        organization=organization, invoice=invoice, price_item=item,
                        product=item.product, kind="recurring", description=item.description,
                        period_start=LAST_RUN, period_end=RUN, quantity=quantity,
                        amount=amount, position=position))
            invoice.subtotal = invoice.total = invoice.amount_due = total
            customers.append(customer)
            contract_rows.append(contract)
            phases.append(phase)
            invoices.append(invoice)
        for model, rows in ((Customer, customers), (Contract, contract_rows), (Phase, phases),
                            (PriceItem, items), (Invoice, invoices), (InvoiceLine, lines)):
            model.objects.bulk_create(rows, batch_size=2000)  # ids are made client-side
    return time.perf_counter() - started


def _load_events(organization, events: int, customers: int) -> float:
    """Generate the events inside PostgreSQL (as the owner), like bench/usage_query.py."""
    import psycopg

    from zenskar.core.db import owner_conninfo

    started = time.perf_counter()
    with psycopg.connect(owner_conninfo()) as conn:
        conn.execute(
            """
            INSERT INTO metering_event (organization_id, event_id, customer, event_name,
                                        "timestamp", properties, needs_adjustment, created_at)
            SELECT %(org)s, 'e-' || g,
                   'cus-' || lpad(((g / 3) %% %(customers)s)::text, 5, '0'),
                   (ARRAY['api_call', 'llm', 'compute'])[1 + g %% 3],
                   %(start)s + make_interval(secs => (g::bigint * 7919) %% %(seconds)s),
                   jsonb_build_object('tokens', g %% 1000, 'hours', g %% 7,
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


def _forget_run(organization) -> int:
    """Delete what an earlier run generated (November's invoices), so the run is timed anew."""
    import psycopg

    from zenskar.core.db import owner_conninfo

    ids = ("SELECT id FROM invoicing_invoice WHERE organization_id = %(org)s "
           "AND billing_date = %(run)s")
    params = {"org": organization.id, "run": RUN}
    with psycopg.connect(owner_conninfo()) as conn:
        conn.execute(f"DELETE FROM invoicing_invoiceline WHERE invoice_id IN ({ids})", params)
        conn.execute(f"DELETE FROM webhooks_outboxevent WHERE organization_id = %(org)s "
                     f"AND subject_id IN (SELECT id::text FROM ({ids}) AS i)", params)
        deleted = conn.execute(f"DELETE FROM invoicing_invoice WHERE id IN ({ids})", params)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE invoicing_invoice")
        conn.execute("VACUUM ANALYZE invoicing_invoiceline")
        return deleted.rowcount


AGGREGATE = """
    SELECT customer, event_name, count(*),
           sum(CASE event_name WHEN 'llm' THEN (properties ->> 'tokens')::numeric
                               WHEN 'compute' THEN (properties ->> 'hours')::numeric END)
    FROM metering_event
    WHERE organization_id = %(org)s AND event_name = ANY(%(names)s)
      AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
    GROUP BY customer, event_name
"""


def _aggregate(organization) -> tuple[float, int]:
    """The single SQL aggregate of the month's events, per customer and meter."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(AGGREGATE, {"org": organization.id, "start": MONTH_START,
                                   "end": MONTH_END, "names": [m[1] for m in METERS]})
        rows = cursor.fetchall()
    return time.perf_counter() - started, len(rows)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--usage", choices=("bulk", "direct"), default="bulk",
                        help="BulkUsage (what the task runs) or one query per contract")
    parser.add_argument("--pdfs", type=int, default=15, help="invoices to render for the median")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N most expensive functions of the generation")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # WeasyPrint's progress lines are noise here

    bench_environment("zenskar_bench")
    from common import bench_tenant

    from contracts.models import Contract
    from invoicing.bulk_usage import BulkUsage
    from invoicing.models import Invoice, InvoiceSettings
    from invoicing.services import invoice_settings, invoices_generate
    from metering.models import Event
    from zenskar.tenancy.context import tenant_context
    from zenskar.tenancy.models import Organization

    slug = f"bench-billrun-v1-{args.contracts}-{args.events}"
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        organization, _ = bench_tenant(slug)
    with tenant_context(organization):
        contracts = Contract.objects.filter(organization=organization).count()
        if contracts == 0:
            seconds = _load_contracts(organization, args.contracts)
            print(f"loaded {args.contracts:,} contracts in {seconds:.1f} s")
        elif contracts != args.contracts:
            raise SystemExit(f"{slug} holds {contracts} contracts: drop the bench database")
        events = Event.objects.filter(organization=organization).count()
        if events == 0:
            seconds = _load_events(organization, args.events, args.contracts)
            print(f"loaded {args.events:,} events in {seconds:.1f} s")
        elif events != args.events:
            raise SystemExit(f"{slug} holds {events} events: drop the bench database")
        forgotten = _forget_run(organization)
        if forgotten:
            print(f"deleted the {forgotten:,} invoices of an earlier run")
        InvoiceSettings.objects.filter(pk=invoice_settings(organization=organization).pk) \
            .update(auto_finalize=False)

        aggregate_seconds, groups = _aggregate(organization)
        rss_before = _peak_rss_mb()
        usage = BulkUsage(organization) if args.usage == "bulk" else None
        profile = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        result = invoices_generate(organization=organization, today=RUN, usage=usage)
        if profile:
            profile.disable()
        generation_seconds = time.perf_counter() - started
        rss_after = _peak_rss_mb()
        generated = Invoice.objects.filter(organization=organization, billing_date=RUN)
        total = sum(generated.values_list("total", flat=True), Decimal(0))

        renders = []
        try:
            from invoicing.rendering import render_invoice_pdf
        except ImportError:
            render_invoice_pdf = None
        if render_invoice_pdf is not None:
            for invoice in generated.order_by("customer__external_id")[:args.pdfs]:
                started = time.perf_counter()
                render_invoice_pdf(invoice)
                renders.append(time.perf_counter() - started)

    print(f"contracts             {args.contracts:,} active; plans {', '.join('+'.join(p) for p in PLANS)}")
    print(f"usage events          {args.events:,} in October 2026 over 3 meters")
    print(f"generation            {generation_seconds:.1f} s ({args.usage} usage): "
          f"{result.created:,} invoices created ({result.recomputed} recomputed, "
          f"{result.skipped:,} skipped), total {total:,.2f} USD")
    if usage is not None:
        print(f"bulk usage queries    {usage.bulk_queries}")
    print(f"invoices per second   {result.created / generation_seconds:,.0f}")
    print(f"SQL aggregate         {aggregate_seconds:.2f} s: the same events, {groups:,} "
          f"(customer, meter) sums in one statement")
    print(f"ratio                 generation takes {generation_seconds / aggregate_seconds:.1f}x "
          "the aggregate")
    print(f"peak RSS              {rss_after:,.0f} MB (before generation {rss_before:,.0f} MB)")
    if renders:
        print(f"PDF, one invoice      {statistics.median(renders) * 1000:.0f} ms median of "
              f"{len(renders)} (min {min(renders) * 1000:.0f}, max {max(renders) * 1000:.0f})")
    else:
        print("PDF, one invoice      not available (invoicing.rendering.render_invoice_pdf)")
    print(f"peak RSS, with PDFs   {_peak_rss_mb():,.0f} MB")
    target = result.created == args.contracts and generation_seconds < 60 and rss_after < 1024
    print(f"target                {'met' if target else 'NOT met'}: all {args.contracts:,} "
          "invoices in under 60 s, peak RSS under 1 GB")
    if profile:
        for order in ("cumulative", "tottime"):
            pstats.Stats(profile).sort_stats(order).print_stats(args.profile)


if __name__ == "__main__":
    main()
