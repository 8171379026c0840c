"""The settings a team changes in the dashboard: the organization itself (and the same through
``PATCH /api/v1/organization``), the logo printed on invoices (an uploaded image file), the
payment gateway, and the role a new API key gets unless someone picks another."""

from __future__ import annotations

import base64
import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contracts.models import Customer
from invoicing import rendering, services
from invoicing.models import InvoiceSettings
from payments.models import GatewayAccount
from tests.support.scenario import Scenario
from zenskar.crypto import decrypt_json
from zenskar.tenancy.models import ApiKey, Organization, Role

pytestmark = pytest.mark.django_db

# A real 1 x 1 PNG (its first bytes: \x89PNG\r\n\x1a\n).
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkaPhfDwAEBQH/"
                       "qHQmpwAAAABJRU5ErkJggg==")
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
NOT_AN_IMAGE = "The logo must be a PNG, JPEG, GIF or WebP image."
SECRET = "sk_test_51HxQ2bAbCdEfGhIjKlMnOpQr4242"


def page_text(response) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


def organization(tenant) -> Organization:
    return Organization.objects.get(pk=tenant.organization.pk)


def logo(tenant) -> str:
    with tenant.context():
        return services.invoice_settings(organization=tenant.organization).logo_url


# --- The organization ----------------------------------------------------------------------


def test_an_admin_edits_the_organization_and_only_new_customers_get_its_currency(
    client, signed_in, tenant
):
    scenario = Scenario(tenant)
    scenario.customer("acme")  # USD, before the change
    signed_in(Role.ADMIN)
    page = client.get("/settings/").content.decode()
    assert 'action="/settings/organization/"' in page
    assert "only a default: customers created from now on get it" in html.unescape(page).lower()

    response = client.post("/settings/organization/", {
        "name": "Acme Europe", "default_currency": "eur", "time_zone": "Europe/Berlin",
        "usage_window_days": "30"}, follow=True)

    assert "Acme Europe saved." in page_text(response)
    saved = organization(tenant)
    assert (saved.name, saved.default_currency, saved.time_zone, saved.usage_window_days) == (
        "Acme Europe", "EUR", "Europe/Berlin", 30)
    scenario.client.post("/api/v1/customers", {"external_id": "initech", "name": "Initech"},
                         format="json")
    with tenant.context():
        currencies = dict(Customer.objects.for_organization(tenant.organization)
                          .values_list("external_id", "currency"))
    assert currencies == {"acme": "USD", "initech": "EUR"}


def test_a_bad_time_zone_or_currency_is_refused_on_its_field(client, signed_in, tenant):
    before = organization(tenant)
    signed_in(Role.ADMIN)

    response = client.post("/settings/organization/", {
        "name": "", "default_currency": "EURO", "time_zone": "Mars/Olympus",
        "usage_window_days": "0"})

    assert response.status_code == 400
    page = page_text(response)
    for reason in ("Required: the organization's name.", "An ISO 4217 currency code, e.g. USD.",
                   "An IANA time zone, e.g. Europe/Berlin.",
                   "A whole number of days from 1 to 3650."):
        assert reason in page
    after = organization(tenant)
    assert (after.name, after.default_currency, after.time_zone, after.usage_window_days) == (
        before.name, before.default_currency, before.time_zone, before.usage_window_days)


