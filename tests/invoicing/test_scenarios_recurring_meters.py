"""Billing a recurring, time-weighted meter (seats added and removed at any moment) end to end,
through the API. Every expected amount is worked out by hand in the comment beside it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support.scenario import invoice_lines

pytestmark = pytest.mark.django_db


def seats(at, delta, event_id):
    return (event_id, "acme", "seats_changed", at, {"seats": delta})


def seat_contract(scenario):
    """Acme from 2026-11-01, monthly, seats at 10.00 a seat-month in arrears."""
    scenario.customer()
    scenario.product("SEATS", kind="usage")
    meter = scenario.meter("seats", event_name="seats_changed", aggregation="weighted_sum",
                           value_property="$.seats", recurring=True)
    assert meter["recurring"] is True
    return scenario.contract(
        start="2026-11-01", end="2027-11-01",
        items=[{"product": "SEATS", "model": "per_unit", "timing": "arrears", "meter": "seats",
                "pricing": {"unit_price": "10.00"}}])


def test_seats_are_billed_for_the_share_of_the_month_each_level_held(scenario, clock):
    contract = seat_contract(scenario)
    clock.at(datetime(2027, 1, 1, 12, tzinfo=UTC))
    scenario.events(seats("2026-11-01T00:00:00Z", 10, "s1"),
                    seats("2026-11-11T00:00:00Z", 5, "s2"),
                    seats("2026-11-21T00:00:00Z", -3, "s3"))
    scenario.run("2026-12-01")
    scenario.run("2027-01-01")
    assert scenario.totals(contract["id"]) == {
        # 10 seats x 10/30 + 15 x 10/30 + 12 x 10/30 = 370/30 = 12.3333 seat-months
        # x 10.00 = 123.333 -> 123.33
        "2026-12-01": "123.33",
        # December starts at 12 seats and nothing changes: 12 x 10.00
        "2027-01-01": "120.00",
    }
    november, december = scenario.invoices(contract["id"])
    [line] = invoice_lines(scenario, november)
    assert line["derivation"]["explanation"] == (
        "10 seats for 10 of 30 days + 15 seats for 10 of 30 days + 12 seats for 10 of 30 days"
        " = 12.333 seats over the period (time-weighted)")
    [line] = invoice_lines(scenario, december)
    assert line["derivation"]["explanation"] == (
        "12 seats for 31 of 31 days = 12 seats over the period (time-weighted)")


def test_the_usage_api_answers_the_weighted_level_and_refuses_buckets(scenario, clock):
    seat_contract(scenario)
    clock.at(datetime(2027, 1, 1, 12, tzinfo=UTC))
    scenario.events(seats("2026-11-01T00:00:00Z", 3, "s1"),
                    seats("2026-11-11T00:00:00Z", 2, "s2"),
                    seats("2026-11-15T00:00:00Z", -9, "s3"))  # floored: 5 - 9 -> 0
    window = {"meter": "seats", "start": "2026-11-01T00:00:00Z",
              "end": "2026-12-01T00:00:00Z"}
    # 3 seats x 10 days + 5 x 4 days + 0 x 16 days = 50 seat-days / 30 = 1.6666666667 (the
    # quantity's ten decimals)
    [row] = scenario.get("usage", **window)["rows"]
    assert (row["customer"], Decimal(row["quantity"])) == ("acme", Decimal("1.6666666667"))
    response = scenario.client.get("/api/v1/usage", {**window, "granularity": "day"})
    assert response.status_code == 400
    assert "granularity" in str(response.json())
    # a recurring meter must sum: max is refused, naming the field
    response = scenario.client.post("/api/v1/meters", {
        "key": "peak", "name": "Peak", "event_name": "x", "aggregation": "max",
        "value_property": "$.v", "recurring": True}, format="json")
    assert response.status_code == 400
    assert "recurring" in str(response.json())


def test_a_price_per_transaction_refuses_a_recurring_meter(scenario):
    scenario.customer()
    scenario.product("CARD", kind="usage")
    scenario.meter("seats", event_name="seats_changed", aggregation="sum",
                   value_property="$.seats", recurring=True)
    # its events change a level: they are not transactions to price one by one
    response = scenario.client.post("/api/v1/contracts", {
        "customer": "acme", "name": "Card", "start_date": "2026-01-01",
        "end_date": "2027-01-01", "status": "active",
        "phases": [{"start_date": "2026-01-01", "end_date": "2027-01-01", "items": [{
            "product": "CARD", "model": "percentage", "timing": "arrears", "meter": "seats",
            "pricing": {"percent": "2.9", "fixed_fee": "0.30"}}]}]}, format="json")
    assert response.status_code == 400
    assert "is recurring" in str(response.json())


def test_a_late_seat_event_corrects_its_month_and_carries_into_the_next(scenario, clock):
    contract = seat_contract(scenario)
    clock.at(datetime(2026, 12, 1, 12, tzinfo=UTC))
    scenario.events(seats("2026-11-01T00:00:00Z", 10, "s1"))
    scenario.run("2026-12-01")
    [november] = scenario.invoices(contract["id"])
    assert november["total"] == "100.00"  # 10 seats all month x 10.00
    scenario.finalize(november["id"])
    # sent late: 3 more seats from November 16, after November was finalized
    clock.at(datetime(2026, 12, 20, tzinfo=UTC))
    scenario.events(seats("2026-11-16T00:00:00Z", 3, "s2"))
    clock.at(datetime(2027, 1, 1, 12, tzinfo=UTC))
    scenario.run("2027-01-01")
    assert scenario.totals(contract["id"]) == {
        "2026-12-01": "100.00",
        # December: 13 seats all month x 10.00 = 130.00; November again: 10 x 15/30 +
        # 13 x 15/30 = 11.5 seats x 10.00 = 115.00, billed 100.00: +15.00 (3 seats x 15/30
        # x 10.00); 130.00 + 15.00 = 145.00
        "2027-01-01": "145.00",
    }


def test_a_contract_from_mid_month_bills_the_seats_for_its_share_of_the_month(scenario, clock):
    scenario.customer()
    scenario.product("SEATS", kind="usage")
    scenario.meter("seats", event_name="seats_changed", aggregation="weighted_sum",
                   value_property="$.seats", recurring=True)
    contract = scenario.contract(
        start="2026-11-16", end="2027-11-16", anchor="calendar",
        items=[{"product": "SEATS", "model": "per_unit", "timing": "arrears", "meter": "seats",
                "pricing": {"unit_price": "10.00"}}])
    clock.at(datetime(2026, 12, 1, 12, tzinfo=UTC))
    # 4 seats from before the contract, 6 more from November 26
    scenario.events(seats("2026-11-10T00:00:00Z", 4, "s1"),
                    seats("2026-11-26T00:00:00Z", 6, "s2"))
    scenario.run("2026-12-01")
    # the first period is November 16-30, 15 of November's 30 days: 4 seats for 10 days +
    # 10 seats for 5 days = 40 + 50 = 90 seat-days / 30 = 3 seat-months x 10.00 = 30.00
    assert scenario.totals(contract["id"]) == {"2026-12-01": "30.00"}
    [line] = invoice_lines(scenario, scenario.invoices(contract["id"])[0])
    assert line["derivation"]["explanation"] == (
        "4 seats for 10 of 30 days + 10 seats for 5 of 30 days = 3 seats over the period "
        "(time-weighted)")
