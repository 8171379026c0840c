"""A finance user reads an invoice as the customer will see it, then changes the invoice
template in the editor: a sandbox escape is refused with its line, a real change is
previewed on the invoice, saved, and used by the invoice page."""

import re

import pytest
from playwright.sync_api import expect

from invoicing.models import InvoiceTemplate
from invoicing.rendering import default_template
from tests.support import COMMITTING
from tests.support.browser import sign_in
from tests.support.scenario import Scenario, flat
from zenskar.celery import app

pytestmark = [pytest.mark.browser, COMMITTING]

THANKS = '<p class="thanks">Thank you for your business!</p>'
# Would mark the frame's page if it ran; the frame's sandbox has no allow-scripts.
SCRIPT = "<script>document.body.insertAdjacentHTML('beforeend', '<p id=ran>ran</p>')</script>"


def shot(page, path):
    """A full-page screenshot. Chromium paints a sandboxed frame (a process of its own) only
    once it has been in view, so the frame is scrolled to first."""
    page.get_by_test_id("invoice-frame").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)


@pytest.fixture
def invoice(tenant, settings):
    """January's 1,000.00 invoice of a flat monthly contract, finalized by the schedule.
    Delivery (PDF, e-mail) runs in the test process, to a mailbox in memory."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    app.conf.task_always_eager = True
    try:
        scenario = Scenario(tenant)
        scenario.customer("acme", name="Acme Corp")
        scenario.product("PLATFORM")
        contract = scenario.contract(items=[flat("PLATFORM", "1000.00")])
        scenario.run("2026-01-05")
        [invoice] = scenario.invoices(contract["id"])
    finally:
        app.conf.task_always_eager = False
    assert (invoice["status"], invoice["total"]) == ("finalized", "1000.00")
    return invoice


@pytest.fixture
def finance(live_server, page, tenant, make_user, invoice):
    sign_in(page, live_server.url, tenant.organization, make_user)
    return page


def test_an_invoice_is_read_and_its_template_changed_with_a_live_preview(
    live_server, finance, tenant, invoice, artifacts
):
    page, number = finance, invoice["number"]
    page.locator("nav").get_by_role("link", name="Invoices").click()
    assert page.locator("nav a.active").inner_text() == "Invoices"
    row = page.get_by_test_id("invoice-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{number} Acme Corp 2026-01-01")
    expect(row).to_contain_text("$1,000.00")
    expect(page.get_by_test_id("invoice-summary")).to_contain_text(
        re.compile(r"Open\s*\$1,000\.00\s*Overdue\s*—\s*Drafts waiting\s*0"))
    page.screenshot(path=str(artifacts / "invoice-list.png"), full_page=True)

    # The invoice: its total, the derivation of its line, and the customer's view.
    row.get_by_role("link", name=number).click()
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.get_by_test_id("invoice-total")).to_have_text("$1,000.00")
    page.get_by_test_id("derivation").locator("summary").click()
    expect(page.get_by_test_id("derivation")).to_contain_text("Flat fee $1,000.00")
    frame = page.frame_locator('[data-testid="invoice-frame"]')
    expect(frame.locator(".number")).to_have_text(number)
    expect(frame.locator(".totals .total")).to_contain_text("$1,000.00")
    shot(page, artifacts / "invoice-detail.png")

    # The editor: a template reaching for Python internals is refused, with its line.
    page.get_by_role("link", name="Edit the template").click()
    expect(page.locator("h1")).to_have_text("Invoice template")
    expect(page.locator("#id_html")).to_have_value(default_template()[0])
    page.fill("#id_html", "<h1>Invoice {{ invoice.number }}</h1>\n"
                          "<p>{{ ''.__class__.__mro__ }}</p>")
    page.get_by_test_id("preview-button").click()
    error = page.get_by_test_id("template-error")
    expect(error).to_contain_text("Line 2: Not allowed: access to attribute '__class__'")
    expect(page.get_by_test_id("invoice-frame")).to_have_count(0)
    page.screenshot(path=str(artifacts / "invoice-template-error.png"), full_page=True)

    # A real change: a line of thanks (and a script, which the sandbox keeps from running).
    html = default_template()[0].replace("</body>", f"{THANKS}\n{SCRIPT}\n</body>")
    page.fill("#id_html", html)
    page.get_by_test_id("preview-button").click()
    frame = page.frame_locator('[data-testid="invoice-frame"]')
    expect(frame.locator(".thanks")).to_have_text("Thank you for your business!")
    expect(frame.locator(".number")).to_have_text(number)
    expect(frame.locator("#ran")).to_have_count(0)
    with tenant.context():
        assert not InvoiceTemplate.objects.exists()  # a preview stores nothing
    shot(page, artifacts / "invoice-template-editor.png")

    page.get_by_test_id("save-button").click()
    expect(page.get_by_role("status")).to_contain_text("Template saved")
    with tenant.context():
        [template] = InvoiceTemplate.objects.all()
    assert template.html == html

    # The invoice page renders with the saved template.
    page.locator("nav").get_by_role("link", name="Invoices").click()
    page.get_by_test_id("invoice-row").get_by_role("link", name=number).click()
    frame = page.frame_locator('[data-testid="invoice-frame"]')
    expect(frame.locator(".thanks")).to_have_text("Thank you for your business!")
    expect(frame.locator("#ran")).to_have_count(0)
    shot(page, artifacts / "invoice-detail-saved-template.png")

