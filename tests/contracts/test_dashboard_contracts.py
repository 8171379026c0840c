"""Dashboard pages for customers, products and contracts, through Django's test client."""

import json
from datetime import date

import pytest

from contracts import services
from contracts.models import Contract, Customer, PriceItem, Product
from contracts.views import pricing_text
from tests.support.factories import ContractFactory, CustomerFactory, ProductFactory
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(tenant, catalog, document):
    with tenant.context():
        return services.contract_create(organization=tenant.organization, document=document)


@pytest.fixture
def foreign(other_tenant):
    """A customer, products and a draft contract of another organization, with the same
    external id and SKUs as this one's."""
    organization = other_tenant.organization
    customer = CustomerFactory(organization=organization, external_id="acme-42",
                               name="Globex Secret Customer")
    products = [ProductFactory(organization=organization, name=f"Globex {sku}", sku=sku)
                for sku in ("PLATFORM", "SEATS", "API")]
    contract = ContractFactory(customer=customer, name="Globex deal",
                               phase__items=[{"product": products[0]}])  # a draft
    return customer, contract


CUSTOMER_FORM = {
    "external_id": "initech-7", "name": "Initech", "emails": "ap@initech.test, cfo@initech.test",
    "currency": "EUR", "time_zone": "Europe/Paris", "payment_terms_days": "45",
    "address_line1": "1 Rue de la Paix", "city": "Paris", "postal_code": "75002",
    "country": "fr", "attributes": "segment=enterprise\nregion = emea",
}


# --- Customers --------------------------------------------------------------------------------


def test_a_new_customer_is_created_through_the_form(client, tenant, signed_in):
    signed_in()
    form = client.get("/customers/new/").content.decode()
    assert 'name="external_id"' in form
    assert 'value="USD"' in form  # the organization's currency by default

    response = client.post("/customers/new/", CUSTOMER_FORM, follow=True)

    with tenant.context():
        customer = Customer.objects.get(organization=tenant.organization, external_id="initech-7")
    assert response.redirect_chain[-1][0] == f"/customers/{customer.id}/"
    assert (customer.name, customer.currency, customer.country) == ("Initech", "EUR", "FR")
    assert customer.emails == ["ap@initech.test", "cfo@initech.test"]
    assert customer.payment_terms_days == 45
    assert customer.attributes == {"segment": "enterprise", "region": "emea"}
    page = response.content.decode()
    assert "Customer Initech created." in page
    assert "cfo@initech.test" in page
    assert "75002 Paris" in page
    assert "enterprise" in page
    assert 'href="/contracts/new/?customer=initech-7"' in page  # New contract, preselected


def test_a_duplicate_external_id_is_shown_next_to_the_field(client, tenant, catalog, signed_in):
    signed_in()
    response = client.post("/customers/new/", {**CUSTOMER_FORM, "external_id": "acme-42"})

    assert response.status_code == 200
    assert response.context["form"].errors["external_id"] == [
        "A customer with this external_id already exists."
    ]
    assert 'class="field-error">A customer with this external_id already exists.' in (
        response.content.decode()
    )
    with tenant.context():
        assert Customer.objects.filter(organization=tenant.organization).count() == 1


def test_a_bad_email_or_currency_is_reported_on_its_field(client, tenant, signed_in):
    signed_in()
    response = client.post("/customers/new/", {**CUSTOMER_FORM, "emails": "not-an-address"})
    assert response.context["form"].errors["emails"] == [
        "'not-an-address' is not an e-mail address."
    ]
    # The currency is checked by the service; its message lands on the field all the same.
    response = client.post("/customers/new/", {**CUSTOMER_FORM, "currency": "XXQ"})
    assert list(response.context["form"].errors) == ["currency"]
    with tenant.context():
        assert not Customer.objects.filter(external_id="initech-7").exists()


def test_the_customer_list_shows_only_the_organizations_customers(
    client, tenant, catalog, foreign, signed_in
):
    signed_in(Role.VIEWER)
    CustomerFactory(organization=tenant.organization, external_id="hooli", name="Hooli")
    page = client.get("/customers/").content.decode()
    assert "Acme Corp" in page
    assert "Hooli" in page
    assert "Globex Secret Customer" not in page

    found = client.get("/customers/", {"q": "hoo"}).content.decode()
    assert "Hooli" in found
    assert "Acme Corp" not in found


