"""Previews for integrators, through the API: the upcoming invoice as of a day, and the usage
of the billing period in force, rated so far. Every amount is worked out by hand beside it."""

from __future__ import annotations

import pytest

from invoicing.models import Invoice
from tests.support.scenario import flat

pytestmark = pytest.mark.django_db

TIERS = {"tiers": [{"up_to": "100", "unit_price": "0"},
                   {"up_to": "1000", "unit_price": "0.10"},
                   {"up_to": None, "unit_price": "0.05"}]}


def _tokens_contract(scenario, **fields):
    """A platform fee in advance and tokens (a sum meter) in arrears on graduated tiers:
    the first 100 free, up to 1,000 at 0.10, beyond at 0.05."""
    scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("TOKENS", kind="usage")
    scenario.meter("tokens", event_name="completion", aggregation="sum",
                   value_property="$.tokens")
    return scenario.contract(items=[
        flat("PLATFORM", "100.00"),
        {"product": "TOKENS", "model": "graduated", "timing": "arrears", "meter": "tokens",
         "description": "Tokens", "pricing": TIERS}], **fields)


def _completions(scenario, *rows):
    scenario.events(*[(event_id, "acme", "completion", at, {"tokens": tokens})
                      for event_id, at, tokens in rows])


def _usage(scenario, path, **params):
    return scenario.get(path, **params)


# --- Current usage -------------------------------------------------------------------------------


def test_tiered_usage_mid_period_counts_up_to_the_end_of_the_day(scenario):
    contract = _tokens_contract(scenario)
    _completions(scenario,
                 ("feb", "2026-02-28T23:59:59Z", 700),   # the period before: not counted
                 ("m1", "2026-03-02T10:00:00Z", 600),
                 ("m2", "2026-03-10T10:00:00Z", 500),
                 ("m3", "2026-03-15T23:59:59Z", 50),     # the last second of Mar 15 counts
                 ("late", "2026-03-16T00:00:00Z", 1000))  # the next day: not yet

    usage = _usage(scenario, f"contracts/{contract['id']}/current-usage", as_of="2026-03-15")

    assert (usage["in_force"], usage["period_start"], usage["period_end"]) == (
        True, "2026-03-01", "2026-04-01")
    assert usage["usage_through"] == "2026-03-16T00:00:00Z"
    [item] = usage["items"]  # the platform fee is no usage
    # 600 + 500 + 50 = 1,150 tokens: 100 free, 900 x 0.10 = 90.00, 150 x 0.05 = 7.50 -> 97.50
    assert (item["product"], item["meter"], item["model"], item["quantity"]) == (
        "TOKENS", "tokens", "graduated", "1150")
    assert (item["period_start"], item["period_end"]) == ("2026-03-01", "2026-04-01")
    assert (item["amount"], item["discount"], item["total"]) == ("97.50", "0.00", "97.50")
    assert usage["totals"] == {"amount": "97.50", "discount": "0.00", "total": "97.50"}
    assert [step["amount"] for step in item["derivation"]["steps"]] == ["0", "90.00", "7.50"]


def test_the_day_is_the_contracts_own(scenario):
    contract = _tokens_contract(scenario, time_zone="America/New_York")
    # 2026-03-16T03:00Z is still Mar 15 in New York (UTC-4 since Mar 8): counted
    _completions(scenario, ("ny", "2026-03-16T03:00:00Z", 300),
                 ("next", "2026-03-16T04:00:00Z", 900))  # midnight of Mar 16 in New York

    usage = _usage(scenario, f"contracts/{contract['id']}/current-usage", as_of="2026-03-15")

    assert usage["usage_through"] == "2026-03-16T04:00:00Z"
    # 300 tokens: 100 free, 200 x 0.10 = 20.00
    assert [(i["quantity"], i["total"]) for i in usage["items"]] == [("300", "20.00")]


