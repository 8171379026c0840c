"""A finance user builds the segment "days past due >= 7 and country is DE" in the rule builder,
watching its member count follow the rules, saves it, gives it a two-step reminder policy
(+7 e-mail, +14 e-mail with a subject of its own), previews the second step's e-mail on one of
the segment's invoices, saves the policy and finds both on the segment list -- and the page
fits a phone's 390 px.

Kunde A and Kunde B (Germany) and Client (France) each owe one EUR invoice of 1,190.00 issued
40 days ago on 30-day terms: 10 days past due. Days past due >= 7 holds all three; with
country is DE, the two German ones: 2 customers, 2 open invoices, EUR 2,380.00.
"""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from receivables.models import ReminderPolicy, Segment
from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.factories import CustomerFactory
from tests.support.receivables import issued

pytestmark = [pytest.mark.browser, COMMITTING]



@pytest.fixture
def overdue(tenant):
    """The three invoices above, by customer."""
    on = date.today() - timedelta(days=40)
    invoices = {}
    for external_id, name, country in (("kunde-a", "Kunde A", "DE"), ("kunde-b", "Kunde B", "DE"),
                                       ("client", "Client", "FR")):
        customer = CustomerFactory(organization=tenant.organization, external_id=external_id,
                                   name=name, country=country, currency="EUR",
                                   payment_terms_days=30, time_zone="UTC",
                                   emails=[f"ap@{external_id}.test"])
        invoices[external_id] = issued(tenant, customer, "1190.00", on)
    return invoices


def counted_bad_rule(message) -> bool:
    """The browser's note of the count endpoint's 400 for a rule still being typed (the
    answer names the rule; the page shows it)."""
    return "status of 400" in message.text and message.location.get("url", "").endswith(
        "/receivables/segments/count")