def test_the_customer_page_lists_its_contracts(client, catalog, contract, signed_in):
    signed_in(Role.VIEWER)
    customer, _ = catalog
    page = client.get(f"/customers/{customer.id}/").content.decode()
    assert "ap@acme.test" in page
    assert f'href="/contracts/{contract.id}/"' in page
    assert '<span class="badge status-draft">draft</span>' in page
    assert "New contract" not in page  # a viewer writes nothing


def test_another_organizations_objects_are_not_found(
    client, tenant, other_tenant, foreign, signed_in
):
    signed_in(Role.ADMIN)
    customer, contract = foreign
    assert client.get(f"/customers/{customer.id}/").status_code == 404
    assert client.get(f"/contracts/{contract.id}/").status_code == 404
    assert client.get(f"/contracts/{contract.id}/edit/").status_code == 404
    assert client.post(f"/contracts/{contract.id}/activate/").status_code == 404
    assert client.post(f"/contracts/{contract.id}/delete/").status_code == 404
    assert client.post(f"/contracts/{contract.id}/cancel/",
                       {"effective_date": "2026-06-01"}).status_code == 404
    assert "Globex deal" not in client.get("/contracts/").content.decode()
    assert "Globex PLATFORM" not in client.get("/products/").content.decode()
    with other_tenant.context():
        assert Contract.objects.get(id=contract.id).status == "draft"  # nothing happened


# --- Products ---------------------------------------------------------------------------------


def test_a_new_product_is_added_to_the_catalog(client, tenant, signed_in):
    signed_in()
    response = client.post("/products/new/", {
        "name": "Support plan", "sku": "SUPPORT", "kind": "recurring",
        "revenue_rule": "ratable", "standalone_selling_price": "250.00",
    }, follow=True)

    assert response.redirect_chain[-1][0] == "/products/"
    with tenant.context():
        product = Product.objects.get(organization=tenant.organization, sku="SUPPORT")
    assert product.standalone_selling_price == 250
    assert product.ssp_currency == "USD"
    page = response.content.decode()
    assert "Product Support plan (SUPPORT) created." in page
    assert "<code>SUPPORT</code>" in page
    assert "$250.00" in page


def test_a_duplicate_sku_is_refused(client, catalog, signed_in):
    signed_in()
    response = client.post("/products/new/", {
        "name": "Seats again", "sku": "SEATS", "kind": "recurring", "revenue_rule": "ratable",
    })
    assert response.context["form"].errors["sku"] == ["A product with this SKU already exists."]


# --- Contracts --------------------------------------------------------------------------------


def test_the_contract_list_filters_by_status(client, tenant, catalog, contract, signed_in):
    signed_in(Role.VIEWER)
    with tenant.context():
        other = services.contract_create(
            organization=tenant.organization,
            document={"customer": "acme-42", "name": "Pilot", "start_date": "2026-03-01",
                      "end_date": "2026-04-01", "phases": [{
                          "start_date": "2026-03-01", "end_date": "2026-04-01",
                          "items": [{"product": "PLATFORM", "model": "flat_fee",
                                     "pricing": {"amount": "10"}}]}]},
        )
        services.contract_activate(contract=other)

    everything = client.get("/contracts/").content.decode()
    assert "Acme platform agreement" in everything and "Pilot" in everything
    assert "MSA-2026-001" in everything
    drafts = client.get("/contracts/", {"status": "draft"}).content.decode()
    assert "Acme platform agreement" in drafts and "Pilot" not in drafts
    active = client.get("/contracts/", {"status": "active"}).content.decode()
    assert "Pilot" in active and "Acme platform agreement" not in active
    assert "No cancelled contracts." in client.get("/contracts/?status=cancelled").content.decode()


