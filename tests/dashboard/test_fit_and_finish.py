"""The dashboard's fit and finish, through Django's test client: the favicon on the dashboard
and the signed-out pages, the menu button that folds the sidebar on a phone, wide tables in a
box of their own, a new member preselected as a viewer (the least privilege), the support
address in the invoicing settings, and a question before activating or cancelling a contract
or charging a card. (At 390 px in a real browser: tests/e2e/test_narrow_screens.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from invoicing import services as invoicing
from tests.support.payments import bill, collect_url, save_card
from tests.support.scenario import flat
from zenskar.dashboard.views import MemberForm
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

FAVICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
DASHBOARD_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "dashboard.js"


def opening_tag(html: str, action: str) -> str:
    """The ``<form ...>`` tag posting to ``action``."""
    [tag] = re.findall(rf'<form [^>]*action="{re.escape(action)}"[^>]*>', html)
    return tag


# --- The favicon --------------------------------------------------------------------------------


def test_the_dashboard_and_the_signed_out_pages_link_the_favicon(client, signed_in):
    pages = {"sign in": client.get("/login/"), "password reset": client.get("/password-reset/")}
    signed_in(Role.VIEWER)
    pages.update(home=client.get("/"), settings=client.get("/settings/"))

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert FAVICON in response.content.decode(), name


def test_the_favicon_is_served_as_an_svg_image(client):
    response = client.get("/static/favicon.svg")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"".join(response.streaming_content).startswith(b"<svg ")


# --- A phone's screen ---------------------------------------------------------------------------


def test_the_sidebar_has_a_menu_button_and_tables_scroll_in_their_own_box(client, scenario,
                                                                           signed_in):
    scenario.customer("initech", name="Initech")
    signed_in(Role.VIEWER)

    html = client.get(reverse("contracts:customer-list")).content.decode()

    assert ('<button type="button" class="menu-toggle" data-menu-toggle '
            'aria-controls="dashboard-nav" aria-expanded="false" data-testid="menu-toggle">'
            'Menu</button>') in html
    assert '<nav id="dashboard-nav" aria-label="Dashboard">' in html
    # the customers, in a box of their own that scrolls sideways
    assert re.search(r'<div class="table-wrap"><table[ >].*Initech.*</table></div>', html, re.S)
    script = DASHBOARD_JS.read_text()  # the button works from the static script (no inline JS)
    assert 'closest("[data-menu-toggle]")' in script and '"menu-open"' in script
    assert "<script>" not in html and " onclick=" not in html


# --- Team ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_a_new_member_is_a_viewer_unless_someone_picks_more(client, signed_in, role):
    signed_in(role)

    html = client.get("/settings/").content.decode()

    picker = re.search(r'<select name="role" aria-label="Role" data-testid="member-role">'
                       r"(.*?)</select>", html).group(1)
    options = re.findall(r'<option value="(\w+)"( selected)?>', picker)
    expected = ["admin", "finance", "viewer"] if role == Role.ADMIN else \
        ["owner", "admin", "finance", "viewer"]  # only an owner makes an owner
    assert [value for value, _ in options] == expected
    assert [value for value, selected in options if selected] == ["viewer"]
    assert MemberForm().fields["role"].initial == Role.VIEWER


# --- The support address ------------------------------------------------------------------------


def test_the_support_address_is_set_in_the_invoicing_settings(client, tenant, signed_in):
    signed_in(Role.FINANCE)
    form = client.get(reverse("invoicing:settings")).content.decode()
    assert 'type="email" name="support_email"' in form

    response = client.post(reverse("invoicing:settings-save"), {
        "number_prefix": "INV", "grace_period_hours": "24", "auto_finalize": "on",
        "auto_send": "on", "support_email": "billing@acme.test"})
    refused = client.post(reverse("invoicing:settings-save"), {
        "number_prefix": "INV", "grace_period_hours": "24", "support_email": "billing@"})

    assert response.status_code == 302
    assert refused.status_code == 200  # the form again, with the service's reason on the field
    assert "One e-mail address, e.g. billing@example.com, or nothing." in \
        refused.content.decode()
    with tenant.context():
        assert invoicing.invoice_settings(
            organization=tenant.organization).support_email == "billing@acme.test"


# --- A question before what cannot be taken back ------------------------------------------------


def test_activating_and_cancelling_a_contract_ask_first(client, scenario, signed_in):
    scenario.customer("acme")
    scenario.customer("initech", name="Initech")
    scenario.product("PLATFORM")
    active = scenario.contract(items=[flat("PLATFORM", "100.00")])
    draft = scenario.contract(customer="initech", items=[flat("PLATFORM", "100.00")],
                              status="draft")
    signed_in(Role.FINANCE)

    draft_page = client.get(reverse("contracts:contract-detail", args=[draft["id"]]))
    active_page = client.get(reverse("contracts:contract-detail", args=[active["id"]]))

    activate = opening_tag(draft_page.content.decode(),
                           reverse("contracts:contract-activate", args=[draft["id"]]))
    cancel = opening_tag(active_page.content.decode(),
                         reverse("contracts:contract-cancel", args=[active["id"]]))
    assert 'data-confirm="Activate Scenario? Initech is billed on its schedule from now on' in \
        activate
    assert 'data-confirm="Cancel Scenario from the date given? The final period is prorated' in \
        cancel


def test_charging_a_saved_card_asks_first(client, tenant, scenario, stripe_gateway, localstripe,
                                          signed_in):
    invoice, customer = bill(scenario)
    save_card(tenant, customer, localstripe)
    signed_in(Role.FINANCE)

    html = client.get(collect_url(invoice)).content.decode()

    charge = opening_tag(html, f"{collect_url(invoice)}charge/")
    assert ('data-confirm="Charge the card ending 4242 of Acme now? The amount entered (or the '
            '$100.00 due) is taken at once."') in charge


def test_the_question_is_asked_by_the_static_script(client):
    script = DASHBOARD_JS.read_text()

    assert 'getAttribute("data-confirm")' in script
    assert "window.confirm(question)" in script and "event.preventDefault()" in script
