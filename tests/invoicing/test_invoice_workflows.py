"""The invoice workflows the dashboard and the API share: a one-off invoice written by hand, a
draft deleted, a line removed from a draft.

A one-off invoice of Acme (USD, in the US) has two lines throughout: 3 workshop days at
250.00 and one trip at 99.50, so 750.00 + 99.50 = 849.50. Every amount is worked out by hand
beside its assert.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from contracts.models import Customer
from invoicing import services
from invoicing.models import Invoice, InvoiceAudit, InvoiceLine
from invoicing.services.edits import CONTRACT_DRAFT
from tests.support import PASSWORD
from tests.support.scenario import flat
from zenskar.tenancy.models import Role
from zenskar.tenancy.services import membership_upsert
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db

WORKSHOP = {"description": "Workshop day", "quantity": "3", "unit_price": "250.00"}
TRAVEL = {"description": "Travel", "quantity": "1", "unit_price": "99.50"}


def lines_form(*lines: dict, extra: int = 1) -> dict:
    """The new-invoice page's line rows as the browser posts them (``extra`` rows left as
    the page shows them: quantity 1, nothing else)."""
    data = {"lines-TOTAL_FORMS": str(len(lines) + extra), "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "100"}
    for index, line in enumerate(lines):
        data.update({f"lines-{index}-{name}": value for name, value in line.items()})
    for index in range(len(lines), len(lines) + extra):
        data[f"lines-{index}-quantity"] = "1"
    return data


def page_text(response) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


@pytest.fixture
def acme(scenario, tenant):
    scenario.customer("acme", name="Acme Corp")
    with tenant.context():
        return Customer.objects.for_organization(tenant.organization).get(external_id="acme")


@pytest.fixture
def one_off(tenant, acme) -> Invoice:
    """Acme's one-off draft: 849.50."""
    with tenant.context():
        return services.invoice_create_one_off(
            organization=tenant.organization, customer=acme, lines=[WORKSHOP, TRAVEL],
            actor="finance@acme.test")


@pytest.fixture
def contract_draft(scenario):
    """January's 1,000.00 draft of a flat monthly contract (a ten-year grace period keeps it a
    draft)."""
    scenario.customer("initech")
    scenario.product("PLATFORM")
    contract = scenario.contract(customer="initech", items=[flat("PLATFORM", "1000.00")])
    scenario.patch_settings(grace_period_hours=24 * 3650)
    scenario.run("2026-01-01")
    [invoice] = scenario.invoices(contract["id"])
    assert (invoice["status"], invoice["total"]) == ("draft", "1000.00")
    return scenario.invoice(invoice["id"])


def stored(tenant, invoice_id) -> Invoice | None:
    with tenant.context():
        return Invoice.objects.for_organization(tenant.organization).filter(
            id=invoice_id).first()


# --- A one-off invoice ----------------------------------------------------------------------


def test_a_one_off_invoice_is_written_in_the_dashboard_and_opens_as_a_draft(
    client, signed_in, tenant, acme
):
    signed_in()
    new = client.get(f"/invoices/new/?customer={acme.id}").content.decode()
    assert f'<option value="{acme.id}" selected>Acme Corp (acme)</option>' in new
    assert 'name="currency" value="USD"' in new  # the customer's, until another is typed
    assert 'href="/invoices/new/"' in client.get("/invoices/").content.decode()

    response = client.post("/invoices/new/", {
        "customer": str(acme.id), "currency": "", "payment_terms_days": "14",
        "memo": "Onboarding, March", **lines_form(WORKSHOP, TRAVEL)})

    with tenant.context():
        invoice = Invoice.objects.for_organization(tenant.organization).get()
        lines = list(invoice.lines.values_list("description", "quantity", "amount"))
    assert response.status_code == 302
    assert response["Location"] == f"/invoices/{invoice.id}/"
    # 3 x 250.00 = 750.00 and 1 x 99.50 = 99.50: 849.50, no tax rate for the US yet
    assert (invoice.status, invoice.manual, invoice.contract_id, invoice.currency,
            invoice.total, invoice.memo) == ("draft", True, None, "USD", Decimal("849.50"),
                                             "Onboarding, March")
    assert lines == [("Workshop day", Decimal("3"), Decimal("750.00")),
                     ("Travel", Decimal("1"), Decimal("99.50"))]  # the empty row is no line
    page = page_text(client.get(response["Location"]))
    assert "Draft invoice" in page and "one-off" in page and "$849.50" in page

    # its own terms: due 14 days after it is finalized (the customer's are 30)
    finalized = tenant.client().post(f"/api/v1/invoices/{invoice.id}/finalize").json()
    issued, due = (date.fromisoformat(finalized[name]) for name in ("issue_date", "due_date"))
    assert due - issued == timedelta(days=14)


