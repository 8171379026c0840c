"""An unknown page, in a real browser: the dashboard's look (the same stylesheet, the same
brand, the navigation for a member), a way back home. Each run saves its screenshot with the
browser artifacts; ``SCREENSHOTS=docs/screenshots`` refreshes the one in the docs."""

import os
from pathlib import Path

import pytest

from tests.support import COMMITTING
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, COMMITTING]



def _look(page) -> dict:
    """What makes a page look like the dashboard: its stylesheets, its brand, and that the
    stylesheet applied (the brand's colour is the stylesheet's, not the browser's blue)."""
    return {
        "stylesheets": [link.get_attribute("href")
                        for link in page.locator("link[rel=stylesheet]").all()],
        "brand": page.get_by_test_id("brand").text_content(),
        "brand_colour": page.get_by_test_id("brand").evaluate(
            "element => getComputedStyle(element).color"),
    }


def test_an_unknown_page_keeps_the_dashboards_look_and_leads_home(
    live_server, page, tenant, make_user, artifacts
):
    sign_in(page, live_server.url, tenant.organization, make_user)
    page.goto(f"{live_server.url}/invoices/")  # a page with the shell's stylesheet alone
    home = _look(page)
    assert home["stylesheets"] == ["/static/css/app.css"]
    assert home["brand"] == "◆ Zenskar"

    response = page.goto(f"{live_server.url}/invoices/no-such-invoice/")

    assert response is not None and response.status == 404
    assert page.title() == f"Page not found · {tenant.organization.name}"
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert _look(page) == home
    assert page.locator("nav").get_by_role("link", name="Invoices").is_visible()  # the shell
    shots = Path(os.environ.get("SCREENSHOTS") or artifacts)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "404.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_test_id("home-link").click()
    assert page.url == f"{live_server.url}/"
    assert page.locator("h1").inner_text() == tenant.organization.name


def test_a_signed_out_visitor_gets_the_same_brand_without_the_navigation(
    live_server, page, artifacts
):
    response = page.goto(f"{live_server.url}/no/such/page/")

    assert response is not None and response.status == 404
    assert page.title() == "Page not found · Zenskar"
    look = _look(page)
    assert look["stylesheets"] == ["/static/css/app.css"]
    assert look["brand"] == "◆ Zenskar"
    assert look["brand_colour"] == "rgb(255, 255, 255)"  # .brand's white, on the dark ground
    assert page.locator("nav").count() == 0
    page.screenshot(path=str(artifacts / "404-signed-out.png"), full_page=True)
