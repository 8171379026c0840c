"""Dashboard pages for invoices, the invoice template, invoicing settings and the upcoming
invoice, through Django's test client.

The invoices come from the schedule, driven through the API (``scenario``): a flat
1,000.00-a-month contract billed in advance from 2026-01-01. Every amount is worked out by
hand in the comment beside it.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceAudit,
    InvoiceLine,
    InvoiceSettings,
    InvoiceTemplate,
    TaxRate,
)
from tests.support.scenario import Scenario, flat
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

ESCAPE = "{{ ''.__class__.__mro__ }}"


def monthly(scenario, customer="acme", amount="1000.00", start="2026-01-01"):
    scenario.customer(customer)
    if not scenario.get("products")["results"]:
        scenario.product("PLATFORM")
    return scenario.contract(customer=customer, start=start, items=[flat("PLATFORM", amount)])


@pytest.fixture
def finalized(scenario):
    """January's invoice of the flat contract: finalized (the 24-hour grace period is long
    over), 1,000.00 due."""
    contract = monthly(scenario)
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    assert (invoice["status"], invoice["total"]) == ("finalized", "1000.00")
    return invoice


@pytest.fixture
def draft(scenario):
    """January's invoice of the flat contract, still a draft (a ten-year grace period)."""
    contract = monthly(scenario)
    scenario.patch_settings(grace_period_hours=24 * 3650)
    scenario.run("2026-01-01")
    [invoice] = scenario.invoices(contract["id"])
    assert (invoice["status"], invoice["total"]) == ("draft", "1000.00")
    return invoice


def stored(tenant, invoice_id) -> Invoice:
    with tenant.context():
        return Invoice.objects.get(id=invoice_id)


