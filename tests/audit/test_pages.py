"""The audit trail in the dashboard: the "Audit log" page (the API's filters, older pages,
"Export CSV"), the customer page's activity, the contract's and the invoice's "Changes" -- for
owners and admins; other roles see none of it."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from tests.support.audit import audit_events
from zenskar.audit import views
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


@pytest.fixture
def acme(tenant):
    """A customer created and renamed with the admin key; a draft contract of it with one
    phase, whose price item was described, then the phase removed; a one-off draft invoice
    with a line added."""
    client = tenant.client()

    def post(path, body, status=201):
        response = client.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code == status, response.json()
        return response.json()

    customer = post("customers", {"external_id": "acme", "name": "Acme", "currency": "USD"})
    client.patch(f"/api/v1/customers/{customer['id']}", {"name": "Acme Inc"}, format="json")
    post("products", {"name": "Platform", "sku": "PLATFORM", "kind": "recurring",
                      "revenue_rule": "ratable"})
    contract = post("contracts", {
        "customer": "acme", "name": "Pilot", "start_date": "2026-06-01", "status": "draft",
        "phases": [{"start_date": "2026-06-01", "end_date": "2026-07-01", "items": [
            {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "100.00"}}]},
            {"start_date": "2026-07-01", "items": [
                {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "150.00"}}]}]})
    first, second = client.get(f"/api/v1/contracts/{contract['id']}/phases").json()["results"]
    item = client.get(f"/api/v1/phases/{first['id']}/items").json()["results"][0]
    client.patch(f"/api/v1/price-items/{item['id']}", {"description": "Pilot fee"},
                 format="json")
    assert client.delete(f"/api/v1/phases/{second['id']}").status_code == 204
    invoice = post("invoices", {"customer": "acme", "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "10.00"}]})
    post(f"invoices/{invoice['id']}/lines",
         {"description": "Travel", "quantity": "2", "unit_price": "25.00"})
    return {"customer": customer, "contract": contract, "invoice": invoice}


def test_the_audit_log_lists_who_changed_what_from_where(client, signed_in, acme):
    signed_in(Role.ADMIN)

    page = client.get("/audit-log/", {"object_id": acme["customer"]["id"]})

    assert page.status_code == 200
    text = _text(page)
    assert "Customer Acme Inc changed by API key admin key · API · 127.0.0.1" in text
    assert "name Acme → Acme Inc" in text
    assert "Customer Acme created" in text
    assert page.content.decode().count('data-testid="audit-event"') == 2


def test_the_log_filters_and_says_when_a_filter_is_bad(client, signed_in, acme):
    signed_in(Role.ADMIN)

    products = client.get("/audit-log/", {"object_type": "product"})
    bad = client.get("/audit-log/", {"object_id": "acme", "channel": "fax"})

    assert products.content.decode().count('data-testid="audit-event"') == 1
    assert "Product Platform created" in _text(products)
    assert "A filter was not applied." in _text(bad)


def _older_link(response) -> str | None:
    found = re.search(r'href="\?([^"]+)" data-testid="older"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def _sequences(response) -> list[int]:
    return [int(n) for n in re.findall(r'data-sequence="(\d+)"', response.content.decode())]


def test_older_events_are_on_the_next_page(client, signed_in, acme, monkeypatch):
    signed_in(Role.ADMIN)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)

    first = client.get("/audit-log/")
    second = client.get(f"/audit-log/?{_older_link(first)}")

    assert len(_sequences(first)) == len(_sequences(second)) == 2
    assert max(_sequences(second)) < min(_sequences(first))
    assert "Newest" in _text(second)
    # the customer's two events fit on one page: no older one
    assert _older_link(client.get("/audit-log/", {"object_id": acme["customer"]["id"]})) \
        is None


def test_export_csv_is_the_filtered_log(client, signed_in, acme):
    signed_in(Role.ADMIN)

    response = client.get("/audit-log/", {"object_id": acme["customer"]["id"],
                                          "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["action"], r["label"]) for r in rows] == [("changed", "Acme Inc"),
                                                         ("created", "Acme")]


def test_a_bad_filter_makes_no_file(client, signed_in, acme):
    signed_in(Role.ADMIN)

    response = client.get("/audit-log/", {"object_id": "acme", "format": "csv"})

    assert response.status_code == 400
    assert "No export: the filters are not valid." in _text(response)


def test_the_customer_pages_activity_shows_its_changes(client, signed_in, acme):
    signed_in(Role.ADMIN)

    text = _text(client.get(f"/customers/{acme['customer']['id']}/"))

    assert ("Audit Customer Acme Inc changed by API key admin key (API · 127.0.0.1): "
            "name: Acme → Acme Inc") in text


def test_the_contract_page_lists_the_changes_of_its_phases_and_items(client, signed_in, acme):
    signed_in(Role.ADMIN)

    page = client.get(f"/contracts/{acme['contract']['id']}/")

    text = _text(page)
    assert "Changes" in text
    assert "Price item Pilot fee changed" in text
    assert "description Platform → Pilot fee" in text
    assert "Contract phase 2026-07-01 deleted" in text  # a phase gone is still listed
    assert "Contract Pilot created" in text


def test_the_invoice_page_lists_the_changes_of_its_lines(client, signed_in, acme):
    signed_in(Role.ADMIN)

    text = _text(client.get(f"/invoices/{acme['invoice']['id']}/"))

    assert "Invoice line Travel created" in text
    assert "Invoice line Setup created" in text


@pytest.mark.parametrize("role", [Role.FINANCE, Role.VIEWER])
def test_other_roles_see_no_trail(client, signed_in, acme, role):
    signed_in(role)

    assert client.get("/audit-log/").status_code == 403
    assert "Audit log" not in _text(client.get("/"))
    assert "changed by" not in _text(client.get(f"/customers/{acme['customer']['id']}/"))
    assert "Changes" not in _text(client.get(f"/contracts/{acme['contract']['id']}/"))
    assert "Invoice line Travel created" not in _text(
        client.get(f"/invoices/{acme['invoice']['id']}/"))


def test_the_log_shows_no_other_organizations_events(client, signed_in, acme, other_tenant):
    other_tenant.client().post("/api/v1/customers", {"external_id": "hooli", "name": "Hooli",
                                                     "currency": "USD"}, format="json")
    signed_in(Role.ADMIN)

    assert "Hooli" not in _text(client.get("/audit-log/"))
    assert audit_events(other_tenant.organization, object_type="customer")
