"""The revenue ledger's API (/api/v1/revenue...): the summary and the reports with amounts
worked out by hand, the chart of accounts and its GL codes, the journal and its export read
back, schedules, closes; every bad query parameter a 400 in the one error body; another
organization's ledger out of sight; writes refused to a viewer."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from decimal import Decimal

import pytest

from revrec.models import Account, JournalEntry, PeriodClose
from revrec.recognition import schedule_create
from revrec.services import Posting, Refs, accounts_ensure, entry_post, today
from tests.support.factories import CustomerFactory, InvoiceFactory, ProductFactory
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

Key = Account.SystemKey
D = Decimal
API = "/api/v1/revenue"


def _ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


def _refused(response, status=400) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


@pytest.fixture
def api(tenant):
    return tenant.client(Role.ADMIN)


@pytest.fixture
def ledger(tenant):
    """Acme's books, posted by hand:

    | day        | source             | lines                                              |
    | 2026-01-10 | invoice.finalized  | Dr AR 1,100 / Cr deferred 1,000 (Platform), tax 100 |
    | 2026-01-15 | test.sale (EUR)    | Dr AR 50 / Cr revenue 50                            |
    | 2026-01-31 | revenue.recognized | Dr deferred 100 / Cr revenue 100 (Platform)         |
    | 2026-02-02 | payment.applied    | Dr cash 1,100 / Cr AR 1,100 (memo "=HYPERLINK...")  |

    and the invoice's revenue schedule: 1,000.00 over [2026-01-01, 2026-11-01), 100.00
    recognized."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, name="Acme")
    platform = ProductFactory(organization=organization, name="Platform")
    invoice = InvoiceFactory(customer=customer)
    payment_id = uuid.uuid4()
    refs = Refs(invoice=invoice.id, customer=customer.id)
    line_refs = Refs(invoice=invoice.id, customer=customer.id, product=platform.id)
    with tenant.context():
        entry_post(organization=organization, source_type="invoice.finalized",
                   source_id=invoice.id, currency="USD", effective_date=date(2026, 1, 10),
                   memo="Invoice finalized", lines=[
                       Posting(Key.ACCOUNTS_RECEIVABLE, debit=D("1100.00"), refs=refs),
                       Posting(Key.DEFERRED_REVENUE, credit=D("1000.00"), refs=line_refs),
                       Posting(Key.SALES_TAX_PAYABLE, credit=D("100.00"), refs=refs)])
        entry_post(organization=organization, source_type="test.sale", source_id="eur",
                   currency="EUR", effective_date=date(2026, 1, 15), lines=[
                       Posting(Key.ACCOUNTS_RECEIVABLE, debit=D("50.00")),
                       Posting(Key.REVENUE, credit=D("50.00"))])
        entry_post(organization=organization, source_type="revenue.recognized",
                   source_id="jan", currency="USD", effective_date=date(2026, 1, 31), lines=[
                       Posting(Key.DEFERRED_REVENUE, debit=D("100.00"), refs=line_refs),
                       Posting(Key.REVENUE, credit=D("100.00"), refs=line_refs)])
        payment_refs = Refs(invoice=invoice.id, customer=customer.id, payment=payment_id)
        entry_post(organization=organization, source_type="payment.applied",
                   source_id=f"payment:{payment_id}", currency="USD",
                   effective_date=date(2026, 2, 2), memo='=HYPERLINK("http://evil.test")',
                   lines=[Posting(Key.CASH, debit=D("1100.00"), refs=payment_refs),
                          Posting(Key.ACCOUNTS_RECEIVABLE, credit=D("1100.00"),
                                  refs=payment_refs)])
        schedule = schedule_create(
            organization=organization, source="invoice_line:x", method="ratable",
            currency="USD", amount=D("1000.00"), billed=D("1000.00"),
            start_date=date(2026, 1, 1), end_date=date(2026, 11, 1), invoice_id=invoice.id,
            customer_id=customer.id, product_id=platform.id)
        schedule.recognized, schedule.recognized_through = D("100.00"), date(2026, 2, 1)
        schedule.save()
        accounts = accounts_ensure(organization=organization)
    return {"invoice": invoice, "customer": customer, "platform": platform,
            "payment_id": payment_id, "accounts": accounts, "schedule": schedule}


