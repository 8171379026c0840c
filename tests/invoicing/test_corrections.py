"""Corrections of periods already invoiced and final: one rule for every pricing model. The
closed billing dates are rated again with today's facts and the difference with what was
billed for them goes on the next draft. Every expected amount is worked out by hand beside it.

The scenarios run the schedule on past dates: a draft is finalized by the same run once its
grace period (24 h) is over, so each invoice below is final as soon as its date has passed.
"""

from __future__ import annotations

import pytest

from tests.support.scenario import committed, flat, invoice_lines, prepaid

pytestmark = pytest.mark.django_db


def lines_of(scenario, invoice) -> list[tuple[str, str]]:
    return sorted((line["kind"], line["amount"]) for line in invoice_lines(scenario, invoice))


def by_date(scenario, contract) -> dict[str, dict]:
    return {i["billing_date"]: i for i in scenario.invoices(contract["id"])}


@pytest.fixture
def billed_march(scenario):
    """$300 a month in advance from Jan 1; Jan 1, Feb 1 and Mar 1 invoiced and final."""
    scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("PRO")
    contract = scenario.contract(items=[flat("PLATFORM", "300.00")])
    scenario.run("2026-03-01")
    invoices = by_date(scenario, contract)
    assert {d: (i["total"], i["status"]) for d, i in invoices.items()} == {
        "2026-01-01": ("300.00", "finalized"), "2026-02-01": ("300.00", "finalized"),
        "2026-03-01": ("300.00", "finalized")}
    return contract


def amend(scenario, contract, effective, items, **extra):
    return scenario.post(f"contracts/{contract['id']}/amendments", {
        "effective_date": effective,
        "phases": [{"start_date": effective, "end_date": "2027-01-01", "items": items}],
        **extra})


def cancel(scenario, contract, effective):
    return scenario.post(f"contracts/{contract['id']}/cancel", {"effective_date": effective},
                         status=200)


# --- 1. amendments and cancellations effective on dates already final --------------------------


def test_an_upgrade_effective_on_a_final_billing_date_charges_the_difference(scenario,
                                                                             billed_march):
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "600.00")])

    scenario.run("2026-03-05")

    correction = by_date(scenario, billed_march)["2026-03-05"]
    # March now costs 600.00; 300.00 was billed for it: 600.00 - 300.00 = 300.00 more
    assert lines_of(scenario, correction) == [("adjustment", "300.00")]
    assert correction["total"] == "300.00"
    scenario.run("2026-04-01")
    invoices = by_date(scenario, billed_march)
    assert invoices["2026-04-01"]["total"] == "600.00"  # April on the new terms
    assert set(invoices) == {"2026-01-01", "2026-02-01", "2026-03-01", "2026-03-05",
                             "2026-04-01"}  # nothing corrected twice


def test_an_upgrade_to_another_product_credits_one_and_charges_the_other(scenario,
                                                                        billed_march):
    amend(scenario, billed_march, "2026-03-01", [flat("PRO", "600.00")])

    scenario.run("2026-03-05")

    correction = by_date(scenario, billed_march)["2026-03-05"]
    # PLATFORM for March: 0.00 now, 300.00 billed -> -300.00; PRO for March: 600.00 now,
    # nothing billed -> +600.00; 600.00 - 300.00 = 300.00
    assert lines_of(scenario, correction) == [("adjustment", "600.00"), ("credit", "-300.00")]
    assert correction["total"] == "300.00"


def test_a_cancellation_effective_on_a_final_billing_date_credits_it(scenario, billed_march):
    cancel(scenario, billed_march, "2026-03-01")

    scenario.run("2026-03-05")

    correction = by_date(scenario, billed_march)["2026-03-05"]
    # March is no longer covered: the 300.00 billed for it comes back
    assert lines_of(scenario, correction) == [("credit", "-300.00")]
    assert (correction["total"], correction["status"]) == ("-300.00", "paid")
    balance = scenario.customer_credit()
    assert balance == "300.00"  # a negative invoice becomes the customer's credit


def test_two_amendments_on_the_same_effective_date_keep_only_the_last(scenario,
                                                                     billed_march):
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "600.00")])
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "450.00")])

    scenario.run("2026-03-05")

    correction = by_date(scenario, billed_march)["2026-03-05"]
    # the terms now say 450.00 for March; 300.00 was billed: 150.00 more, once
    assert lines_of(scenario, correction) == [("adjustment", "150.00")]


def test_an_amendment_after_a_correction_was_billed_corrects_the_correction(scenario,
                                                                           billed_march):
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "600.00")])
    scenario.run("2026-03-05")  # +300.00, final
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "450.00")])

    scenario.run("2026-03-10")

    second = by_date(scenario, billed_march)["2026-03-10"]
    # March costs 450.00 now; 300.00 + 300.00 = 600.00 was billed: 150.00 back
    assert lines_of(scenario, second) == [("credit", "-150.00")]


