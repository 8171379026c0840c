"""The customer page as a finance person reads it (the customer 360): a strip of figures at
the top, each a link to the list behind it; the invoices, credit notes, payments and refunds,
the usage of every meter and the activity, each section from the app that owns it; and the
Edit page, saved through the customer service. Nothing of another customer or another
organization ever shows.

The books of Acme (USD, net 30), dated from T, the organization's today:

- invoice A: 1,000.00 issued T-60, so due T-30 (overdue); a credit note of 100.00 took off
  what it owes: 900.00 due.
- invoice B: 500.00 issued T-5 (due T+25); 200.00 received by transfer: 300.00 due, partially
  paid.
- invoice C: 250.00 issued T-10; 330.00 received, the 80.00 over it kept as credit; 30.00 of
  that credit refunded: C is paid, the credit balance is 80.00 - 30.00 = 50.00.
- a draft of 75.00.

So: open amount due 900.00 + 300.00 = 1,200.00, of which overdue 900.00; billed in the last
twelve months 1,000.00 + 500.00 + 250.00 = 1,750.00 (not the draft); the last payment
330.00. Usage: api_call events at T-1 and T-2 (and one at T-40, outside the 30 days): 2 calls;
tokens 120 + 30 = 150. A contract of 100.00 a month, amended to 150.00 from 2026-12-01.

Initech (another customer: an invoice of 777.00 paid by "TR-INITECH", 5 calls) and Globex
(another organization, whose customer has the same external id "acme": an invoice of 999.00
paid by "TR-GLOBEX", 7 calls) must never show.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from contracts.models import Customer
from invoicing import services as invoicing
from payments import refunds
from payments import services as payments
from tests.support.factories import CustomerFactory, InvoiceFactory
from tests.support.receivables import issued
from tests.support.scenario import Scenario, flat
from zenskar.dashboard import overview
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


def _received(tenant, invoice, amount: str, reference: str, on, **options):
    with tenant.context():
        return payments.payment_record_offline(
            invoice=invoice, amount=Decimal(amount), method="bank_transfer",
            reference=reference, received_on=on, actor="ana@acme.test", **options)


def _noon(day) -> str:
    return datetime.combine(day, time(12), tzinfo=UTC).isoformat()


@pytest.fixture
def books(tenant, other_tenant):
    organization = tenant.organization
    today = overview.today(organization)
    acme = CustomerFactory(organization=organization, external_id="acme", name="Acme Corp",
                           currency="USD", time_zone="UTC", payment_terms_days=30,
                           emails=["ap@acme.test", "cfo@acme.test"],
                           attributes={"segment": "enterprise", "region": "emea"})
    initech = CustomerFactory(organization=organization, external_id="initech",
                              name="Initech", currency="USD", payment_terms_days=30)

    a = issued(tenant, acme, "1000.00", today - timedelta(days=60))
    b = issued(tenant, acme, "500.00", today - timedelta(days=5))
    c = issued(tenant, acme, "250.00", today - timedelta(days=10))
    draft = InvoiceFactory(customer=acme, total=Decimal("75.00"), amount_due=Decimal("75.00"))
    with tenant.context():
        note = invoicing.credit_note_create(
            invoice=a, reason="Service credit", destination="reduce_due",
            lines=[(a.lines.get(), Decimal("100.00"))])
    _received(tenant, b, "200.00", "TR-B", today - timedelta(days=4))
    overpaid = _received(tenant, c, "330.00", "TR-C", today - timedelta(days=3),
                         keep_excess_as_credit=True)
    with tenant.context():
        refund = refunds.refund_create(payment=overpaid, amount=Decimal("30.00"),
                                       reason="Overpaid", actor="ana@acme.test",
                                       take_from="credit")

    scenario = Scenario(tenant)
    scenario.product("PLATFORM")
    contract = scenario.contract(customer="acme", items=[flat("PLATFORM", "100.00")])
    scenario.post(f"contracts/{contract['id']}/amendments", {
        "effective_date": "2026-12-01", "description": "Platform at 150.00",
        "phases": [{"start_date": "2026-12-01", "end_date": "2027-01-01",
                    "items": [flat("PLATFORM", "150.00")]}]})
    scenario.meter("api_calls", event_name="api_call")
    scenario.meter("tokens", event_name="completion", aggregation="sum",
                   value_property="$.tokens")
    days = {"e1": 1, "e2": 2, "e3": 40}
    scenario.events(
        *[(name, "acme", "api_call", _noon(today - timedelta(days=n)), {})
          for name, n in days.items()],
        ("t1", "acme", "completion", _noon(today - timedelta(days=1)), {"tokens": 120}),
        ("t2", "acme", "completion", _noon(today - timedelta(days=3)), {"tokens": 30}),
        *[(f"i{n}", "initech", "api_call", _noon(today - timedelta(days=1)), {})
          for n in range(5)])

    theirs = issued(tenant, initech, "777.00", today - timedelta(days=2))
    _received(tenant, theirs, "777.00", "TR-INITECH", today)

    globex = Scenario(other_tenant)
    globex.customer("acme", name="Acme of Globex")
    globex.meter("api_calls", event_name="api_call")
    globex.events(*[(f"g{n}", "acme", "api_call", _noon(today - timedelta(days=1)), {})
                    for n in range(7)])
    with other_tenant.context():
        their_acme = Customer.objects.get(organization=other_tenant.organization,
                                          external_id="acme")
    foreign = issued(other_tenant, their_acme, "999.00", today - timedelta(days=3))
    _received(other_tenant, foreign, "999.00", "TR-GLOBEX", today)
    return {"today": today, "acme": acme, "initech": initech, "a": a, "b": b, "c": c,
            "draft": draft, "note": note, "overpaid": overpaid, "refund": refund,
            "contract": contract, "their_acme": their_acme}


def _page(client, customer) -> str:
    response = client.get(f"/customers/{customer.id}/")
    assert response.status_code == 200
    return response.content.decode()


def _section(html: str, testid: str) -> str:
    """The HTML of the ``<section>`` (or ``<div>``) with ``data-testid=testid``."""
    start = html.index(f'data-testid="{testid}"')
    tag = html.rfind("<", 0, start)
    name = html[tag + 1:html.index(" ", tag)]
    depth, at = 0, tag
    for match in re.finditer(rf"<(/?){name}[\s>]", html[tag:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            at = tag + match.end()
            break
    return html[tag:at]


def _rows(html: str, testid: str) -> list[list[str]]:
    """The text of each cell of each row marked ``data-testid=testid``."""
    rows = re.findall(rf'<tr data-testid="{testid}"[^>]*>(.*?)</tr>', html, re.S)
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def _card(html: str, testid: str) -> tuple[str, str]:
    """A summary card's value and the address it links to."""
    card = re.search(rf'<a class="stat summary-card[^"]*" href="([^"]*)" '
                     rf'data-testid="{testid}">(.*?)</a>', html, re.S)
    assert card, testid
    value = re.search(r'<span class="stat-value[^"]*">(.*?)</span>', card.group(2), re.S)
    return value.group(1).strip(), card.group(1).replace("&amp;", "&")


