"""The API and the dashboard refuse the same bad value with the same words, for every write
that exists in both: each asks the same service, and the service says why.

One case per write: the same bad value posted through the API (an admin API key) and through
the dashboard's form (a signed-in admin); the service's message is in the API's
``fields[field]`` (or, for a refusal of the whole request, its ``message``) and on the page the
dashboard answers with (HTML-unescaped). The objects are the generated tests' ``world``: a
customer ``acme``, products, a meter, a billed active contract, a draft contract, January's
invoice finalized (40.00 paid by bank transfer, 10.00 credited), a data source, a manual
gateway; and a one-off draft invoice.

Not here, because they have one door only: the contract editor's create and replace (the
dashboard's editor posts the document to the API itself), the invoice template (the dashboard
only), customer changes and deletions, products' changes, phases, price items, amendments,
one-off invoices and the gateway (the API only).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

Ids = dict[str, str]
SOURCE_SETTINGS = {"host": "127.0.0.1", "port": 5432, "dbname": "usage", "user": "reader",
                   "password": "secret"}
SOURCE_QUERY = {"sql": "SELECT id, account, calls, recorded_at FROM usage_rows"}
SOURCE_MAPPING = {"event_id": "id", "customer": "account", "timestamp": "recorded_at",
                  "event_name_value": "api_call"}


@dataclass(frozen=True)
class Case:
    """``api(ids)`` -> (method, path under /api/v1/, body); ``page(ids)`` -> (dashboard path,
    form data); ``field``: where the API puts the reason (None: the whole request is refused,
    the reason is the error's ``message``)."""

    api: Callable[[Ids], tuple[str, str, dict]]
    page: Callable[[Ids], tuple[str, dict]]
    field: str | None
    message: str


def _customer(**bad) -> dict:
    return {"external_id": "globex", "name": "Globex", "currency": "USD",
            "time_zone": "UTC", "payment_terms_days": "30", **bad}


def _meter_form(**fields) -> dict:
    return {"key": "tokens", "name": "Tokens", "event_name": "llm_call",
            "aggregation": "count", "value_property": "", "filters": "", "group_by": "",
            **fields}


def _source_form(**fields) -> dict:
    return {"name": "Warehouse", "kind": "postgres", "settings": json.dumps(SOURCE_SETTINGS),
            "query": json.dumps(SOURCE_QUERY), "mapping": json.dumps(SOURCE_MAPPING),
            "cursor_field": "id", "interval_minutes": "60", **fields}


CASES: dict[str, Case] = {
    # --- customers, products, contracts -----------------------------------------------------
    "customer created with a country that is not ISO 3166": Case(
        api=lambda w: ("post", "customers", _customer(country="XX")),
        page=lambda w: ("/customers/new/", _customer(country="XX")),
        field="country", message="'XX' is not an ISO 3166-1 country code (e.g. US, FR, DE)"),
    "customer created with an external id taken": Case(
        api=lambda w: ("post", "customers", _customer(external_id="acme")),
        page=lambda w: ("/customers/new/", _customer(external_id="acme")),
        field="external_id", message="A customer with this external_id already exists."),
    "product created with a SKU taken": Case(
        api=lambda w: ("post", "products", {"name": "Again", "sku": "PLATFORM",
                                            "kind": "recurring", "revenue_rule": "ratable"}),
        page=lambda w: ("/products/new/", {"name": "Again", "sku": "PLATFORM",
                                           "kind": "recurring", "revenue_rule": "ratable"}),
        field="sku", message="A product with this SKU already exists."),
    "contract cancelled after its end": Case(
        api=lambda w: ("post", f"contracts/{w['active_contract_id']}/cancel",
                       {"effective_date": "2027-06-01"}),
        page=lambda w: (f"/contracts/{w['active_contract_id']}/cancel/",
                        {"effective_date": "2027-06-01"}),
        field="effective_date", message="Must not be after the contract's end_date."),
    "cancelled contract activated": Case(
        api=lambda w: ("post", f"contracts/{w['cancelled_contract_id']}/activate", {}),
        page=lambda w: (f"/contracts/{w['cancelled_contract_id']}/activate/", {}),
        field="status", message="A cancelled contract cannot be activated."),
    "invoiced contract deleted": Case(
        api=lambda w: ("delete", f"contracts/{w['active_contract_id']}", {}),
        page=lambda w: (f"/contracts/{w['active_contract_id']}/delete/", {}),
        field="status", message="This contract has invoices: cancel it instead."),
    # --- metering ----------------------------------------------------------------------------
    "meter created summing nothing": Case(
        api=lambda w: ("post", "meters", {"key": "tokens", "name": "Tokens",
                                          "event_name": "llm_call", "aggregation": "sum"}),
        page=lambda w: ("/metering/meters/new/", _meter_form(aggregation="sum")),
        field="value_property", message="A sum meter needs the value's property."),
    "meter changed to a maximum of nothing": Case(
        api=lambda w: ("patch", f"meters/{w['meter_id']}", {"aggregation": "max"}),
        page=lambda w: (f"/metering/meters/{w['meter_id']}/edit/",
                        _meter_form(key="api_calls", name="api_calls", event_name="api_call",
                                    aggregation="max")),
        field="value_property", message="A max meter needs the value's property."),
    "data source defined without an event id": Case(
        api=lambda w: ("post", "data-sources", {
            "name": "Warehouse", "kind": "postgres", "settings": SOURCE_SETTINGS,
            "query": SOURCE_QUERY, "mapping": {**SOURCE_MAPPING, "event_id": ""},
            "cursor_field": "id"}),
        page=lambda w: ("/metering/sources/new/", _source_form(
            mapping=json.dumps({**SOURCE_MAPPING, "event_id": ""}))),
        field="mapping.event_id",
        message="Required: the column (or list of columns) that identify a row."),
    "data source synced every 0 minutes": Case(
        api=lambda w: ("patch", f"data-sources/{w['source_id']}", {"interval_minutes": 0}),
        page=lambda w: (f"/metering/sources/{w['source_id']}/edit/",
                        _source_form(settings="", interval_minutes="0")),
        field="interval_minutes", message="Must be a whole number from 1 to 10080."),
    # --- invoicing settings and taxes --------------------------------------------------------
    "tax rate of 150 percent": Case(
        api=lambda w: ("post", "tax-rates", {"name": "VAT", "country": "FR", "rate": "150"}),
        page=lambda w: ("/invoices/settings/tax-rates/",
                        {"name": "VAT", "country": "FR", "rate": "150"}),
        field="rate", message="A percentage: must be between 0 and 100."),
    "tax rate of a country that is not ISO 3166": Case(
        api=lambda w: ("post", "tax-rates", {"name": "VAT", "country": "XX", "rate": "20"}),
        page=lambda w: ("/invoices/settings/tax-rates/",
                        {"name": "VAT", "country": "XX", "rate": "20"}),
        field="country", message="'XX' is not an ISO 3166-1 country code (e.g. US, FR, DE)"),
    "invoice number prefix with a space": Case(
        api=lambda w: ("patch", "invoice-settings", {"number_prefix": "A B"}),
        page=lambda w: ("/invoices/settings/save/",
                        {"number_prefix": "A B", "grace_period_hours": "24"}),
        field="number_prefix", message="Letters, digits, - and _ only."),
    "invoice logo from the network": Case(
        api=lambda w: ("patch", "invoice-settings",
                       {"logo_url": "https://example.com/logo.png"}),
        page=lambda w: ("/invoices/settings/save/", {
            "number_prefix": "ACME", "grace_period_hours": "24",
            "logo_url": "https://example.com/logo.png"}),
        field="logo_url", message="A data: URI of an image (data:image/png;base64,...), or "
                                  "nothing: invoices fetch nothing from the network."),
    "invoice support address that is not one address": Case(
        api=lambda w: ("patch", "invoice-settings", {"support_email": "billing at acme"}),
        page=lambda w: ("/invoices/settings/save/", {
            "number_prefix": "ACME", "grace_period_hours": "24",
            "support_email": "billing at acme"}),
        field="support_email", message="One e-mail address, e.g. billing@example.com, or "
                                       "nothing."),
    # --- invoices ----------------------------------------------------------------------------
    "manual line beyond what a line holds": Case(
        api=lambda w: ("post", f"invoices/{w['draft_id']}/lines", {
            "description": "Setup", "quantity": "1000000000", "unit_price": "10000"}),
        page=lambda w: (f"/invoices/{w['draft_id']}/lines/", {
            "description": "Setup", "quantity": "1000000000", "unit_price": "10000"}),
        field="unit_price", message="quantity x unit price must be at most 1000000000000"),
    "quantity of a finalized invoice's line changed": Case(
        api=lambda w: ("patch", f"invoice-lines/{w['finalized_line_id']}", {"quantity": "2"}),
        page=lambda w: (f"/invoices/lines/{w['finalized_line_id']}/quantity/",
                        {"quantity": "2"}),
        field="status", message="A finalized invoice never changes; issue a credit note instead."),
    "paid invoice voided": Case(
        api=lambda w: ("post", f"invoices/{w['finalized_id']}/void", {}),
        page=lambda w: (f"/invoices/{w['finalized_id']}/void/", {}),
        field="status",
        message="Only an unpaid invoice can be voided; issue a credit note instead."),
    "draft marked uncollectible": Case(
        api=lambda w: ("post", f"invoices/{w['draft_id']}/mark-uncollectible", {}),
        page=lambda w: (f"/invoices/{w['draft_id']}/uncollectible/", {}),
        field="status", message="Only a finalized, unpaid invoice."),
    "draft sent": Case(
        api=lambda w: ("post", f"invoices/{w['draft_id']}/send", {}),
        page=lambda w: (f"/invoices/{w['draft_id']}/send/", {}),
        field="status", message="Finalize the invoice before sending it."),
    "line credited beyond what is left of it": Case(
        # 100.00 billed, 10.00 credited already: 90.00 is left
        api=lambda w: ("post", f"invoices/{w['finalized_id']}/credit-notes", {
            "reason": "Outage", "lines": [{"line": w["finalized_line_id"], "amount": "500.00"}]}),
        page=lambda w: (f"/invoices/{w['finalized_id']}/credit-notes/", {
            "reason": "Outage", "scope": "lines", f"line_{w['finalized_line_id']}": "500.00"}),
        field="lines[0].amount", message="Must be more than 0 and at most 90.00."),
    "credit granted in a currency that is not ISO 4217": Case(
        api=lambda w: ("post", f"customers/{w['customer_id']}/balance/grants",
                       {"amount": "10.00", "currency": "XYZ", "reason": "Goodwill"}),
        page=lambda w: (f"/invoices/customers/{w['customer_id']}/credit-grants/",
                        {"amount": "10.00", "currency": "XYZ", "reason": "Goodwill"}),
        field="currency", message="An ISO 4217 currency code, e.g. USD."),
    # --- payments ----------------------------------------------------------------------------
    "payment recorded with a tenth of a cent": Case(
        api=lambda w: ("post", f"invoices/{w['finalized_id']}/payments",
                       {"method": "cash", "amount": "10.005"}),
        page=lambda w: (f"/payments/invoices/{w['finalized_id']}/offline/",
                        {"method": "cash", "amount": "10.005", "received_on": "2026-02-10"}),
        field="amount", message="At most 2 decimals in USD."),
    "card charged with no card saved": Case(
        api=lambda w: ("post", f"invoices/{w['finalized_id']}/payments", {"method": "card"}),
        page=lambda w: (f"/payments/invoices/{w['finalized_id']}/charge/", {}),
        field="payment_method", message="The customer has no saved card."),
    "refund of more than was paid": Case(
        api=lambda w: ("post", f"payments/{w['payment_id']}/refunds",
                       {"amount": "50.00", "reason": "Too much"}),
        page=lambda w: (f"/payments/{w['payment_id']}/refund/",
                        {"amount": "50.00", "reason": "Too much"}),
        field="amount", message="Must be more than 0 and at most 40.00."),
    # --- the organization --------------------------------------------------------------------
    "API key without a name": Case(
        api=lambda w: ("post", "api-keys", {"name": "  ", "role": "viewer"}),
        page=lambda w: ("/settings/api-keys/", {"name": "  ", "role": "viewer"}),
        field="name", message="A key needs a name."),
    "owner made by an admin": Case(
        api=lambda w: ("post", "members", {"email": "ana@globex.test", "role": "owner"}),
        page=lambda w: ("/settings/members/", {"email": "ana@globex.test", "role": "owner"}),
        field=None, message="Only an owner can make someone an owner."),
}


@pytest.fixture
def tenant(world_tenant):
    """The organization of the world, which the page's member signs in to as well."""
    return world_tenant


def _world(tenant, ids: Ids) -> Ids:
    """The generated tests' world, and the objects it made without naming them."""
    client = tenant.client()
    payment = client.get(f"/api/v1/payments/{ids['payment_id']}").json()
    finalized = client.get(f"/api/v1/invoices/{payment['invoice']}").json()
    [active] = client.get("/api/v1/contracts", {"status": "active"}).json()["results"]
    cancelled = client.post(f"/api/v1/contracts/{ids['contract_id']}/cancel",
                            {"effective_date": "2026-06-01"}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    draft = client.post("/api/v1/invoices", {"customer": "acme", "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "10.00"}]}, format="json")
    assert draft.json()["status"] == "draft"
    return {**ids, "finalized_id": finalized["id"],
            "finalized_line_id": finalized["lines"][0]["id"], "draft_id": draft.json()["id"],
            "active_contract_id": active["id"], "cancelled_contract_id": ids["contract_id"]}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_api_and_the_dashboard_refuse_a_bad_value_with_the_same_words(
    tenant, world, client, signed_in, case
):
    ids = _world(tenant, world)
    signed_in(Role.ADMIN)

    method, path, body = case.api(ids)
    answer = getattr(tenant.client(Role.ADMIN), method)(f"/api/v1/{path}", body, format="json")
    page_path, form = case.page(ids)
    page = client.post(page_path, form, follow=True)

    assert 400 <= answer.status_code < 500, answer.content[:400]
    error = answer.json()["error"]
    if case.field is None:
        assert error["message"] == case.message
    else:
        assert case.message in error["fields"].get(case.field, []), error
        assert len(error["codes"][case.field]) == len(error["fields"][case.field])
    assert page.status_code in (200, 400), page.status_code
    assert case.message in html.unescape(page.content.decode())


def test_every_write_of_both_doors_has_a_case():
    # customers, products, contracts (cancel, activate, delete), meters (create, edit), data
    # sources (create, edit), tax rates, invoice settings, manual lines, line quantities,
    # void, uncollectible, send, credit notes, credit grants, payments (offline, card),
    # refunds, API keys, members
    assert len(CASES) >= 25