def test_the_api_patches_the_organization_with_the_same_rules(tenant):
    api = tenant.client(Role.ADMIN)

    response = api.patch("/api/v1/organization", {"time_zone": "America/New_York",
                                                  "default_currency": "cad"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["time_zone"], response.json()["default_currency"]) == (
        "America/New_York", "CAD")

    bad = api.patch("/api/v1/organization", {"time_zone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {
        "time_zone": ["An IANA time zone, e.g. Europe/Berlin."]}
    assert bad.json()["error"]["codes"] == {"time_zone": ["invalid_time_zone"]}
    bad = api.patch("/api/v1/organization", {"default_currency": "XYZ1"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {
        "default_currency": ["An ISO 4217 currency code, e.g. USD."]}
    assert organization(tenant).time_zone == "America/New_York"


@pytest.mark.parametrize("role", [Role.FINANCE, Role.VIEWER])
def test_only_owners_and_admins_change_the_organization(client, signed_in, tenant, role):
    name = organization(tenant).name
    assert tenant.client(role).patch("/api/v1/organization", {"name": "Taken"},
                                     format="json").status_code == 403
    signed_in(role)
    assert 'action="/settings/organization/"' not in client.get("/settings/").content.decode()
    assert client.post("/settings/organization/", {"name": "Taken"}).status_code == 403
    assert organization(tenant).name == name


# --- The logo ------------------------------------------------------------------------------


def upload(client, name: str, content: bytes, content_type: str):
    return client.post("/invoices/settings/logo/", {
        "logo": SimpleUploadedFile(name, content, content_type=content_type)}, follow=True)


def test_a_png_logo_is_uploaded_shown_and_printed_on_invoices(client, signed_in, tenant):
    signed_in()
    page = client.get("/invoices/settings/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'data-testid="no-logo"' in page

    response = upload(client, "logo.png", PNG, "image/png")

    assert "Logo saved: invoices print it from now on." in page_text(response)
    assert logo(tenant) == PNG_URI
    assert f'src="{PNG_URI}"' in response.content.decode()  # the current logo, on the page
    scenario = Scenario(tenant)
    scenario.customer("acme")
    with tenant.context():
        customer = Customer.objects.for_organization(tenant.organization).get()
        invoice = services.invoice_create_one_off(
            organization=tenant.organization, customer=customer,
            lines=[{"description": "Workshop", "quantity": "1", "unit_price": "100.00"}])
        context = rendering.invoice_context(invoice)
        rendered = rendering.render_invoice_html(invoice)
    assert context["organization"]["logo_url"] == PNG_URI
    assert f'<img class="logo" src="{PNG_URI}"' in rendered


def test_the_logos_bytes_decide_never_its_name(client, signed_in, tenant):
    signed_in()

    renamed = upload(client, "logo.txt", PNG, "text/plain")  # a PNG, whatever its name says
    assert "Logo saved" in page_text(renamed)
    assert logo(tenant) == PNG_URI

    text = upload(client, "logo.png", b"Just some text, not a picture.\n", "image/png")
    assert NOT_AN_IMAGE in page_text(text)
    assert logo(tenant) == PNG_URI  # unchanged


def test_a_logo_over_200_kb_is_refused(client, signed_in, tenant):
    signed_in()
    big = PNG + b"\x00" * (300 * 1024)  # a PNG's first bytes, then 300 KB

    response = upload(client, "big.png", big, "image/png")

    assert "The image must be at most 200 KB." in page_text(response)
    assert logo(tenant) == ""


def test_the_logo_is_removed(client, signed_in, tenant):
    with tenant.context():
        services.invoice_settings_update(organization=tenant.organization, logo_url=PNG_URI)
    signed_in()
    assert 'data-testid="remove-logo"' in client.get("/invoices/settings/").content.decode()

    response = client.post("/invoices/settings/logo/", {"remove": "1"}, follow=True)

    assert "Logo removed" in page_text(response)
    assert logo(tenant) == ""


def test_saving_the_other_settings_keeps_the_logo(client, signed_in, tenant):
    with tenant.context():
        services.invoice_settings_update(organization=tenant.organization, logo_url=PNG_URI)
    signed_in()
    client.post("/invoices/settings/save/", {"number_prefix": "ACME", "grace_period_hours": "24"})
    with tenant.context():
        settings = InvoiceSettings.objects.for_organization(tenant.organization).get()
    assert (settings.number_prefix, settings.logo_url) == ("ACME", PNG_URI)


def test_the_api_is_held_to_the_same_image_rule(tenant):
    api = tenant.client()
    svg = "data:image/svg+xml;base64," + base64.b64encode(b"<svg></svg>").decode()
    response = api.patch("/api/v1/invoice-settings", {"logo_url": svg}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"logo_url": [NOT_AN_IMAGE]}
    declared_wrong = "data:image/jpeg;base64," + base64.b64encode(PNG).decode()
    response = api.patch("/api/v1/invoice-settings", {"logo_url": declared_wrong},
                         format="json")
    assert response.json()["logo_url"] == PNG_URI  # stored with the type its bytes say


# --- The payment gateway -------------------------------------------------------------------


def gateway_form(**fields) -> dict:
    return {"kind": "stripe", "mode": "test", "secret_key": SECRET,
            "publishable_key": "pk_test_51HxQ2bPublishable", "webhook_secret": "whsec_abc123def456",
            "retry_days": "1, 3, 5", **fields}


def stored_gateway(tenant) -> tuple[GatewayAccount, dict]:
    with tenant.context():
        account = GatewayAccount.objects.for_organization(tenant.organization).get()
    return account, decrypt_json(account.encrypted_credentials)


def test_an_admin_sets_the_gateway_and_its_secret_is_never_shown_in_full(
    client, signed_in, tenant
):
    signed_in(Role.ADMIN)
    assert 'href="/payments/settings/"' in client.get("/settings/").content.decode()
    assert "No gateway yet" in page_text(client.get("/payments/settings/"))

    response = client.post("/payments/settings/", gateway_form(), follow=True)

    page = response.content.decode()
    assert "Payment gateway saved: Stripe, test mode." in page_text(response)
    assert "sk_test_…4242" in page
    assert SECRET not in page and "whsec_abc123def456" not in page
    account, secrets = stored_gateway(tenant)
    assert (account.kind, account.mode, account.retry_days, secrets) == (
        "stripe", "test", [1, 3, 5],
        {"secret_key": SECRET, "webhook_secret": "whsec_abc123def456"})

    # empty secret fields keep the stored secrets
    client.post("/payments/settings/", gateway_form(secret_key="", webhook_secret="",
                                                    mode="live"))
    account, secrets = stored_gateway(tenant)
    assert (account.mode, secrets["secret_key"], secrets["webhook_secret"]) == (
        "live", SECRET, "whsec_abc123def456")


def test_stripe_without_a_secret_key_is_refused_on_its_field(client, signed_in, tenant):
    signed_in(Role.ADMIN)
    response = client.post("/payments/settings/", gateway_form(secret_key=""))
    assert response.status_code == 400
    assert "Stripe needs its secret key." in page_text(response)
    bad_days = client.post("/payments/settings/", gateway_form(retry_days="3, 1"))
    assert "Ascending whole days between 1 and 60, e.g. [1, 3, 5, 7]." in page_text(bad_days)
    with tenant.context():
        assert not GatewayAccount.objects.for_organization(tenant.organization).exists()


def test_the_connection_is_tested_from_the_page(client, signed_in, tenant):
    signed_in(Role.ADMIN)
    client.post("/payments/settings/", {"kind": "manual", "mode": "test", "retry_days": ""})

    response = client.post("/payments/settings/test/", follow=True)

    assert "Test connection: Manual gateway: payments are recorded by hand." in \
        page_text(response)


def test_finance_may_not_see_nor_set_the_gateway(client, signed_in, tenant):
    signed_in(Role.FINANCE)
    assert 'href="/payments/settings/"' not in client.get("/settings/").content.decode()
    assert client.get("/payments/settings/").status_code == 403
    assert client.post("/payments/settings/", gateway_form()).status_code == 403
    assert client.post("/payments/settings/test/").status_code == 403
    with tenant.context():
        assert not GatewayAccount.objects.for_organization(tenant.organization).exists()


# --- API keys ------------------------------------------------------------------------------


def test_a_new_api_key_is_a_viewer_unless_someone_picks_more(client, signed_in, tenant):
    signed_in(Role.ADMIN)
    page = client.get("/settings/").content.decode()
    [picker] = re.findall(r'<select name="role" aria-label="Role" data-testid="key-role">'
                          r"(.*?)</select>", page, re.S)
    assert re.findall(r"<option[^>]*selected[^>]*>(\w+)</option>", picker) == ["Viewer"]

    client.post("/settings/api-keys/", {"name": "CI", "role": "viewer"})
    with tenant.context():
        key = ApiKey.objects.for_organization(tenant.organization).get(name="CI")
    assert key.role == Role.VIEWER
