"""One day's revenue recognition run at volume.

    .venv/bin/python bench/recognition.py [--schedules 100000] [--chunk 1000]

Makes a fresh benchmark database (``--keep``: the previous run's) and an organization with ``--schedules`` open ratable revenue
schedules -- monthly, quarterly and yearly service periods started on different days, in
three currencies, each recognized through yesterday as the previous runs left it -- then
times the run that recognizes today (``revrec.recognition.recognize``, as the hourly task
calls it) and a second run of the same day (nothing left to do). Prints schedules, revenue
recognitions and journal lines per second, the entries posted, the peak memory, and whether
the books still balance. The target: the whole run in 30 s or less.
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from common import bench_environment

RUN_DAY = date(2026, 11, 15)
TARGET_SECONDS = 30
CURRENCIES = ("USD", "EUR", "JPY")
PERIODS = (  # (length in months, amount)
    (1, Decimal("99.00")), (3, Decimal("1250.00")), (12, Decimal("12000.00")),
)


DATABASE = "zenskar_bench_recognition"


def _drop_database(name: str) -> None:
    """A fresh database each run (the figure does not depend on the runs before)."""
    import os

    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from zenskar import embedded

    embedded.up()
    with psycopg.connect(make_conninfo(os.environ["DATABASE_URL"], dbname="postgres"),
                         autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _load(organization, count: int) -> None:
    """``count`` open schedules, each recognized through the day before the run."""
    from revrec.models import RevenueSchedule
    from revrec.recognition import ratable_cumulative
    from zenskar.money import round_money

    customers = [uuid.uuid4() for _ in range(2_000)]
    products = [uuid.uuid4() for _ in range(20)]
    rows = []
    for i in range(count):
        months, amount = PERIODS[i % len(PERIODS)]
        currency = CURRENCIES[i % len(CURRENCIES)]
        amount = round_money(amount * (1 + Decimal(i % 7) / 10), currency)
        length = (_add_months(RUN_DAY, months) - RUN_DAY).days
        start = RUN_DAY - timedelta(days=1 + i % (length - 1))  # started before today
        end = _add_months(start, months)
        if end <= RUN_DAY + timedelta(days=1):
            end = RUN_DAY + timedelta(days=2)
        recognized = ratable_cumulative(amount, currency, start, end, RUN_DAY)
        rows.append(RevenueSchedule(
            organization=organization, source=f"bench:{i}", method="ratable",
            currency=currency, amount=amount, billed=amount, recognized=recognized,
            start_date=start, end_date=end, recognized_through=RUN_DAY,
            invoice_id=uuid.uuid4(), customer_id=customers[i % len(customers)],
            product_id=products[i % len(products)], description=f"Bench schedule {i}"))
    RevenueSchedule.objects.bulk_create(rows, batch_size=5_000)
    # What autovacuum does soon after a load this size (this machine's server runs without
    # it): the planner's statistics, gathered by the tables' owner.
    import os

    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as owner:
        for table in ("revrec_revenueschedule", "revrec_journalline", "revrec_recognition"):
            owner.execute(f"ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true",
                        help="keep the benchmark database of the previous run (its journal "
                             "grows by each run's lines)")
    args = parser.parse_args()
    if not args.keep:
        _drop_database(DATABASE)
    bench_environment(DATABASE)

    from django.contrib.auth import get_user_model
    from django.db.models import Count, Sum

    from revrec import recognition
    from revrec.models import JournalEntry, JournalLine, Recognition
    from revrec.selectors import trial_balance
    from revrec.services import accounts_ensure
    from zenskar.money import round_money
    from zenskar.tenancy import services as tenancy
    from zenskar.tenancy.context import tenant_context
    from zenskar.tenancy.models import Organization

    slug = f"bench-recognition-{uuid.uuid4().hex[:8]}"
    owner, _ = get_user_model().objects.get_or_create(username=f"{slug}@bench.local")
    organization = tenancy.organization_create(name=slug, slug=slug, owner=owner)
    organization = Organization.objects.get(id=organization.id)
    with tenant_context(organization):
        accounts_ensure(organization=organization)
        started = time.perf_counter()
        _load(organization, args.schedules)
        print(f"loaded                {args.schedules:,} schedules in "
              f"{time.perf_counter() - started:.1f} s")
        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        result = recognition.recognize(organization=organization, through=RUN_DAY,
                                       chunk=args.chunk)
        elapsed = time.perf_counter() - started
        rss_after = _peak_rss_mb()
        started = time.perf_counter()
        again = recognition.recognize(organization=organization, through=RUN_DAY,
                                      chunk=args.chunk)
        second = time.perf_counter() - started

        entries = JournalEntry.objects.for_organization(organization).count()
        lines = JournalLine.objects.for_organization(organization).count()
        days = Recognition.objects.for_organization(organization).aggregate(
            n=Count("id"), total=Sum("amount"))
        balanced = all(
            sum((row.balance for row in trial_balance(organization=organization)
                 if row.currency == currency), Decimal(0)) == 0
            for currency in CURRENCIES)

    amounts = ", ".join(f"{round_money(amount, currency):,} {currency}" for currency, amount
                        in sorted(result.amounts.items()))
    print(f"recognition run       {elapsed:.1f} s: {result.schedules:,} schedules, "
          f"{result.recognitions:,} recognitions, {result.entries:,} entries, "
          f"{lines:,} journal lines ({len(result.failed)} failed)")
    print(f"recognized            {amounts}")
    print(f"schedules per second  {result.schedules / elapsed:,.0f}")
    print(f"journal lines/second  {lines / elapsed:,.0f} "
          f"({entries:,} entries: one per {args.chunk:,} schedules, currency and day)")
    print(f"second run, same day  {second:.2f} s: {again.recognitions} recognitions "
          f"(idempotent)")
    print(f"peak RSS              {rss_after:,.0f} MB (before the run {rss_before:,.0f} MB)")
    print(f"books balance         {'yes' if balanced else 'NO'}; "
          f"{days['n']:,} recognitions in the database")
    verdict = "met" if elapsed <= TARGET_SECONDS and not result.failed and balanced \
        else "NOT met"
    print(f"target                {verdict}: {args.schedules:,} schedules in "
          f"{TARGET_SECONDS} s or less")


if __name__ == "__main__":
    main()
