"""Recurring meters: a level (seats) that events raise and lower and that carries over from
period to period; ``weighted_sum`` weighs each level by the share of the period it held.
Expected quantities are worked out by hand beside each assertion; a Hypothesis property checks
the SQL against a second-by-second count done here."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering import selectors, services

pytestmark = pytest.mark.django_db

NOV = datetime(2026, 11, 1, tzinfo=UTC)  # November 2026: 30 days
DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)


def _meter(tenant, aggregation="weighted_sum", **fields):
    with tenant.context():
        return services.meter_create(
            organization=tenant.organization, key=f"seats_{aggregation}", name="Seats",
            event_name="seats_changed", aggregation=aggregation, value_property="$.seats",
            recurring=True, **fields)


def _events(tenant, clock, rows, customer="acme"):
    """rows: (moment, delta); sent as the moment's clock, so none is too old."""
    for index, (moment, delta) in enumerate(rows):
        clock.at(moment + timedelta(seconds=1))
        with tenant.context():
            result = services.events_ingest(organization=tenant.organization, events=[{
                "event_id": f"{customer}-{index}", "customer": customer,
                "event_name": "seats_changed", "timestamp": moment.isoformat(),
                "properties": {"seats": delta}}])
        assert result.accepted == 1, result.rejected


def _usage(tenant, meter, start, end, customer="acme"):
    with tenant.context():
        [row] = selectors.usage(organization=tenant.organization, meter=meter, start=start,
                                end=end, customer=customer)
    return row.quantity


def test_seats_weighted_over_a_month_then_carried_into_the_next(tenant, clock):
    meter = _meter(tenant)
    level = _meter(tenant, aggregation="sum")
    _events(tenant, clock, [(NOV, 10), (NOV + timedelta(days=10), 5),
                            (NOV + timedelta(days=20), -3)])
    # 10 seats for 10 days + 15 for 10 days + 12 for 10 days, of 30:
    # (100 + 150 + 120) / 30 = 370 / 30 = 12.3333...
    assert _usage(tenant, meter, NOV, DEC).quantize(D("0.0001")) == D("12.3333")
    # December: no events, the 12 seats held all month
    assert _usage(tenant, meter, DEC, JAN) == D(12)
    # the recurring sum is the level at the window's end: 10 + 5 - 3 = 12
    assert _usage(tenant, level, NOV, DEC) == D(12)
    assert _usage(tenant, level, NOV, NOV + timedelta(days=15)) == D(15)  # 10 + 5
    with tenant.context():
        spans, more = selectors.recurring_levels(organization=tenant.organization, meter=meter,
                                                 customer="acme", start=NOV, end=DEC)
    assert [(s.level, (s.end - s.start).days) for s in spans] == [
        (D(10), 10), (D(15), 10), (D(12), 10)]
    assert more == 0
    # every customer with a level, though none sent an event in December
    with tenant.context():
        rows = selectors.usage_by_customer(organization=tenant.organization, meter=meter,
                                           start=DEC, end=JAN)
    assert [(r.customer, r.quantity) for r in rows] == [("acme", D(12))]


def test_a_removal_below_zero_is_floored_and_later_additions_start_from_zero(tenant, clock):
    meter = _meter(tenant, aggregation="sum")
    _events(tenant, clock, [(NOV, 2), (NOV + timedelta(days=1), -5),
                            (NOV + timedelta(days=2), 3)])
    # 2, then 2 - 5 floored at 0, then 0 + 3 = 3 (not 2 - 5 + 3 = 0)
    assert _usage(tenant, meter, NOV, NOV + timedelta(days=1, hours=1)) == D(0)
    assert _usage(tenant, meter, NOV, DEC) == D(3)