# --- The summary and the reports ---------------------------------------------------------------


def test_the_summary_gives_the_main_balances_per_currency_and_the_reports(api, ledger):
    """USD: AR 1,100 - 1,100 = 0; cash 1,100; deferred 100 - 1,000 = -900; tax -100;
    revenue -100. EUR: AR 50, revenue -50. Accounts with no line show 0."""
    body = _ok(api.get(API))

    assert body["lock_date"] is None
    assert body["currencies"] == ["EUR", "USD"] and body["default_currency"] == "USD"
    balances = {(b["currency"], b["key"]): b["balance"] for b in body["balances"]}
    assert balances == {
        ("EUR", "accounts_receivable"): "50.00", ("EUR", "unbilled_revenue"): "0.00",
        ("EUR", "cash"): "0.00", ("EUR", "gateway_receivable"): "0.00",
        ("EUR", "deferred_revenue"): "0.00", ("EUR", "sales_tax_payable"): "0.00",
        ("EUR", "customer_credit"): "0.00", ("EUR", "revenue"): "-50.00",
        ("USD", "accounts_receivable"): "0.00", ("USD", "unbilled_revenue"): "0.00",
        ("USD", "cash"): "1100.00", ("USD", "gateway_receivable"): "0.00",
        ("USD", "deferred_revenue"): "-900.00", ("USD", "sales_tax_payable"): "-100.00",
        ("USD", "customer_credit"): "0.00", ("USD", "revenue"): "-100.00",
    }
    assert body["links"]["revenue_by_month"] == "/api/v1/revenue/revenue-by-month"
    for path in body["links"].values():  # every link answers (close-checks needs a day)
        query = "?through=2026-01-31" if path.endswith("close-checks") else ""
        assert api.get(path + query).status_code == 200, path


def test_the_trial_balance_at_a_date(api, ledger):
    """On Jan 31 (before the payment), USD: AR Dr 1,100; deferred Dr 100 Cr 1,000; tax Cr
    100; revenue Cr 100 -- debits 1,200 = credits 1,200. EUR: AR Dr 50 = revenue Cr 50."""
    body = _ok(api.get(f"{API}/trial-balance", {"on": "2026-01-31"}))

    assert body["on"] == "2026-01-31"
    assert [(r["currency"], r["code"], r["debit"], r["credit"], r["balance"])
            for r in body["rows"]] == [
        ("EUR", "1100", "50.00", "0.00", "50.00"),
        ("EUR", "4000", "0.00", "50.00", "-50.00"),
        ("USD", "1100", "1100.00", "0.00", "1100.00"),
        ("USD", "2100", "100.00", "1000.00", "-900.00"),
        ("USD", "2200", "0.00", "100.00", "-100.00"),
        ("USD", "4000", "0.00", "100.00", "-100.00"),
    ]
    assert body["totals"] == [{"currency": "EUR", "debit": "50.00", "credit": "50.00"},
                              {"currency": "USD", "debit": "1200.00", "credit": "1200.00"}]
    everything = _ok(api.get(f"{API}/trial-balance"))
    assert [r["code"] for r in everything["rows"] if r["currency"] == "USD"] == [
        "1000", "1100", "2100", "2200", "4000"]  # cash from Feb 2


def test_an_accounts_balance_month_by_month(api, ledger):
    """AR in USD: January Dr 1,100 -> 1,100 on Jan 31; February Cr 1,100 -> 0 on Feb 28.
    In EUR: 50 in January, still 50 in February."""
    receivable = ledger["accounts"][Key.ACCOUNTS_RECEIVABLE]
    body = _ok(api.get(f"{API}/accounts/{receivable.id}/balances",
                       {"from": "2026-01-01", "to": "2026-02-28"}))

    assert (body["account"]["code"], body["from"], body["to"]) == (
        "1100", "2026-01-01", "2026-02-28")
    assert body["series"] == [
        {"currency": "EUR", "points": [
            {"month": "2026-01-01", "on": "2026-01-31", "debit": "50.00", "credit": "0.00",
             "balance": "50.00"},
            {"month": "2026-02-01", "on": "2026-02-28", "debit": "0.00", "credit": "0.00",
             "balance": "50.00"}]},
        {"currency": "USD", "points": [
            {"month": "2026-01-01", "on": "2026-01-31", "debit": "1100.00", "credit": "0.00",
             "balance": "1100.00"},
            {"month": "2026-02-01", "on": "2026-02-28", "debit": "0.00",
             "credit": "1100.00", "balance": "0.00"}]},
    ]


