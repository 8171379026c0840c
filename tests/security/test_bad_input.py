"""Inputs a careless client (or a hostile one) sends, each once a 500: every one is now a 4xx
with the one error body, naming the field and the bound, and nothing is written.

The bounds are zenskar/bounds.py's (README.md, "Bounds")."""

from __future__ import annotations

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from contracts.models import Contract, Customer
from invoicing.models import CreditNote, TaxRate
from metering.models import Event
from tests.support.scenario import Scenario
from tests.support.world import FLAT, build_world
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)


def _error(response, status=400) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def _raw(client, method: str, path: str, text: str | bytes):
    return getattr(client, method)(path, data=text, content_type="application/json")


@pytest.fixture
def acme(tenant):
    return Scenario(tenant)


@pytest.fixture
def api(tenant):
    return tenant.client(Role.ADMIN)


# --- NUL bytes and lone surrogates ------------------------------------------------------------


def _query_parameters():
    found = []
    for path, item in SCHEMA["paths"].items():
        if "{" in path or "get" not in item:
            continue
        for parameter in item["get"].get("parameters", []):
            if parameter["in"] == "query":
                found.append((path, parameter["name"]))
    return found


@pytest.mark.parametrize(("path", "name"), _query_parameters(),
                         ids=[f"{p}?{n}" for p, n in _query_parameters()])
def test_a_nul_in_any_query_parameter_is_a_400(api, path, name):
    response = api.get(f"{path}?{name}=a%00b")

    error = _error(response)
    assert error["type"] == "invalid_request"
    assert "NUL" in error["message"]


def test_the_list_filters_are_many():
    # the test above covers every documented filter of every list: about ten at least
    assert len(_query_parameters()) >= 10


STRINGS = {"nul": "Acme\u0000Corp", "surrogate": "Acme\ud800Corp"}


@pytest.mark.parametrize("kind", STRINGS)
@pytest.mark.parametrize("field", ["name", "external_id", "attributes.tier", "attributes.key"])
def test_a_customer_string_postgres_cannot_store_is_refused(acme, tenant, kind, field):
    value = STRINGS[kind]
    body = {"external_id": "acme", "name": "Acme", "currency": "USD", "attributes": {}}
    if field == "attributes.tier":
        body["attributes"] = {"tier": value}
    elif field == "attributes.key":
        body["attributes"] = {value: "gold"}
    else:
        body[field] = value

    error = _error(_raw(acme.client, "post", "/api/v1/customers", json.dumps(body)))

    assert error["type"] == "invalid_request"
    why = "NUL" if kind == "nul" else "surrogate"
    assert why in json.dumps(error["fields"])
    with tenant.context():
        assert not Customer.objects.filter(organization=tenant.organization).exists()


def test_an_event_with_a_nul_is_rejected_and_the_rest_of_its_batch_stored(acme, tenant):
    good = {"event_id": "e1", "customer": "acme", "event_name": "api_call",
            "timestamp": "2026-01-05T10:00:00Z", "properties": {"region": "eu"}}
    bad = {**good, "event_id": "e2", "properties": {"region": STRINGS["nul"]}}
    acme.tenant.organization.usage_window_days = 3650
    acme.tenant.organization.save()

    response = acme.client.post("/api/v1/events/batch", {"events": [good, bad]}, format="json")

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    [rejected] = response.json()["rejected"]
    assert "NUL" in rejected["errors"]["properties"][0]
    single = acme.client.post("/api/v1/events", bad, format="json")
    assert "NUL" in _error(single)["fields"]["properties"][0]
    with tenant.context():
        assert list(Event.objects.filter(organization=tenant.organization)
                    .values_list("event_id", flat=True)) == ["e1"]


def test_an_event_with_a_lone_surrogate_is_a_400(acme, tenant):
    event = {"event_id": "e1", "customer": "acme", "event_name": "api_call",
             "timestamp": "2026-01-05T10:00:00Z", "properties": {"region": STRINGS["surrogate"]}}

    for path, body in (("/api/v1/events", event), ("/api/v1/events/batch", {"events": [event]})):
        assert _error(_raw(acme.client, "post", path, json.dumps(body)))["type"] == \
            "invalid_request"
    with tenant.context():
        assert not Event.objects.filter(organization=tenant.organization).exists()


@pytest.mark.parametrize("kind", STRINGS)
@pytest.mark.parametrize("where", ["name", "reference", "phases[0].items[0].description"])
def test_a_contract_document_string_postgres_cannot_store_is_refused(acme, tenant, kind, where):
    acme.customer()
    acme.product("PLATFORM")
    item = {**FLAT}
    document = {"customer": "acme", "name": "Deal", "start_date": "2026-01-01",
                "phases": [{"start_date": "2026-01-01", "items": [item]}]}
    if where == "phases[0].items[0].description":
        item["description"] = STRINGS[kind]
    else:
        document[where] = STRINGS[kind]

    error = _error(_raw(acme.client, "post", "/api/v1/contracts", json.dumps(document)))

    assert where in error["fields"]
    with tenant.context():
        assert not Contract.objects.filter(organization=tenant.organization).exists()


