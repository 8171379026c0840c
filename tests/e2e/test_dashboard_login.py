import pytest

from tests.support import COMMITTING
from zenskar.tenancy.models import Role
from zenskar.tenancy.services import membership_upsert

pytestmark = [pytest.mark.browser, COMMITTING]


def test_a_finance_user_signs_in_and_sees_the_dashboard_home(
    live_server, page, tenant, other_tenant, make_user, artifacts
):
    user = make_user("finance@acme.test", password="s3cret-enough")
    membership_upsert(
        organization=tenant.organization, email=user.email, role=Role.FINANCE, actor_role=None
    )
    membership_upsert(
        organization=other_tenant.organization, email=user.email, role=Role.VIEWER,
        actor_role=None,
    )

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "finance@acme.test")
    page.fill("#id_password", "s3cret-enough")
    page.click("button[type=submit]")

    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == tenant.organization.name
    assert page.locator("nav a.active").inner_text() == "Home"
    for section in ("Customers", "Contracts", "Invoices", "Payments", "Revenue"):
        assert page.locator("nav").get_by_role("link", name=section).is_visible()
    page.screenshot(path=str(artifacts / "dashboard-home.png"), full_page=True)

    # The switcher moves to the other organization.
    with page.expect_navigation():
        page.select_option("[data-testid=org-switcher]", str(other_tenant.organization.id))
    assert page.locator("h1").inner_text() == other_tenant.organization.name


def test_a_wrong_password_keeps_the_user_out(live_server, page, make_user):
    make_user("ana@acme.test", password="s3cret-enough")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ana@acme.test")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text().startswith("That e-mail and password")
    assert "/login/" in page.url