def test_revenue_by_month_per_product_customer_and_currency(api, ledger):
    """USD: Platform's 100.00 recognized on Jan 31; EUR: 50.00 of a sale with no product."""
    usd = _ok(api.get(f"{API}/revenue-by-month", {"from": "2026-01-01", "to": "2026-03-31"}))
    assert (usd["currency"], usd["group"], usd["months"]) == (
        "USD", "product", ["2026-01-01", "2026-02-01", "2026-03-01"])
    assert usd["series"] == [{"key": str(ledger["platform"].id), "label": "Platform",
                              "amounts": ["100.00", "0.00", "0.00"], "total": "100.00"}]
    assert (usd["totals"], usd["total"]) == (["100.00", "0.00", "0.00"], "100.00")

    by_customer = _ok(api.get(f"{API}/revenue-by-month", {
        "from": "2026-01-01", "to": "2026-01-31", "group": "customer"}))
    assert [(s["label"], s["amounts"]) for s in by_customer["series"]] == [
        ("Acme", ["100.00"])]
    eur = _ok(api.get(f"{API}/revenue-by-month", {
        "from": "2026-01-01", "to": "2026-01-31", "currency": "EUR"}))
    assert [(s["key"], s["label"], s["total"]) for s in eur["series"]] == [
        ("", "No product", "50.00")]


def test_the_default_range_is_the_twelve_months_ending_with_this_one(api, tenant):
    now = today(tenant.organization)
    body = _ok(api.get(f"{API}/revenue-by-month"))
    assert len(body["months"]) == 12
    assert body["months"][-1] == now.replace(day=1).isoformat()
    assert body["series"] == [] and body["total"] == "0.00"


def test_the_waterfall_unbilled_and_billed_recognized_collected(api, ledger):
    """The schedule: 1,000.00 over [Jan 1, Nov 1) (304 days), 100.00 recognized. As of Jan
    31, two months: Feb 1,000 x 59 / 304 = 194.078... -> 194.08 - 100.00 = 94.08; Mar
    1,000 x 90 / 304 = 296.052... -> 296.05 - 194.08 = 101.97; later 1,000 - 296.05 = 703.95.
    900.00 in all, the deferred revenue account's balance on Jan 31.
    Billed in January: AR 1,100 - tax 100 = 1,000.00; recognized 100.00; collected in
    February: 1,100.00."""
    waterfall = _ok(api.get(f"{API}/deferred-waterfall", {"on": "2026-01-31", "months": 2}))
    assert waterfall == {
        "currency": "USD", "on": "2026-01-31",
        "months": [{"month": "2026-02-01", "amount": "94.08"},
                   {"month": "2026-03-01", "amount": "101.97"}],
        "later": "703.95", "as_used": "0.00", "total": "900.00", "ledger_balance": "900.00",
        "schedules": 1}

    assert _ok(api.get(f"{API}/unbilled")) == {"on": None, "balances": [], "invoices": []}

    brc = _ok(api.get(f"{API}/billed-recognized-collected",
                      {"from": "2026-01-01", "to": "2026-02-28", "currency": "USD"}))
    assert brc["months"] == [
        {"month": "2026-01-01", "billed": "1000.00", "recognized": "100.00",
         "collected": "0.00"},
        {"month": "2026-02-01", "billed": "0.00", "recognized": "0.00",
         "collected": "1100.00"}]
    assert brc["totals"] == {"billed": "1000.00", "recognized": "100.00",
                             "collected": "1100.00"}


def test_schedules_of_an_invoice(api, ledger):
    body = _ok(api.get(f"{API}/schedules", {"invoice": str(ledger["invoice"].id)}))
    [schedule] = body["results"]
    assert (schedule["method"], schedule["amount"], schedule["recognized"],
            schedule["deferred"], schedule["end_date"]) == (
        "ratable", "1000.00", "100.00", "900.00", "2026-11-01")
    assert _ok(api.get(f"{API}/schedules", {"invoice": str(uuid.uuid4())}))["results"] == []