def _foreign_absent(html: str) -> None:
    for text in ("777.00", "TR-INITECH", "Initech", "999.00", "TR-GLOBEX", "Acme of Globex"):
        assert text not in html, text


# --- the summary strip ------------------------------------------------------------------------


def test_the_summary_strip_shows_each_figure_with_a_link_to_the_list_behind_it(
        client, signed_in, books):
    signed_in()
    html = _page(client, books["acme"])
    since = overview.month_starts(books["today"])[0]

    assert _card(html, "summary-open") == ("$1,200.00", "/invoices/?customer=acme&status=finalized")
    assert _card(html, "summary-overdue") == ("$900.00", "/invoices/?customer=acme&status=overdue")
    assert _card(html, "summary-credit") == ("$50.00", "#balance")
    assert _card(html, "summary-billed") == (
        "$1,750.00",
        f"/invoices/?customer=acme&issued_from={since.isoformat()}"
        f"&issued_to={books['today'].isoformat()}")
    assert _card(html, "summary-last-payment") == ("$330.00", "/payments/?customer=acme")
    _foreign_absent(_section(html, "customer-summary"))


def test_the_open_amount_link_lists_the_invoices_that_make_it(client, signed_in, books):
    signed_in()
    _, url = _card(_page(client, books["acme"]), "summary-open")
    listed = client.get(url).content.decode()
    numbers = {books["a"].number, books["b"].number}
    for number in numbers:
        assert f">{number}</a>" in listed
    assert f">{books['c'].number}</a>" not in listed  # paid: nothing open
    assert "$777.00" not in listed


