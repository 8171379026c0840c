"""A product's page: edited (the product form, pre-filled, through ``product_update``),
archived (the contract editor no longer offers it; the list shows it muted, or alone behind
its tab) and restored."""

from __future__ import annotations

import html
import re

import pytest

from contracts.models import Product
from tests.support.scenario import Scenario
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

FORM = {"name": "Platform fee", "sku": "PLATFORM-2", "kind": "recurring",
        "revenue_rule": "ratable", "standalone_selling_price": "1200",
        "description": "The monthly platform fee."}


@pytest.fixture
def products(tenant):
    scenario = Scenario(tenant)
    return {sku: scenario.product(sku)["id"] for sku in ("PLATFORM", "SEATS")}


def product(tenant, product_id) -> Product:
    with tenant.context():
        return Product.objects.for_organization(tenant.organization).get(id=product_id)


def editor_skus(client) -> list[str]:
    response = client.get("/contracts/new/")
    return [p["sku"] for p in response.context["config"]["products"]]


def page_text(response) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


def test_a_product_is_edited_from_its_page(client, signed_in, tenant, products):
    signed_in()
    platform = products["PLATFORM"]
    page = client.get(f"/products/{platform}/").content.decode()
    assert f'href="/products/{platform}/edit/"' in page
    form = client.get(f"/products/{platform}/edit/").content.decode()
    assert 'name="sku" value="PLATFORM"' in form  # pre-filled

    response = client.post(f"/products/{platform}/edit/", FORM, follow=True)

    assert "Product Platform fee (PLATFORM-2) saved." in page_text(response)
    saved = product(tenant, platform)
    assert (saved.name, saved.sku, str(saved.standalone_selling_price), saved.ssp_currency,
            saved.description) == ("Platform fee", "PLATFORM-2", "1200.0000000000", "USD",
                                   "The monthly platform fee.")


def test_a_sku_another_product_has_is_refused_on_its_field(client, signed_in, tenant, products):
    signed_in()
    response = client.post(f"/products/{products['PLATFORM']}/edit/", {**FORM, "sku": "SEATS"})
    assert response.status_code == 200
    assert "A product with this SKU already exists." in page_text(response)
    assert product(tenant, products["PLATFORM"]).sku == "PLATFORM"


def test_an_archived_product_leaves_the_editor_and_comes_back_when_restored(
    client, signed_in, tenant, products
):
    signed_in()
    seats = products["SEATS"]
    assert editor_skus(client) == ["PLATFORM", "SEATS"]
    page = client.get(f"/products/{seats}/").content.decode()
    assert f'action="/products/{seats}/archive/" data-confirm="' in page

    archived = client.post(f"/products/{seats}/archive/", follow=True)

    assert "Product Seats archived" in page_text(archived)
    assert product(tenant, seats).active is False
    assert editor_skus(client) == ["PLATFORM"]
    listing = client.get("/products/").content.decode()
    rows = re.findall(r'<tr data-testid="product-row"( class="archived")?>.*?<code>(\S+)</code>',
                      listing, re.S)
    assert rows == [("", "PLATFORM"), (' class="archived"', "SEATS")]  # active first, muted
    only = client.get("/products/?archived=1").content.decode()
    assert "<code>SEATS</code>" in only and "<code>PLATFORM</code>" not in only

    restored = client.post(f"/products/{seats}/restore/", follow=True)

    assert "Product Seats restored" in page_text(restored)
    assert product(tenant, seats).active is True
    assert editor_skus(client) == ["PLATFORM", "SEATS"]


def test_a_viewer_changes_no_product(client, signed_in, tenant, products):
    signed_in(Role.VIEWER)
    platform = products["PLATFORM"]
    assert "/edit/" not in client.get(f"/products/{platform}/").content.decode()
    assert client.get(f"/products/{platform}/edit/").status_code == 403
    assert client.post(f"/products/{platform}/edit/", FORM).status_code == 403
    assert client.post(f"/products/{platform}/archive/").status_code == 403
    saved = product(tenant, platform)
    assert (saved.sku, saved.active) == ("PLATFORM", True)


def test_another_organizations_product_is_not_found(client, signed_in, other_tenant, tenant):
    theirs = Scenario(other_tenant).product("GLOBEX")["id"]
    signed_in()
    assert client.get(f"/products/{theirs}/edit/").status_code == 404
    assert client.post(f"/products/{theirs}/edit/", FORM).status_code == 404
    assert client.post(f"/products/{theirs}/archive/").status_code == 404
    with other_tenant.context():
        saved = Product.objects.for_organization(other_tenant.organization).get(id=theirs)
    assert (saved.sku, saved.active) == ("GLOBEX", True)