def test_a_customer_with_two_contracts_sees_each_in_its_own_period(scenario):
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.product("STORAGE", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    scenario.meter("storage_gb", event_name="stored", aggregation="sum", value_property="$.gb")
    monthly = scenario.contract(items=[
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "0.05"}}])
    quarterly = scenario.contract(start="2026-02-15", end="2027-02-15", cadence="quarterly",
                                  items=[{"product": "STORAGE", "model": "per_unit",
                                          "timing": "arrears", "meter": "storage_gb",
                                          "pricing": {"unit_price": "0.50"},
                                          "discounts": [{"kind": "percent", "value": "10"}]}])
    scenario.post("contracts", {"customer": "acme", "name": "Not yet", "status": "draft",
                                "start_date": "2026-01-01", "phases": [
                                    {"start_date": "2026-01-01", "items": [flat("API", "1")]}]})
    scenario.events(*[(f"call-{n}", "acme", "api_call", f"2026-03-{1 + n % 14:02d}T08:00:00Z", {})
                      for n in range(40)],
                    ("gb-early", "acme", "stored", "2026-02-10T00:00:00Z", {"gb": 99}),
                    ("gb-1", "acme", "stored", "2026-02-20T00:00:00Z", {"gb": 30}),
                    ("gb-2", "acme", "stored", "2026-03-10T00:00:00Z", {"gb": "12.5"}))
    customer = scenario.get("customers", external_id="acme")["results"][0]

    usage = _usage(scenario, f"customers/{customer['id']}/current-usage", as_of="2026-03-15")

    assert usage["external_id"] == "acme"
    assert [c["contract"] for c in usage["contracts"]] == [monthly["id"], quarterly["id"]]
    api, storage = usage["contracts"]
    # 40 calls on Mar 1-14 x 0.05 = 2.00
    assert (api["period_start"], api["period_end"]) == ("2026-03-01", "2026-04-01")
    assert [(i["meter"], i["quantity"], i["total"]) for i in api["items"]] == [
        ("api_calls", "40", "2.00")]
    # a calendar quarter from a Feb 15 start: the stub [Feb 15, Apr 1); the 99 GB of Feb 10
    # are before it. 30 + 12.5 = 42.5 GB x 0.50 = 21.25; 10% off: -2.125 -> -2.13 (half-up)
    assert (storage["period_start"], storage["period_end"]) == ("2026-02-15", "2026-04-01")
    [item] = storage["items"]
    assert (item["quantity"], item["amount"], item["discount"], item["total"]) == (
        "42.5", "21.25", "-2.13", "19.12")
    assert storage["totals"] == {"amount": "21.25", "discount": "-2.13", "total": "19.12"}


def test_a_contract_with_no_usage_item_has_a_period_and_nothing_to_count(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])

    usage = _usage(scenario, f"contracts/{contract['id']}/current-usage", as_of="2026-05-20")

    assert (usage["in_force"], usage["period_start"], usage["period_end"]) == (
        True, "2026-05-01", "2026-06-01")
    assert usage["items"] == []
    assert usage["totals"] == {"amount": "0.00", "discount": "0.00", "total": "0.00"}


@pytest.mark.parametrize("as_of", ["2025-12-31", "2027-01-01"], ids=["before", "after"])
def test_a_day_outside_the_term_is_not_in_force(scenario, as_of):
    contract = _tokens_contract(scenario)
    customer = scenario.get("customers")["results"][0]

    usage = _usage(scenario, f"contracts/{contract['id']}/current-usage", as_of=as_of)
    listed = _usage(scenario, f"customers/{customer['id']}/current-usage", as_of=as_of)

    assert (usage["in_force"], usage["period_start"], usage["items"]) == (False, None, [])
    assert listed["contracts"] == []


def test_nothing_is_saved(scenario):
    contract = _tokens_contract(scenario)
    _completions(scenario, ("m1", "2026-03-02T10:00:00Z", 600))
    customer = scenario.get("customers")["results"][0]

    scenario.get(f"contracts/{contract['id']}/current-usage", as_of="2026-03-15")
    scenario.get(f"customers/{customer['id']}/current-usage", as_of="2026-03-15")
    scenario.get(f"customers/{customer['id']}/upcoming-invoice", as_of="2026-03-15")

    with scenario.tenant.context():
        assert Invoice.objects.count() == 0


@pytest.mark.parametrize(("value", "code"), [
    ("2026-13-01", "invalid"), ("20260315", "invalid"), ("yesterday", "invalid"),
    ("1969-12-31", "out_of_bounds"), ("2201-01-01", "out_of_bounds"),
], ids=["no-month-13", "no-dashes", "words", "before-1970", "after-2200"])
@pytest.mark.parametrize("path", ["contracts/{contract}/current-usage",
                                  "customers/{customer}/current-usage",
                                  "customers/{customer}/upcoming-invoice"],
                         ids=["contract-usage", "customer-usage", "upcoming"])
