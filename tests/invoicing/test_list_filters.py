"""The lists' query strings are parsed by the API views (the adapters): a bad parameter is a
400 naming it; the selectors get typed arguments (dates, ids)."""

from __future__ import annotations

import pytest

from tests.support.scenario import flat

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(scenario):
    """Acme's January invoice of 100.00, finalized, and one credit note of 10.00 on it."""
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "100.00")])
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    invoice = scenario.invoice(invoice["id"])  # with its lines
    scenario.post(f"invoices/{invoice['id']}/credit-notes", {
        "reason": "Outage", "lines": [{"line": invoice["lines"][0]["id"], "amount": "10.00"}]})
    return customer, contract, invoice


def _fields(response) -> dict:
    assert response.status_code == 400, response.json()
    return response.json()["error"]["fields"]


def test_the_invoice_list_parses_its_filters(scenario, billed):
    _, contract, invoice = billed
    listed = scenario.get("invoices", contract=contract["id"], **{"from": "2026-01-01"})
    assert [row["id"] for row in listed["results"]] == [invoice["id"]]
    assert scenario.get("invoices", **{"from": "2026-02-01"})["results"] == []

    get = scenario.client.get
    assert _fields(get("/api/v1/invoices", {"contract": "not-an-id"})) == {
        "contract": ["Must be a contract id."]}
    assert _fields(get("/api/v1/invoices", {"from": "January"})) == {
        "from": ["Must be a date, YYYY-MM-DD."]}
    assert set(_fields(get("/api/v1/invoices", {"status": "lost"}))) == {"status"}


def test_the_failures_list_refuses_a_contract_that_is_no_id(scenario):
    assert _fields(scenario.client.get("/api/v1/billing-failures", {"contract": "x"})) == {
        "contract": ["Must be a contract id."]}


def test_credit_notes_are_found_by_the_customers_id_or_external_id(scenario, billed):
    customer, _, _ = billed
    by_external_id = scenario.get("credit-notes", customer="acme")["results"]
    assert len(by_external_id) == 1
    assert scenario.get("credit-notes", customer=customer["id"])["results"] == by_external_id
    assert scenario.get("credit-notes", customer="nobody")["results"] == []
