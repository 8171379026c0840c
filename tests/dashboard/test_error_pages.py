"""The error pages (templates/404.html, 403.html, 500.html): a browser gets a page in the
dashboard's look -- its stylesheet, its brand, a way back home -- while the API keeps its JSON
error body. Tests run with DEBUG off, as production does."""

import json
import uuid

import pytest
from django.templatetags.static import static
from django.test import RequestFactory

from tests.support import PASSWORD
from zenskar.core import views as core_views
from zenskar.tenancy.models import Role
from zenskar.tenancy.services import membership_upsert

STYLESHEET = f'<link rel="stylesheet" href="{static("css/app.css")}">'
BRAND = '<a class="brand" href="/" data-testid="brand"><span class="logo">◆</span> Zenskar</a>'


@pytest.fixture
def member(client, tenant, make_user):
    def sign_in(role=Role.FINANCE):
        user = make_user(f"{role}@acme.test")
        membership_upsert(organization=tenant.organization, email=user.email, role=role,
                          actor_role=None)
        assert client.login(username=user.email, password=PASSWORD)
        return user
    return sign_in


@pytest.mark.django_db
def test_an_unknown_page_is_a_styled_404_with_a_way_home(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "<title>Page not found · Zenskar</title>" in html
    assert STYLESHEET in html and BRAND in html
    assert "<h1>Page not found</h1>" in html
    assert "<code>/no/such/page/</code>" in html  # what was asked for, escaped
    assert '<a class="button primary" href="/" data-testid="home-link">' in html
    assert 'class="sidebar"' not in html  # a stranger does not see the navigation


@pytest.mark.django_db
def test_a_member_keeps_the_dashboard_around_the_404(client, tenant, member):
    member()

    for path in (f"/customers/{uuid.uuid4()}/", "/no-such-section/"):
        response = client.get(path)

        assert response.status_code == 404, path
        html = response.content.decode()
        assert f"<title>Page not found · {tenant.organization.name}</title>" in html
        assert STYLESHEET in html and BRAND in html
        assert '<aside class="sidebar">' in html  # the navigation stays
        assert f"<code>{path}</code>" in html


@pytest.mark.django_db
def test_the_404_page_escapes_the_path(client):
    html = client.get("/<script>alert(1)</script>/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_an_unknown_api_path_keeps_the_json_error_body(tenant, client):
    for response in (tenant.client().get("/api/v1/no-such-thing"),
                     client.get("/api/v1/no-such-thing", HTTP_ACCEPT="text/html")):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "error": {"type": "not_found", "message": "No resource at /api/v1/no-such-thing."}}


@pytest.mark.django_db
def test_a_role_that_may_not_gets_a_styled_403(client, member):
    member(Role.VIEWER)

    response = client.get("/customers/new/")

    assert response.status_code == 403
    html = response.content.decode()
    assert "<title>Not allowed · " in html and STYLESHEET in html and BRAND in html
    assert "Your role does not allow this." in html


# --- 500 --------------------------------------------------------------------------------------


def test_the_500_page_needs_no_database_nor_request_context():
    # No django_db mark: any query would fail this test. No session, no user, no membership.
    request = RequestFactory().get("/invoices/")

    response = core_views.server_error(request)

    assert response.status_code == 500
    html = response.content.decode()
    assert "<title>Something went wrong · Zenskar</title>" in html
    assert STYLESHEET in html and BRAND in html
    assert "<h1>Something went wrong on our side</h1>" in html


def test_the_api_500_is_json():
    response = core_views.server_error(RequestFactory().post("/api/v1/invoices"))

    assert response.status_code == 500
    assert json.loads(response.content) == {"error": {
        "type": "api_error", "message": "Something went wrong on our side; it has been logged."}}


def test_a_500_page_that_cannot_render_falls_back_to_plain_html(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the template storage is gone")
    monkeypatch.setattr(core_views.loader, "render_to_string", broken)

    response = core_views.server_error(RequestFactory().get("/invoices/"))

    assert response.status_code == 500
    assert response.content.decode() == core_views.PLAIN_500


@pytest.mark.django_db
@pytest.mark.urls("tests.support.error_urls")
def test_a_bug_on_a_page_is_the_styled_500_and_on_the_api_json(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False

    page = client.get("/broken/")
    api = client.get("/api/v1/broken")

    assert page.status_code == 500
    assert "<h1>Something went wrong on our side</h1>" in page.content.decode()
    assert STYLESHEET in page.content.decode()
    assert api.status_code == 500
    assert api.json()["error"]["type"] == "api_error"