# --- the sections -----------------------------------------------------------------------------


def test_the_invoices_section_lists_the_latest_invoices_with_their_status(
        client, signed_in, books):
    signed_in()
    html = _section(_page(client, books["acme"]), "customer-invoices")
    today = books["today"]

    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).isoformat()

    # the invoice list's order: the newest billing date first (the draft's is 2026-01-01 like
    # the others', then the newest written first)
    rows = _rows(html, "customer-invoice")
    assert sorted(rows) == sorted([
        [books["a"].number, day(60), day(30), "$1,000.00", "$900.00", "finalized overdue"],
        [books["b"].number, day(5), (today + timedelta(days=25)).isoformat(), "$500.00",
         "$300.00", "Partially paid"],
        [books["c"].number, day(10), (today + timedelta(days=20)).isoformat(), "$250.00",
         "$0.00", "paid"],
        ["Draft 2026-01-01", "—", "—", "$75.00", "$75.00", "draft"],
    ])
    assert f'href="/invoices/{books["a"].id}/"' in html
    assert 'href="/invoices/?customer=acme"' in html  # all of them
    assert f'href="/invoices/upcoming/{books["acme"].id}/"' in html
    assert _rows(html, "customer-credit-note") == [
        [books["note"].number, books["a"].number, today.isoformat(), "Service credit",
         "$100.00"]]
    _foreign_absent(html)


def test_the_payments_section_lists_payments_and_refunds_newest_first(client, signed_in, books):
    signed_in()
    html = _section(_page(client, books["acme"]), "customer-payments")
    today = books["today"]
    assert _rows(html, "customer-payment") == [
        [today.isoformat(), "Refund Overpaid", "Bank transfer", books["c"].number, "succeeded",
         "-$30.00"],
        [(today - timedelta(days=3)).isoformat(), "Payment TR-C", "Bank transfer",
         books["c"].number, "partially refunded", "$330.00"],
        [(today - timedelta(days=4)).isoformat(), "Payment TR-B", "Bank transfer",
         books["b"].number, "succeeded", "$200.00"],
    ]
    assert f'href="/payments/{books["overpaid"].id}/"' in html
    assert 'href="/payments/?customer=acme"' in html
    assert "No saved payment method" in html
    _foreign_absent(html)


def test_the_usage_section_sums_each_meter_over_the_last_30_days(client, signed_in, books):
    signed_in()
    html = _section(_page(client, books["acme"]), "customer-usage")
    first = books["today"] - timedelta(days=29)
    # api_calls: T-1 and T-2 (T-40 is outside), never Initech's 5 nor Globex's 7
    assert _rows(html, "customer-meter") == [
        ["api_calls api_calls", "Count of events", "2"],
        ["tokens tokens", "Sum of a property", "150"],  # 120 + 30
    ]
    assert (f"?customer=acme&amp;start={first.isoformat()}&amp;end={books['today'].isoformat()}"
            in html)