# --- The journal and its export ----------------------------------------------------------------


def test_the_journal_is_filtered_paginated_and_drills_down(api, ledger):
    invoice, payment_id = ledger["invoice"], ledger["payment_id"]
    page = _ok(api.get(f"{API}/journal", {"limit": 4}))
    lines, pages = page["results"], 1
    while page["next"]:
        page = _ok(api.get(page["next"]))
        lines, pages = lines + page["results"], pages + 1
    assert pages == 3  # 4 + 4 + 1
    assert len(lines) == 9 and len({line["id"] for line in lines}) == 9  # 3 + 2 + 2 + 2

    cash = ledger["accounts"][Key.CASH]
    [line] = _ok(api.get(f"{API}/journal", {"account": str(cash.id)}))["results"]
    assert (line["debit"], line["credit"], line["effective_date"], line["source_type"],
            line["account_code"]) == ("1100.00", "0.00", "2026-02-02", "payment.applied",
                                      "1000")
    assert line["links"] == {
        "invoice": f"/invoices/{invoice.id}/", "payment": f"/payments/{payment_id}/",
        "credit_note": None, "customer": f"/customers/{ledger['customer'].id}/"}

    of_invoice = _ok(api.get(f"{API}/journal", {"invoice": str(invoice.id),
                                                "from": "2026-01-01", "to": "2026-01-31"}))
    assert sorted((r["account_code"], r["debit"], r["credit"])
                  for r in of_invoice["results"]) == [
        ("1100", "1100.00", "0.00"), ("2100", "0.00", "1000.00"), ("2100", "100.00", "0.00"),
        ("2200", "0.00", "100.00"), ("4000", "0.00", "100.00")]
    recognized = _ok(api.get(f"{API}/journal", {"source_type": "revenue.recognized",
                                                "product": str(ledger["platform"].id)}))
    assert len(recognized["results"]) == 2
    assert _ok(api.get(f"{API}/journal", {"currency": "EUR"}))["results"][0]["links"] == {
        "invoice": None, "payment": None, "credit_note": None, "customer": None}


def test_the_export_reads_back_as_csv_and_json_with_gl_codes(api, ledger):
    """January and February in USD: 3 + 2 + 2 = 7 lines; revenue mapped to GL code
    4000-REV, the other accounts exported under their own code; each entry balances."""
    revenue = ledger["accounts"][Key.REVENUE]
    _ok(api.patch(f"{API}/accounts/{revenue.id}", {"gl_code": "4000-REV"}, format="json"))
    query = {"from": "2026-01-01", "to": "2026-02-28", "currency": "USD"}

    response = api.get(f"{API}/journal/export", query)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="journal-2026-01-01-2026-02-28.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["effective_date"], r["gl_code"], r["account_name"], r["debit"], r["credit"])
            for r in rows] == [
        ("2026-01-10", "1100", "Accounts receivable", "1100.00", "0.00"),
        ("2026-01-10", "2100", "Deferred revenue (contract liability)", "0.00", "1000.00"),
        ("2026-01-10", "2200", "Sales tax payable", "0.00", "100.00"),
        ("2026-01-31", "2100", "Deferred revenue (contract liability)", "100.00", "0.00"),
        ("2026-01-31", "4000-REV", "Revenue", "0.00", "100.00"),
        ("2026-02-02", "1000", "Cash", "1100.00", "0.00"),
        ("2026-02-02", "1100", "Accounts receivable", "0.00", "1100.00"),
    ]
    for entry_id in {r["entry_id"] for r in rows}:
        mine = [r for r in rows if r["entry_id"] == entry_id]
        assert sum(D(r["debit"]) for r in mine) == sum(D(r["credit"]) for r in mine)
    assert rows[0]["invoice_id"] == str(ledger["invoice"].id)
    assert rows[0]["payment_id"] == ""
    assert rows[5]["payment_id"] == str(ledger["payment_id"])
    # a memo a spreadsheet would run as a formula is written as text
    assert rows[5]["memo"] == "'=HYPERLINK(\"http://evil.test\")"

    body = _ok(api.get(f"{API}/journal/export", {**query, "format": "json"}))
    assert body["columns"][:4] == ["entry_id", "effective_date", "posted_at", "currency"]
    assert [(r["gl_code"], r["debit"], r["credit"]) for r in body["rows"]] == [
        (r["gl_code"], r["debit"], r["credit"]) for r in rows]
    assert body["rows"][5]["memo"] == '=HYPERLINK("http://evil.test")'  # JSON: as it is
    assert list(body["rows"][0]) == body["columns"]