def test_a_one_off_invoice_in_another_currency_is_taxed_as_the_customer_is(
    client, signed_in, tenant, acme
):
    tenant.client().post("/api/v1/tax-rates", {"name": "Sales tax", "country": "US",
                                               "rate": "10"}, format="json")
    signed_in()
    client.post("/invoices/new/", {"customer": str(acme.id), "currency": "eur",
                                   **lines_form(WORKSHOP, TRAVEL, extra=0)})
    with tenant.context():
        invoice = Invoice.objects.for_organization(tenant.organization).get()
    # 849.50 in EUR; 10% tax of 849.50 = 84.95; 849.50 + 84.95 = 934.45
    assert (invoice.currency, invoice.subtotal, invoice.tax_total, invoice.total) == (
        "EUR", Decimal("849.50"), Decimal("84.95"), Decimal("934.45"))


def test_a_bad_one_off_invoice_is_refused_on_its_fields_and_nothing_is_written(
    client, signed_in, tenant, acme
):
    signed_in()
    bad_line = {"description": "Workshop day", "quantity": "three", "unit_price": "250.00"}
    response = client.post("/invoices/new/", {
        "customer": str(acme.id), "currency": "EURO", "payment_terms_days": "400",
        **lines_form(TRAVEL, bad_line)})
    assert response.status_code == 400
    page = page_text(response)
    assert "An ISO 4217 currency code, e.g. USD." in page
    assert "A whole number of days from 0 to 365, or empty for the customer's terms." in page
    assert "'three' is not a number" in page
    with tenant.context():
        assert not Invoice.objects.for_organization(tenant.organization).exists()

    # the API asks the same service, which says the same
    api = tenant.client().post("/api/v1/invoices", {
        "customer": "acme", "currency": "EURO", "lines": [TRAVEL]}, format="json")
    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {"currency": ["An ISO 4217 currency code, e.g. USD."]}

    empty = client.post("/invoices/new/", {"customer": str(acme.id), **lines_form()})
    assert empty.status_code == 400 and "At least one line." in page_text(empty)


def test_without_javascript_add_a_line_posts_the_form_back_with_one_more_row(
    client, signed_in, tenant, acme
):
    signed_in()
    response = client.post("/invoices/new/", {
        "customer": str(acme.id), "add_line": "1", **lines_form(WORKSHOP, TRAVEL, extra=0)})

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('data-testid="one-off-line" data-line-row>') == 4  # 3 rows + template
    assert 'name="lines-1-unit_price" value="99.50"' in page  # what was typed stays
    with tenant.context():
        assert not Invoice.objects.for_organization(tenant.organization).exists()

    removed = {**lines_form(WORKSHOP, TRAVEL, extra=0), "lines-1-DELETE": "on"}
    client.post("/invoices/new/", {"customer": str(acme.id), **removed})
    with tenant.context():
        invoice = Invoice.objects.for_organization(tenant.organization).get()
    assert invoice.total == Decimal("750.00")  # the removed row is no line: 3 x 250.00