def test_the_activity_merges_every_apps_entries_newest_first(client, signed_in, books):
    signed_in()
    html = _section(_page(client, books["acme"]), "customer-activity")
    entries = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", entry)).strip()
               for entry in re.findall(r'<li data-testid="timeline-entry">(.*?)</li>', html,
                                       re.S)]
    texts = [entry.split(" ", 2)[2] for entry in entries]  # the kind and the text
    a, b, c = books["a"].number, books["b"].number, books["c"].number
    # written now, in this order: the credit note, the payments, the refund, the contract,
    # its amendment; the invoices were finalized at noon on their issue days
    assert texts == [
        "Amendment Contract Scenario amended from 2026-12-01: Platform at 150.00",
        "Contract Contract Scenario written, from 2026-01-01 (now active)",
        "Refund Refund of $30.00: Overpaid",
        f"Invoice Invoice {c} paid in full",  # by the payment, just after it was written
        f"Payment Payment of $330.00 received for invoice {c} (Bank transfer)",
        f"Payment Payment of $200.00 received for invoice {b} (Bank transfer)",
        f"Credit note Credit note {books['note'].number} issued on {a}: $100.00 "
        "(Service credit)",
        f"Invoice Invoice {b} issued: $500.00, due "
        f"{(books['today'] + timedelta(days=25)).isoformat()}",
        f"Invoice Invoice {c} issued: $250.00, due "
        f"{(books['today'] + timedelta(days=20)).isoformat()}",
        f"Invoice Invoice {a} issued: $1,000.00, due "
        f"{(books['today'] - timedelta(days=30)).isoformat()}",
    ]
    _foreign_absent(html)


def test_the_page_stays_within_a_bounded_number_of_queries(
        client, signed_in, books, tenant, django_assert_max_num_queries):
    signed_in()
    for n in range(8):  # more invoices and payments: the count must not grow with them
        more = issued(tenant, books["acme"], "1000.00", books["today"] - timedelta(days=n))
        _received(tenant, more, "10.00", f"TR-{n}", books["today"])
    with django_assert_max_num_queries(40):
        _page(client, books["acme"])


def test_another_organizations_customer_page_is_not_found(client, signed_in, books):
    signed_in()
    their = books["their_acme"]
    assert client.get(f"/customers/{their.id}/").status_code == 404


# --- the Edit page ----------------------------------------------------------------------------


def _form(customer: Customer, **changes) -> dict:
    return {"external_id": customer.external_id, "name": customer.name,
            "emails": ", ".join(customer.emails), "currency": customer.currency,
            "time_zone": customer.time_zone, "payment_terms_days": customer.payment_terms_days,
            "country": customer.country, "attributes": "segment=enterprise", **changes}


def test_the_edit_page_is_filled_with_the_customer_and_saves_it(client, signed_in, books,
                                                                tenant):
    signed_in()
    acme = books["acme"]
    assert f'href="/customers/{acme.id}/edit/"' in _page(client, acme)
    form = client.get(f"/customers/{acme.id}/edit/")
    assert form.status_code == 200
    initial = {name: form.context["form"][name].value()
               for name in ("name", "emails", "attributes", "currency")}
    assert initial == {"name": "Acme Corp", "emails": "ap@acme.test, cfo@acme.test",
                       "attributes": "region=emea\nsegment=enterprise",  # as stored (jsonb)
                       "currency": "USD"}

    response = client.post(f"/customers/{acme.id}/edit/",
                           _form(acme, name="Acme Corporation", payment_terms_days=45),
                           follow=True)
    assert response.redirect_chain[-1][0] == f"/customers/{acme.id}/"
    assert "Customer Acme Corporation saved." in response.content.decode()
    with tenant.context():
        acme.refresh_from_db()
    assert (acme.name, acme.payment_terms_days, acme.attributes) == (
        "Acme Corporation", 45, {"segment": "enterprise"})