def row_texts(page: str) -> list[str]:
    """The invoice list's rows, as text with the tags taken out."""
    rows = re.findall(r'<tr data-testid="invoice-row">(.*?)</tr>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def srcdoc(page: str) -> str:
    """The HTML inside the page's sandboxed frame, unescaped as the browser reads it."""
    [frame] = re.findall(r'<iframe class="invoice-frame" sandbox srcdoc="([^"]*)"', page)
    return html.unescape(frame)


# --- The list ---------------------------------------------------------------------------------


@pytest.fixture
def three_invoices(scenario, tenant):
    """Acme: January (overdue) and February, finalized, 1,000.00 each; Initech: a 500.00
    draft for February."""
    acme = monthly(scenario)
    scenario.run("2026-02-05")
    january, february = scenario.invoices(acme["id"])
    with tenant.context():
        Invoice.objects.filter(id=january["id"]).update(due_date=date(2026, 1, 31))
    scenario.patch_settings(grace_period_hours=24 * 3650)
    initech = monthly(scenario, customer="initech", amount="500.00", start="2026-02-01")
    scenario.run("2026-02-05")
    [draft] = scenario.invoices(initech["id"])
    assert draft["status"] == "draft"
    return {"january": january, "february": february, "draft": draft}


def test_the_list_has_status_tabs_with_counts_and_a_summary(client, signed_in, three_invoices):
    signed_in()
    page = client.get("/invoices/").content.decode()
    counts = dict(re.findall(r'>(\w+) <span class="count">(\d+)</span>', page))
    assert counts == {"All": "3", "Draft": "1", "Finalized": "2", "Paid": "0", "Void": "0",
                      "Uncollectible": "0", "Overdue": "1"}
    assert len(row_texts(page)) == 3
    summary = " ".join(re.sub(r"<[^>]+>", " ", page.split('data-testid="invoice-summary"')[1]
                              .split("</section>")[0]).split())
    # open: 1,000.00 + 1,000.00 finalized and unpaid; overdue: January's 1,000.00
    assert summary == "> Open $2,000.00 Overdue $1,000.00 Drafts waiting 1"


def test_the_list_filters_by_status_overdue_customer_and_dates(client, signed_in, three_invoices):
    signed_in()
    january, february = three_invoices["january"]["number"], three_invoices["february"]["number"]

    [draft] = row_texts(client.get("/invoices/?status=draft").content.decode())
    assert draft.startswith("Draft Initech 2026-02-01") and "$500.00" in draft

    [overdue] = row_texts(client.get("/invoices/?status=overdue").content.decode())
    issued = three_invoices["january"]["issue_date"]  # the list's issue-date column
    assert overdue.startswith(f"{january} Acme 2026-01-01 {issued} 2026-01-31 $1,000.00 "
                              "$1,000.00")
    assert overdue.endswith("finalized overdue")

    acme = row_texts(client.get("/invoices/?customer=acme").content.decode())
    assert [row.split()[0] for row in acme] == [february, january]  # newest first

    page = client.get("/invoices/?date_from=2026-02-01&date_to=2026-02-01").content.decode()
    assert sorted(row.split()[0] for row in row_texts(page)) == sorted(["Draft", february])
    page = client.get("/invoices/?date_from=2026-01-01&date_to=2026-01-31").content.decode()
    assert [row.split()[0] for row in row_texts(page)] == [january]


def test_a_chosen_customer_links_to_their_upcoming_invoice(client, signed_in, three_invoices,
                                                            tenant):
    signed_in()
    page = client.get("/invoices/?customer=initech").content.decode()
    with tenant.context():
        initech = Invoice.objects.get(id=three_invoices["draft"]["id"]).customer
    assert f'href="/invoices/upcoming/{initech.id}/" data-testid="upcoming-link"' in page
    assert "upcoming-link" not in client.get("/invoices/").content.decode()


# --- One invoice ------------------------------------------------------------------------------


def test_the_invoice_page_shows_lines_derivations_and_the_rendered_invoice(
    client, signed_in, finalized, tenant
):
    signed_in()
    page = client.get(f"/invoices/{finalized['id']}/").content.decode()
    invoice = stored(tenant, finalized["id"])
    assert f"<h1>{finalized['number']} " in page
    assert f'href="/customers/{invoice.customer_id}/"' in page  # the contracts customer page
    assert 'data-testid="invoice-total">$1,000.00<' in page
    [line] = page.split('<tr data-testid="invoice-line" class="line-row">')[1:]
    line = " ".join(re.sub(r"<[^>]+>", " ", line.split("</table></div>\n</section>")[0]).split())
    assert line.startswith("Platform Recurring charge 2026-01-01 → 2026-02-01 1 $1,000.00 "
                           "$1,000.00 How this amount was worked out")
    # the pricing step, tier by tier, in the <details>: quantity, unit price, amount
    assert line.endswith("Step Quantity Unit price Amount Flat fee $1,000.00 1 $1,000.00 "
                         "$1,000.00 Pricing model flat fee")
    # The customer's view: the default template in a frame that runs no script.
    assert '<iframe class="invoice-frame" sandbox srcdoc="' in page
    assert "allow-scripts" not in page
    rendered = srcdoc(page)
    assert f'<div class="number">{finalized["number"]}</div>' in rendered
    assert "$1,000.00" in rendered
    # Finalized: send, void, uncollectible, credit note; no draft editing.
    for action in ("send", "void", "uncollectible", "credit-notes"):
        assert f'action="/invoices/{finalized["id"]}/{action}/' in page
    assert "/finalize/" not in page and 'data-testid="quantity-form"' not in page


def test_a_usage_lines_derivation_shows_its_tiers_meter_and_window(client, signed_in, scenario):
    signed_in()
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    contract = scenario.contract(items=[{
        "product": "API", "model": "graduated", "timing": "arrears", "meter": "api_calls",
        "pricing": {"tiers": [{"up_to": "100", "unit_price": "0"},
                              {"up_to": None, "unit_price": "0.10"}]}}])
    scenario.events(*[(f"e{i}", "acme", "api_call", f"2026-01-{1 + i % 28:02d}T12:00:00Z", {})
                      for i in range(130)])
    scenario.run("2026-02-02")
    [invoice] = scenario.invoices(contract["id"])
    page = client.get(f"/invoices/{invoice['id']}/").content.decode()
    derivation = " ".join(re.sub(r"<[^>]+>", " ", page.split('data-testid="derivation"')[1]
                                 .split("</details>")[0]).split())
    # 130 calls: the first 100 free, then 30 x 0.10 = 3.00
    assert "Tier 1 (up to 100): 100 units x 0 100 $0.00 $0.00 " in derivation
    assert " 30 $0.10 $3.00 Pricing model graduated" in derivation
    assert "Meter api_calls" in derivation
    assert "Usage window 2026-01-01 00:00 → 2026-02-01 00:00 UTC" in derivation
    assert "Usage quantity 130" in derivation


def test_a_draft_is_edited_and_finalized_through_the_page(client, signed_in, draft, tenant):
    user = signed_in()
    page = client.get(f"/invoices/{draft['id']}/").content.decode()
    assert f'action="/invoices/{draft["id"]}/finalize/"' in page
    assert "/void/" not in page and "/send/" not in page

    response = client.post(f"/invoices/{draft['id']}/lines/", {
        "description": "Onsite training", "quantity": "2", "unit_price": "150.00"})
    assert response.status_code == 302
    assert stored(tenant, draft["id"]).total == Decimal("1300.00")  # 1,000.00 + 2 x 150.00

    with tenant.context():
        platform = InvoiceLine.objects.get(invoice_id=draft["id"], kind="recurring")
    client.post(f"/invoices/lines/{platform.id}/quantity/", {"quantity": "0.5"})
    # 0.5 x 1,000.00 = 500.00, + 300.00 training = 800.00
    assert stored(tenant, draft["id"]).total == Decimal("800.00")
    page = client.get(f"/invoices/{draft['id']}/").content.decode()
    assert "quantity set by hand to 0.5 (computed: 1, $1,000.00)" in page
    with tenant.context():
        audit = list(InvoiceAudit.objects.filter(invoice_id=draft["id"])
                     .values_list("action", "actor"))
    assert audit == [("line_added", user.email), ("quantity_override", user.email)]
    assert ">Line added<" in page and ">Quantity override<" in page

    response = client.post(f"/invoices/{draft['id']}/finalize/", follow=True)
    invoice = stored(tenant, draft["id"])
    assert invoice.status == "finalized" and invoice.number
    assert invoice.total == Decimal("800.00")  # the hand edits survive finalization
    assert f"Invoice {invoice.number} finalized." in response.content.decode()


def test_bad_line_input_is_shown_and_nothing_is_added(client, signed_in, draft, tenant):
    signed_in()
    response = client.post(f"/invoices/{draft['id']}/lines/",
                           {"description": "", "quantity": "1", "unit_price": "ten"})
    assert response.status_code == 200
    errors = re.findall(r'<div class="field-error">([^<]+)</div>', response.content.decode())
    assert errors == ["This field is required.", "Enter a number."]
    assert stored(tenant, draft["id"]).total == Decimal("1000.00")


def test_a_finalized_invoice_is_voided(client, signed_in, finalized, tenant):
    signed_in()
    response = client.post(f"/invoices/{finalized['id']}/void/", follow=True)
    invoice = stored(tenant, finalized["id"])
    assert (invoice.status, invoice.amount_due) == ("void", Decimal("0"))
    assert f"Invoice {finalized['number']} voided." in response.content.decode()


def test_a_finalized_invoice_is_marked_uncollectible(client, signed_in, finalized, tenant):
    signed_in()
    client.post(f"/invoices/{finalized['id']}/uncollectible/")
    assert stored(tenant, finalized["id"]).status == "uncollectible"


def test_credit_notes_per_line_then_in_full(client, signed_in, finalized, tenant):
    signed_in()
    with tenant.context():
        platform = InvoiceLine.objects.get(invoice_id=finalized["id"], kind="recurring")
    # More than the line's 1,000.00: refused on the line's field, nothing written.
    response = client.post(f"/invoices/{finalized['id']}/credit-notes/", {
        "reason": "Outage", "scope": "lines", f"line_{platform.id}": "1000.01"})
    # the service's words (the API's too), on the line's field
    assert ('<div class="field-error">Must be more than 0 and at most 1000.00.</div>'
            in response.content.decode())
    with tenant.context():
        assert not CreditNote.objects.filter(invoice_id=finalized["id"]).exists()

    client.post(f"/invoices/{finalized['id']}/credit-notes/", {
        "reason": "Outage", "scope": "lines", f"line_{platform.id}": "400.00"})
    assert stored(tenant, finalized["id"]).amount_due == Decimal("600.00")  # 1,000.00 - 400.00
    page = client.get(f"/invoices/{finalized['id']}/").content.decode()
    assert "Platform: $400.00" in page and "credited $400.00" in page

    client.post(f"/invoices/{finalized['id']}/credit-notes/", {"reason": "Goodwill",
                                                              "scope": "full"})
    invoice = stored(tenant, finalized["id"])
    # The full note credits what is left of the line, 600.00: nothing is due any more.
    assert (invoice.amount_due, invoice.status) == (Decimal("0"), "paid")
    with tenant.context():
        totals = sorted(CreditNote.objects.filter(invoice_id=finalized["id"])
                        .values_list("reason", "total"))
    assert totals == [("Goodwill", Decimal("600.00")), ("Outage", Decimal("400.00"))]


def test_a_credit_note_needs_a_reason(client, signed_in, finalized, tenant):
    signed_in()
    response = client.post(f"/invoices/{finalized['id']}/credit-notes/", {"scope": "full"})
    assert "This field is required." in response.content.decode()
    with tenant.context():
        assert not CreditNote.objects.exists()


def test_the_pdf_is_downloaded(client, signed_in, finalized):
    signed_in()
    response = client.get(f"/invoices/{finalized['id']}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{finalized["number"]}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_sending_e_mails_the_invoice(client, signed_in, finalized, tenant, settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    signed_in()
    response = client.post(f"/invoices/{finalized['id']}/send/", follow=True)
    assert f"Invoice {finalized['number']} sent to ap@acme.test." in response.content.decode()
    [message] = mailoutbox
    assert message.to == ["ap@acme.test"] and finalized["number"] in message.subject
    assert stored(tenant, finalized["id"]).sent_at is not None


# --- The template editor ----------------------------------------------------------------------


def test_the_editor_starts_from_the_default_and_previews_a_real_invoice(
    client, signed_in, finalized
):
    signed_in()
    page = client.get("/invoices/template/").content.decode()
    assert "The default template: your invoices use it" in page
    assert "{{ invoice.number or &quot;Draft&quot; }}" in page  # the default, in the textarea
    assert finalized["number"] in srcdoc(page)

    response = client.post("/invoices/template/preview/", {
        "html": "<p>Invoice {{ invoice.number }} for {{ invoice.total|money }}</p>",
        "css": "p { color: teal; }", "invoice": finalized["id"]}, HTTP_HX_REQUEST="true")
    partial = response.content.decode()
    assert "<html" not in partial  # the pane only
    assert f"<p>Invoice {finalized['number']} for $1,000.00</p>" in srcdoc(partial)
    assert "p { color: teal; }" in srcdoc(partial)


def test_a_sandbox_escape_is_shown_and_cannot_be_saved(client, signed_in, finalized, tenant):
    signed_in()
    body = {"html": f"<p>ok</p>\n{ESCAPE}", "css": "", "invoice": finalized["id"]}
    preview = client.post("/invoices/template/preview/", body, HTTP_HX_REQUEST="true")
    text = html.unescape(preview.content.decode())
    assert "Line 2: Not allowed: access to attribute '__class__' of 'str' object" in text
    assert "<iframe" not in text

    response = client.post("/invoices/template/save/", body)
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Not saved: the template does not render." in page
    assert "Not allowed: access to attribute '__class__'" in page
    with tenant.context():
        assert not InvoiceTemplate.objects.exists()


def test_a_syntax_error_shows_its_line_and_cannot_be_saved(client, signed_in, finalized, tenant):
    signed_in()
    body = {"html": "<h1>Invoice</h1>\n<p>\n{{ invoice.number }\n</p>", "css": "",
            "invoice": finalized["id"]}
    preview = html.unescape(client.post("/invoices/template/preview/", body,
                                        HTTP_HX_REQUEST="true").content.decode())
    assert "Line 3: Syntax error: unexpected '}'" in preview
    assert "{{ invoice.number }" in preview  # the line itself, quoted
    client.post("/invoices/template/save/", body)
    with tenant.context():
        assert not InvoiceTemplate.objects.exists()


def test_a_saved_template_is_used_by_the_invoice_page_until_reset(
    client, signed_in, finalized, tenant
):
    signed_in()
    body = {"html": "<p>Thanks for your business! {{ invoice.number }}</p>", "css": "",
            "invoice": finalized["id"]}
    response = client.post("/invoices/template/save/", body, follow=True)
    assert "Template saved" in response.content.decode()
    with tenant.context():
        [template] = InvoiceTemplate.objects.all()
    assert (template.html, template.active) == (body["html"], True)
    detail = srcdoc(client.get(f"/invoices/{finalized['id']}/").content.decode())
    assert detail == f"<p>Thanks for your business! {finalized['number']}</p>"
    # the editor now starts from the saved template
    assert "Thanks for your business!" in client.get("/invoices/template/").content.decode()

    client.post("/invoices/template/reset/")
    with tenant.context():
        assert not InvoiceTemplate.objects.filter(active=True).exists()
    detail = srcdoc(client.get(f"/invoices/{finalized['id']}/").content.decode())
    assert '<div class="number">' in detail  # the default again


def test_the_editor_says_when_there_is_no_invoice_to_preview(client, signed_in):
    signed_in()
    page = client.get("/invoices/template/").content.decode()
    assert 'data-testid="no-invoice"' in page and "<iframe" not in page


# --- Settings and tax rates -------------------------------------------------------------------


def test_settings_are_saved(client, signed_in, tenant):
    signed_in()
    assert 'name="number_prefix"' in client.get("/invoices/settings/").content.decode()
    response = client.post("/invoices/settings/save/", {
        "number_prefix": "bill", "grace_period_hours": "48", "auto_finalize": "on",
        "address": "1 Main Street\nSpringfield", "footer": "Bank: 1234",
        "logo_url": ""})
    assert response.status_code == 302
    with tenant.context():
        settings = InvoiceSettings.objects.get(organization=tenant.organization)
    assert (settings.number_prefix, settings.grace_period_hours, settings.auto_finalize,
            settings.auto_send, settings.footer) == ("BILL", 48, True, False, "Bank: 1234")

    bad = client.post("/invoices/settings/save/", {"number_prefix": "A B",
                                                   "grace_period_hours": "-1"})
    assert "Letters, digits, - and _ only." in bad.content.decode()
    with tenant.context():
        assert InvoiceSettings.objects.get(organization=tenant.organization).number_prefix == \
            "BILL"


def test_tax_rates_are_added_and_deleted(client, signed_in, tenant):
    signed_in()
    client.post("/invoices/settings/tax-rates/", {"name": "TVA", "country": "fr", "region": "",
                                                  "rate": "20"})
    with tenant.context():
        [rate] = TaxRate.objects.all()
    assert (rate.name, rate.country, rate.rate, rate.inclusive) == ("TVA", "FR", Decimal("20"),
                                                                    False)
    page = client.get("/invoices/settings/").content.decode()
    assert '<td class="num">20%</td>' in page

    bad = client.post("/invoices/settings/tax-rates/", {"name": "x", "country": "F1",
                                                        "rate": "120"})
    # the service's words, on the fields they name (the API says the same)
    assert "&#x27;F1&#x27; is not an ISO 3166-1 country code" in bad.content.decode()
    assert "A percentage: must be between 0 and 100." in bad.content.decode()

    client.post(f"/invoices/settings/tax-rates/{rate.id}/delete/")
    with tenant.context():
        assert not TaxRate.objects.exists()


# --- The upcoming invoice ---------------------------------------------------------------------


def test_the_upcoming_invoice_is_computed_and_not_saved(client, signed_in, scenario, tenant):
    signed_in()
    customer = scenario.customer()
    scenario.product("PLATFORM")
    start = timezone.now().date() + timedelta(days=5)
    scenario.contract(start=start.isoformat(), end=None, anchor="anniversary",
                      items=[flat("PLATFORM", "250.00")])
    page = client.get(f"/invoices/upcoming/{customer['id']}/").content.decode()
    assert f'data-testid="upcoming-date">{start.isoformat()}<' in page
    assert 'data-testid="upcoming-total">$250.00<' in page  # one month in advance
    assert "<td>Flat fee $250.00</td>" in page
    with tenant.context():
        assert not Invoice.objects.exists()


def test_a_customer_with_nothing_upcoming(client, signed_in, scenario):
    signed_in()
    customer = scenario.customer()
    page = client.get(f"/invoices/upcoming/{customer['id']}/").content.decode()
    assert 'data-testid="no-upcoming"' in page


# --- Roles and tenants ------------------------------------------------------------------------


def write_requests(invoice_id, line_id, rate_id):
    return [
        (f"/invoices/{invoice_id}/finalize/", {}),
        (f"/invoices/{invoice_id}/void/", {}),
        (f"/invoices/{invoice_id}/uncollectible/", {}),
        (f"/invoices/{invoice_id}/send/", {}),
        (f"/invoices/{invoice_id}/lines/", {"description": "x", "quantity": "1",
                                            "unit_price": "5"}),
        (f"/invoices/{invoice_id}/credit-notes/", {"reason": "x", "scope": "full"}),
        (f"/invoices/lines/{line_id}/quantity/", {"quantity": "9"}),
        ("/invoices/template/save/", {"html": "<p>mine</p>", "css": ""}),
        ("/invoices/template/reset/", {}),
        ("/invoices/settings/save/", {"number_prefix": "MINE", "grace_period_hours": "1"}),
        ("/invoices/settings/tax-rates/", {"name": "x", "country": "US", "rate": "5"}),
        (f"/invoices/settings/tax-rates/{rate_id}/delete/", {}),
    ]


def snapshot(tenant, invoice_id):
    with tenant.context():
        invoice = Invoice.objects.get(id=invoice_id)
        return {
            "invoice": (invoice.status, invoice.total, invoice.amount_due, invoice.number),
            "lines": sorted((line.description, line.quantity) for line in invoice.lines.all()),
            "notes": CreditNote.objects.count(), "audit": InvoiceAudit.objects.count(),
            "templates": list(InvoiceTemplate.objects.values_list("html", "active")),
            "rates": sorted(TaxRate.objects.values_list("name", "rate")),
            "settings": list(InvoiceSettings.objects.values_list("number_prefix", flat=True)),
        }


@pytest.fixture
def with_rate_and_template(tenant):
    with tenant.context():
        rate = TaxRate.objects.create(organization=tenant.organization, name="Sales tax",
                                      country="US", rate=Decimal("0"))
        InvoiceTemplate.objects.create(organization=tenant.organization, html="<p>ours</p>")
    return rate


def test_a_viewer_sees_everything_and_changes_nothing(
    client, signed_in, finalized, tenant, with_rate_and_template
):
    signed_in(Role.VIEWER)
    with tenant.context():
        line = InvoiceLine.objects.filter(invoice_id=finalized["id"]).first()
    for path in ("/invoices/", f"/invoices/{finalized['id']}/", "/invoices/template/",
                 "/invoices/settings/", f"/invoices/{finalized['id']}/pdf/"):
        assert client.get(path).status_code == 200, path
    detail = client.get(f"/invoices/{finalized['id']}/").content.decode()
    assert 'action="/invoices/' not in detail and "Download PDF" in detail
    editor = client.get("/invoices/template/").content.decode()
    assert "Save template" not in editor and "Reset to default" not in editor
    settings_page = client.get("/invoices/settings/").content.decode()
    assert "Save settings" not in settings_page and "Add tax rate" not in settings_page
    assert 'name="number_prefix" value="' in settings_page and " disabled" in settings_page

    before = snapshot(tenant, finalized["id"])
    for path, body in write_requests(finalized["id"], line.id, with_rate_and_template.id):
        assert client.post(path, body).status_code == 403, path
    assert snapshot(tenant, finalized["id"]) == before


def test_another_organizations_objects_are_404(
    client, signed_in, other_tenant, with_rate_and_template, tenant
):
    """Signed in to Acme; Globex's invoice, its line, tax rate and customer do not exist."""
    signed_in()
    globex = Scenario(other_tenant)
    contract = monthly(globex, customer="globex-secret")
    globex.run("2026-01-05")
    [invoice] = globex.invoices(contract["id"])
    with other_tenant.context():
        line = InvoiceLine.objects.get(invoice_id=invoice["id"])
        rate = TaxRate.objects.create(organization=other_tenant.organization, name="Globex tax",
                                      country="US", rate=Decimal("7"))
        InvoiceTemplate.objects.create(organization=other_tenant.organization,
                                       html="<p>Globex template</p>")
    customer_id = globex.get("customers")["results"][0]["id"]
    for path in (f"/invoices/{invoice['id']}/", f"/invoices/{invoice['id']}/pdf/",
                 f"/invoices/upcoming/{customer_id}/"):
        assert client.get(path).status_code == 404, path
    before = snapshot(other_tenant, invoice["id"])
    for path, body in write_requests(invoice["id"], line.id, rate.id):
        if "/template/" in path or path.endswith("/settings/save/") or \
                path.endswith("/tax-rates/"):
            continue  # the organization's own template, settings and rates, not Globex's
        assert client.post(path, body).status_code == 404, path
    assert snapshot(other_tenant, invoice["id"]) == before
    # Not listed, not offered for a preview, its template not used.
    assert "globex" not in client.get("/invoices/").content.decode().lower()
    editor = client.get(f"/invoices/template/?invoice={invoice['id']}").content.decode()
    assert invoice["id"] not in editor and "Globex" not in editor
    preview = client.post("/invoices/template/preview/", {
        "html": "{{ customer.name }}", "invoice": invoice["id"]}, HTTP_HX_REQUEST="true")
    assert 'data-testid="no-invoice"' in preview.content.decode()
    assert "Globex" not in client.get("/invoices/settings/").content.decode()
