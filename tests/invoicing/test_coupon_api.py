"""The coupon catalogue and a customer's coupons through the API: every field has a bound and
a 400 that names it (nothing written), the terms never change, a redeemed coupon is archived
rather than deleted, and only writers write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from invoicing.models import Coupon
from tests.support.coupons import coupon, coupons_of, redeem, refusal

pytestmark = pytest.mark.django_db

FUTURE = (datetime.now(UTC) + timedelta(days=30)).isoformat()
PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()

REFUSED = [
    # (what is sent, besides a valid percentage coupon's fields; the codes of the refusal)
    ({"code": ""}, {"code": ["required"]}),
    ({"code": "SPRING SALE"}, {"code": ["invalid_code"]}),
    ({"code": "-SPRING"}, {"code": ["invalid_code"]}),
    ({"code": "X" * 51}, {"code": ["max_length"]}),
    ({"name": ""}, {"name": ["required"]}),
    ({"name": "N" * 201}, {"name": ["max_length"]}),
    ({"kind": "bogo"}, {"kind": ["invalid_choice"]}),
    ({"percent_off": "0"}, {"percent_off": ["out_of_bounds"]}),
    ({"percent_off": "100.01"}, {"percent_off": ["out_of_bounds"]}),
    ({"percent_off": "12.12345"}, {"percent_off": ["max_decimal_places"]}),
    ({"percent_off": None}, {"percent_off": ["required"]}),
    ({"currency": "USD"}, {"currency": ["not_allowed"]}),
    ({"amount_off": "10.00"}, {"amount_off": ["not_allowed"]}),
    ({"duration": "weekly"}, {"duration": ["invalid_choice"]}),
    ({"duration": "repeating"}, {"duration_periods": ["required"]}),
    ({"duration": "repeating", "duration_periods": 0}, {"duration_periods": ["min_value"]}),
    ({"duration": "repeating", "duration_periods": 121}, {"duration_periods": ["max_value"]}),
    ({"duration_periods": 3}, {"duration_periods": ["not_allowed"]}),
    ({"products": ["NOPE"]}, {"products": ["unknown_product"]}),
    ({"products": ["P"] * 101}, {"products": ["max_length"]}),
    ({"meters": ["nope"]}, {"meters": ["unknown_meter"]}),
    ({"max_redemptions": 0}, {"max_redemptions": ["min_value"]}),
    ({"max_redemptions": 1_000_000_001}, {"max_redemptions": ["max_value"]}),
    ({"redeem_by": PAST}, {"redeem_by": ["in_the_past"]}),
    ({"redeem_by": "2201-01-01T00:00:00Z"}, {"redeem_by": ["invalid"]}),
]
FIXED_REFUSED = [
    ({"currency": ""}, {"currency": ["required"]}),
    ({"currency": "XYZ"}, {"currency": ["invalid_currency"]}),
    ({"amount_off": "0"}, {"amount_off": ["not_positive"]}),
    ({"amount_off": None}, {"amount_off": ["required"]}),
    ({"amount_off": "10.001"}, {"amount_off": ["too_many_decimals"]}),  # USD: 2 digits
    ({"currency": "JPY", "amount_off": "10.5"}, {"amount_off": ["too_many_decimals"]}),
    ({"amount_off": "1000000000001"}, {"amount_off": ["max_value"]}),
    ({"percent_off": "10"}, {"percent_off": ["not_allowed"]}),
]


def _ids(cases):
    return [",".join(sorted(codes)) + f"-{n}" for n, (_, codes) in enumerate(cases)]


@pytest.mark.parametrize(("fields", "codes"), REFUSED, ids=_ids(REFUSED))
def test_a_bad_percentage_coupon_is_refused_by_field_and_nothing_is_written(scenario, fields,
                                                                           codes):
    scenario.product("PLATFORM")
    scenario.meter("api_calls")
    body = {"code": "SPRING", "name": "Spring", "kind": "percent", "percent_off": "10",
            "duration": "once", **fields}

    answer = scenario.post("coupons", body, status=400)

    assert refusal(answer) == codes
    with scenario.tenant.context():
        assert not Coupon.objects.for_organization(scenario.tenant.organization).exists()


@pytest.mark.parametrize(("fields", "codes"), FIXED_REFUSED, ids=_ids(FIXED_REFUSED))
def test_a_bad_fixed_coupon_is_refused_by_field(scenario, fields, codes):
    body = {"code": "GIFT", "name": "Gift", "kind": "fixed", "amount_off": "50.00",
            "currency": "USD", "duration": "once", **fields}

    assert refusal(scenario.post("coupons", body, status=400)) == codes


def test_a_code_is_unique_in_any_case(scenario):
    coupon(scenario, "Spring20", percent_off="20")

    answer = coupon(scenario, "SPRING20", percent_off="10", status=400)

    assert refusal(answer) == {"code": ["unique"]}


def test_a_coupon_reads_back_with_its_scope_by_sku(scenario):
    scenario.product("SUPPORT")
    scenario.meter("api_calls")
    made = coupon(scenario, "MIXED", amount_off="25.50", currency="EUR", duration="repeating",
                  duration_periods=6, products=["SUPPORT"], meters=["api_calls"],
                  max_redemptions=10, redeem_by=FUTURE)

    got = scenario.get(f"coupons/{made['id']}")

    assert {k: got[k] for k in ("code", "kind", "amount_off", "currency", "percent_off",
                                "duration", "duration_periods", "products", "meters",
                                "max_redemptions", "times_redeemed", "archived",
                                "redeemable")} == {
        "code": "MIXED", "kind": "fixed", "amount_off": "25.50", "currency": "EUR",
        "percent_off": None, "duration": "repeating", "duration_periods": 6,
        "products": ["SUPPORT"], "meters": ["api_calls"], "max_redemptions": 10,
        "times_redeemed": 0, "archived": False, "redeemable": True}


def test_the_terms_never_change_but_the_name_limit_and_archive_do(scenario):
    made = coupon(scenario, "TERMS", percent_off="15", max_redemptions=5)
    redeem(scenario, scenario.customer("acme"), "TERMS")
    redeem(scenario, scenario.customer("globex"), "TERMS")
    url = f"/api/v1/coupons/{made['id']}"

    refused = scenario.client.patch(url, {"percent_off": "50", "code": "OTHER"}, format="json")
    below = scenario.client.patch(url, {"max_redemptions": 1}, format="json")
    changed = scenario.client.patch(url, {"name": "Renamed", "max_redemptions": 2,
                                          "archived": True}, format="json")

    assert refusal(refused.json()) == {"code": ["immutable"], "percent_off": ["immutable"]}
    assert refusal(below.json()) == {"max_redemptions": ["below_redeemed"]}  # 2 made
    assert changed.status_code == 200, changed.json()
    assert {k: changed.json()[k] for k in ("name", "max_redemptions", "archived",
                                           "percent_off", "times_redeemed", "redeemable")} == {
        "name": "Renamed", "max_redemptions": 2, "archived": True, "percent_off": "15.0000",
        "times_redeemed": 2, "redeemable": False}
    assert [c["code"] for c in scenario.get("coupons", archived="true")["results"]] == ["TERMS"]
    assert scenario.get("coupons", archived="false")["results"] == []
    assert refusal(scenario.client.get("/api/v1/coupons", {"archived": "maybe"}).json()) == {
        "archived": ["invalid"]}


def test_a_redeemed_coupon_is_archived_not_deleted(scenario):
    customer = scenario.customer()
    used = coupon(scenario, "USED", percent_off="10")
    unused = coupon(scenario, "UNUSED", percent_off="10")
    redeem(scenario, customer, "USED")

    refused = scenario.client.delete(f"/api/v1/coupons/{used['id']}")
    deleted = scenario.client.delete(f"/api/v1/coupons/{unused['id']}")

    assert refused.status_code == 400
    assert refusal(refused.json()) == {"coupon": ["in_use"]}
    assert deleted.status_code == 204
    assert [c["code"] for c in scenario.get("coupons")["results"]] == ["USED"]


def test_a_customer_s_coupons_list_what_is_left(scenario):
    customer = scenario.customer()
    coupon(scenario, "GIFT", amount_off="150.00")
    coupon(scenario, "LAUNCH", percent_off="20", duration="repeating", duration_periods=3)
    redeem(scenario, customer, "GIFT")
    redeem(scenario, customer, "LAUNCH")

    gift, launch = coupons_of(scenario, customer)

    assert (gift["coupon"]["code"], gift["status"], gift["amount_used"], gift["amount_left"],
            gift["invoices_discounted"]) == ("GIFT", "active", "0.00", "150.00", 0)
    assert (launch["coupon"]["code"], launch["status"], launch["amount_left"],
            launch["contracts"]) == ("LAUNCH", "active", None, [])
    one = scenario.get(f"customers/{customer['id']}/coupons/{gift['id']}")
    assert one["id"] == gift["id"]


def test_a_viewer_reads_coupons_but_writes_none(scenario):
    customer = scenario.customer()
    made = coupon(scenario, "READ", percent_off="10")
    viewer = scenario.tenant.client("viewer")

    assert viewer.get("/api/v1/coupons").status_code == 200
    assert viewer.post("/api/v1/coupons", {"code": "NO"}, format="json").status_code == 403
    assert viewer.post(f"/api/v1/customers/{customer['id']}/coupons", {"code": "READ"},
                       format="json").status_code == 403
    assert viewer.patch(f"/api/v1/coupons/{made['id']}", {"archived": True},
                        format="json").status_code == 403
    assert coupons_of(scenario, customer) == []
