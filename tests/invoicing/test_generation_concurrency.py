"""Generation at once and after a crash: every (contract, billing date) is invoiced exactly
once, whatever runs the generation and however often; numbers stay gapless.

Both tests commit (a second thread or a worker process must see the rows) and bill the same
book of contracts, worked out by hand once here:

- contract ``i`` (customer ``cus-i``) starts on the first of August, September or October
  2026 (``i % 3`` = 0, 1, 2), monthly, calendar-aligned, in UTC, and has two items: a
  platform fee of 100.00 in advance and API calls at 0.50 each in arrears;
- customer ``i`` sends ``1 + i % 5`` API calls in each of August, September and October
  (also in the months before its contract starts: those are never billed);
- generation runs on 2026-11-15. A contract started in August bills Aug 1 (fee only), Sep 1,
  Oct 1 and Nov 1 (fee + the previous month's calls): 4 invoices; September: 3; October: 2.

Over any 15 consecutive contracts, ``(i % 3, i % 5)`` takes each of its 15 values once: 5
contracts of each start month -> 5 x (4 + 3 + 2) = 45 invoices, and calls billed
(1+2+3+4+5) x (3+2+1) = 90, i.e. 45.00.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import redis
from django.conf import settings

from contracts import services as contracts
from invoicing import tasks
from invoicing.bulk_usage import BulkUsage
from invoicing.models import Invoice, InvoiceLine, InvoiceSettings
from invoicing.services import invoice_settings, invoices_finalize_due, invoices_generate
from metering import services as metering
from tests.support import COMMITTING
from tests.support.concurrency import at_once
from tests.support.waiting import wait_until
from zenskar.core.db import owner_conninfo

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 15)
USAGE_MONTHS = (8, 9, 10)
FEE, CALL = Decimal("100.00"), Decimal("0.50")


def _book(count: int) -> dict[tuple[str, date], Decimal]:
    """The invoices the module docstring describes: (customer, billing date) -> total."""
    expected = {}
    for i in range(count):
        first = 8 + i % 3
        for month in range(first, TODAY.month + 1):
            calls = (1 + i % 5) if month > first else 0  # the previous month, once begun
            expected[(f"cus-{i:03d}", date(2026, month, 1))] = FEE + CALL * calls
    return expected


def _load(tenant, count: int) -> dict[tuple[str, date], Decimal]:
    """Write the book of ``count`` contracts and their usage; return the expected invoices."""
    organization = tenant.organization
    organization.usage_window_days = 3650  # the usage is months old
    organization.save(update_fields=["usage_window_days"])
    with tenant.context():
        InvoiceSettings.objects.filter(pk=invoice_settings(organization=organization).pk) \
            .update(auto_send=False)
        contracts.product_create(organization=organization, name="Platform", sku="PLATFORM",
                                 kind="recurring", revenue_rule="ratable")
        contracts.product_create(organization=organization, name="API", sku="API",
                                 kind="usage", revenue_rule="as_used")
        metering.meter_create(organization=organization, key="api_calls", name="API calls",
                              event_name="api_call", aggregation="count")
        events = []
        for i in range(count):
            customer = f"cus-{i:03d}"
            contracts.customer_create(organization=organization, external_id=customer,
                                      name=customer, currency="USD")
            start = date(2026, 8 + i % 3, 1).isoformat()
            contracts.contract_create(organization=organization, document={
                "customer": customer, "name": f"Contract {i}", "status": "active",
                "start_date": start, "end_date": "2027-08-01",
                "phases": [{"start_date": start, "end_date": "2027-08-01", "items": [
                    {"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
                     "pricing": {"amount": str(FEE)}},
                    {"product": "API", "model": "per_unit", "timing": "arrears",
                     "meter": "api_calls", "pricing": {"unit_price": str(CALL)}},
                ]}],
            })
            events += [
                {"event_id": f"{customer}-{month}-{n}", "customer": customer,
                 "event_name": "api_call", "timestamp": f"2026-{month:02d}-{1 + n:02d}T12:00:00Z"}
                for month in USAGE_MONTHS for n in range(1 + i % 5)
            ]
        result = metering.events_ingest(organization=organization, events=events)
        assert (result.accepted, result.rejected) == (len(events), [])
    return _book(count)


def _invoices(tenant) -> list[Invoice]:
    with tenant.context():
        return list(Invoice.objects.filter(organization=tenant.organization)
                    .select_related("customer"))


def _by_key(invoices: list[Invoice]) -> dict[tuple[str, date], Decimal]:
    keys = [(i.customer.external_id, i.billing_date) for i in invoices]
    assert len(keys) == len(set(keys)), "an invoice was created twice"
    return {(i.customer.external_id, i.billing_date): i.total for i in invoices}


def _numbers(invoices: list[Invoice]) -> list[int]:
    """The sequence numbers of ``PREFIX-YEAR-000042``, sorted; one prefix and year."""
    assert len({i.number.rsplit("-", 1)[0] for i in invoices}) == 1
    return sorted(int(i.number.rsplit("-", 1)[1]) for i in invoices)


@COMMITTING
def test_two_runs_at_once_create_each_invoice_once_and_number_them_without_gaps(
        tenant, monkeypatch):
    expected = _load(tenant, 30)
    # 30 contracts = 2 x 15: 2 x 45 = 90 invoices; 2 x 90 = 180 calls billed = 90.00, plus
    # 90 platform fees of 100.00 = 9,000.00
    assert len(expected) == 90
    assert sum(expected.values()) == Decimal("9090.00")
    organization = tenant.organization
    queued = []  # finalization queues the PDF and e-mail: record it instead of sending it
    monkeypatch.setattr(tasks.deliver_invoice, "delay",
                        lambda organization_id, invoice_id: queued.append(invoice_id))

    # One run asks PostgreSQL per customer, the other once per window for all customers.
    direct, bulk = at_once(
        lambda: invoices_generate(organization=organization, today=TODAY),
        lambda: invoices_generate(organization=organization, today=TODAY,
                                  usage=BulkUsage(organization, bulk_after=0)),
        organization=organization,
    )

    assert direct.created + bulk.created == 90  # each invoice created by exactly one run
    invoices = _invoices(tenant)
    assert _by_key(invoices) == expected
    assert {i.status for i in invoices} == {Invoice.Status.DRAFT}

    # Two finalization runs at once: each draft finalized once, numbers 1..90 in one sequence.
    at_once(lambda: invoices_finalize_due(organization=organization),
            lambda: invoices_finalize_due(organization=organization), organization=organization)

    invoices = _invoices(tenant)
    assert {i.status for i in invoices} == {Invoice.Status.FINALIZED}
    assert _by_key(invoices) == expected
    assert _numbers(invoices) == list(range(1, 91))
    assert sorted(queued) == sorted(str(i.id) for i in invoices)  # delivered once each


# --- A worker killed midway ---------------------------------------------------------------


def _worker(queue: str, log: Path) -> subprocess.Popen:
    """A real Celery worker process on a private queue, on this test database."""
    env = {
        **os.environ,
        "DATABASE_URL": owner_conninfo(settings.DATABASES["owner"]["NAME"]),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
    }
    with log.open("ab") as out:  # a file, not a pipe: a full pipe would stall the worker
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "zenskar", "worker", "--pool", "solo",
             "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def _forget_queue(queue: str) -> None:
    """Drop what the broker still holds for ``queue``: the killed worker's unacknowledged
    message (kombu would redeliver it to the queue after its visibility timeout) and the
    deliveries nobody ran."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == queue:  # [message, exchange, routing key]
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue)