def test_the_edit_page_says_what_is_wrong_on_the_field(client, signed_in, books, tenant):
    signed_in()
    acme = books["acme"]
    bad = client.post(f"/customers/{acme.id}/edit/", _form(acme, name="Renamed",
                                                           time_zone="Mars/Olympus"))
    assert bad.status_code == 200
    assert bad.context["form"].errors["time_zone"] == [
        "'Mars/Olympus' is not an IANA time zone (e.g. 'Europe/Berlin')."]
    unreadable = client.post(f"/customers/{acme.id}/edit/", _form(acme, emails="ap@, nobody"))
    assert unreadable.context["form"].errors["emails"] == ["'ap@' is not an e-mail address."]
    assert "<h1>Edit Acme Corp</h1>" in bad.content.decode()  # as stored, not as typed

    # its contract is in dollars: the service refuses another currency
    refused = client.post(f"/customers/{acme.id}/edit/", _form(acme, currency="EUR"))
    assert ('class="field-error">The customer has contracts in another currency.'
            in refused.content.decode())
    taken = client.post(f"/customers/{acme.id}/edit/", _form(acme, external_id="initech"))
    assert taken.context["form"].errors["external_id"] == [
        "A customer with this external_id already exists."]
    with tenant.context():
        acme.refresh_from_db()
    assert (acme.name, acme.currency, acme.external_id) == ("Acme Corp", "USD", "acme")


def test_delete_is_refused_for_a_customer_with_history_and_done_for_one_without(
        client, signed_in, books, tenant):
    signed_in()
    acme, initech = books["acme"], books["initech"]
    edit_page = client.get(f"/customers/{acme.id}/edit/").content.decode()
    assert re.search(rf'<form method="post" action="/customers/{acme.id}/delete/" '
                     r'data-confirm="Delete Acme Corp\? This cannot be undone.">', edit_page)

    refused = client.post(f"/customers/{acme.id}/delete/", follow=True).content.decode()
    assert "Acme Corp was not deleted: A customer with contracts cannot be deleted." in refused
    # no contract, but invoices and payments refer to it
    refused = client.post(f"/customers/{initech.id}/delete/", follow=True).content.decode()
    assert ("Initech was not deleted: Invoices, payments or other records refer to this "
            "customer") in refused

    newcomer = CustomerFactory(organization=tenant.organization, external_id="newcomer")
    response = client.post(f"/customers/{newcomer.id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/customers/"
    with tenant.context():
        assert set(Customer.objects.values_list("external_id", flat=True)) == {"acme",
                                                                              "initech"}


def test_a_viewer_sees_no_edit_button_and_cannot_edit_or_delete(client, signed_in, books,
                                                                tenant):
    signed_in(Role.VIEWER)
    acme = books["acme"]
    page = _page(client, acme)
    assert 'data-testid="edit-customer"' not in page
    assert "/edit/" not in page
    assert client.get(f"/customers/{acme.id}/edit/").status_code == 403
    assert client.post(f"/customers/{acme.id}/edit/",
                       _form(acme, name="Viewer was here")).status_code == 403
    assert client.post(f"/customers/{acme.id}/delete/").status_code == 403
    with tenant.context():
        acme.refresh_from_db()
        assert acme.name == "Acme Corp"


def test_another_organization_cannot_edit_or_delete_the_customer(
        client, signed_in, books, other_tenant):
    signed_in()
    their = books["their_acme"]
    assert client.get(f"/customers/{their.id}/edit/").status_code == 404
    assert client.post(f"/customers/{their.id}/edit/",
                       _form(their, name="Taken over")).status_code == 404
    assert client.post(f"/customers/{their.id}/delete/").status_code == 404
    with other_tenant.context():
        their.refresh_from_db()
        assert their.name == "Acme of Globex"


def test_the_api_refuses_to_delete_a_customer_invoices_refer_to(tenant, books):
    """The same service answers the API: a 400 that says why, not a server error, and the
    customer stays."""
    initech = books["initech"]
    response = tenant.client().delete(f"/api/v1/customers/{initech.id}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["codes"]["customer"] == ["in_use"]
    with tenant.context():
        assert Customer.objects.filter(id=initech.id).exists()