def test_the_api_writes_a_one_off_invoice_with_its_currency_and_terms(tenant, acme):
    response = tenant.client().post("/api/v1/invoices", {
        "customer": "acme", "currency": "GBP", "payment_terms_days": 7,
        "lines": [WORKSHOP, TRAVEL]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    # 750.00 + 99.50 = 849.50
    assert (body["currency"], body["total"], body["status"]) == ("GBP", "849.50", "draft")
    assert stored(tenant, body["id"]).payment_terms_days == 7


# --- Deleting a draft -----------------------------------------------------------------------


def test_a_one_off_draft_is_deleted_from_its_page_with_its_lines(
    client, signed_in, tenant, one_off
):
    signed_in()
    page = client.get(f"/invoices/{one_off.id}/").content.decode()
    assert f'action="/invoices/{one_off.id}/delete/" data-confirm="' in page

    response = client.post(f"/invoices/{one_off.id}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == "/invoices/"
    assert "The draft invoice of Acme Corp ($849.50) was deleted." in page_text(response)
    assert stored(tenant, one_off.id) is None
    with tenant.context():
        assert not InvoiceLine.objects.for_organization(tenant.organization).exists()
        assert OutboxEvent.objects.filter(event_type="invoice.deleted",
                                          subject_id=str(one_off.id)).exists()


def test_a_finalized_invoice_is_not_deleted(tenant, one_off):
    api = tenant.client()
    api.post(f"/api/v1/invoices/{one_off.id}/finalize")

    response = api.delete(f"/api/v1/invoices/{one_off.id}")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"status": [
        "Only a draft is deleted; a finalized invoice is voided or credited instead."]}
    assert stored(tenant, one_off.id).status == "finalized"


def test_a_contracts_draft_is_not_deleted_it_would_come_back(
    client, signed_in, tenant, contract_draft
):
    response = tenant.client().delete(f"/api/v1/invoices/{contract_draft['id']}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"status": [CONTRACT_DRAFT]}
    assert CONTRACT_DRAFT == ("A contract's draft comes back at the next run: change the "
                              "contract or void the invoice.")

    signed_in()
    page = client.get(f"/invoices/{contract_draft['id']}/").content.decode()
    assert "/delete/" not in page  # no button that could only be refused
    refused = client.post(f"/invoices/{contract_draft['id']}/delete/", follow=True)
    assert CONTRACT_DRAFT in page_text(refused)
    assert stored(tenant, contract_draft["id"]).status == "draft"


def test_a_draft_with_money_recorded_against_it_is_not_deleted(tenant, one_off):
    with tenant.context():
        Invoice.objects.for_organization(tenant.organization).filter(id=one_off.id).update(
            credit_applied=Decimal("10.00"))
    response = tenant.client().delete(f"/api/v1/invoices/{one_off.id}")
    assert response.status_code == 400
    assert response.json()["error"]["codes"] == {"status": ["money_recorded"]}
    assert stored(tenant, one_off.id) is not None


def test_the_api_deletes_a_one_off_draft(tenant, one_off):
    response = tenant.client(Role.FINANCE).delete(f"/api/v1/invoices/{one_off.id}")
    assert response.status_code == 204
    assert stored(tenant, one_off.id) is None


# --- Removing a line ------------------------------------------------------------------------


def test_a_manual_line_is_removed_and_the_totals_follow(client, signed_in, tenant, acme):
    tenant.client().post("/api/v1/tax-rates", {"name": "Sales tax", "country": "US",
                                               "rate": "10"}, format="json")
    with tenant.context():
        invoice = services.invoice_create_one_off(
            organization=tenant.organization, customer=acme, lines=[WORKSHOP, TRAVEL])
        travel = invoice.lines.get(description="Travel")
    # 849.50 + 10% tax (84.95) = 934.45
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("849.50"), Decimal("84.95"), Decimal("934.45"))
    signed_in()
    assert f'action="/invoices/lines/{travel.id}/remove/"' in \
        client.get(f"/invoices/{invoice.id}/").content.decode()

    response = client.post(f"/invoices/lines/{travel.id}/remove/", follow=True)

    # left: 3 x 250.00 = 750.00, 10% tax 75.00, total 825.00
    assert "Line “Travel” removed: the total is now $825.00." in page_text(response)
    after = stored(tenant, invoice.id)
    assert (after.subtotal, after.tax_total, after.total, after.amount_due, after.edited) == (
        Decimal("750.00"), Decimal("75.00"), Decimal("825.00"), Decimal("825.00"), True)
    with tenant.context():
        assert list(after.lines.values_list("description", flat=True)) == ["Workshop day"]
        [audit] = InvoiceAudit.objects.for_organization(tenant.organization).filter(
            invoice=invoice, action="line_removed")
    assert audit.details["description"] == "Travel" and audit.details["amount"] == "99.50"


def test_the_api_removes_a_manual_line_and_answers_the_new_totals(tenant, one_off):
    with tenant.context():
        travel = one_off.lines.get(description="Travel")
    response = tenant.client().delete(f"/api/v1/invoice-lines/{travel.id}")
    assert response.status_code == 200, response.json()
    # 849.50 - 99.50 = 750.00
    assert response.json()["total"] == "750.00"
    assert [line["description"] for line in response.json()["lines"]] == ["Workshop day"]


def test_a_generated_line_is_not_removed_its_quantity_is_set_to_0(
    client, signed_in, tenant, contract_draft
):
    line = contract_draft["lines"][0]
    message = ("This line is computed from the contract and the usage: it comes back when the "
               "draft is recomputed. Set its quantity to 0 instead.")

    response = tenant.client().delete(f"/api/v1/invoice-lines/{line['id']}")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"line": [message]}
    signed_in()
    page = client.get(f"/invoices/{contract_draft['id']}/").content.decode()
    assert f"/invoices/lines/{line['id']}/remove/" not in page
    refused = client.post(f"/invoices/lines/{line['id']}/remove/", follow=True)
    assert message in page_text(refused)
    assert stored(tenant, contract_draft["id"]).total == Decimal("1000.00")


def test_a_line_of_a_finalized_invoice_is_not_removed(tenant, one_off):
    with tenant.context():
        travel = one_off.lines.get(description="Travel")
    tenant.client().post(f"/api/v1/invoices/{one_off.id}/finalize")
    response = tenant.client().delete(f"/api/v1/invoice-lines/{travel.id}")
    assert response.status_code == 400
    assert stored(tenant, one_off.id).total == Decimal("849.50")


# --- Who may -------------------------------------------------------------------------------


def test_another_organization_gets_404_and_nothing_is_deleted(tenant, other_tenant, one_off):
    with tenant.context():
        travel = one_off.lines.get(description="Travel")
    globex = other_tenant.client(Role.ADMIN)

    for path in (f"/api/v1/invoices/{one_off.id}", f"/api/v1/invoice-lines/{travel.id}"):
        response = globex.delete(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found"

    after = stored(tenant, one_off.id)
    assert after is not None and after.total == Decimal("849.50")
    with tenant.context():
        assert after.lines.count() == 2


def test_another_organizations_member_gets_404_in_the_dashboard(
    client, make_user, other_tenant, tenant, one_off
):
    user = make_user("finance@globex.test")
    membership_upsert(organization=other_tenant.organization, email=user.email,
                      role=Role.FINANCE, actor_role=None)
    client.login(username=user.email, password=PASSWORD)
    with tenant.context():
        travel = one_off.lines.get(description="Travel")
    assert client.post(f"/invoices/{one_off.id}/delete/").status_code == 404
    assert client.post(f"/invoices/lines/{travel.id}/remove/").status_code == 404
    assert client.get(f"/invoices/new/?customer={one_off.customer_id}").status_code == 200
    assert str(one_off.customer_id) not in client.get(
        f"/invoices/new/?customer={one_off.customer_id}").content.decode()
    assert stored(tenant, one_off.id).total == Decimal("849.50")


def test_a_viewer_may_neither_write_nor_delete(client, signed_in, tenant, one_off, acme):
    viewer = tenant.client(Role.VIEWER)
    with tenant.context():
        travel = one_off.lines.get(description="Travel")
    assert viewer.delete(f"/api/v1/invoices/{one_off.id}").status_code == 403
    assert viewer.delete(f"/api/v1/invoice-lines/{travel.id}").status_code == 403

    signed_in(Role.VIEWER)
    assert client.get("/invoices/new/").status_code == 403
    assert client.post("/invoices/new/", {"customer": str(acme.id),
                                          **lines_form(WORKSHOP)}).status_code == 403
    assert client.post(f"/invoices/{one_off.id}/delete/").status_code == 403
    assert client.post(f"/invoices/lines/{travel.id}/remove/").status_code == 403
    assert 'href="/invoices/new/"' not in client.get("/invoices/").content.decode()
    after = stored(tenant, one_off.id)
    with tenant.context():
        assert (after.total, after.lines.count(), Invoice.objects.for_organization(
            tenant.organization).count()) == (Decimal("849.50"), 2, 1)
