"""The dashboard's global search (``/search/?q=``), through Django's test client: the box in
every page's header, customers by name, external id or e-mail, contracts by name, invoices and
credit notes by number, payments by reference -- in any case, at most 20 of each kind, only
the organization's own; a query out of its bounds is a message, not a search."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.factories import CustomerFactory
from tests.support.payments import bill, offline
from tests.support.scenario import Scenario
from zenskar.dashboard.search import query_problem
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(scenario):
    """Acme (ap@acme.test) with a finalized 100.00 invoice, paid 40.00 by a transfer
    referenced "TR-ACME-7"; Initech (ap@initech.test) with a finalized 250.00 invoice."""
    acme_invoice, acme = bill(scenario, "acme", "100.00")
    initech_invoice, initech = bill(scenario, "initech", "250.00")
    offline(scenario.tenant, acme_invoice, "40.00", reference="TR-ACME-7")
    return {"acme": acme, "acme_invoice": acme_invoice, "initech": initech,
            "initech_invoice": initech_invoice}


@pytest.fixture
def foreign(other_tenant):
    """Globex's organization has a customer whose e-mail and name look like Acme's, and an
    invoice with a number of its own."""
    invoice, customer = bill(Scenario(other_tenant), "acme-globex", "999.00",
                             name="Acme Globex", emails=["ap@acme.test.globex.test"])
    return invoice, customer


def sections(page: str) -> dict[str, list[str]]:
    """The search page's results: per kind, each result's text with the tags taken out."""
    found = {}
    for kind, body in re.findall(r'<section class="card search-results" '
                                 r'data-testid="search-([\w-]+)">(.*?)</section>', page, re.S):
        items = re.findall(r'<li data-testid="search-result">(.*?)</li>', body, re.S)
        found[kind] = [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]
    return found


def search(client, query) -> str:
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    return response.content.decode()


def test_every_dashboard_page_has_the_search_box_in_its_header(client, signed_in):
    signed_in(Role.VIEWER)
    for path in ("/", "/customers/", "/invoices/", "/payments/", "/revenue/"):
        page = client.get(path).content.decode()
        assert re.search(r'<form class="global-search" role="search" method="get" '
                         r'action="/search/"', page), path
        assert 'name="q" maxlength="100"' in page


def test_a_customer_is_found_by_e_mail_external_id_or_name_in_any_case(client, signed_in,
                                                                        billed, foreign):
    signed_in(Role.VIEWER)
    acme = billed["acme"]

    by_email = sections(search(client, "AP@Acme.TEST"))
    assert by_email == {"customers": ["Acme acme · ap@acme.test"]}
    assert f'href="/customers/{acme.id}/"' in search(client, "ap@acme.test")

    assert sections(search(client, "initech"))["customers"] == [
        "Initech initech · ap@initech.test"]
    assert sections(search(client, "ACM"))["customers"] == ["Acme acme · ap@acme.test"]


def test_an_invoice_a_credit_note_and_a_payment_are_found_by_number_or_reference(
        client, signed_in, billed, scenario, foreign):
    signed_in(Role.VIEWER)
    invoice = billed["acme_invoice"]
    line = scenario.invoice(str(invoice.id))["lines"][0]
    note = scenario.post(f"invoices/{invoice.id}/credit-notes", {
        "reason": "Outage", "lines": [{"line": line["id"], "amount": "10.00"}]})

    page = search(client, invoice.number.lower())
    found = sections(page)
    # 100.00 less 40.00 paid less the 10.00 credited: 50.00 still due, so partially paid
    assert found["invoices"] == [
        f"{invoice.number} Acme · $100.00 · partially paid · issued {invoice.issue_date}"]
    assert f'href="/invoices/{invoice.id}/"' in page

    found = sections(search(client, note["number"]))
    assert found["credit-notes"] == [f"{note['number']} Acme · $10.00 · on invoice "
                                     f"{invoice.number}"]

    page = search(client, "tr-acme")
    assert len(re.findall(r'href="/payments/[0-9a-f-]{36}/"', page)) == 1
    assert sections(page) == {"payments": [
        f"TR-ACME-7 Acme · $40.00 · succeeded · invoice {invoice.number}"]}


def test_another_organizations_rows_never_appear(client, signed_in, billed, foreign):
    signed_in(Role.VIEWER)
    globex_invoice, globex = foreign
    for query in ("globex", globex_invoice.number, "acme-globex", "999"):
        page = search(client, query)
        assert "Globex" not in page and str(globex.id) not in page, query
        assert 'data-testid="search-empty"' in page, query


def test_nothing_found_says_so(client, signed_in, billed):
    signed_in(Role.VIEWER)
    page = search(client, "hooli")
    assert sections(page) == {}
    assert "Nothing matches “hooli”" in page


@pytest.mark.parametrize(("query", "status", "message"), [
    ("", 200, "Type a name, an external id, an e-mail address or a number to search for."),
    ("   ", 200, "Type a name, an external id, an e-mail address or a number to search for."),
    ("x" * 101, 400, "Search for at most 100 characters (this was 101)."),
])
def test_a_query_out_of_bounds_is_a_message_and_no_search(client, signed_in, billed, query,
                                                           status, message):
    signed_in(Role.VIEWER)
    response = client.get("/search/", {"q": query})
    page = response.content.decode()
    assert response.status_code == status
    assert re.search(r'data-testid="search-problem">([^<]*)<', page)[1] == message
    assert sections(page) == {}


def test_a_nul_is_refused_at_the_door(client, signed_in, billed):
    signed_in(Role.VIEWER)
    response = client.get("/search/", {"q": "acme\x00"})
    assert response.status_code == 400
    assert response.content.decode() == "The query parameter 'q' contains a NUL character."


def test_a_hundred_characters_are_searched(client, signed_in, billed):
    signed_in(Role.VIEWER)
    assert sections(search(client, "a" * 100)) == {}


def test_at_most_twenty_of_a_kind_and_the_queries_do_not_grow_with_them(client, signed_in,
                                                                         tenant):
    signed_in(Role.VIEWER)
    CustomerFactory(organization=tenant.organization, external_id="bulk-0", name="Bulk 0")
    search(client, "bulk")  # whatever a first request reads once
    with CaptureQueriesContext(connection) as one:
        assert len(sections(search(client, "bulk"))["customers"]) == 1
    for n in range(1, 25):
        CustomerFactory(organization=tenant.organization, external_id=f"bulk-{n:02}",
                        name=f"Bulk {n:02}")
    with CaptureQueriesContext(connection) as many:
        page = search(client, "bulk")
    assert len(sections(page)["customers"]) == 20
    assert "the first 20: narrow the search to see the others" in page
    assert len(many.captured_queries) == len(one.captured_queries)


def test_the_query_is_shown_in_the_header_box_of_the_results(client, signed_in, billed):
    signed_in(Role.VIEWER)
    page = search(client, "initech")
    assert re.search(r'class="global-search".*?name="q" maxlength="100" value="initech"',
                     page, re.S)


def test_the_query_bounds_hold_whatever_reaches_the_view():
    """The request guard refuses a NUL in any query string first; the search's own check is
    the second wall, and refuses a lone surrogate too."""
    assert query_problem("acme\x00") == "The search must not contain a NUL character."
    assert query_problem("acme\ud800") == "The search must not contain a lone UTF-16 surrogate."
    assert query_problem("a" * 100) is None