# --- Accounts ----------------------------------------------------------------------------------


def test_the_chart_of_accounts_is_seeded_and_mapped_to_gl_codes(api, tenant):
    body = _ok(api.get(f"{API}/accounts"))
    assert [a["code"] for a in body["results"]] == [
        "1000", "1100", "1150", "1190", "1200", "2100", "2200", "2300", "2400", "4000", "6100",
        "6200"]
    revenue = next(a for a in body["results"] if a["system_key"] == "revenue")

    mapped = _ok(api.patch(f"{API}/accounts/{revenue['id']}", {"gl_code": " 400100 "},
                           format="json"))
    assert (mapped["gl_code"], mapped["type"], mapped["code"]) == ("400100", "revenue", "4000")
    assert _ok(api.get(f"{API}/accounts/{revenue['id']}"))["gl_code"] == "400100"

    created = _ok(api.post(f"{API}/accounts", {"code": "4100", "name": "Services revenue",
                                               "type": "revenue", "gl_code": "400200"},
                           format="json"), status=201)
    assert (created["system_key"], created["active"]) == ("", True)


@pytest.mark.parametrize(("method", "body", "codes"), [
    ("post", {"code": "4000", "name": "Twice", "type": "revenue"}, {"code": ["duplicate"]}),
    ("post", {"code": "4100", "name": "X", "type": "income"}, {"type": ["invalid_choice"]}),
    ("post", {"code": "", "name": "", "type": "asset"},
     {"code": ["invalid"], "name": ["invalid"]}),
    ("post", {"name": "No code", "type": "asset"}, {"code": ["required"]}),
    ("patch", {"type": "asset"}, {"type": ["system_account"]}),
    ("patch", {"active": False}, {"active": ["system_account"]}),
    ("patch", {"gl_code": "x" * 101}, {"gl_code": ["invalid"]}),
    ("patch", {"colour": "red"}, {"colour": ["unknown_field"]}),
    ("patch", {"code": "1000"}, {"code": ["duplicate"]}),
])
def test_a_bad_account_is_refused_naming_the_field(api, tenant, method, body, codes):
    with tenant.context():
        revenue = accounts_ensure(organization=tenant.organization)[Key.REVENUE]
    path = f"{API}/accounts" if method == "post" else f"{API}/accounts/{revenue.id}"

    error = _refused(getattr(api, method)(path, body, format="json"))

    assert error["codes"] == codes
    with tenant.context():
        assert Account.objects.for_organization(tenant.organization).count() == 12
        revenue.refresh_from_db()
        assert (revenue.code, revenue.type, revenue.gl_code, revenue.active) == (
            "4000", "revenue", "", True)


def test_a_viewer_reads_but_cannot_change_the_chart_nor_close(tenant, ledger):
    viewer = tenant.client(Role.VIEWER)
    revenue = ledger["accounts"][Key.REVENUE]
    assert viewer.get(f"{API}/accounts").status_code == 200
    assert viewer.get(f"{API}/journal").status_code == 200

    for response in (
        viewer.post(f"{API}/accounts", {"code": "9", "name": "N", "type": "asset"},
                    format="json"),
        viewer.patch(f"{API}/accounts/{revenue.id}", {"gl_code": "X"}, format="json"),
        viewer.post(f"{API}/closes", {"closed_through": "2026-01-31", "force": True},
                    format="json"),
    ):
        assert _refused(response, 403)["type"] == "permission_denied"
    with tenant.context():
        revenue.refresh_from_db()
        assert revenue.gl_code == ""
        assert not PeriodClose.objects.for_organization(tenant.organization).exists()


