"""The Webhooks pages (Settings → Webhooks) through the test client: the same services and
refusals as the API, writes for owners and admins, the secret for them only, another
organization's endpoint not found."""

from __future__ import annotations

import pytest

from tests.support.webhooks import endpoint
from zenskar.tenancy.models import Role
from zenskar.webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def test_the_settings_page_links_to_the_webhooks_page(client, signed_in):
    signed_in(Role.VIEWER)
    html = client.get("/settings/").content.decode()
    assert 'href="/settings/webhooks/"' in html


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(client, signed_in, tenant,
                                                           receiver):
    signed_in(Role.ADMIN)
    response = client.post("/settings/webhooks/", {
        "url": receiver.url, "description": "Sync",
        "event_types": ["invoice.finalized", "credit.granted"]})
    with tenant.context():
        row = Endpoint.objects.for_organization(tenant.organization).get()
    assert response.status_code == 302 and response.url == f"/settings/webhooks/{row.id}/"
    assert (row.url, row.description, row.event_types) == (
        receiver.url, "Sync", ["invoice.finalized", "credit.granted"])
    first = client.get(response.url).content.decode()
    again = client.get(response.url).content.decode()
    assert 'data-testid="secret-value"' in first
    assert 'data-testid="secret-value"' not in again  # then behind "Reveal"
    revealed = client.post(f"/settings/webhooks/{row.id}/reveal/").content.decode()
    assert 'data-testid="secret-value">whsec_' in revealed


def test_the_services_refusal_lands_on_its_field(client, signed_in, tenant, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    signed_in(Role.ADMIN)
    response = client.post("/settings/webhooks/", {"url": "http://127.0.0.1:8000/hooks"})
    assert response.status_code == 400
    assert response.context["form"].errors["url"] == [
        "The host '127.0.0.1' resolves to 127.0.0.1, which is not a public address."]
    with tenant.context():
        assert not Endpoint.objects.for_organization(tenant.organization).exists()


def test_a_viewer_reads_but_neither_changes_nor_sees_the_secret(client, signed_in, tenant,
                                                                receiver):
    hook = endpoint(tenant, receiver.url)
    signed_in(Role.VIEWER)
    page = client.get(f"/settings/webhooks/{hook['id']}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert receiver.url in html and "whsec_" not in html
    assert 'data-testid="endpoint-form"' not in html and 'data-testid="reveal"' not in html
    for action in ("reveal", "toggle", "rotate", "test", "delete"):
        assert client.post(f"/settings/webhooks/{hook['id']}/{action}/").status_code == 403
    assert client.post("/settings/webhooks/", {"url": receiver.url}).status_code == 403
    with tenant.context():
        assert Endpoint.objects.for_organization(tenant.organization).get().enabled


def test_the_log_filters_by_status(client, signed_in, tenant, receiver, scenario):
    from tests.support.webhooks import dispatch_and_send

    hook = endpoint(tenant, receiver.url)
    scenario.customer("acme")
    scenario.post("invoices", {"customer": "acme", "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "10.00"}]})
    dispatch_and_send(tenant)
    signed_in(Role.FINANCE)
    succeeded = client.get(f"/settings/webhooks/{hook['id']}/", {"status": "succeeded"})
    failed = client.get(f"/settings/webhooks/{hook['id']}/", {"status": "failed"})
    assert [d.event_type for d in succeeded.context["page"]] == ["invoice.created"]
    assert list(failed.context["page"]) == []
    [delivery] = succeeded.context["page"]
    detail = client.get(f"/settings/webhooks/deliveries/{delivery.id}/").content.decode()
    assert "invoice.created" in detail and 'data-testid="attempt-row"' in detail


def test_another_organizations_endpoint_is_not_found(client, signed_in, other_tenant,
                                                    receiver):
    theirs = endpoint(other_tenant, receiver.url)
    signed_in(Role.ADMIN)
    assert client.get(f"/settings/webhooks/{theirs['id']}/").status_code == 404
    assert client.post(f"/settings/webhooks/{theirs['id']}/toggle/").status_code == 404
    assert client.post(f"/settings/webhooks/{theirs['id']}/delete/").status_code == 404
    with other_tenant.context():
        assert Endpoint.objects.for_organization(other_tenant.organization).get().enabled