def test_the_contract_page_shows_phases_items_and_what_is_billed_when(
    client, contract, signed_in
):
    signed_in(Role.VIEWER)
    response = client.get(f"/contracts/{contract.id}/")
    page = response.content.decode()

    assert "Year 1" in page and "Year 2" in page
    assert "$1,000.00" in page and "$1,200.00" in page
    assert "$12.00 per unit x 25" in page
    assert "graduated: 0-100,000 free; then $0.002 up to 1,000,000; then $0.001" in page
    assert "10% off for 3 periods" in page
    assert "Launch credit: $100.00 off from 2026-01-01 until 2026-04-01" in page

    billing = response.context["billing"]
    assert billing[0]["on"] == date(2026, 1, 1)
    # Jan 1 2026, in advance: platform 1,000.00 + 25 seats x 12.00 = 1,300.00 (before discounts)
    assert billing[0]["total"] == "$1,300.00"
    assert billing[0]["has_usage"] is False
    # Feb 1: February in advance again, and January's API calls in arrears (not known yet)
    assert (billing[1]["on"], billing[1]["total"], billing[1]["has_usage"]) == (
        date(2026, 2, 1), "$1,300.00", True,
    )
    chart = json.loads(page.split('id="billing-chart-data" type="application/json">')[1]
                       .split("</script>")[0])
    assert chart[0] == {"date": "2026-01-01", "total": "1300.00"}
    assert "vendor/chart-4.6.1.umd.min.js" in page
    # A viewer sees no write buttons.
    assert "Activate" not in page and "/edit/" not in page


def test_a_viewer_may_not_write(client, tenant, contract, signed_in):
    signed_in(Role.VIEWER)
    assert client.get("/customers/new/").status_code == 403
    assert client.post("/customers/new/", CUSTOMER_FORM).status_code == 403
    assert client.post("/products/new/", {"name": "X", "sku": "X", "kind": "usage",
                                          "revenue_rule": "as_used"}).status_code == 403
    assert client.get("/contracts/new/").status_code == 403
    assert client.get(f"/contracts/{contract.id}/edit/").status_code == 403
    assert client.post(f"/contracts/{contract.id}/activate/").status_code == 403
    assert client.post(f"/contracts/{contract.id}/delete/").status_code == 403

    with tenant.context():
        assert not Customer.objects.filter(external_id="initech-7").exists()
        assert not Product.objects.filter(sku="X").exists()
        assert Contract.objects.get(id=contract.id).status == "draft"


def test_a_draft_is_activated_then_cancelled_from_its_page(client, tenant, contract, signed_in):
    signed_in()
    draft_page = client.get(f"/contracts/{contract.id}/").content.decode()
    assert f'action="/contracts/{contract.id}/activate/"' in draft_page
    assert f'href="/contracts/{contract.id}/edit/"' in draft_page

    activated = client.post(f"/contracts/{contract.id}/activate/", follow=True)
    assert "Acme platform agreement is active." in activated.content.decode()
    assert f'action="/contracts/{contract.id}/cancel/"' in activated.content.decode()
    with tenant.context():
        assert Contract.objects.get(id=contract.id).status == "active"

    too_early = client.post(f"/contracts/{contract.id}/cancel/",
                            {"effective_date": "2025-12-01"}, follow=True)
    assert "Must not be before the contract&#x27;s start_date." in too_early.content.decode()

    cancelled = client.post(f"/contracts/{contract.id}/cancel/",
                            {"effective_date": "2026-07-01"}, follow=True)
    assert "is cancelled from 2026-07-01." in cancelled.content.decode()
    with tenant.context():
        contract.refresh_from_db()
        phase_ends = list(contract.phases.values_list("end_date", flat=True))
    assert (contract.status, contract.end_date) == ("cancelled", date(2026, 7, 1))
    assert phase_ends == [date(2026, 7, 1)]  # Year 1 cut at the date, Year 2 gone


