"""An admin adds a webhook endpoint on the dashboard's Webhooks page (Settings), sends it a
test message, sees the delivery in the log and replays it: the receiver -- a server on
loopback -- gets the same message twice, with the same ``webhook-id``. The pages fit a
phone, and the API docs list the event types. The worker runs in this process (Celery
eager), as soon as each change commits."""

import re

import pytest
from playwright.sync_api import expect

from tests.support import COMMITTING
from tests.support.browser import PHONE, fits, sign_in
from tests.support.webhooks import verified_by
from zenskar.celery import app

pytestmark = [pytest.mark.browser, COMMITTING]


def refused_form(message) -> bool:
    """The browser's note of the 400 a refused form is answered with (on purpose below)."""
    return "status of 400" in message.text and message.location.get("url", "").endswith(
        "/settings/webhooks/")


@pytest.fixture
def worker():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_an_endpoint_is_added_its_delivery_seen_in_the_log_and_replayed(
        live_server, page, tenant, make_user, receiver, worker, artifacts):
    sign_in(page, live_server.url, tenant.organization, make_user, role="admin")
    problems = []  # a script error or a Content-Security-Policy refusal would show here
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and not refused_form(message)
            and problems.append(message.text))

    page.locator("nav").get_by_role("link", name="Settings").click()
    page.get_by_test_id("webhooks-link").click()
    expect(page.locator("h1")).to_have_text("Webhooks")
    assert page.locator("nav a.active").inner_text() == "Settings"

    # A URL that is not http(s): the service's refusal, under the field.
    form = page.get_by_test_id("endpoint-form")
    form.locator("#id_url").fill("ftp://hooks.acme.test/zenskar")
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".has-error .field-error")).to_have_text(
        "Only http:// and https:// URLs.")

    page.get_by_test_id("endpoint-form").locator("#id_url").fill(receiver.url)
    page.get_by_test_id("endpoint-form").locator("#id_description").fill("Our billing sync")
    picker = page.get_by_test_id("event-picker")
    picker.get_by_label("invoice.finalized").check()
    picker.get_by_label("payment.succeeded").check()
    page.screenshot(path=str(artifacts / "webhooks-add.png"), full_page=True)
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_url(re.compile(r"/settings/webhooks/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("endpoint-url")).to_have_text(receiver.url)
    secret = page.get_by_test_id("secret-value").inner_text()
    assert secret.startswith("whsec_")
    facts = page.get_by_test_id("endpoint-facts").inner_text()
    assert "invoice.finalized, payment.succeeded" in facts

    # A test message: sent at once; the log shows it delivered.
    page.get_by_test_id("send-test").click()
    expect(page.get_by_role("status")).to_have_text(
        "Test message queued: it shows in the log below.")
    row = page.get_by_test_id("delivery-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("delivery-status")).to_have_text("succeeded")
    assert row.get_by_test_id("delivery-attempts").inner_text() == "1"
    [first] = receiver.requests
    assert first.type == "webhook.test" and verified_by(first, [secret]) == [secret]

    # Replay it: the same message again.
    row.get_by_test_id("replay").click()
    expect(page.get_by_role("status")).to_have_text(
        "Replay queued: the same message is sent again now.")
    expect(page.get_by_test_id("delivery-row").get_by_test_id("delivery-attempts")
           ).to_have_text("2")
    first, again = receiver.requests
    assert again.id == first.id and again.body == first.body
    page.screenshot(path=str(artifacts / "webhooks-endpoint.png"), full_page=True)

    # The delivery's page: the message and both attempts.
    page.get_by_test_id("delivery-row").get_by_role("link").first.click()
    expect(page.get_by_test_id("attempt-row")).to_have_count(2)
    assert page.get_by_test_id("message-id").inner_text() == first.id
    assert [t.inner_text() for t in page.get_by_test_id("attempt-row").locator("td:nth-child(3)")
            .all()] == ["Scheduled", "Replay"]

    # On a phone, the three pages scroll up and down only.
    page.set_viewport_size(PHONE)
    fits(page, "the delivery's page")
    page.screenshot(path=str(artifacts / "webhooks-delivery-phone.png"), full_page=True)
    page.go_back()
    fits(page, "the endpoint's page")
    page.screenshot(path=str(artifacts / "webhooks-endpoint-phone.png"), full_page=True)
    page.goto(f"{live_server.url}/settings/webhooks/")
    fits(page, "the webhooks page")

    # The API docs list the event catalogue (OpenAPI webhooks) with each payload.
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_text("revenue.period_closed", exact=True).first).to_be_visible(
        timeout=30_000)
    assert problems == []