# --- JSON that is not a reasonable document ---------------------------------------------------


def _post_operations():
    return [path for path, item in SCHEMA["paths"].items() if "post" in item]


def test_deeply_nested_json_is_a_400_on_every_post(tenant, api):
    ids = build_world(tenant)
    bomb = "[" * 100_000
    for path in _post_operations():
        params = {name: ids.get(name, "finalize") for name in re.findall(r"{(\w+)}", path)}
        error = _error(_raw(api, "post", path.format(**params), bomb))
        assert error["type"] == "invalid_request", path


def test_json_nested_past_the_bound_is_a_400(api):
    nested: dict = {}
    for _ in range(40):
        nested = {"a": nested}
    body = {"external_id": "acme", "name": "Acme", "attributes": nested}

    error = _error(api.post("/api/v1/customers", body, format="json"))

    assert "deeper than 32 levels" in json.dumps(error)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_refused(api, literal):
    text = '{"external_id": "acme", "name": "Acme", "attributes": {"score": LITERAL}}' \
        .replace("LITERAL", literal)

    error = _error(_raw(api, "post", "/api/v1/customers", text))

    assert literal.lstrip("-") in error["message"]


def test_a_body_that_is_not_an_object_is_a_400(tenant, api):
    ids = build_world(tenant)
    response = _raw(api, "patch", f"/api/v1/price-items/{ids['item_id']}", "[null, null]")

    assert _error(response)["message"] == "The body must be a JSON object."


def test_a_20_mb_body_is_a_413_with_the_error_body(api):
    body = json.dumps({"external_id": "acme", "name": "x" * (20 * 1024 * 1024)})

    for path in ("/api/v1/customers", "/api/v1/contracts"):
        error = _error(_raw(api, "post", path, body), status=413)
        assert error["type"] == "payload_too_large"
        assert "at most 1,048,576" in error["message"]


# --- Numbers: NaN, infinity, and beyond what the columns hold ---------------------------------


@pytest.fixture
def finalized(acme):
    """A finalized invoice of 100.00 (Jan 1, in advance) and its one line."""
    acme.customer()
    acme.product("PLATFORM")
    contract = acme.contract(items=[FLAT])
    acme.run("2026-01-05")
    [invoice] = acme.invoices(contract["id"])
    invoice = acme.finalize(invoice["id"])
    return invoice


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity", "1e400", "abc"])
def test_a_credit_note_amount_that_is_not_a_finite_number_is_refused(acme, tenant, finalized,
                                                                     amount):
    line = finalized["lines"][0]["id"]
    response = acme.client.post(f"/api/v1/invoices/{finalized['id']}/credit-notes", {
        "reason": "Goodwill", "lines": [{"line": line, "amount": amount}]}, format="json")

    assert "lines[0].amount" in _error(response)["fields"]
    with tenant.context():
        assert not CreditNote.objects.filter(organization=tenant.organization).exists()


@pytest.mark.parametrize(("price", "why"), [
    ("1e400", "and 1000000000000000"),
    ("1" * 40, "and 1000000000000000"),
    ("NaN", "finite"),
    ("0.00000000001", "at most 10 decimal places"),
])
def test_a_contract_price_beyond_the_price_columns_is_refused(acme, tenant, price, why):
    acme.customer()
    acme.product("SEATS")
    item = {"product": "SEATS", "model": "per_unit", "quantity": "10",
            "pricing": {"unit_price": price}}
    document = {"customer": "acme", "name": "Deal", "start_date": "2026-01-01",
                "phases": [{"start_date": "2026-01-01", "items": [item]}]}

    error = _error(acme.client.post("/api/v1/contracts", document, format="json"))

    assert why in json.dumps(error["fields"]), error
    with tenant.context():
        assert not Contract.objects.filter(organization=tenant.organization).exists()


def test_a_quantity_of_1e30_is_refused(acme, tenant):
    acme.customer()
    acme.product("SEATS")
    text = json.dumps({"customer": "acme", "name": "Deal", "start_date": "2026-01-01",
                       "phases": [{"start_date": "2026-01-01", "items": [
                           {"product": "SEATS", "model": "per_unit", "quantity": "QTY",
                            "pricing": {"unit_price": "1.00"}}]}]}).replace('"QTY"', "1e30")

    error = _error(_raw(acme.client, "post", "/api/v1/contracts", text))

    assert "phases[0].items[0].quantity" in error["fields"]