def test_a_draft_is_deleted_from_its_page(client, tenant, contract, signed_in):
    signed_in()
    response = client.post(f"/contracts/{contract.id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/contracts/"
    with tenant.context():
        assert not Contract.objects.filter(id=contract.id).exists()


def test_the_editor_offers_the_organizations_customers_and_products(
    client, catalog, contract, foreign, signed_in
):
    signed_in()
    response = client.get("/contracts/new/?customer=acme-42")
    config = response.context["config"]
    assert (config["method"], config["url"], config["customer"]) == (
        "POST", "/api/v1/contracts", "acme-42",
    )
    assert [c["name"] for c in config["customers"]] == ["Acme Corp"]
    assert sorted(p["sku"] for p in config["products"]) == ["API", "PLATFORM", "SEATS"]
    assert "js/contract-editor.js" in response.content.decode()

    edit = client.get(f"/contracts/{contract.id}/edit/").context["config"]
    assert (edit["method"], edit["url"]) == ("PUT", f"/api/v1/contracts/{contract.id}")
    assert [p["name"] for p in edit["document"]["phases"]] == ["Year 1", "Year 2"]


def test_an_active_contract_is_not_edited_directly(client, tenant, contract, signed_in):
    signed_in()
    with tenant.context():
        services.contract_activate(contract=contract)
    response = client.get(f"/contracts/{contract.id}/edit/", follow=True)
    assert response.redirect_chain[-1][0] == f"/contracts/{contract.id}/"
    assert "Only a draft contract is edited" in response.content.decode()


def test_the_navigation_and_home_tiles_lead_to_these_pages(client, signed_in):
    signed_in(Role.VIEWER)
    home = client.get("/").content.decode()
    for path in ("/customers/", "/contracts/", "/products/"):
        assert f'href="{path}"' in home
    page = client.get("/products/").content.decode()
    assert '<a href="/products/" class="active">Products</a>' in page


def test_an_amendment_is_listed_on_the_contract_page(client, tenant, contract, signed_in):
    signed_in(Role.VIEWER)
    with tenant.context():
        services.contract_activate(contract=contract)
        services.contract_amend(
            contract=contract, effective_date=date(2026, 7, 1), description="Upsell to 40 seats",
            phases=[{"name": "From July", "start_date": "2026-07-01", "end_date": "2028-01-01",
                     "items": [{"product": "SEATS", "model": "per_unit", "quantity": "40",
                                "pricing": {"unit_price": "12.00"}}]}],
        )
    page = client.get(f"/contracts/{contract.id}/").content.decode()
    assert "Upsell to 40 seats" in page
    assert "1 phase from then; ends 2028-01-01" in page
    assert "From July" in page


@pytest.mark.parametrize(
    ("model", "pricing", "extra", "text"),
    [
        ("flat_fee", {"amount": "1000.00"}, {}, "$1,000.00"),
        ("per_unit", {"unit_price": "0.0000125"}, {"meter_key": "api_calls"},
         "$0.0000125 per unit of api_calls"),
        ("per_unit", {"unit_price": "12", "included_units": "5"}, {"quantity": 25},
         "$12.00 per unit x 25 (5 included)"),
        ("package", {"package_size": "1000", "package_price": "5"}, {"meter_key": "sms"},
         "$5.00 per package of 1,000"),
        ("percentage", {"percent": "2.5"}, {"meter_key": "gmv"}, "2.5% of gmv"),
        ("volume", {"tiers": [{"up_to": "100", "unit_price": "10"},
                              {"up_to": None, "unit_price": "8", "flat_fee": "50"}]},
         {"quantity": 120}, "volume: 0-100 $10.00; then $8.00 + $50.00 flat x 120"),
        ("stair_step", {"tiers": [{"up_to": "10", "flat_fee": "100"},
                                  {"up_to": None, "flat_fee": "250"}]},
         {"quantity": 3}, "stair-step: 0-10 $100.00 flat; then $250.00 flat x 3"),
        ("prepaid_units", {"units": "10000", "price": "900", "overage_unit_price": "0.1"},
         {"meter_key": "calls"}, "10,000 units prepaid for $900.00; then $0.10 per unit"),
        ("minimum_commitment", {"amount": "5000"}, {}, "minimum $5,000.00 per period"),
        ("formula", {"formula": "quantity * 2"}, {}, "formula: quantity * 2"),
        ("matrix", {"dimensions": ["region", "plan"], "prices": []}, {},
         "matrix on region x plan"),
    ],
)
def test_each_pricing_model_reads_as_one_line(model, pricing, extra, text):
    assert pricing_text(PriceItem(model=model, pricing=pricing, **extra), "USD") == text