def test_a_bad_day_is_a_400_naming_it(scenario, path, value, code):
    contract = _tokens_contract(scenario)
    customer = scenario.get("customers")["results"][0]
    url = "/api/v1/" + path.format(contract=contract["id"], customer=customer["id"])

    response = scenario.client.get(url, {"as_of": value})

    assert response.status_code == 400
    assert response.json()["error"]["codes"] == {"as_of": [code]}


@pytest.mark.parametrize("path", ["contracts/{contract}/current-usage",
                                  "customers/{customer}/current-usage",
                                  "customers/{customer}/upcoming-invoice"],
                         ids=["contract-usage", "customer-usage", "upcoming"])
def test_another_organizations_ids_are_404(scenario, other_tenant, path):
    contract = _tokens_contract(scenario)
    customer = scenario.get("customers")["results"][0]
    url = "/api/v1/" + path.format(contract=contract["id"], customer=customer["id"])

    response = other_tenant.client().get(url, {"as_of": "2026-03-15"})

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


# --- The upcoming invoice as of a day ------------------------------------------------------------


def test_the_upcoming_invoice_as_of_a_day_counts_the_usage_up_to_then(scenario):
    contract = _tokens_contract(scenario)
    _completions(scenario, ("m1", "2026-03-02T10:00:00Z", 600),
                 ("late", "2026-03-20T10:00:00Z", 400))
    customer = scenario.get("customers")["results"][0]

    upcoming = scenario.get(f"customers/{customer['id']}/upcoming-invoice", as_of="2026-03-15")

    # Apr 1 bills April's fee in advance and March's tokens so far: 600 tokens -> 100 free,
    # 500 x 0.10 = 50.00; 100.00 + 50.00 = 150.00 (no tax rate)
    assert (upcoming["contract"], upcoming["billing_date"], upcoming["as_of"]) == (
        contract["id"], "2026-04-01", "2026-03-15")
    assert {line["product"]: line["amount"] for line in upcoming["lines"]} == {
        "PLATFORM": "100.00", "TOKENS": "50.00"}
    assert (upcoming["subtotal"], upcoming["tax_total"], upcoming["total"]) == (
        "150.00", "0.00", "150.00")


def test_a_date_finalized_after_the_day_was_still_upcoming_on_it(scenario):
    contract = _tokens_contract(scenario)
    _completions(scenario, ("f1", "2026-02-05T10:00:00Z", 300),
                 ("f2", "2026-02-25T10:00:00Z", 800))
    scenario.run("2026-03-01")  # drafts for Jan 1, Feb 1 and Mar 1
    for invoice in scenario.invoices(contract["id"]):
        scenario.finalize(invoice["id"])  # finalized today, long after Feb 15
    customer = scenario.get("customers")["results"][0]

    then = scenario.get(f"customers/{customer['id']}/upcoming-invoice", as_of="2026-02-15")
    today = scenario.get(f"customers/{customer['id']}/upcoming-invoice")

    # As of Feb 15, Mar 1 was next: March's fee and February's 300 tokens so far:
    # 100 free, 200 x 0.10 = 20.00; 100.00 + 20.00 = 120.00
    assert (then["billing_date"], then["total"]) == ("2026-03-01", "120.00")
    # Today (2026-11-30 or later: every date through Mar 1 is final) the next date is still
    # open and bills at least the 100.00 fee; Mar 1 is no longer upcoming
    assert today["billing_date"] > "2026-03-01"


def test_with_no_contract_billing_again_the_upcoming_invoice_is_empty(scenario):
    customer = scenario.customer()

    upcoming = scenario.get(f"customers/{customer['id']}/upcoming-invoice")

    assert (upcoming["billing_date"], upcoming["contract"], upcoming["total"],
            upcoming["lines"]) == (None, None, None, [])


# --- The reference ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(("path", "component"), [
    ("/api/v1/customers/{customer_id}/upcoming-invoice", "UpcomingInvoice"),
    ("/api/v1/customers/{customer_id}/current-usage", "CustomerUsage"),
    ("/api/v1/contracts/{contract_id}/current-usage", "ContractUsage"),
], ids=["upcoming", "customer-usage", "contract-usage"])
def test_the_reference_types_each_answer_and_shows_an_example(reference, path, component):
    schema = reference
    operation = schema["paths"][path]["get"]
    answer = operation["responses"]["200"]["content"]["application/json"]

    assert answer["schema"] == {"$ref": f"#/components/schemas/{component}"}
    [example] = answer["examples"].values()
    assert set(example["value"]) == set(schema["components"]["schemas"][component]["properties"])
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["as_of"]
