"""Customer coupons end to end, through the API: a coupon of the catalogue, redeemed for a
customer by its code, discounting the invoices of the customer's contracts. Every expected
amount is worked out by hand beside it.

The scenarios run the schedule on past dates: a draft is finalized by the same run once its
grace period (24 h) is over, so each invoice is final as soon as its date has passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.coupons import coupon, coupon_lines, coupons_of, redeem, refusal
from tests.support.scenario import flat, invoice_lines

pytestmark = pytest.mark.django_db


def totals(scenario, contract) -> dict[str, str]:
    return scenario.totals(contract["id"])


def test_twenty_percent_for_three_periods_then_the_full_price(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "1000.00")])
    coupon(scenario, "LAUNCH20", percent_off="20", duration="repeating", duration_periods=3)
    redeem(scenario, customer, "launch20")  # any case

    scenario.run("2026-04-01")

    # Jan, Feb, Mar: 1000.00 - 20% x 1000.00 = 1000.00 - 200.00 = 800.00; April: 1000.00
    assert totals(scenario, contract) == {
        "2026-01-01": "800.00", "2026-02-01": "800.00", "2026-03-01": "800.00",
        "2026-04-01": "1000.00"}
    january = scenario.invoices(contract["id"])[0]
    [line] = coupon_lines(scenario, january)
    assert (line["kind"], line["amount"], line["description"]) == (
        "discount", "-200.00", "Coupon LAUNCH20: Launch20")
    assert line["derivation"]["coupon"] == "LAUNCH20"
    assert line["derivation"]["invoice_of_contract"] == "1 of 3"
    assert line["derivation"]["in_scope_amount"] == "1000.00"
    [step] = line["derivation"]["steps"]
    assert step["description"] == "Coupon LAUNCH20: 20% of $1,000.00 in scope"
    assert (step["quantity"], step["unit_price"], step["amount"]) == ("1000.00", "-0.2",
                                                                      "-200.0")
    [mine] = coupons_of(scenario, customer)
    assert mine["status"] == "used_up"
    assert mine["invoices_discounted"] == 3
    assert mine["amount_used"] == "600.00"  # 3 x 200.00
    assert mine["contracts"] == [{"contract": contract["id"], "name": "Scenario",
                                  "invoices_discounted": 3, "invoices_left": 0}]


def test_a_fixed_amount_carries_over_to_the_next_invoice_of_another_contract(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("SUPPORT")
    first = scenario.contract(start="2026-01-01", end="2026-02-01",
                              items=[flat("PLATFORM", "100.00")])
    second = scenario.contract(start="2026-02-01", end="2026-03-01",
                               items=[flat("SUPPORT", "100.00")])
    coupon(scenario, "WELCOME150", amount_off="150.00")
    redeem(scenario, customer, "WELCOME150")

    scenario.run("2026-01-15")
    # January, the first contract: 100.00 - min(150.00 left, 100.00) = 0.00; 50.00 left
    assert totals(scenario, first) == {"2026-01-01": "0.00"}
    [mine] = coupons_of(scenario, customer)
    assert (mine["status"], mine["amount_used"], mine["amount_left"]) == (
        "active", "100.00", "50.00")

    scenario.run("2026-02-15")
    # February, the second contract: 100.00 - min(50.00 left, 100.00) = 50.00; nothing left
    assert totals(scenario, second) == {"2026-02-01": "50.00"}
    [line] = coupon_lines(scenario, scenario.invoices(second["id"])[0])
    assert line["amount"] == "-50.00"
    assert (line["derivation"]["left_before"], line["derivation"]["left_after"]) == (
        "50.00", "0.00")
    [mine] = coupons_of(scenario, customer)
    assert (mine["status"], mine["amount_used"], mine["amount_left"]) == (
        "used_up", "150.00", "0.00")  # 100.00 + 50.00


def test_a_coupon_scoped_to_one_product_with_the_tax_computed_after_it(scenario):
    scenario.post("tax-rates", {"name": "Sales tax", "country": "US", "rate": "10"})
    customer = scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("SUPPORT")
    contract = scenario.contract(items=[flat("PLATFORM", "1000.00"),
                                        flat("SUPPORT", "200.00")])
    coupon(scenario, "SUPPORT25", percent_off="25", duration="forever", products=["SUPPORT"])
    redeem(scenario, customer, "SUPPORT25")

    scenario.run("2026-01-01")

    [invoice] = scenario.invoices(contract["id"])
    lines = {line["description"]: (line["amount"], line["tax_amount"])
             for line in invoice_lines(scenario, invoice)}
    # only SUPPORT's 200.00 is in scope: 25% x 200.00 = 50.00 off
    # tax on the lines after it: 10% x 1000.00, 10% x 200.00, 10% x -50.00
    assert lines == {"Platform": ("1000.00", "100.00"), "Support": ("200.00", "20.00"),
                     "Coupon SUPPORT25: Support25": ("-50.00", "-5.00")}
    # 1000.00 + 200.00 - 50.00 = 1150.00; tax 10% x 1150.00 = 115.00; 1150.00 + 115.00
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (
        "1150.00", "115.00", "1265.00")


def test_a_coupon_scoped_to_a_meter_after_the_contracts_own_discount(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    contract = scenario.contract(items=[
        flat("PLATFORM", "100.00", timing="arrears"),
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "1.00"},
         "discounts": [{"kind": "percent", "value": "10", "description": "Volume"}]}])
    scenario.events(*[(f"c{i}", "acme", "api_call", "2026-01-10T00:00:00Z", {})
                      for i in range(50)])
    coupon(scenario, "API50", percent_off="50", duration="forever", meters=["api_calls"])
    redeem(scenario, customer, "API50")

    scenario.run("2026-02-01")

    [invoice] = scenario.invoices(contract["id"])
    amounts = sorted(line["amount"] for line in invoice_lines(scenario, invoice))
    # API: 50 calls x 1.00 = 50.00, its own discount 10% = -5.00: 45.00 in the coupon's scope
    # the coupon: 50% x 45.00 = -22.50; PLATFORM's 100.00 is not in its scope
    assert amounts == ["-22.50", "-5.00", "100.00", "50.00"]
    assert invoice["total"] == "122.50"  # 100.00 + 50.00 - 5.00 - 22.50


def test_once_discounts_the_first_invoice_only(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])
    coupon(scenario, "HALF", percent_off="50", duration="once")
    redeem(scenario, customer, "HALF")

    scenario.run("2026-03-01")

    # January: 100.00 - 50% = 50.00; February and March: the full 100.00
    assert totals(scenario, contract) == {
        "2026-01-01": "50.00", "2026-02-01": "100.00", "2026-03-01": "100.00"}
    [mine] = coupons_of(scenario, customer)
    assert (mine["status"], mine["invoices_left"], mine["amount_left"]) == ("used_up", 0, None)


def test_forever_discounts_every_invoice_of_every_contract(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("SUPPORT")
    platform = scenario.contract(items=[flat("PLATFORM", "100.00")])
    support = scenario.contract(start="2026-02-01", items=[flat("SUPPORT", "30.00")])
    coupon(scenario, "LOYAL", percent_off="12.5", duration="forever")
    redeem(scenario, customer, "LOYAL")

    scenario.run("2026-03-01")

    # 100.00 - 12.5% = 100.00 - 12.50 = 87.50 every month
    assert totals(scenario, platform) == {
        "2026-01-01": "87.50", "2026-02-01": "87.50", "2026-03-01": "87.50"}
    # 30.00 - 12.5% = 30.00 - 3.75 = 26.25
    assert totals(scenario, support) == {"2026-02-01": "26.25", "2026-03-01": "26.25"}
    [mine] = coupons_of(scenario, customer)
    assert (mine["status"], mine["invoices_discounted"], mine["amount_used"]) == (
        "active", 5, "45.00")  # 3 x 12.50 + 2 x 3.75


def test_two_coupons_apply_in_the_order_they_were_redeemed(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])
    coupon(scenario, "TEN", percent_off="10", duration="forever")
    coupon(scenario, "TWENTYOFF", amount_off="20.00", duration="forever")
    redeem(scenario, customer, "TEN")
    redeem(scenario, customer, "TWENTYOFF")

    scenario.run("2026-01-01")

    [invoice] = scenario.invoices(contract["id"])
    # TEN first: 10% x 100.00 = 10.00; then TWENTYOFF on what is left, 90.00: 20.00
    assert [line["amount"] for line in coupon_lines(scenario, invoice)] == ["-10.00", "-20.00"]
    assert invoice["total"] == "70.00"


def test_a_fixed_coupon_never_takes_an_invoice_below_zero(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "40.00")])
    coupon(scenario, "BIG", amount_off="1000.00", duration="forever")
    redeem(scenario, customer, "BIG")

    scenario.run("2026-02-01")

    # each month: 40.00 - min(what is left, 40.00) = 0.00; 1000.00 - 2 x 40.00 = 920.00 left
    assert totals(scenario, contract) == {"2026-01-01": "0.00", "2026-02-01": "0.00"}
    [mine] = coupons_of(scenario, customer)
    assert mine["amount_left"] == "920.00"


def test_a_late_correction_is_billed_in_full_not_discounted_again(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "300.00")])
    coupon(scenario, "HALFOFF", percent_off="50", duration="repeating", duration_periods=4)
    redeem(scenario, customer, "HALFOFF")
    scenario.run("2026-03-01")  # Jan, Feb, Mar: 300.00 - 50% = 150.00 each, final

    scenario.post(f"contracts/{contract['id']}/amendments", {
        "effective_date": "2026-03-01",
        "phases": [{"start_date": "2026-03-01", "end_date": "2027-01-01",
                    "items": [flat("PLATFORM", "600.00")]}]})
    scenario.run("2026-04-01")

    april = {i["billing_date"]: i for i in scenario.invoices(contract["id"])}["2026-04-01"]
    lines = sorted((line["kind"], line["amount"]) for line in invoice_lines(scenario, april))
    # March now costs 600.00, 300.00 was billed for it: +300.00, in full (the coupon
    # discounted March when it was invoiced); April: 600.00 - 50% x 600.00 = -300.00, the
    # 4th and last invoice of the coupon. 600.00 + 300.00 - 300.00 = 600.00
    assert lines == [("adjustment", "300.00"), ("discount", "-300.00"),
                     ("recurring", "600.00")]
    assert april["total"] == "600.00"
    [line] = coupon_lines(scenario, april)
    assert line["derivation"]["in_scope_amount"] == "600.00"  # April's charge only
    assert line["derivation"]["invoice_of_contract"] == "4 of 4"
    scenario.run("2026-05-01")  # the coupon is used up, nothing of it is corrected
    assert totals(scenario, contract)["2026-05-01"] == "600.00"


def test_a_voided_invoice_gives_a_fixed_coupon_back(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "200.00")])
    coupon(scenario, "GIFT", amount_off="150.00")
    redeem(scenario, customer, "GIFT")
    scenario.run("2026-01-01")  # 200.00 - 150.00 = 50.00, final; nothing left
    scenario.patch_settings(grace_period_hours=24 * 400)  # the next drafts stay drafts
    scenario.run("2026-02-01")  # February's draft: the full 200.00
    [january, february] = scenario.invoices(contract["id"])
    assert (january["total"], february["total"], february["status"]) == (
        "50.00", "200.00", "draft")

    scenario.post(f"invoices/{january['id']}/void", {}, status=200)

    # January's 150.00 comes back to the coupon
    assert coupons_of(scenario, customer)[0]["amount_left"] == "150.00"
    scenario.run("2026-02-01")  # February recomputed: 200.00 - 150.00 = 50.00
    assert scenario.invoice(february["id"])["total"] == "50.00"
    assert coupons_of(scenario, customer)[0]["amount_left"] == "0.00"


def test_a_removed_coupon_stops_but_finalized_invoices_keep_it(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])
    coupon(scenario, "TENOFF", percent_off="10", duration="forever")
    mine = redeem(scenario, customer, "TENOFF")
    scenario.run("2026-01-01")  # 100.00 - 10.00 = 90.00, final

    response = scenario.client.delete(f"/api/v1/customers/{customer['id']}/coupons/{mine['id']}")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "removed"
    scenario.run("2026-02-01")
    assert totals(scenario, contract) == {"2026-01-01": "90.00", "2026-02-01": "100.00"}
    # removed: it cannot be redeemed again by the same customer
    assert refusal(redeem(scenario, customer, "TENOFF", status=400)) == {
        "code": ["already_redeemed"]}


# --- refusals -----------------------------------------------------------------------------------


def test_an_expired_coupon_is_refused(scenario, clock):
    customer = scenario.customer()
    deadline = datetime.now(UTC) + timedelta(days=7)
    coupon(scenario, "SUMMER", percent_off="10", redeem_by=deadline.isoformat())

    clock.at(deadline + timedelta(seconds=1))

    answer = redeem(scenario, customer, "SUMMER", status=400)
    assert refusal(answer) == {"code": ["expired"]}
    assert coupons_of(scenario, customer) == []


def test_the_last_redemption_is_taken_once_and_the_next_refused(scenario):
    first = scenario.customer("acme")
    second = scenario.customer("globex")
    made = coupon(scenario, "ONLYONE", percent_off="10", max_redemptions=1)

    redeem(scenario, first, "ONLYONE")
    answer = redeem(scenario, second, "ONLYONE", status=400)

    assert refusal(answer) == {"code": ["max_redemptions_reached"]}
    assert scenario.get(f"coupons/{made['id']}")["times_redeemed"] == 1
    assert coupons_of(scenario, second) == []


def test_an_archived_coupon_and_a_second_redemption_are_refused(scenario):
    customer = scenario.customer()
    made = coupon(scenario, "OLD", percent_off="10")
    coupon(scenario, "NEW", percent_off="10")
    redeem(scenario, customer, "NEW")
    response = scenario.client.patch(f"/api/v1/coupons/{made['id']}", {"archived": True},
                                     format="json")
    assert response.status_code == 200

    assert refusal(redeem(scenario, customer, "OLD", status=400)) == {"code": ["archived"]}
    assert refusal(redeem(scenario, customer, "new", status=400)) == {
        "code": ["already_redeemed"]}
    assert refusal(redeem(scenario, customer, "NOPE", status=400)) == {
        "code": ["unknown_coupon"]}


def test_a_fixed_coupon_in_a_currency_the_customer_is_not_billed_in_is_refused(scenario):
    customer = scenario.customer()  # billed in USD
    coupon(scenario, "EURO50", amount_off="50.00", currency="EUR")

    answer = redeem(scenario, customer, "EURO50", status=400)

    assert refusal(answer) == {"code": ["currency_mismatch"]}
    assert "EUR" in answer["error"]["fields"]["code"][0]


def test_the_upcoming_invoice_shows_what_the_coupons_will_take(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])
    coupon(scenario, "GIFT", amount_off="150.00")
    redeem(scenario, customer, "GIFT")
    scenario.run("2026-01-01")  # January: 100.00 - 100.00; 50.00 left

    upcoming = scenario.get(f"customers/{customer['id']}/upcoming-invoice", as_of="2026-01-15")

    # February, as it stands: 100.00 - min(50.00 left, 100.00) = 50.00; nothing saved
    assert (upcoming["billing_date"], upcoming["total"]) == ("2026-02-01", "50.00")
    assert [line["amount"] for line in upcoming["lines"] if line["kind"] == "discount"] == [
        "-50.00"]
    assert len(scenario.invoices(contract["id"])) == 1
    assert coupons_of(scenario, customer)[0]["amount_left"] == "50.00"