@pytest.mark.parametrize(("quantity", "unit_price", "field"), [
    ("1" * 20, "1" * 20, "quantity"),  # each alone is past 10^15
    ("1000000000000000", "1000000000000000", "unit_price"),  # each fits; the line (10^30) not
    ("2", "600000000000", "unit_price"),  # 1.2 x 10^12: past the 10^12 a line holds
])
def test_a_one_off_line_beyond_what_a_line_holds_is_refused(acme, tenant, quantity, unit_price,
                                                            field):
    acme.customer()
    response = acme.client.post("/api/v1/invoices", {
        "customer": "acme", "lines": [{"description": "Setup", "quantity": quantity,
                                       "unit_price": unit_price}]}, format="json")

    error = _error(response)
    assert any(key.endswith(field) for key in error["fields"]), error


# --- Dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "1969-12-31", "2201-01-01"])
def test_a_contract_date_outside_1970_to_2200_is_refused(acme, tenant, start):
    acme.customer()
    acme.product("PLATFORM")
    document = {"customer": "acme", "name": "Deal", "start_date": start,
                "phases": [{"start_date": start, "items": [FLAT]}]}

    error = _error(acme.client.post("/api/v1/contracts", document, format="json"))

    assert "must be between 1970-01-01 and 2200-12-31" in error["fields"]["start_date"]
    with tenant.context():
        assert not Contract.objects.filter(organization=tenant.organization).exists()


def test_an_event_in_the_year_9999_is_refused(acme):
    event = {"event_id": "e1", "customer": "acme", "event_name": "api_call",
             "timestamp": "9999-12-31T00:00:00Z"}

    response = acme.client.post("/api/v1/events", event, format="json")

    # events are held to a tighter bound than dates in general: the organization's window
    assert _error(response)["fields"] == {"timestamp": ["is more than 5 minutes in the future"]}


# --- Values the services refuse, whichever adapter asks ---------------------------------------


@pytest.mark.parametrize("rate", ["-19", "500", "100.00001"])
def test_a_tax_rate_outside_0_to_100_is_refused_by_the_api(acme, tenant, rate):
    response = acme.client.post("/api/v1/tax-rates", {"name": "VAT", "country": "DE",
                                                      "rate": rate}, format="json")

    assert "rate" in _error(response)["fields"]
    with tenant.context():
        assert not TaxRate.objects.filter(organization=tenant.organization).exists()


def test_a_tax_rate_outside_0_to_100_is_refused_by_the_dashboard(client, signed_in, tenant):
    signed_in(Role.FINANCE)

    page = client.post("/invoices/settings/tax-rates/", {"name": "VAT", "country": "DE",
                                                         "rate": "500"})

    assert page.status_code == 200
    assert "between 0 and 100" in page.content.decode()
    with tenant.context():
        assert not TaxRate.objects.filter(organization=tenant.organization).exists()


@pytest.mark.parametrize("country", ["ZZ", "XX", "EU", "12", "USA"])
def test_a_country_that_is_not_iso_3166_is_refused(acme, tenant, country):
    rate = acme.client.post("/api/v1/tax-rates", {"name": "VAT", "country": country,
                                                  "rate": "19"}, format="json")
    customer = acme.client.post("/api/v1/customers", {"external_id": "acme", "name": "Acme",
                                                      "country": country}, format="json")

    assert "country" in _error(rate)["fields"]
    assert "country" in _error(customer)["fields"]


def test_a_tax_rate_patch_is_held_to_the_same_rules(acme):
    rate = acme.post("tax-rates", {"name": "VAT", "country": "DE", "rate": "19"})

    response = acme.client.patch(f"/api/v1/tax-rates/{rate['id']}", {"rate": "-1"},
                                 format="json")

    assert "rate" in _error(response)["fields"]
    assert acme.get("tax-rates")["results"][0]["rate"] == "19.0000"


def test_a_credit_note_that_rounds_to_zero_takes_no_number(acme, tenant, finalized):
    line = finalized["lines"][0]["id"]
    path = f"/api/v1/invoices/{finalized['id']}/credit-notes"

    tiny = acme.client.post(path, {"reason": "Goodwill",
                                   "lines": [{"line": line, "amount": "0.004"}]}, format="json")
    zero = acme.client.post(path, {"reason": "Goodwill",
                                   "lines": [{"line": line, "amount": "0"}]}, format="json")
    real = acme.post(f"invoices/{finalized['id']}/credit-notes",
                     {"reason": "Goodwill", "lines": [{"line": line, "amount": "10.00"}]})

    assert "lines[0].amount" in _error(tiny)["fields"]  # USD has 2 decimals: 0.004 is not money
    assert "lines[0].amount" in _error(zero)["fields"]
    # the refused ones used no number: the first note has the first number of the year
    assert real["number"].endswith("-000001"), real["number"]


def test_a_full_credit_of_an_invoice_already_credited_takes_no_number(acme, finalized):
    path = f"invoices/{finalized['id']}/credit-notes"
    acme.post(path, {"reason": "Cancelled"})  # credits all of it

    again = acme.client.post(f"/api/v1/{path}", {"reason": "Again"}, format="json")

    assert _error(again)["fields"] == {"lines": ["Nothing is left to credit on this invoice."]}
    assert len(acme.get(path)["results"]) == 1