# --- Closes ------------------------------------------------------------------------------------


def test_a_close_is_refused_with_its_failing_checks_then_forced(api, tenant, ledger):
    """A draft dated Jan 1 blocks a close through Jan 31, and a schedule of 310.00 over
    January is not recognized yet. Refused: 400, the failing check under closed_through, and
    nothing written -- not even the recognition the close runs first. Forced, it closes (the
    run recognizes January's 310.00 first); the lock date moves; an earlier day is refused."""
    with tenant.context():
        schedule_create(organization=tenant.organization, source="january", method="ratable",
                        currency="USD", amount=D("310.00"), billed=D("310.00"),
                        start_date=date(2026, 1, 1), end_date=date(2026, 2, 1),
                        invoice_id=ledger["invoice"].id, customer_id=ledger["customer"].id)
        entries = JournalEntry.objects.for_organization(tenant.organization).count()
    checks = _ok(api.get(f"{API}/close-checks", {"through": "2026-01-31"}))
    assert checks["can_close"] is False and checks["lock_date"] is None
    assert {c["name"]: (c["passed"], c["count"]) for c in checks["checks"]} == {
        "drafts_past_their_date": (False, 1), "unposted_events": (True, 0),
        "recognition_behind": (False, 1), "unapplied_payments": (True, 0)}

    error = _refused(api.post(f"{API}/closes", {"closed_through": "2026-01-31"},
                              format="json"))

    # the close recognized January first: only the draft is left failing
    assert error["codes"] == {"closed_through": ["drafts_past_their_date"]}
    assert "1 draft invoice(s) dated on or before 2026-01-31" in \
        error["fields"]["closed_through"][0]
    with tenant.context():
        assert not PeriodClose.objects.for_organization(tenant.organization).exists()
        assert JournalEntry.objects.for_organization(tenant.organization).count() == entries

    close = _ok(api.post(f"{API}/closes", {"closed_through": "2026-01-31", "force": True,
                                           "note": "January"}, format="json"), status=201)
    assert (close["closed_through"], close["note"]) == ("2026-01-31", "January")
    assert close["closed_by"].startswith("api key ")
    assert {c["name"]: c["passed"] for c in close["checks"]} == {
        "drafts_past_their_date": False, "unposted_events": True,
        "recognition_behind": True, "unapplied_payments": True}
    with tenant.context():  # January's recognition: Dr deferred / Cr revenue 310.00
        assert JournalEntry.objects.for_organization(tenant.organization).count() == entries + 1
    assert _ok(api.get(API))["lock_date"] == "2026-01-31"
    assert [c["closed_through"] for c in _ok(api.get(f"{API}/closes"))["results"]] == [
        "2026-01-31"]

    again = _refused(api.post(f"{API}/closes", {"closed_through": "2026-01-15",
                                                "force": True}, format="json"))
    assert again["codes"] == {"closed_through": ["already_closed"]}


def test_a_day_that_has_not_ended_cannot_be_closed(api, tenant):
    now = today(tenant.organization)
    for day in (now, date(2200, 12, 31)):
        error = _refused(api.post(f"{API}/closes", {"closed_through": day.isoformat(),
                                                    "force": True}, format="json"))
        assert error["codes"] == {"closed_through": ["not_ended"]}
    with tenant.context():
        assert not PeriodClose.objects.for_organization(tenant.organization).exists()


