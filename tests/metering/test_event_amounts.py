"""A price per transaction reads the meter's events one by one: each with the amount it
counts, earliest first (timestamp, then event id), streamed a page at a time."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metering import selectors, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def window():
    end = (timezone.now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=1), end


@pytest.fixture
def charges(tenant, window):
    """Eight card charges of acme in the window, two pairs at the same instant, sent in no
    particular order; and events no price of acme's card volume reads."""
    start, end = window
    at = [start + timedelta(minutes=m) for m in (0, 10, 10, 20, 30, 30, 40, 50)]
    rows = [
        ("ch-b", "acme", "charge", at[2], {"amount": "20.00", "method": "card"}),
        ("ch-a", "acme", "charge", at[1], {"amount": 10, "method": "card"}),
        ("ch-0", "acme", "charge", at[0], {"amount": "5.00", "method": "card"}),
        ("ch-c", "acme", "charge", at[3], {"method": "card"}),  # no amount: counts 0
        ("ch-E", "acme", "charge", at[5], {"amount": "-5", "method": "card"}),  # a correction
        ("ch-d", "acme", "charge", at[4], {"amount": "7.25", "method": "card"}),
        ("ch-f", "acme", "charge", at[6], {"amount": "100", "method": "card"}),
        ("ch-g", "acme", "charge", at[7], {"amount": "1", "method": "card"}),
        ("ach-1", "acme", "charge", at[7], {"amount": "999", "method": "ach"}),  # filtered out
        ("gl-1", "globex", "charge", at[3], {"amount": "50", "method": "card"}),  # another customer
        ("late", "acme", "charge", end, {"amount": "3", "method": "card"}),  # after the window
    ]
    with tenant.context():
        result = services.events_ingest(organization=tenant.organization, events=[
            {"event_id": i, "customer": c, "event_name": n, "timestamp": t.isoformat(),
             "properties": p} for i, c, n, t, p in rows])
        assert result.rejected == []
        return services.meter_create(
            organization=tenant.organization, key="card_volume", name="Card volume",
            event_name="charge", aggregation="sum", value_property="$.amount",
            filters=[{"property": "$.method", "op": "equals", "value": "card"}])


# Earliest first; ch-a and ch-b share a minute (a before b), as do ch-E and ch-d: byte order
# puts the capital E before d.
ORDER = [("ch-0", D("5.00")), ("ch-a", D(10)), ("ch-b", D("20.00")), ("ch-c", D(0)),
         ("ch-E", D(-5)), ("ch-d", D("7.25")), ("ch-f", D(100)), ("ch-g", D(1))]


def _read(tenant, meter, window, **kwargs):
    start, end = window
    with tenant.context():
        return [(e.event_id, e.amount) for e in selectors.event_amounts(
            organization=tenant.organization, meter=meter, customer="acme", start=start,
            end=end, **kwargs)]


def test_each_event_comes_with_its_amount_earliest_first(tenant, charges, window):
    assert _read(tenant, charges, window) == ORDER
    # they add up to what the meter's sum says for the window: 138.25
    with tenant.context():
        [row] = selectors.usage(organization=tenant.organization, meter=charges,
                                start=window[0], end=window[1], customer="acme")
    assert row.quantity == sum(amount for _, amount in ORDER) == D("138.25")


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 8, 100])
def test_pages_give_the_same_events_in_the_same_order(tenant, charges, window, page_size):
    with CaptureQueriesContext(connection) as queries:
        assert _read(tenant, charges, window, page_size=page_size) == ORDER
    # one statement per page, and one more that finds the last page short (or empty)
    assert len([q for q in queries if "metering_event" in q["sql"]]) == 8 // page_size + 1


def test_a_count_meter_counts_one_per_event_and_other_meters_are_refused(tenant, charges,
                                                                         window):
    with tenant.context():
        count = services.meter_create(organization=tenant.organization, key="charges",
                                      name="Charges", event_name="charge", aggregation="count")
        largest = services.meter_create(organization=tenant.organization, key="largest",
                                        name="Largest", event_name="charge", aggregation="max",
                                        value_property="$.amount")
    assert [amount for _, amount in _read(tenant, count, window)] == [D(1)] * 9  # with ach-1
    with pytest.raises(ValueError, match="no amount per event"):
        _read(tenant, largest, window)
