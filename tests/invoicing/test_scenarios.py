"""Billing scenarios end to end, through the API. Every expected total is worked out by hand
in the comment beside it."""

import pytest

from tests.support.scenario import committed, flat, invoice_lines, prepaid

pytestmark = pytest.mark.django_db


def test_flat_fee_in_advance_catches_up_every_missed_month(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "1000.00")])
    scenario.run("2026-03-15")
    # Jan 1, Feb 1 and Mar 1, each the whole month in advance: 1000.00
    assert scenario.totals(contract["id"]) == {
        "2026-01-01": "1000.00", "2026-02-01": "1000.00", "2026-03-01": "1000.00",
    }
    scenario.run("2026-03-15")  # again: nothing new
    assert len(scenario.invoices(contract["id"])) == 3


def test_seats_per_unit_in_advance(scenario):
    scenario.customer()
    scenario.product("SEATS")
    contract = scenario.contract(items=[{"product": "SEATS", "model": "per_unit",
                                         "quantity": "25", "pricing": {"unit_price": "12.00"}}])
    scenario.run("2026-01-10")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["total"] == "300.00"  # 25 seats x 12.00


USAGE_MODELS = [
    # (model, pricing, usage events of 1 unit each in January, expected Feb 1 total)
    ("per_unit", {"unit_price": "0.05"}, 130, "6.50"),  # 130 x 0.05
    ("package", {"package_size": "50", "package_price": "4.00"}, 130, "12.00"),
    # 130 units = 3 started blocks of 50 -> 3 x 4.00
    ("graduated", {"tiers": [{"up_to": "100", "unit_price": "0"},
                             {"up_to": None, "unit_price": "0.10"}]}, 130, "3.00"),
    # first 100 free, 30 x 0.10 = 3.00
    ("volume", {"tiers": [{"up_to": "100", "unit_price": "0.10"},
                          {"up_to": None, "unit_price": "0.08"}]}, 130, "10.40"),
    # 130 reaches tier 2: all 130 x 0.08 = 10.40
    ("stair_step", {"tiers": [{"up_to": "100", "flat_fee": "20"},
                              {"up_to": None, "flat_fee": "35"}]}, 130, "35.00"),
    # 130 is in the second band: 35.00
    ("per_unit", {"unit_price": "0.05", "included_units": "100", "minimum": "5.00"}, 130,
     "5.00"),  # 30 billable x 0.05 = 1.50, raised to the 5.00 minimum
]


@pytest.mark.parametrize(("model", "pricing", "count", "expected"), USAGE_MODELS)
def test_usage_in_arrears_for_each_model(scenario, model, pricing, count, expected):
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    contract = scenario.contract(items=[{"product": "API", "model": model, "timing": "arrears",
                                         "meter": "api_calls", "pricing": pricing}])
    scenario.events(*[(f"e{i}", "acme", "api_call", f"2026-01-{1 + i % 28:02d}T12:00:00Z", {})
                      for i in range(count)])
    scenario.events(("feb", "acme", "api_call", "2026-02-01T00:00:00Z", {}))  # next period
    scenario.run("2026-02-02")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["billing_date"] == "2026-02-01"
    assert invoice["total"] == expected
    [line] = invoice_lines(scenario, invoice)
    assert line["derivation"]["usage_quantity"] == str(count)
    assert line["derivation"]["meter"] == "api_calls"


def test_percentage_of_payment_volume_with_a_minimum(scenario):
    scenario.customer()
    scenario.product("PAYMENTS", kind="usage")
    scenario.meter("volume", event_name="charge", aggregation="sum", value_property="$.amount")
    contract = scenario.contract(items=[{
        "product": "PAYMENTS", "model": "percentage", "timing": "arrears", "meter": "volume",
        "pricing": {"percent": "2.9", "minimum": "10.00"}}])
    scenario.events(("c1", "acme", "charge", "2026-01-05T10:00:00Z", {"amount": "250.00"}),
                    ("c2", "acme", "charge", "2026-01-20T10:00:00Z", {"amount": 1000}))
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["total"] == "36.25"  # 2.9% of 1250.00 = 36.25 (over the 10.00 minimum)