def test_a_segment_is_built_with_a_live_count_and_given_a_previewed_policy(
        live_server, page, tenant, make_user, overdue, artifacts):
    number = overdue["kunde-a"].number  # the segment's first invoice: the preview's
    sign_in(page, live_server.url, tenant.organization, make_user)
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and not counted_bad_rule(message)
            and problems.append(message.text))

    page.locator("nav").get_by_role("link", name="Receivables").click()
    page.get_by_test_id("receivables-tabs").get_by_role("link", name="Segments").click()
    expect(page.get_by_test_id("no-segments")).to_be_visible()
    page.get_by_test_id("new-segment").first.click()
    expect(page.locator("h1")).to_have_text("New segment")

    # The first condition: days past due >= 7 -- all three invoices.
    count = page.get_by_test_id("member-count")
    first = page.get_by_test_id("condition").nth(0)
    first.locator("[data-role=field]").select_option("days_past_due")
    first.locator("[data-role=op]").select_option("gte")
    first.locator("[data-role=value]").fill("7")
    expect(count).to_have_text("3 customers · 3 open invoices · €3,570.00")

    # AND country is DE: the count follows, Client drops out.
    expect(page.get_by_test_id("match")).to_have_value("all")
    page.get_by_test_id("add-condition").click()
    second = page.get_by_test_id("condition").nth(1)
    second.locator("[data-role=field]").select_option("country")
    expect(second.locator("[data-role=op] option")).to_have_text(
        ["is", "is not", "is one of", "is none of"])
    second.locator("[data-role=op]").select_option("eq")
    second.locator("[data-role=value]").fill("QQ")  # no such country: said on its row
    expect(second.locator("[data-role=error]")).to_contain_text(
        "'QQ' is not an ISO 3166-1 country code")
    expect(count).to_contain_text("rules.1.value")
    second.locator("[data-role=value]").fill("DE")
    expect(count).to_have_text("2 customers · 2 open invoices · €2,380.00")
    expect(page.get_by_test_id("member-sample")).to_have_text("Kunde A, Kunde B")
    expect(second.locator("[data-role=error]")).to_be_empty()

    page.fill("#id_name", "Overdue in Germany")
    page.fill("#id_description", "A week late, in Germany")
    page.screenshot(path=str(artifacts / "segment-builder.png"), full_page=True)
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_role("status")).to_contain_text("Segment “Overdue in Germany” saved")
    expect(page.locator("h1")).to_have_text("Overdue in Germany")
    expect(page.get_by_test_id("segment-rules-text")).to_have_text(
        "days past due ≥ 7 and country is DE")
    expect(count).to_have_text("2 customers · 2 open invoices · €2,380.00")

    # The policy: the first step comes as +7 with the default e-mail; a second at +14 with a
    # subject of its own.
    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(1)
    expect(steps.nth(0).locator("[data-offset]")).to_have_value("7")
    expect(steps.nth(0).locator("legend")).to_contain_text("7 days after the due date")
    page.get_by_test_id("add-step").click()
    expect(steps).to_have_count(2)
    step = steps.nth(1)
    step.locator("[data-offset]").fill("14")
    expect(step.locator("legend")).to_contain_text("Step 2 · 14 days after the due date")
    expect(step.locator("[data-channel]")).to_have_value("email")

    # A subject that does not parse: the preview says why, in red.
    step.locator("[data-subject]").fill("Second reminder: {{ invoice.number")
    step.get_by_test_id("preview-step").click()
    expect(step.get_by_test_id("preview-error")).to_be_visible()
    expect(step.get_by_test_id("preview-frame")).to_have_count(0)

    step.locator("[data-subject]").fill("Second reminder: {{ invoice.number }}")
    step.get_by_test_id("preview-step").click()
    expect(step.get_by_test_id("preview-subject")).to_have_text(f"Second reminder: {number}")
    expect(step.get_by_test_id("preview-invoice")).to_contain_text(number)
    frame = page.frame_locator('[data-testid="step"] >> nth=1 >> [data-testid="preview-frame"]')
    expect(frame.locator("body")).to_contain_text("Hello Kunde A,")
    expect(frame.locator("body")).to_contain_text("for 1.190,00 €")  # in German, for Kunde A
    # the e-mail's HTML is in the sandboxed frame only, never in this page
    assert page.locator("main").get_by_text("Hello Kunde A").count() == 0
    step.get_by_test_id("preview-frame").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / "segment-policy-preview.png"), full_page=True)

    page.get_by_test_id("save-policy").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Reminder policy saved: +7 e-mail, +14 e-mail.")
    with tenant.context():
        segment = Segment.objects.get(name="Overdue in Germany")
        policy = ReminderPolicy.objects.get(segment=segment)
        assert [(s.offset_days, s.channel, s.subject) for s in policy.steps.all()][1] == (
            14, "email", "Second reminder: {{ invoice.number }}")
    assert segment.rules == {"match": "all", "rules": [
        {"field": "days_past_due", "op": "gte", "value": 7},
        {"field": "country", "op": "eq", "value": "DE"}]}

    # The list: the segment, its members now and its policy in a line.
    page.get_by_test_id("receivables-tabs").get_by_role("link", name="Segments").click()
    row = page.get_by_test_id("segment-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("segment-count")).to_have_text("2")
    expect(row.get_by_test_id("segment-policy")).to_have_text("+7 e-mail, +14 e-mail")
    page.screenshot(path=str(artifacts / "segment-list.png"), full_page=True)

    # On a phone: the segment page and the list fit 390 px.
    page.set_viewport_size(PHONE)
    row.get_by_test_id("segment-name").click()
    expect(count).to_have_text("2 customers · 2 open invoices · €2,380.00")
    fits(page)
    page.screenshot(path=str(artifacts / "segment-page-390.png"), full_page=True)
    page.get_by_test_id("receivables-tabs").get_by_role("link", name="Segments").click()
    expect(page.get_by_test_id("segment-row")).to_have_count(1)
    fits(page)
    page.goto(f"{live_server.url}/receivables/reminders/")
    fits(page)

    # The invoice's page has a "Collection" section: no reminder yet, a payment to request.
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{live_server.url}/invoices/{overdue['kunde-a'].id}/")
    collection = page.get_by_test_id("invoice-collection")
    expect(collection.locator("h2")).to_have_text("Collection")
    expect(collection.get_by_test_id("reminder-timeline")).to_contain_text("No reminders yet.")
    expect(collection.get_by_test_id("request-payment")).to_be_visible()
    collection.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "invoice-collection-panel.png"))
    assert problems == []