def test_two_corrections_on_one_day_each_get_an_invoice_and_no_billing_date_is_taken(
        scenario, billed_march):
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "600.00")])
    scenario.run("2026-03-05")  # +300.00 on an invoice of corrections alone, final
    amend(scenario, billed_march, "2026-03-01", [flat("PLATFORM", "450.00")])

    scenario.run("2026-03-05")  # the same day again
    scenario.run("2026-04-01")

    invoices = scenario.invoices(billed_march["id"])
    corrections = [i for i in invoices if i["corrections_only"]]
    # March: 300.00 billed, then 600.00 - 300.00 = +300.00, then 450.00 - 600.00 = -150.00
    assert sorted(i["total"] for i in corrections) == ["-150.00", "300.00"]
    assert all(i["billing_date"] == "2026-03-05" for i in corrections)
    schedule = {i["billing_date"]: i["total"] for i in invoices if not i["corrections_only"]}
    # every billing date of the schedule keeps its own invoice; April on the latest terms
    assert schedule == {"2026-01-01": "300.00", "2026-02-01": "300.00",
                        "2026-03-01": "300.00", "2026-04-01": "450.00"}


def test_a_contract_cancelled_on_its_start_date_owes_nothing(scenario, billed_march):
    cancel(scenario, billed_march, "2026-01-01")

    scenario.run("2026-03-05")

    correction = by_date(scenario, billed_march)["2026-03-05"]
    # January, February and March come back: 3 x -300.00 = -900.00
    assert lines_of(scenario, correction) == [("credit", "-300.00")] * 3
    assert correction["total"] == "-900.00"


def test_an_upgrade_on_the_start_date_replaces_the_plan_from_day_one(scenario, billed_march):
    amend(scenario, billed_march, "2026-01-01", [flat("PLATFORM", "400.00")])

    scenario.run("2026-03-05")

    correction = by_date(scenario, billed_march)["2026-03-05"]
    # each of January, February, March: 400.00 now, 300.00 billed -> 3 x 100.00
    assert lines_of(scenario, correction) == [("adjustment", "100.00")] * 3
    assert correction["total"] == "300.00"


def test_a_mid_period_cancellation_after_the_period_is_final(scenario, billed_march):
    cancel(scenario, billed_march, "2026-03-11")

    scenario.run("2026-03-12")

    correction = by_date(scenario, billed_march)["2026-03-12"]
    # March 1-10 is 10 of 31 days: 300.00 x 10/31 = 96.7741... -> 96.77 owed; 300.00 billed
    # 96.77 - 300.00 = -203.23
    assert lines_of(scenario, correction) == [("credit", "-203.23")]


# --- 2. credits carry their share of the tax --------------------------------------------------


def test_a_credit_for_unused_time_carries_the_tax_that_was_charged(scenario):
    scenario.customer(country="DE")
    scenario.post("tax-rates", {"name": "MwSt", "country": "DE", "rate": "20"})
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])
    scenario.run("2026-03-01")
    march = by_date(scenario, contract)["2026-03-01"]
    assert (march["subtotal"], march["tax_total"], march["total"]) == ("100.00", "20.00",
                                                                      "120.00")
    cancel(scenario, contract, "2026-03-17")

    scenario.run("2026-03-20")

    correction = by_date(scenario, contract)["2026-03-20"]
    # unused: Mar 17-31, 15 of 31 days: 100.00 x 15/31 = 48.387... -> -48.39
    # its tax: 20 % of -48.39 = -9.678 -> -9.68; back to the customer: 48.39 + 9.68 = 58.07
    assert (correction["subtotal"], correction["tax_total"], correction["total"]) == (
        "-48.39", "-9.68", "-58.07")
    assert scenario.customer_credit() == "58.07"


# --- 4. a contract discount counts the service periods it covers --------------------------------


@pytest.mark.parametrize(("periods", "expected"), [
    # in arrears: Feb 1 bills January, the first period: 1000.00 - 10 % = 900.00
    (1, {"2026-02-01": "900.00", "2026-03-01": "1000.00", "2026-04-01": "1000.00"}),
    # two periods: January (Feb 1) and February (Mar 1)
    (2, {"2026-02-01": "900.00", "2026-03-01": "900.00", "2026-04-01": "1000.00"}),
])
def test_a_contract_discount_for_the_first_periods_on_an_arrears_contract(scenario, periods,
                                                                          expected):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(
        items=[flat("PLATFORM", "1000.00", timing="arrears")],
        discounts=[{"kind": "percent", "value": "10", "periods": periods,
                    "description": "Launch"}])

    scenario.run("2026-04-01")

    assert scenario.totals(contract["id"]) == expected


# --- 5. late usage, for every pricing model ----------------------------------------------------


