"""Billing scenarios end to end, through the API, for weekly cadences, matrix default prices
and percentages priced per transaction. Every expected amount is worked out by hand in the
comment beside it."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from tests.support.scenario import flat, invoice_lines

pytestmark = pytest.mark.django_db

NEW_YORK = "America/New_York"  # EST in January: local midnight is 05:00 UTC


def weekly_contract(scenario):
    """A weekly contract of Acme from Wednesday 2026-01-07 to Thursday 2026-02-05 (not
    covered), weeks Monday to Sunday in New York: a 70.00 platform fee in advance and API
    calls at 0.10 in arrears."""
    scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    return scenario.contract(
        start="2026-01-07", end="2026-02-05", time_zone=NEW_YORK, cadence="weekly",
        anchor="calendar", anchor_weekday="monday",
        items=[flat("PLATFORM", "70.00"),
               {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
                "pricing": {"unit_price": "0.10"}}])


def calls(prefix, count, at):
    return [(f"{prefix}-{i}", "acme", "api_call", at, {}) for i in range(count)]


def test_a_weekly_contract_from_mid_week_bills_each_week_across_a_month(scenario, clock):
    contract = weekly_contract(scenario)
    clock.at(datetime(2026, 2, 6, 12, tzinfo=UTC))
    scenario.events(
        *calls("w1", 19, "2026-01-09T15:00:00Z"),
        # Sunday Jan 11, 22:00 in New York: still the first week
        *calls("w1-late", 1, "2026-01-12T03:00:00Z"),
        # Monday Jan 12, 00:00 in New York: the second week
        *calls("w2", 35, "2026-01-12T05:00:00Z"),
        *calls("w4", 12, "2026-01-30T12:00:00Z"),
        *calls("w5", 8, "2026-02-04T12:00:00Z"),
    )
    scenario.run("2026-02-05")
    # Weeks (New York): Jan 7-11 (5 of the 7 days from Mon Jan 5), Jan 12-18, Jan 19-25,
    # Jan 26-Feb 1, Feb 2-4 (3 of the 7 days to Mon Feb 9).
    assert scenario.totals(contract["id"]) == {
        "2026-01-07": "50.00",  # fee 70.00 x 5/7 = 50.00, in advance
        "2026-01-12": "72.00",  # fee 70.00 + first week's 20 calls x 0.10 = 2.00
        "2026-01-19": "73.50",  # fee 70.00 + 35 calls x 0.10 = 3.50
        "2026-01-26": "70.00",  # fee 70.00 + no calls
        "2026-02-02": "31.20",  # fee 70.00 x 3/7 = 30.00 + 12 calls x 0.10 = 1.20
        "2026-02-05": "0.80",  # the last days' 8 calls x 0.10, on the end date
    }
    first = scenario.invoices(contract["id"])[0]
    [fee] = invoice_lines(scenario, first)
    assert (fee["period_start"], fee["period_end"]) == ("2026-01-07", "2026-01-12")
    assert fee["derivation"]["share"] == "5/7"
    assert (fee["derivation"]["nominal_start"], fee["derivation"]["nominal_end"]) == (
        "2026-01-05", "2026-01-12")
    second = scenario.invoices(contract["id"])[1]
    usage = next(line for line in invoice_lines(scenario, second) if line["kind"] == "usage")
    assert usage["derivation"]["usage_quantity"] == "20"
    assert usage["derivation"]["usage_window"] == ["2026-01-07T05:00:00+00:00",
                                                   "2026-01-12T05:00:00+00:00"]


def test_the_weekly_schedule_and_the_upcoming_invoice(scenario, clock):
    contract = weekly_contract(scenario)
    schedule = scenario.get(f"contracts/{contract['id']}/schedule")
    rows = [(b["date"], b["known_total"], b["includes_usage"],
             [c["share"] for c in b["charges"]]) for b in schedule["billing_dates"]]
    assert rows == [
        ("2026-01-07", "50.00", False, ["5/7"]),  # 70.00 x 5/7
        ("2026-01-12", "70.00", True, ["1", "5/7"]),  # the week's fee; the first week's usage
        ("2026-01-19", "70.00", True, ["1", "1"]),
        ("2026-01-26", "70.00", True, ["1", "1"]),
        ("2026-02-02", "30.00", True, ["3/7", "1"]),  # 70.00 x 3/7
        ("2026-02-05", "0", True, ["3/7"]),  # usage only
    ]

    clock.at(datetime(2026, 1, 14, 17, tzinfo=UTC))  # Wednesday Jan 14, noon in New York
    scenario.events(*calls("so-far", 15, "2026-01-13T15:00:00Z"))
    customer = scenario.get("customers", external_id="acme")["results"][0]
    upcoming = scenario.get(f"customers/{customer['id']}/upcoming-invoice")
    # Jan 19: the fee of the week from Jan 19 (70.00) and the 15 calls of this week so far
    assert upcoming["billing_date"] == "2026-01-19"
    assert [(line["kind"], line["period_start"], line["amount"]) for line in upcoming["lines"]] \
        == [("recurring", "2026-01-19", "70.00"), ("usage", "2026-01-12", "1.50")]
    assert upcoming["total"] == "71.50"  # 70.00 + 15 x 0.10


def compute_matrix(scenario, **pricing):
    scenario.customer()
    scenario.product("COMPUTE", kind="usage")
    scenario.meter("hours", event_name="vm", aggregation="sum", value_property="$.hours",
                   group_by=["$.region", "$.type"])
    scenario.events(
        ("v1", "acme", "vm", "2026-01-03T00:00:00Z", {"hours": 10, "region": "eu", "type": "small"}),
        ("v2", "acme", "vm", "2026-01-04T00:00:00Z", {"hours": 5, "region": "eu", "type": "large"}),
        ("v3", "acme", "vm", "2026-01-05T00:00:00Z", {"hours": 20, "region": "us", "type": "small"}),
        ("v4", "acme", "vm", "2026-01-06T00:00:00Z", {"hours": 4, "region": "ap", "type": "large"}),
        ("v5", "acme", "vm", "2026-01-07T00:00:00Z", {"hours": 6, "type": "small"}),  # no region
    )
    return scenario.contract(items=[{
        "product": "COMPUTE", "model": "matrix", "timing": "arrears", "meter": "hours",
        "pricing": {"dimensions": ["region", "type"], "prices": [
            {"values": ["eu", "small"], "unit_price": "0.10"},
            {"values": ["eu", "large"], "unit_price": "0.40"}], **pricing}}])


def test_a_matrix_prices_the_combinations_it_does_not_list_at_its_default(scenario):
    contract = compute_matrix(scenario, default_unit_price="0.05")
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    # listed: eu/small 10 x 0.10 = 1.00, eu/large 5 x 0.40 = 2.00
    # not listed: us/small 20, ap/large 4, (no region)/small 6 = 30 hours x 0.05 = 1.50
    assert invoice["total"] == "4.50"  # 1.00 + 2.00 + 1.50
    [line] = invoice_lines(scenario, invoice)
    derivation = line["derivation"]
    assert derivation["default_price"] == {"unit_price": "0.05", "quantity": "30",
                                           "amount": "1.50", "combinations": 3}
    assert [(s["kind"], s["description"]) for s in derivation["steps"]] == [
        ("default_cell", "region=ap, type=large (not listed: the default price): 4 x 0.05"),
        ("cell", "region=eu, type=large: 5 x 0.40"),
        ("cell", "region=eu, type=small: 10 x 0.10"),
        ("default_cell", "region=us, type=small (not listed: the default price): 20 x 0.05"),
        ("default_cell", "region=(none), type=small (not listed: the default price): 6 x 0.05"),
    ]
    assert derivation["explanation"] == (
        "3 combinations the price list does not name used 30 units, priced at the default "
        "unit price 0.05; the others at their listed prices.")


def test_without_a_default_a_matrix_still_refuses_to_bill_unlisted_usage(scenario):
    contract = compute_matrix(scenario)
    result = scenario.run("2026-02-01")
    assert result["failed"] == 1
    assert scenario.invoices(contract["id"]) == []
    [failure] = scenario.get("billing-failures")["results"]
    assert failure["contract"] == contract["id"]
    assert "no price for this combination" in failure["message"]


def card_contract(scenario):
    """Acme's card payments: 2.9% + 0.30 a transaction, at least 0.50 and at most 10.00 each,
    the first 3 of each month free; billed monthly in arrears."""
    scenario.customer()
    scenario.product("CARD", kind="usage")
    scenario.meter("card_volume", event_name="charge", aggregation="sum",
                   value_property="$.amount")
    return scenario.contract(items=[{
        "product": "CARD", "model": "percentage", "timing": "arrears", "meter": "card_volume",
        "pricing": {"percent": "2.9", "fixed_fee": "0.30", "free_transactions": 3,
                    "minimum_per_transaction": "0.50", "maximum_per_transaction": "10.00"}}])


def test_a_card_fee_per_transaction_with_free_ones_a_minimum_and_a_maximum(scenario):
    contract = card_contract(scenario)
    scenario.customer("globex")
    charge = [  # (event id, when, amount), sent last first: the order is the events' own
        ("t01", "2026-01-02T10:00:00Z", "100.00"),
        ("t02", "2026-01-03T10:00:00Z", "500.00"),
        ("t03", "2026-01-04T10:00:00Z", "1000.00"),  # the same instant as t04: t03 first
        ("t04", "2026-01-04T10:00:00Z", "5.00"),
        ("t05", "2026-01-05T10:00:00Z", "10.50"),
        ("t06", "2026-01-06T10:00:00Z", "10.50"),
        ("t07", "2026-01-07T10:00:00Z", "400.00"),
        ("t08", "2026-01-08T10:00:00Z", "120.00"),
        ("t09", "2026-01-09T10:00:00Z", "70.00"),
        ("t10", "2026-01-10T10:00:00Z", "1000.00"),
    ]
    scenario.events(
        *[(i, "acme", "charge", at, {"amount": amount}) for i, at, amount in reversed(charge)],
        ("g1", "globex", "charge", "2026-01-05T10:00:00Z", {"amount": "5000"}),  # not acme's
        ("feb", "acme", "charge", "2026-02-01T00:00:00Z", {"amount": "5000"}),  # February's
    )
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    # t01, t02, t03: the first 3 of January, free.
    # t04    5.00:   0.145  + 0.30 = 0.445  -> raised to the 0.50 minimum
    # t05   10.50:   0.3045 + 0.30 = 0.6045
    # t06   10.50:   0.3045 + 0.30 = 0.6045
    # t07  400.00:  11.60   + 0.30 = 11.90  -> capped at the 10.00 maximum
    # t08  120.00:   3.48   + 0.30 = 3.78
    # t09   70.00:   2.03   + 0.30 = 2.33
    # t10 1000.00:  29.00   + 0.30 = 29.30  -> capped at 10.00
    # 0.50 + 0.6045 + 0.6045 + 10.00 + 3.78 + 2.33 + 10.00 = 27.819 -> 27.82, rounded once
    # (each fee rounded first would make 0.50 + 0.60 + 0.60 + 10 + 3.78 + 2.33 + 10 = 27.81)
    assert invoice["total"] == "27.82"
    [line] = invoice_lines(scenario, invoice)
    derivation = line["derivation"]
    assert D(derivation["unrounded_amount"]) == D("27.819")
    assert derivation["transactions"] == 10
    # 100 + 500 + 1000 + 5 + 10.50 + 10.50 + 400 + 120 + 70 + 1000 = 3216.00
    assert D(derivation["usage_quantity"]) == D("3216.00")
    assert [(s["kind"], D(s["quantity"]), D(s["amount"])) for s in derivation["steps"]] == [
        ("free_transactions", 3, 0),
        ("percentage", D("1616.00"), D("46.864")),  # 2.9% of 3216.00 - 1600.00 (the free ones)
        ("transaction_fee", 7, D("2.10")),  # 7 x 0.30
        ("transaction_minimum", 1, D("0.055")),  # t04: 0.50 - 0.445
        ("transaction_maximum", 2, D("-21.20")),  # t07: 10 - 11.90; t10: 10 - 29.30
    ]
    assert derivation["steps"][0]["description"] == (
        "First 3 of 10 transactions free, the earliest (t01, t02, t03): $1,600.00 not charged")
    assert derivation["explanation"] == (
        "Each transaction is charged 2.9% of its amount plus $0.30, at least $0.50 and at most "
        "$10.00. The first 3 transactions of each billing period are free (the earliest, by "
        "time and then event id). The fees are added up unrounded and the line is rounded "
        "once, to the currency's smallest unit.")


def test_the_invoice_page_explains_the_fee_per_transaction_in_words(scenario, client,
                                                                    signed_in):
    contract = card_contract(scenario)
    scenario.events(*[(f"c{i}", "acme", "charge", f"2026-01-{10 + i}T10:00:00Z",
                       {"amount": "100.00"}) for i in range(4)])
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["total"] == "3.20"  # c0-c2 free; c3: 2.90 + 0.30
    signed_in()
    page = client.get(f"/invoices/{invoice['id']}/").content.decode()
    explanation = page.split('data-testid="derivation-explanation">')[1].split("</p>")[0]
    assert explanation.startswith("Each transaction is charged 2.9% of its amount plus $0.30")
    assert "First 3 of 4 transactions free, the earliest (c0, c1, c2)" in page