def test_matrix_by_region_and_instance_type(scenario):
    scenario.customer()
    scenario.product("COMPUTE", kind="usage")
    scenario.meter("hours", event_name="vm", aggregation="sum", value_property="$.hours",
                   group_by=["$.region", "$.type"])
    contract = scenario.contract(items=[{
        "product": "COMPUTE", "model": "matrix", "timing": "arrears", "meter": "hours",
        "pricing": {"dimensions": ["region", "type"], "prices": [
            {"values": ["eu", "small"], "unit_price": "0.10"},
            {"values": ["eu", "large"], "unit_price": "0.40"},
            {"values": ["us", "small"], "unit_price": "0.08"}]}}])
    scenario.events(
        ("v1", "acme", "vm", "2026-01-03T00:00:00Z", {"hours": 10, "region": "eu", "type": "small"}),
        ("v2", "acme", "vm", "2026-01-04T00:00:00Z", {"hours": 5, "region": "eu", "type": "large"}),
        ("v3", "acme", "vm", "2026-01-05T00:00:00Z", {"hours": 20, "region": "us", "type": "small"}),
    )
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["total"] == "4.60"  # 10 x 0.10 + 5 x 0.40 + 20 x 0.08 = 1 + 2 + 1.60


def test_custom_formula_over_usage_and_a_contract_variable(scenario):
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    contract = scenario.contract(
        variables={"seats": "10"},
        items=[{"product": "API", "model": "formula", "timing": "arrears", "meter": "api_calls",
                "pricing": {"formula": "max(0, usage('api_calls') - 2) * 0.5 + seats * 12"}}])
    scenario.events(*[(f"f{i}", "acme", "api_call", "2026-01-10T00:00:00Z", {})
                      for i in range(7)])
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["total"] == "122.50"  # (7 - 2) x 0.5 + 10 x 12 = 2.5 + 120


