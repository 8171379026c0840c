"""The writers of the invoicing settings and of the invoice template
(``invoice_settings_update``, ``invoice_template_save``, ``invoice_template_reset``): every rule
is theirs, so the API and the dashboard hold a value to the same ones."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from invoicing import services
from invoicing.models import InvoiceSettings, InvoiceTemplate
from tests.support.factories import InvoiceFactory
from tests.support.scenario import Scenario

pytestmark = pytest.mark.django_db


def _codes(error: ValidationError) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in error.error_dict.items()}


# --- Settings ----------------------------------------------------------------------------------


def test_settings_are_normalized_and_saved(tenant):
    with tenant.context():
        settings = services.invoice_settings_update(
            organization=tenant.organization, number_prefix=" bill-2 ", grace_period_hours=48,
            auto_send=False, footer="Bank: 1234\r\n", logo_url="data:image/png;base64,iVBORw0KGgo=",
            organization_id="ignored")  # not a setting: left alone

        stored = InvoiceSettings.objects.for_organization(tenant.organization).get()
    assert (stored.number_prefix, stored.grace_period_hours, stored.auto_send, stored.footer,
            stored.logo_url) == ("BILL-2", 48, False, "Bank: 1234", "data:image/png;base64,iVBORw0KGgo=")
    assert settings.pk == stored.pk


@pytest.mark.parametrize(("fields", "codes"), [
    ({"number_prefix": ""}, {"number_prefix": ["required"]}),
    ({"number_prefix": "A B"}, {"number_prefix": ["invalid_characters"]}),
    ({"number_prefix": "FACTÜRE"}, {"number_prefix": ["invalid_characters"]}),  # ASCII only
    ({"number_prefix": "A" * 21}, {"number_prefix": ["max_length"]}),
    ({"grace_period_hours": -1}, {"grace_period_hours": ["out_of_bounds"]}),
    ({"grace_period_hours": 87841}, {"grace_period_hours": ["out_of_bounds"]}),
    ({"auto_finalize": "yes"}, {"auto_finalize": ["invalid"]}),
    ({"footer": "x" * 2001}, {"footer": ["max_length"]}),
    ({"address": "1 Main St\x00"}, {"address": ["invalid_text"]}),
    ({"logo_url": "https://example.com/logo.png"}, {"logo_url": ["not_data_uri"]}),
])
def test_a_bad_setting_is_refused_and_nothing_changes(tenant, fields, codes):
    with tenant.context():
        before = services.invoice_settings(organization=tenant.organization).number_prefix
        with pytest.raises(ValidationError) as refused:
            services.invoice_settings_update(organization=tenant.organization,
                                             **{"grace_period_hours": 12, **fields})

        stored = InvoiceSettings.objects.for_organization(tenant.organization).get()
    assert _codes(refused.value) == codes
    assert (stored.number_prefix, stored.grace_period_hours) == (before, 24)


def test_the_api_and_the_form_save_through_the_service(tenant, client, signed_in):
    acme = Scenario(tenant)
    assert acme.patch_settings(number_prefix="api", grace_period_hours=6)["number_prefix"] == "API"

    signed_in()
    response = client.post("/invoices/settings/save/", {
        "number_prefix": " dash ", "grace_period_hours": "12", "auto_finalize": "on"})

    assert response.status_code == 302
    with tenant.context():
        stored = InvoiceSettings.objects.for_organization(tenant.organization).get()
    # the unticked box is a False the form sends
    assert (stored.number_prefix, stored.grace_period_hours, stored.auto_finalize,
            stored.auto_send) == ("DASH", 12, True, False)


# --- The invoice template ----------------------------------------------------------------------


@pytest.fixture
def invoice(tenant):
    return InvoiceFactory(customer__organization=tenant.organization)


def test_a_template_is_saved_then_updated_then_reset(tenant, invoice):
    with tenant.context():
        first = services.invoice_template_save(organization=tenant.organization,
                                               html="<p>{{ invoice.currency }}</p>\r\n",
                                               invoice=invoice)
        second = services.invoice_template_save(organization=tenant.organization,
                                                html="<p>v2</p>", css="p { color: red }")
        assert second.pk == first.pk  # the one in use, updated
        assert services.invoice_template_reset(organization=tenant.organization) == 1
        assert services.invoice_template_reset(organization=tenant.organization) == 0

        [stored] = InvoiceTemplate.objects.for_organization(tenant.organization)
    assert (stored.html, stored.css, stored.active) == ("<p>v2</p>", "p { color: red }", False)


@pytest.mark.parametrize(("html", "code", "line"), [
    ("  \n", "required", None),
    ("<p>\n{{ invoice.number }\n</p>", "template_syntax", 2),
    ("<p>ok</p>\n{{ ''.__class__.__mro__ }}", "template_render", 2),
])
def test_a_template_that_does_not_render_is_refused(tenant, invoice, html, code, line):
    with tenant.context():
        with pytest.raises(ValidationError) as refused:
            services.invoice_template_save(organization=tenant.organization, html=html,
                                           invoice=invoice)

        assert not InvoiceTemplate.objects.for_organization(tenant.organization).exists()
    assert _codes(refused.value) == {"html": [code]}
    if code != "required":
        assert isinstance(refused.value, services.TemplateRefused)
        assert refused.value.line == line
        assert refused.value.messages[0].startswith(f"Line {line}: ")
