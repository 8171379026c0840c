"""Field errors carry a machine code: beside ``fields`` (reasons for people) the error body has
``codes``, the same keys in the same order, a stable code in each reason's place -- the
service's own, DRF's for a field's shape, ``invalid`` where a reason has none."""

from __future__ import annotations

import pytest

from tests.support.scenario import Scenario
from zenskar.api.errors import error_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(tenant):
    scenario = Scenario(tenant)
    scenario.customer("acme")
    return scenario


def _refused(response) -> dict:
    assert response.status_code == 400, response.content[:400]
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    # the same keys in the same order, one code per reason
    assert list(error["codes"]) == list(error["fields"])
    for field, reasons in error["fields"].items():
        assert len(error["codes"][field]) == len(reasons), field
    return error


@pytest.mark.parametrize(("path", "body", "codes"), [
    # a service's rules
    ("customers", {"external_id": "globex", "name": "Globex", "country": "XX"},
     {"country": ["invalid_country"]}),
    ("customers", {"external_id": "acme", "name": "Acme again"}, {"external_id": ["unique"]}),
    ("tax-rates", {"name": "VAT", "country": "DE", "rate": "150"}, {"rate": ["out_of_bounds"]}),
    ("tax-rates", {"name": "VAT", "country": "ZZ", "rate": "19"},
     {"country": ["invalid_country"]}),
    ("contracts", {"customer": "nobody", "name": "C", "start_date": "2026-01-01",
                   "phases": [{"start_date": "2026-01-01", "items": []}]},
     {"customer": ["unknown_customer"]}),
    ("contracts", {"customer": "acme", "name": "C", "start_date": "someday",
                   "phases": [{"start_date": "2026-01-01", "items": []}]},
     {"start_date": ["invalid_date"]}),
    # DRF's own codes for a field's shape
    ("customers", {"name": "No id"}, {"external_id": ["required"]}),
    ("customers", {"external_id": "x" * 300, "name": "Long"}, {"external_id": ["max_length"]}),
    ("meters", {"key": "m", "name": "M", "event_name": "e", "aggregation": "median"},
     {"aggregation": ["invalid_choice"]}),
])
def test_a_bad_input_has_the_codes_of_its_reasons(acme, path, body, codes):
    error = _refused(acme.client.post(f"/api/v1/{path}", body, format="json"))

    assert error["codes"] == codes


def _document(**changes) -> dict:
    """A valid contract document for acme, one phase, one flat-fee item, with ``changes``."""
    item = {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "100.00"}}
    return {"customer": "acme", "name": "C", "start_date": "2026-01-01",
            "phases": [{"start_date": "2026-01-01", "items": [item]}], **changes}


def _item(**changes) -> dict:
    return _document(phases=[{"start_date": "2026-01-01", "items": [
        {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "100.00"},
         **changes}]}])


ITEM = "phases[0].items[0]"