# --- Bad query parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "query", "field", "code"), [
    ("trial-balance", {"on": "2026-02-30"}, "on", "invalid"),
    ("trial-balance", {"on": "9999-12-31"}, "on", "invalid"),  # beyond 2200: out of bounds
    ("trial-balance", {"on": "yesterday"}, "on", "invalid"),
    ("revenue-by-month", {"from": "1969-12-31"}, "from", "invalid"),
    ("revenue-by-month", {"currency": "XYZ"}, "currency", "invalid_currency"),
    ("revenue-by-month", {"currency": "usd"}, "currency", "invalid_currency"),
    ("revenue-by-month", {"currency": "DOLLARS"}, "currency", "invalid_currency"),
    ("revenue-by-month", {"group": "region"}, "group", "invalid_choice"),
    ("revenue-by-month", {"from": "2026-03-01", "to": "2026-01-31"}, "to", "invalid_range"),
    ("revenue-by-month", {"from": "2000-01-01", "to": "2026-01-31"}, "to", "out_of_bounds"),
    ("revenue-by-month", {"from": "2099-01-01"}, "from", "invalid_range"),
    ("deferred-waterfall", {"months": "37"}, "months", "max_value"),
    ("deferred-waterfall", {"months": "0"}, "months", "min_value"),
    ("deferred-waterfall", {"months": "twelve"}, "months", "invalid"),
    ("deferred-waterfall", {"on": "2201-01-01"}, "on", "invalid"),
    ("unbilled", {"currency": "ZZZ"}, "currency", "invalid_currency"),
    ("billed-recognized-collected", {"to": "99999-01-01"}, "to", "invalid"),
    ("journal", {"invoice": "INV-1"}, "invoice", "invalid"),
    ("journal", {"account": str(uuid.uuid4())}, "account", "does_not_exist"),
    ("journal", {"source_type": "x" * 65}, "source_type", "max_length"),
    ("journal", {"limit": "501"}, "limit", "invalid"),
    ("journal/export", {"format": "xlsx"}, "format", "invalid_choice"),
    ("journal/export", {"format": "csv", "to": "0000-01-01"}, "to", "invalid"),
    ("schedules", {"invoice": "42"}, "invoice", "invalid"),
    ("close-checks", {}, "through", "required"),
])
def test_a_bad_query_parameter_is_a_400_naming_it(api, path, query, field, code):
    error = _refused(api.get(f"{API}/{path}", query))

    assert error["type"] == "invalid_request"
    assert list(error["fields"]) == [field], error
    assert error["codes"][field] == [code], error


def test_a_year_past_2200_names_the_bound(api):
    error = _refused(api.get(f"{API}/trial-balance", {"on": "2201-01-01"}))
    assert error["fields"] == {"on": ["must be between 1970-01-01 and 2200-12-31"]}


def test_a_nul_byte_in_a_query_parameter_is_a_400(api):
    error = _refused(api.get(f"{API}/journal?source_type=invoice%00finalized"))
    assert "NUL" in error["message"]


# --- Another organization's ledger --------------------------------------------------------------


def test_another_organizations_ledger_is_out_of_sight(tenant, other_tenant, ledger):
    globex = other_tenant.client(Role.ADMIN)
    invoice, revenue = ledger["invoice"], ledger["accounts"][Key.REVENUE]

    summary = _ok(globex.get(API))
    assert (summary["currencies"], summary["balances"]) == ([], [])
    assert _ok(globex.get(f"{API}/trial-balance"))["rows"] == []
    assert _ok(globex.get(f"{API}/journal"))["results"] == []
    assert _ok(globex.get(f"{API}/journal", {"invoice": str(invoice.id)}))["results"] == []
    assert _ok(globex.get(f"{API}/schedules", {"invoice": str(invoice.id)}))["results"] == []
    assert _ok(globex.get(f"{API}/revenue-by-month",
                          {"from": "2026-01-01", "to": "2026-03-31"}))["series"] == []
    assert _ok(globex.get(f"{API}/deferred-waterfall",
                          {"on": "2026-01-31"}))["total"] == "0.00"
    export = globex.get(f"{API}/journal/export")
    assert export.content.decode().strip().count("\n") == 0  # the header alone
    # Acme's account: absent, and not a filter Globex may use
    assert _refused(globex.get(f"{API}/journal", {"account": str(revenue.id)}))["codes"] == {
        "account": ["does_not_exist"]}
    for response in (globex.get(f"{API}/accounts/{revenue.id}"),
                     globex.get(f"{API}/accounts/{revenue.id}/balances"),
                     globex.patch(f"{API}/accounts/{revenue.id}", {"gl_code": "HACK"},
                                  format="json")):
        assert _refused(response, 404)["type"] == "not_found"
    theirs = [a["id"] for a in _ok(globex.get(f"{API}/accounts"))["results"]]
    assert str(revenue.id) not in theirs and len(theirs) == 12  # their own chart
    with tenant.context():
        revenue.refresh_from_db()
        assert revenue.gl_code == ""