def test_only_sum_and_weighted_sum_can_be_recurring_and_weighted_sum_must_be(tenant):
    with pytest.raises(ValidationError) as error, tenant.context():
        services.meter_create(organization=tenant.organization, key="m", name="m",
                              event_name="e", aggregation="max", value_property="$.v",
                              recurring=True)
    assert error.value.error_dict["recurring"][0].code == "invalid_choice"
    with pytest.raises(ValidationError) as error, tenant.context():
        services.meter_create(organization=tenant.organization, key="m", name="m",
                              event_name="e", aggregation="weighted_sum",
                              value_property="$.v")
    assert error.value.error_dict["recurring"][0].code == "required"
    with pytest.raises(ValidationError) as error, tenant.context():
        services.meter_create(organization=tenant.organization, key="m", name="m",
                              event_name="e", aggregation="sum", value_property="$.v",
                              recurring=True, group_by=["$.region"])
    assert error.value.error_dict["group_by"][0].code == "invalid_value"


def _reference(changes, start_minute, end_minute):
    """Minute by minute: the floored level held in each minute of the window, summed, over
    the window's minutes (every change falls on a whole minute)."""
    level, held = 0, 0
    ordered = sorted(changes, key=lambda change: change[0])
    for minute in range(end_minute):
        for at, delta in ordered:
            if at == minute:
                level = max(0, level + delta)
        if minute >= start_minute:
            held += level
    return D(held) / D(end_minute - start_minute), level


BASE = datetime(2026, 11, 2, tzinfo=UTC)
MINUTES = 600


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.integers(0, MINUTES - 1), st.integers(-6, 8)),
                        min_size=1, max_size=12),
       cut=st.integers(1, MINUTES - 1))
def test_the_weighted_sum_matches_a_minute_by_minute_count(tenant, clock, changes, cut):
    from metering.models import Event
    with tenant.context():
        Event.objects.filter(organization=tenant.organization).delete()
        meter = (selectors.meters_by_key(organization=tenant.organization, keys=["seats"])
                 or {}).get("seats") or services.meter_create(
            organization=tenant.organization, key="seats", name="Seats",
            event_name="seats_changed", aggregation="weighted_sum", value_property="$.seats",
            recurring=True)
    # events in the order listed, each at its minute (several may share one)
    clock.at(BASE + timedelta(minutes=MINUTES))
    with tenant.context():
        result = services.events_ingest(organization=tenant.organization, events=[
            {"event_id": f"e{i}", "customer": "acme", "event_name": "seats_changed",
             "timestamp": (BASE + timedelta(minutes=at)).isoformat(),
             "properties": {"seats": delta}} for i, (at, delta) in enumerate(changes)])
    assert result.accepted == len(changes)
    # events at the same minute apply in event id order, as the SQL orders them: make the
    # reference's order the same by sorting ties by id
    by_id = sorted(enumerate(changes), key=lambda pair: (pair[1][0], _event_pk(tenant,
                                                                                pair[0])))
    ordered = [change for _, change in by_id]
    start, middle, end = BASE, BASE + timedelta(minutes=cut), BASE + timedelta(minutes=MINUTES)
    whole = _usage(tenant, meter, start, end)
    expected, final = _reference(ordered, 0, MINUTES)
    # the SQL rounds to 10 decimal places: within half of 1e-10
    assert abs(whole - expected) <= D("0.5e-10")
    assert whole >= 0
    # the two halves add up to the whole, each weighted by its length (level-minutes), up to
    # the rounding of each: 0.5e-10 x (cut + (MINUTES - cut) + MINUTES) = 6e-8
    first, second = _usage(tenant, meter, start, middle), _usage(tenant, meter, middle, end)
    assert abs(first * cut + second * (MINUTES - cut) - whole * MINUTES) <= D("6e-8")
    assert abs(second - _reference(ordered, cut, MINUTES)[0]) <= D("0.5e-10")
    # the level after the last change, held over the next minute: never negative
    assert _usage(tenant, meter, end, end + timedelta(minutes=1)) == final >= 0


def _event_pk(tenant, index):
    from metering.models import Event
    with tenant.context():
        return Event.objects.filter(organization=tenant.organization,
                                    event_id=f"e{index}").values_list("id", flat=True).get()
