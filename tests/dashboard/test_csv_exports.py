"""The lists' filters and their CSV files, through Django's test client: each list (customers,
contracts, invoices, payments, credit notes) exports exactly what it shows for the same query
string (``format=csv``) -- a header row, money as plain decimal strings with the currency in a
column of its own, ISO dates; each report table of the Revenue page exports likewise. A bad
filter is a message, never a 500 and never a file of something else; another organization's
rows never appear."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest

from payments import services as payments
from tests.support.payments import bill, offline
from tests.support.scenario import Scenario
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(scenario, signed_in):
    """Three customers billed for January by the schedule (each invoice finalized, all of it
    due, no tax): Acme 100.00 USD (paid 40.00 by a transfer "TR-1"), Initech 250.00 USD,
    Hooli 80.00 EUR (paid in full by a cheque "CHQ-9"). A credit note of 10.00 on Initech's.
    A viewer of Acme's organization is signed in."""
    acme_invoice, _ = bill(scenario, "acme", "100.00")
    initech_invoice, _ = bill(scenario, "initech", "250.00")
    hooli_invoice, _ = bill(scenario, "hooli", "80.00", currency="EUR", country="DE")
    with scenario.tenant.context():
        payments.payment_record_offline(invoice=hooli_invoice, amount=Decimal("80.00"),
                                        method="cheque", reference="CHQ-9",
                                        received_on=date(2026, 1, 21), actor="ana@acme.test")
    offline(scenario.tenant, acme_invoice, "40.00", reference="TR-1")
    line = scenario.invoice(str(initech_invoice.id))["lines"][0]
    note = scenario.post(f"invoices/{initech_invoice.id}/credit-notes", {
        "reason": "Outage", "lines": [{"line": line["id"], "amount": "10.00"}]})
    signed_in(Role.VIEWER)
    return {"acme": acme_invoice, "initech": initech_invoice, "hooli": hooli_invoice,
            "note": note}


@pytest.fixture
def foreign(other_tenant):
    """Globex's organization: its own customer, invoice and payment."""
    invoice, _ = bill(Scenario(other_tenant), "globex", "999.00", name="Globex")
    offline(other_tenant, invoice, "9.00", reference="GLOBEX-PAY")
    return invoice