@pytest.mark.parametrize(("body", "fields", "codes"), [
    # the parser's own checks, each coded where it is found
    pytest.param(_document(colour="red", cadence="fortnightly"),
                 {"colour": ["is not a field of this object"],
                  "cadence": ["must be one of monthly, quarterly, semi_annual, annual, "
                              "every_n_months, weekly, one_time"]},
                 {"colour": ["unknown_field"], "cadence": ["invalid_choice"]}, id="shape"),
    pytest.param(_document(payment_terms_days="30", renewal_notice_days=9999),
                 {"payment_terms_days": ["must be a whole number from 0 to 365"],
                  "renewal_notice_days": ["must be a whole number from 0 to 730"]},
                 {"payment_terms_days": ["invalid_type"],
                  "renewal_notice_days": ["out_of_bounds"]}, id="integers"),
    pytest.param(_document(currency="XYZ", end_date="2025-01-01"),
                 {"currency": ["'XYZ' is not an ISO 4217 currency code"],
                  "end_date": ["must be after start_date"],
                  "phases[0].end_date": ["must be the contract's end_date (2025-01-01)"]},
                 {"currency": ["invalid_currency"], "end_date": ["invalid_period"],
                  "phases[0].end_date": ["invalid_period"]}, id="currency-and-term"),
    pytest.param(_item(quantity="1.00000000001", meter="API Calls"),
                 {f"{ITEM}.quantity": ["must have at most 10 decimal places"],
                  f"{ITEM}.meter": ["must be a meter key: lower-case letters, digits, _ . -"]},
                 {f"{ITEM}.quantity": ["too_many_decimals"],
                  f"{ITEM}.meter": ["invalid_characters"]}, id="bounds-and-key"),
    # the pricing's checks (contracts.price_config, contracts.pricing), coded where raised
    pytest.param(_item(pricing={"amount": "lots"}),
                 {f"{ITEM}.pricing.amount": ["'lots' is not a number"]},
                 {f"{ITEM}.pricing.amount": ["not_a_number"]}, id="price-config"),
    pytest.param(_item(model="graduated", quantity="5", pricing={"tiers": [
                     {"up_to": "10", "unit_price": "1"}, {"up_to": "5", "unit_price": "1"},
                     {"up_to": None, "unit_price": "1"}]}),
                 {f"{ITEM}.pricing.tiers[1].up_to": ["tiers must ascend: up_to must exceed 10"]},
                 {f"{ITEM}.pricing.tiers[1].up_to": ["invalid_tiers"]}, id="pricing-engine"),
    pytest.param(_item(discounts=[{"kind": "percent", "value": "0"}]),
                 {f"{ITEM}.discounts[0].value": ["must be a positive number"]},
                 {f"{ITEM}.discounts[0].value": ["not_positive"]}, id="discount"),
])
def test_a_contract_document_error_has_the_code_given_where_it_was_found(acme, body, fields,
                                                                          codes):
    error = _refused(acme.client.post("/api/v1/contracts", body, format="json"))

    assert error["fields"] == fields
    assert error["codes"] == codes


def test_every_reason_of_every_field_has_its_code_in_order(acme):
    response = acme.client.patch("/api/v1/invoice-settings", {
        "number_prefix": "A B", "grace_period_hours": -1,
        "logo_url": "https://example.com/logo.png"}, format="json")

    error = _refused(response)
    assert error["fields"] == {
        "number_prefix": ["Letters, digits, - and _ only."],
        "grace_period_hours": ["A whole number of hours from 0 to 87840."],
        "logo_url": ["A data: URI of an image (data:image/png;base64,...), or nothing: "
                     "invoices fetch nothing from the network."],
    }
    assert error["codes"] == {"number_prefix": ["invalid_characters"],
                              "grace_period_hours": ["out_of_bounds"],
                              "logo_url": ["not_data_uri"]}


def test_a_state_refusal_has_its_code(acme):
    product = acme.product("PLATFORM")
    acme.contract(items=[{"product": product["sku"], "model": "flat_fee",
                          "pricing": {"amount": "100.00"}}])
    [contract] = acme.get("contracts", status="active")["results"]

    error = _refused(acme.client.post(f"/api/v1/contracts/{contract['id']}/cancel",
                                      {"effective_date": "2030-01-01"}, format="json"))

    assert error["fields"] == {"effective_date": ["Must not be after the contract's end_date."]}
    assert error["codes"] == {"effective_date": ["after_end"]}


def test_a_reason_given_without_a_code_is_invalid(acme):
    # a NUL in the body is refused by the parser, which names the place but gives no code
    response = acme.client.post("/api/v1/customers",
                                data='{"external_id": "a\\u0000b", "name": "N"}',
                                content_type="application/json")

    error = _refused(response)
    assert error["codes"] == {"external_id": ["invalid"]}


def test_a_body_made_by_hand_gets_invalid_codes():
    body = error_body("invalid_request", "Bad.", {"Stripe-Signature": ["Does not verify."]})

    assert body["error"]["codes"] == {"Stripe-Signature": ["invalid"]}


def test_an_error_without_fields_has_no_codes(tenant):
    response = tenant.client().get("/api/v1/no-such-thing")

    assert "codes" not in response.json()["error"]