def test_a_ramp_across_two_phases(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(phases=[
        {"name": "H1", "start_date": "2026-01-01", "end_date": "2026-07-01",
         "items": [flat("PLATFORM", "1000.00")]},
        {"name": "H2", "start_date": "2026-07-01", "end_date": "2027-01-01",
         "items": [flat("PLATFORM", "1200.00")]},
    ])
    scenario.run("2026-07-01")
    totals = scenario.totals(contract["id"])
    assert totals["2026-06-01"] == "1000.00"  # still year-one pricing
    assert totals["2026-07-01"] == "1200.00"  # the ramp
    assert len(totals) == 7


def test_a_mid_period_upgrade_credits_the_old_terms_and_charges_the_new(scenario):
    scenario.customer()
    scenario.product("SEATS")
    seats = {"product": "SEATS", "model": "per_unit", "quantity": "10",
             "pricing": {"unit_price": "10.00"}}
    contract = scenario.contract(items=[seats])
    scenario.run("2026-01-05")  # Jan 1: 10 seats x 10.00 = 100.00
    scenario.post(f"contracts/{contract['id']}/amendments", {
        "effective_date": "2026-01-16", "description": "20 seats from Jan 16",
        "phases": [{"start_date": "2026-01-16", "end_date": "2027-01-01",
                    "items": [{**seats, "quantity": "20"}]}]})
    scenario.run("2026-01-20")
    invoices = scenario.invoices(contract["id"])
    assert [i["billing_date"] for i in invoices] == ["2026-01-01", "2026-01-16"]
    assert invoices[0]["total"] == "100.00"
    lines = {line["kind"]: line["amount"] for line in invoice_lines(scenario, invoices[1])}
    # Jan 16-31 is 16 of January's 31 days.
    # new terms: 20 x 10.00 x 16/31 = 103.2258... -> 103.23
    # unused old: 10 x 10.00 x 16/31 = 51.6129... -> -51.61
    assert lines == {"recurring": "103.23", "credit": "-51.61"}
    assert invoices[1]["total"] == "51.62"  # 103.23 - 51.61
    # Feb 1: the new terms for a whole month: 20 x 10.00
    scenario.run("2026-02-01")
    assert scenario.totals(contract["id"])["2026-02-01"] == "200.00"


def test_a_contract_starting_on_the_31st_bills_monthly_on_the_month_end(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(start="2026-01-31", end="2027-01-31", anchor="anniversary",
                                 items=[flat("PLATFORM", "100.00")])
    scenario.run("2026-04-30")
    # Jan 31, Feb 28 (no 31st), Mar 31, Apr 30: each a whole month, 100.00
    assert scenario.totals(contract["id"]) == {
        "2026-01-31": "100.00", "2026-02-28": "100.00", "2026-03-31": "100.00",
        "2026-04-30": "100.00",
    }


def test_a_free_trial_phase_then_the_paid_plan(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(phases=[
        {"name": "Trial", "start_date": "2026-01-01", "end_date": "2026-02-01",
         "items": [flat("PLATFORM", "0")]},
        {"name": "Paid", "start_date": "2026-02-01", "end_date": "2027-01-01",
         "items": [flat("PLATFORM", "500.00")]},
    ])
    scenario.run("2026-02-10")
    invoices = scenario.invoices(contract["id"])
    assert [(i["billing_date"], i["total"], i["status"]) for i in invoices] == [
        ("2026-01-01", "0.00", "paid"),  # nothing owed for the trial
        ("2026-02-01", "500.00", "finalized"),
    ]


def test_a_minimum_commitment_is_trued_up_when_usage_falls_short(scenario):
    contract = committed(scenario, unit_price="1.00", minimum="100.00")
    scenario.events(*[(f"m{i}", "acme", "api_call", "2026-01-15T00:00:00Z", {})
                      for i in range(30)])
    scenario.run("2026-02-01")
    [invoice] = scenario.invoices(contract["id"])
    lines = {line["kind"]: line["amount"] for line in invoice_lines(scenario, invoice)}
    assert lines == {"usage": "30.00", "true_up": "70.00"}  # 30 x 1.00; 100 - 30
    assert invoice["total"] == "100.00"


def test_prepaid_units_are_drawn_down_then_overage_billed(scenario):
    contract = prepaid(scenario)  # 100 hours for 20.00, then 0.25 an hour
    scenario.events(("h1", "acme", "compute", "2026-01-10T00:00:00Z", {"hours": 60}),
                    ("h2", "acme", "compute", "2026-02-10T00:00:00Z", {"hours": 70}))
    scenario.run("2026-03-01")
    totals = scenario.totals(contract["id"])
    # Jan 1: the block of 100 hours, bought in advance when it starts: 20.00
    assert totals["2026-01-01"] == "20.00"
    # Feb 1, January in arrears: 60 of the 100 hours used, no overage: 0.00
    assert totals["2026-02-01"] == "0.00"
    # Mar 1, February: 40 hours left, 70 used: 30 hours over x 0.25 = 7.50
    assert totals["2026-03-01"] == "7.50"


def test_a_discount_limited_to_three_periods(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "1000.00", discounts=[
        {"kind": "percent", "value": "10", "periods": 3, "description": "Launch"}])])
    scenario.run("2026-04-01")
    # Jan-Mar: 1000.00 - 10% = 900.00; April: the full 1000.00
    assert scenario.totals(contract["id"]) == {
        "2026-01-01": "900.00", "2026-02-01": "900.00", "2026-03-01": "900.00",
        "2026-04-01": "1000.00",
    }


def test_a_taxed_and_a_tax_exempt_customer(scenario):
    scenario.post("tax-rates", {"name": "DE VAT", "country": "DE", "rate": "19"})
    scenario.customer("berlin", country="DE", currency="EUR")
    scenario.customer("charity", country="DE", currency="EUR", tax_exempt=True)
    scenario.product("PLATFORM")
    taxed = scenario.contract(customer="berlin", items=[flat("PLATFORM", "1000.00")])
    exempt = scenario.contract(customer="charity", items=[flat("PLATFORM", "1000.00")])
    scenario.run("2026-01-01")
    [invoice] = scenario.invoices(taxed["id"])
    # 1000.00 + 19% = 1000.00 + 190.00
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (
        "1000.00", "190.00", "1190.00")
    [line] = invoice_lines(scenario, invoice)
    assert (line["tax_rate"], line["tax_amount"]) == ("19.0000", "190.00")  # a rate, 4 places
    [free] = scenario.invoices(exempt["id"])
    assert (free["tax_total"], free["total"]) == ("0.00", "1000.00")


def test_a_jpy_contract_rounds_to_whole_yen(scenario):
    scenario.customer("tokyo", currency="JPY", country="JP")
    scenario.product("SEATS")
    contract = scenario.contract(customer="tokyo", items=[{
        "product": "SEATS", "model": "per_unit", "quantity": "3",
        "pricing": {"unit_price": "1234.5"}}])
    scenario.run("2026-01-01")
    [invoice] = scenario.invoices(contract["id"])
    assert invoice["currency"] == "JPY"
    assert invoice["total"] == "3704"  # 3 x 1234.5 = 3703.5 -> 3704 (half up, no decimals)


def test_invoices_are_numbered_without_gaps(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "10.00")])
    scenario.run("2026-05-01")
    numbers = [i["number"] for i in scenario.invoices(contract["id"])]
    prefix = numbers[0].rsplit("-", 1)[0]
    assert numbers == [f"{prefix}-{n:06d}" for n in range(1, 6)]