def test_late_usage_on_a_matrix_price_is_billed(scenario):
    scenario.customer()
    scenario.product("COMPUTE", kind="usage")
    scenario.meter("hours", event_name="vm", aggregation="sum", value_property="$.hours",
                   group_by=["$.region"])
    contract = scenario.contract(items=[{
        "product": "COMPUTE", "model": "matrix", "timing": "arrears", "meter": "hours",
        "pricing": {"dimensions": ["region"], "prices": [
            {"values": ["eu"], "unit_price": "0.10"}, {"values": ["us"], "unit_price": "0.08"}]}}])
    scenario.events(("v1", "acme", "vm", "2026-01-03T00:00:00Z", {"hours": 10, "region": "eu"}))
    scenario.run("2026-02-01")  # 10 x 0.10 = 1.00, final
    scenario.events(("v2", "acme", "vm", "2026-01-20T00:00:00Z", {"hours": 50, "region": "us"}))

    scenario.run("2026-03-01")

    march = by_date(scenario, contract)["2026-03-01"]
    # January now: 1.00 + 50 x 0.08 = 5.00; billed 1.00 -> 4.00; February: no usage, 0.00
    assert lines_of(scenario, march) == [("adjustment", "4.00"), ("usage", "0.00")]


def test_late_usage_on_a_formula_price_is_billed(scenario):
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    contract = scenario.contract(items=[{
        "product": "API", "model": "formula", "timing": "arrears", "meter": "api_calls",
        "pricing": {"formula": "max(0, usage('api_calls') - 2) * 0.5"}}])
    scenario.events(*[(f"f{i}", "acme", "api_call", "2026-01-10T00:00:00Z", {})
                      for i in range(4)])
    scenario.run("2026-02-01")  # (4 - 2) x 0.5 = 1.00, final
    scenario.events(*[(f"g{i}", "acme", "api_call", "2026-01-11T00:00:00Z", {})
                      for i in range(6)])

    scenario.run("2026-03-01")

    march = by_date(scenario, contract)["2026-03-01"]
    # January now: (10 - 2) x 0.5 = 4.00; billed 1.00 -> 3.00
    assert ("adjustment", "3.00") in lines_of(scenario, march)


def test_late_usage_under_a_commitment_already_trued_up_costs_nothing_more(scenario):
    contract = committed(scenario, unit_price="10.00", minimum="500.00")
    scenario.events(*[(f"m{i}", "acme", "api_call", "2026-01-15T00:00:00Z", {})
                      for i in range(30)])
    scenario.run("2026-02-01")  # usage 30 x 10.00 = 300.00, true-up to 500.00: 200.00
    scenario.events(*[(f"late{i}", "acme", "api_call", "2026-01-20T00:00:00Z", {})
                      for i in range(5)])

    scenario.run("2026-03-01")

    march = by_date(scenario, contract)["2026-03-01"]
    # January now: 35 x 10.00 = 350.00, trued up by 150.00 to 500.00. Against what was
    # billed: usage +50.00, true-up -50.00: the month still costs its 500.00 minimum.
    # February has no usage: 0.00 and a true-up of 500.00.
    corrections = [(k, a) for k, a in lines_of(scenario, march) if k in ("adjustment", "credit")]
    assert corrections == [("adjustment", "50.00"), ("credit", "-50.00")]
    assert march["total"] == "500.00"  # February's minimum; January's correction nets to 0


def test_late_usage_beyond_a_prepaid_block_bills_the_overage_it_causes(scenario):
    contract = prepaid(scenario)  # 100 hours for 20.00, then 0.25 an hour
    scenario.events(("h1", "acme", "compute", "2026-01-10T00:00:00Z", {"hours": 60}),
                    ("h2", "acme", "compute", "2026-02-10T00:00:00Z", {"hours": 70}))
    scenario.run("2026-03-01")  # Feb: 40 left, 70 used: 30 over x 0.25 = 7.50, final
    scenario.events(("h3", "acme", "compute", "2026-01-20T00:00:00Z", {"hours": 20}))

    scenario.run("2026-04-01")

    april = by_date(scenario, contract)["2026-04-01"]
    # January now uses 80 (no overage). February: 20 left, 70 used: 50 over x 0.25 = 12.50;
    # billed 7.50 -> 5.00 more
    assert ("adjustment", "5.00") in lines_of(scenario, april)


# --- 6. a prepaid block is billed when it starts ------------------------------------------------


def test_a_prepaid_block_is_invoiced_when_it_starts_and_later_periods_bill_the_overage(
        scenario):
    contract = prepaid(scenario, start="2026-03-01")  # 100 hours for 20.00, then 0.25 an hour

    scenario.run("2026-03-01")

    [first] = scenario.invoices(contract["id"])
    # bought on Mar 1: 100 compute hours for 20.00, billed that day, in advance
    assert (first["billing_date"], first["total"]) == ("2026-03-01", "20.00")
    assert lines_of(scenario, first) == [("prepaid", "20.00")]
    scenario.events(("h1", "acme", "compute", "2026-03-10T00:00:00Z", {"hours": 120}))
    scenario.run("2026-04-01")
    # March: 120 hours used of 100: 20 over x 0.25 = 5.00, and no second purchase
    assert by_date(scenario, contract)["2026-04-01"]["total"] == "5.00"