def export(client, path, **params) -> list[list[str]]:
    """The CSV file the list at ``path`` exports for ``params``: its rows, header first."""
    response = client.get(path, {**params, "format": "csv"})
    assert response.status_code == 200, response.content[:300]
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def listed(client, path, testid, **params) -> list[str]:
    """The first link text (or code) of each row the page at ``path`` shows for ``params``."""
    page = client.get(path, params).content.decode()
    rows = re.findall(rf'<tr data-testid="{testid}">(.*?)</tr>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


# --- Customers --------------------------------------------------------------------------------


def test_the_customer_list_exports_its_filtered_rows(client, books, foreign):
    everyone = export(client, "/customers/")
    assert everyone[0] == ["external_id", "name", "emails", "country", "currency", "time_zone",
                           "payment_terms_days", "tax_id", "contracts", "created_at", "id"]
    assert column(everyone, "external_id") == ["acme", "hooli", "initech"]  # by name
    assert everyone[1][:9] == ["acme", "Acme", "ap@acme.test", "US", "USD", "UTC", "30", "",
                               "1"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", everyone[1][9])

    in_euros = export(client, "/customers/", currency="EUR")
    assert column(in_euros, "external_id") == ["hooli"]
    assert [row.split()[0] for row in listed(client, "/customers/", "customer-row",
                                             currency="EUR")] == ["hooli"]
    by_email = export(client, "/customers/", q="AP@INITECH")
    assert column(by_email, "external_id") == ["initech"]
    assert export(client, "/customers/", created_to="2000-01-01")[1:] == []


# --- Contracts --------------------------------------------------------------------------------


def test_the_contract_list_exports_its_filtered_rows(client, books, foreign):
    rows = export(client, "/contracts/", status="active", customer="initech")
    assert rows[0] == ["customer_external_id", "customer", "name", "reference", "status",
                       "start_date", "end_date", "currency", "cadence", "time_zone",
                       "created_at", "id"]
    assert [row[:9] for row in rows[1:]] == [
        ["initech", "Initech", "Scenario", "", "active", "2026-01-01", "2027-01-01", "USD",
         "monthly"]]
    assert len(listed(client, "/contracts/", "contract-row", status="active",
                      customer="initech")) == 1
    assert column(export(client, "/contracts/", currency="EUR"), "customer_external_id") == [
        "hooli"]
    assert export(client, "/contracts/", status="draft")[1:] == []


# --- Invoices ---------------------------------------------------------------------------------


def test_the_invoice_list_exports_its_filtered_rows_with_plain_amounts(client, books, foreign):
    rows = export(client, "/invoices/", currency="USD")
    assert rows[0] == ["number", "status", "customer_external_id", "customer", "billing_date",
                       "issue_date", "due_date", "currency", "subtotal", "tax", "total",
                       "amount_paid", "amount_due", "id"]
    acme, initech = books["acme"], books["initech"]
    by_number = {row[0]: row for row in rows[1:]}
    assert set(by_number) == {acme.number, initech.number}
    # Acme: 100.00, 40.00 paid, 60.00 due: partially paid
    assert by_number[acme.number][1:4] == ["partially_paid", "acme", "Acme"]
    assert by_number[acme.number][4:6] == ["2026-01-01", acme.issue_date.isoformat()]
    assert by_number[acme.number][7:13] == ["USD", "100.00", "0.00", "100.00", "40.00",
                                            "60.00"]
    # Initech: 250.00 less the 10.00 credit note: 240.00 due, nothing paid
    assert by_number[initech.number][1] == "finalized"
    assert by_number[initech.number][10:13] == ["250.00", "0.00", "240.00"]

    shown = listed(client, "/invoices/", "invoice-row", currency="USD")
    assert sorted(row.split()[0] for row in shown) == sorted(by_number)

    paid = export(client, "/invoices/", status="paid")
    assert column(paid, "number") == [books["hooli"].number]
    assert column(paid, "currency") == ["EUR"]
    assert column(export(client, "/invoices/", status="partially_paid"), "number") == [
        acme.number]
    assert column(export(client, "/invoices/", customer="initech", status="finalized"),
                  "number") == [initech.number]
    assert export(client, "/invoices/", issued_from="2030-01-01")[1:] == []


def test_the_invoice_list_has_an_issue_date_column_and_a_partially_paid_tab(client, books):
    acme = books["acme"]
    page = client.get("/invoices/").content.decode()
    assert "<th>Issue date</th>" in page
    assert re.search(r'>Partially paid <span class="count">1</span>', page)
    [row] = [r for r in listed(client, "/invoices/", "invoice-row") if acme.number in r]
    assert row == (f"{acme.number} Acme 2026-01-01 {acme.issue_date} {acme.due_date} "
                   "$100.00 $60.00 Partially paid")
    detail = client.get(f"/invoices/{acme.id}/").content.decode()
    assert re.search(r'<span class="badge status-partially_paid" data-testid="invoice-status">'
                     r'Partially paid</span>', detail)


# --- Payments ---------------------------------------------------------------------------------


def test_the_payment_list_exports_its_filtered_rows(client, books, foreign):
    rows = export(client, "/payments/")
    assert rows[0] == ["created_at", "received_on", "customer_external_id", "customer",
                       "invoice_number", "currency", "amount", "applied", "refunded", "method",
                       "status", "reference", "initiated_by", "failure_reason", "id"]
    assert sorted(column(rows, "reference")) == ["CHQ-9", "TR-1"]
    cheques = export(client, "/payments/", method="cheque")
    assert [row[1:13] for row in cheques[1:]] == [
        ["2026-01-21", "hooli", "Hooli", books["hooli"].number, "EUR", "80.00", "80.00",
         "0.00", "cheque", "succeeded", "CHQ-9", "ana@acme.test"]]
    assert len(listed(client, "/payments/", "payment-row", method="cheque")) == 1
    assert column(export(client, "/payments/", customer="acme", currency="USD"),
                  "reference") == ["TR-1"]
    assert export(client, "/payments/", date_to="2020-01-01")[1:] == []


# --- Credit notes -----------------------------------------------------------------------------


def test_the_credit_note_list_exports_its_filtered_rows(client, books, foreign):
    note, initech = books["note"], books["initech"]
    rows = export(client, "/invoices/credit-notes/")
    assert rows[0] == ["number", "issued_at", "invoice_number", "customer_external_id",
                       "customer", "reason", "destination", "currency", "subtotal", "tax",
                       "total", "amount_credited", "to_customer_credit", "to_refund", "id"]
    assert [row[2:14] for row in rows[1:]] == [
        [initech.number, "initech", "Initech", "Outage", "reduce_due", "USD", "10.00", "0.00",
         "10.00", "10.00", "0.00", "0.00"]]
    assert column(rows, "number") == [note["number"]]
    assert export(client, "/invoices/credit-notes/", customer="acme")[1:] == []
    assert export(client, "/invoices/credit-notes/", currency="EUR")[1:] == []
    assert column(export(client, "/invoices/credit-notes/", destination="reduce_due"),
                  "number") == [note["number"]]


# --- The ledger's reports ---------------------------------------------------------------------


REPORT = {"currency": "USD", "from": "2026-01-01", "to": "2026-03-31", "on": "2026-01-31"}


def report(client, name, **params) -> list[list[str]]:
    return export(client, f"/revenue/export/{name}/", **{**REPORT, **params})


def test_each_report_of_the_revenue_page_exports_its_table(client, books, foreign):
    page = client.get("/revenue/", REPORT).content.decode()
    for name in ("revenue-by-month", "waterfall", "billed-recognized-collected",
                 "trial-balance", "unbilled", "journal"):
        assert f'href="/revenue/export/{name}/?' in page, name

    trial = report(client, "trial-balance")
    assert trial[0] == ["code", "gl_code", "account", "type", "currency", "debit", "credit",
                        "balance"]
    *accounts, total = trial[1:]
    assert {row[4] for row in accounts} == {"USD"}
    assert total[0] == "Total" and total[5] == total[6]  # the books balance
    shown = re.findall(r'<tr data-testid="trial-balance-row">', page)
    assert len(accounts) == len(shown)

    brc = report(client, "billed-recognized-collected")
    assert brc[0] == ["month", "currency", "billed", "recognized", "collected"]
    *months, total = brc[1:]
    assert [row[0] for row in months] == ["2026-01", "2026-02", "2026-03"]
    assert {row[1] for row in brc[1:]} == {"USD"}
    for index in (2, 3, 4):  # each column's total is its months added up
        assert Decimal(total[index]) == sum(Decimal(row[index]) for row in months)

    revenue = report(client, "revenue-by-month", group="customer")
    assert revenue[0] == ["customer", "currency", "2026-01", "2026-02", "2026-03", "total"]
    assert revenue[-1][0] == "Total"

    waterfall = report(client, "waterfall")
    assert waterfall[0] == ["month", "currency", "recognized"]
    assert waterfall[-1][0] == "Still deferred"

    assert report(client, "unbilled")[0] == ["invoice_number", "invoice_status", "customer",
                                             "billing_date", "currency", "unbilled",
                                             "invoice_id"]

    journal = report(client, "journal", source_type="payment.applied")
    assert journal[0] == ["effective_date", "source_type", "memo", "account_code", "gl_code",
                          "account", "description", "currency", "debit", "credit", "entry_id"]
    assert {row[1] for row in journal[1:]} == {"payment.applied"}
    assert {row[7] for row in journal[1:]} == {"EUR", "USD"}  # the explorer: every currency
    for currency in ("EUR", "USD"):  # each entry balances, in its own currency
        lines = [row for row in journal[1:] if row[7] == currency]
        assert sum(Decimal(row[8] or 0) for row in lines) == sum(
            Decimal(row[9] or 0) for row in lines)


def test_another_organizations_rows_never_appear_in_an_export(client, books, foreign):
    for path in ("/customers/", "/contracts/", "/invoices/", "/payments/",
                 "/invoices/credit-notes/", "/revenue/export/journal/",
                 "/revenue/export/trial-balance/"):
        text = "\n".join(",".join(row) for row in export(client, path))
        assert "Globex" not in text and "globex" not in text, path
        assert foreign.number not in text and "999.00" not in text, path


# --- Bad filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "params", "said"), [
    ("/customers/", {"created_from": "yesterday"}, "Created from: Enter a valid date."),
    ("/customers/", {"q": "x" * 101}, "Search: Ensure this value has at most 100 characters"),
    ("/customers/", {"currency": "XXX"}, "Currency: Select a valid choice."),
    ("/contracts/", {"start_from": "1900-01-01"},
     "Starts from: The day must be between 1970-01-01 and 2200-12-31."),
    ("/invoices/", {"customer": "globex"}, "Customer: Select a valid choice."),
    ("/invoices/", {"issued_from": "2026-02-01", "issued_to": "2026-01-01"},
     "Issued through: The range ends before it starts."),
    ("/payments/", {"method": "barter"}, "Method: Select a valid choice."),
    ("/payments/", {"date_to": "2026-13-01"}, "Made through: Enter a valid date."),
    ("/invoices/credit-notes/", {"destination": "elsewhere"}, "Where it went: Select a valid choice."),
    ("/invoices/credit-notes/", {"customer": "a" * 101},
     "Customer: Ensure this value has at most 100 characters"),
])
def test_a_bad_filter_is_a_message_and_no_export(client, books, foreign, path, params, said):
    page = client.get(path, params)
    assert page.status_code == 200
    assert said in " ".join(str(m) for m in page.context["messages"])

    refused = client.get(path, {**params, "format": "csv"})
    assert refused.status_code == 400
    assert not refused.streaming and refused["Content-Type"].startswith("text/html")
    flashes = [str(m) for m in refused.context["messages"]]
    assert flashes[0].startswith("No export: the filters are not valid.") and said in flashes[0]


@pytest.mark.parametrize(("name", "params"), [
    ("trial-balance", {"on": "1900-01-01"}),
    ("revenue-by-month", {"from": "2026-05-01", "to": "2026-01-01"}),
    ("journal", {"jfrom": "soon"}),
    ("journal", {"account": "not-an-account"}),
])
def test_a_bad_report_parameter_is_a_message_and_no_export(client, books, name, params):
    response = client.get(f"/revenue/export/{name}/", params, follow=True)
    assert response.status_code == 200
    [flash] = [str(m) for m in response.context["messages"]]
    assert flash.startswith("No export: the ")
    assert response.redirect_chain[0][0].startswith("/revenue/?")


def test_an_unknown_report_is_not_found(client, books):
    assert client.get("/revenue/export/everything/").status_code == 404