def _killed_once(condition, *, what: str, queue: str, organization_id: str, log: Path):
    """Start a worker, send it the generation task, SIGKILL it as soon as ``condition``
    holds: no shutdown, the transaction in flight is cut off."""
    worker = _worker(queue, log)
    try:
        tasks.generate_invoices.apply_async(args=(organization_id, TODAY.isoformat()),
                                            queue=queue)
        wait_until(condition, what=what, timeout=180, process=worker, explain=log.read_text)
    finally:
        worker.kill()
        worker.wait(timeout=30)


@COMMITTING
def test_workers_killed_midway_leave_whole_invoices_and_the_next_run_completes_them(
        tenant, tmp_path, monkeypatch):
    expected = _load(tenant, 105)
    # 105 contracts = 7 x 15: 7 x 45 = 315 invoices; 7 x 90 = 630 calls = 315.00, plus
    # 315 platform fees of 100.00 = 31,500.00
    assert len(expected) == 315
    assert sum(expected.values()) == Decimal("31815.00")
    organization_id = str(tenant.organization.id)
    queue, log = f"test-{uuid.uuid4().hex[:8]}", tmp_path / "worker.log"

    def count(**filters):
        with tenant.context():
            return Invoice.objects.filter(organization=tenant.organization, **filters).count()

    try:
        # 1. Killed while generating.
        _killed_once(lambda: count() >= 40, what="40 invoices", queue=queue,
                     organization_id=organization_id, log=log)
        partial = _invoices(tenant)
        assert 40 <= len(partial) < 315, "the worker was not stopped while generating"
        # What the killed run committed is whole: each invoice it left is an expected one,
        # with its lines and its full total; none is finalized.
        assert _by_key(partial).items() <= expected.items()
        assert {i.status for i in partial} == {Invoice.Status.DRAFT}
        with tenant.context():
            lines = InvoiceLine.objects.filter(organization=tenant.organization)
            assert set(lines.values_list("invoice_id", flat=True)) == {i.id for i in partial}

        # 2. Killed while finalizing (the task generates everything, then finalizes).
        _killed_once(lambda: count(status=Invoice.Status.FINALIZED) >= 40,
                     what="40 finalized invoices", queue=queue,
                     organization_id=organization_id, log=log)
        generated = _invoices(tenant)
        assert _by_key(generated) == expected  # the missing ones, once each
        finalized = [i for i in generated if i.status == Invoice.Status.FINALIZED]
        assert 40 <= len(finalized) < 315, "the worker was not stopped while finalizing"
        # the number of the finalization cut off was given back with its transaction
        assert _numbers(finalized) == list(range(1, len(finalized) + 1))
    finally:
        _forget_queue(queue)

    # 3. The next run, in this process, finalizes the rest; their deliveries are recorded.
    queued = []
    monkeypatch.setattr(tasks.deliver_invoice, "delay",
                        lambda organization_id, invoice_id: queued.append(invoice_id))
    result = tasks.generate_invoices(organization_id, TODAY.isoformat())

    left = 315 - len(finalized)
    assert result == {"created": 0, "recomputed": left, "failed": 0, "finalized": left,
                      "finalize_failed": 0, "deliveries_retried": 0}
    invoices = _invoices(tenant)
    assert _by_key(invoices) == expected
    assert {i.status for i in invoices} == {Invoice.Status.FINALIZED}
    assert _numbers(invoices) == list(range(1, 316))
    assert len(queued) == len(set(queued)) == left
