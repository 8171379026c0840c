"""The contract page's schedule over a whole term (and an evergreen contract's next months),
and the amend page of an active contract, through Django's test client. The data are dated
from a fixed today: Monday 2026-06-15, noon UTC (8:00 in New York)."""

from datetime import UTC, date, datetime

import pytest

from contracts import selectors, services
from contracts.models import Contract
from tests.support.factories import ContractFactory, CustomerFactory, ProductFactory
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_today(clock):
    return clock.at(TODAY)


def _document(*, start, end, phases, cadence="monthly", name="Acme platform agreement"):
    return {"customer": "acme-42", "name": name, "start_date": start, "end_date": end,
            "cadence": cadence, "phases": phases}


def _flat(sku, amount):
    return {"product": sku, "model": "flat_fee", "timing": "advance",
            "pricing": {"amount": amount}}


@pytest.fixture
def two_years(tenant, catalog):
    """A two-year deal, monthly in advance: the platform at 1,000.00 a month in 2026, then
    1,200.00 a month in 2027."""
    with tenant.context():
        return services.contract_create(organization=tenant.organization, document=_document(
            start="2026-01-01", end="2028-01-01", phases=[
                {"name": "Year 1", "start_date": "2026-01-01", "end_date": "2027-01-01",
                 "items": [_flat("PLATFORM", "1000.00")]},
                {"name": "Year 2", "start_date": "2027-01-01", "end_date": "2028-01-01",
                 "items": [_flat("PLATFORM", "1200.00")]},
            ]))


# --- The schedule -----------------------------------------------------------------------------


def test_a_two_year_contracts_page_lists_every_billing_date_of_its_term(
    client, two_years, signed_in
):
    signed_in(Role.VIEWER)
    response = client.get(f"/contracts/{two_years.id}/")

    billing = response.context["billing"]
    # Monthly in advance from 2026-01-01 to 2028-01-01 (not covered): the 1st of each month,
    # 12 dates in 2026 and 12 in 2027 -- 24 in all, the last one on 2027-12-01.
    assert len(billing) == 24
    assert [entry["on"] for entry in billing[11:13]] == [date(2026, 12, 1), date(2027, 1, 1)]
    assert (billing[0]["on"], billing[0]["total"]) == (date(2026, 1, 1), "$1,000.00")
    assert (billing[-1]["on"], billing[-1]["total"]) == (date(2027, 12, 1), "$1,200.00")
    page = response.content.decode()
    assert page.count('data-testid="billing-date"') == 24
    assert "The whole term, 2026-01-01 → 2028-01-01." in page
    assert 'data-testid="schedule-more"' not in page
    assert 'data-testid="schedule-further"' not in page


def test_a_very_long_term_lists_its_first_120_dates_and_counts_the_rest(
    client, tenant, catalog, signed_in
):
    signed_in(Role.VIEWER)
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization, document=_document(
            start="2026-01-01", end="2041-01-01", phases=[
                {"start_date": "2026-01-01", "end_date": "2041-01-01",
                 "items": [_flat("PLATFORM", "100.00")]}]))

    response = client.get(f"/contracts/{contract.id}/")

    billing = response.context["billing"]
    # 15 years x 12 months = 180 dates; the first 120 run from 2026-01-01 to 2035-12-01.
    assert len(billing) == 120
    assert (billing[0]["on"], billing[-1]["on"]) == (date(2026, 1, 1), date(2035, 12, 1))
    assert "… and 60 more billing dates through 2041-01-01, not listed here." in (
        response.content.decode())


def test_an_evergreen_contract_shows_the_next_13_months_and_a_link_further(
    client, tenant, catalog, signed_in
):
    signed_in(Role.VIEWER)
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization, document=_document(
            start="2026-01-01", end=None, phases=[
                {"start_date": "2026-01-01", "end_date": None,
                 "items": [_flat("PLATFORM", "100.00")]}]))

    response = client.get(f"/contracts/{contract.id}/")

    billing = response.context["billing"]
    # Today is 2026-06-15 (in New York too): 13 months on is 2027-07-15. The 1st of each
    # month from 2026-01-01 to 2027-07-01: 12 dates in 2026 and 7 in 2027, 19 in all.
    assert len(billing) == 19
    assert billing[-1]["on"] == date(2027, 7, 1)
    page = response.content.decode()
    assert "From the start through 2027-07-15." in page
    assert 'href="?through=2028-07-15#billing-summary"' in page

    further = client.get(f"/contracts/{contract.id}/", {"through": "2028-07-15"})
    # 12 more months: 2027-08-01 to 2028-07-01, 31 dates in all
    assert len(further.context["billing"]) == 31
    assert further.context["billing"][-1]["on"] == date(2028, 7, 1)
    assert 'href="?through=2029-07-15#billing-summary"' in further.content.decode()

    # A through that is not a date shows the default view.
    assert len(client.get(f"/contracts/{contract.id}/",
                          {"through": "soon"}).context["billing"]) == 19


def test_a_five_year_schedule_prices_each_item_once_per_share(tenant, catalog, monkeypatch):
    """The page stays fast for a long term: 60 monthly dates of two fixed charges are priced
    from two estimates (every period is whole), not 120."""
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization, document=_document(
            start="2026-01-01", end="2031-01-01", phases=[
                {"start_date": "2026-01-01", "end_date": "2031-01-01", "items": [
                    _flat("PLATFORM", "1000.00"),
                    {"product": "SEATS", "model": "per_unit", "quantity": "25",
                     "pricing": {"unit_price": "12.00"}}]}]))
        calls = []
        estimate = selectors._estimate

        def counted(*args, **kwargs):
            calls.append(args[1].id)
            return estimate(*args, **kwargs)

        monkeypatch.setattr(selectors, "_estimate", counted)
        schedule = selectors.billing_schedule(contract=contract)

    assert len(schedule.dates) == 60
    assert len(calls) == 2
    # every date: 1,000.00 + 25 seats x 12.00 = 1,300.00
    assert {entry.known_total for entry in schedule.dates} == {1300}


def test_the_api_schedule_still_lists_the_next_twelve_dates(client, tenant, two_years,
                                                           signed_in):
    signed_in(Role.VIEWER)
    dates = client.get(f"/api/v1/contracts/{two_years.id}/schedule").json()["billing_dates"]
    assert [d["date"] for d in dates][::11] == ["2026-01-01", "2026-12-01"]
    assert len(dates) == 12


# --- Amending ---------------------------------------------------------------------------------


@pytest.fixture
def active(tenant, two_years):
    with tenant.context():
        return services.contract_activate(contract=two_years)


def test_an_active_contracts_page_offers_amend_to_writers_only(client, active, signed_in):
    signed_in(Role.VIEWER)
    assert f'href="/contracts/{active.id}/amend/"' not in (
        client.get(f"/contracts/{active.id}/").content.decode())
    assert client.get(f"/contracts/{active.id}/amend/").status_code == 403

    client.logout()
    signed_in(Role.FINANCE)
    assert f'href="/contracts/{active.id}/amend/"' in (
        client.get(f"/contracts/{active.id}/").content.decode())


def test_the_amend_page_starts_from_the_next_period_with_the_terms_in_force(
    client, active, signed_in
):
    signed_in()
    response = client.get(f"/contracts/{active.id}/amend/")

    assert response.status_code == 200
    config = response.context["config"]
    assert (config["mode"], config["method"], config["url"]) == (
        "amend", "POST", f"/api/v1/contracts/{active.id}/amendments")
    assert config["detailUrl"] == f"/contracts/{active.id}/"
    assert config["metersUrl"] == "/api/v1/meters"
    document = config["document"]
    # Today 2026-06-15; the next monthly period begins 2026-07-01. Year 1 is cut there, and
    # Year 2 is in force as it is. The phases are new rows: no ids.
    assert (document["effective_date"], document["end_date"]) == ("2026-07-01", "2028-01-01")
    assert [(p["name"], p["start_date"], p["end_date"]) for p in document["phases"]] == [
        ("Year 1", "2026-07-01", "2027-01-01"), ("Year 2", "2027-01-01", "2028-01-01")]
    assert "id" not in document["phases"][0]
    assert "id" not in document["phases"][0]["items"][0]
    assert document["phases"][0]["items"][0]["pricing"] == {"amount": "1000.00"}
    page = response.content.decode()
    assert "Save amendment" in page
    assert 'data-path="effective_date"' in page


def test_what_the_amend_page_sends_is_taken_by_the_api(client, tenant, active, signed_in):
    """The page's document, with the price changed, is an amendment the API takes as is."""
    signed_in()
    document = client.get(f"/contracts/{active.id}/amend/").context["config"]["document"]
    document["description"] = "New platform price"
    document["phases"][0]["items"][0]["pricing"]["amount"] = "1500.00"

    response = client.post(f"/api/v1/contracts/{active.id}/amendments", document,
                           content_type="application/json")

    assert response.status_code == 201, response.json()
    with tenant.context():
        contract = Contract.objects.get(id=active.id)
        phases = [(p.start_date, p.end_date, p.items.get().pricing["amount"])
                  for p in contract.phases.all()]
        amendment = contract.amendments.get()
    assert phases == [
        (date(2026, 1, 1), date(2026, 7, 1), "1000.00"),
        (date(2026, 7, 1), date(2027, 1, 1), "1500.00"),
        (date(2027, 1, 1), date(2028, 1, 1), "1200.00"),
    ]
    assert amendment.created_by.email == "finance@acme.test"


def test_a_draft_is_not_amended_but_edited(client, two_years, signed_in):
    signed_in()
    response = client.get(f"/contracts/{two_years.id}/amend/", follow=True)
    assert response.redirect_chain[-1][0] == f"/contracts/{two_years.id}/"
    assert "Only an active contract is amended; a draft is edited." in response.content.decode()


def test_another_organizations_contract_has_no_amend_page(
    client, tenant, other_tenant, signed_in
):
    signed_in()
    organization = other_tenant.organization
    customer = CustomerFactory(organization=organization, external_id="acme-42")
    product = ProductFactory(organization=organization, sku="PLATFORM")
    contract = ContractFactory(customer=customer, status="active",
                               phase__items=[{"product": product}])
    assert client.get(f"/contracts/{contract.id}/amend/").status_code == 404
    with other_tenant.context():
        assert not Contract.objects.get(id=contract.id).amendments.exists()


def test_a_one_time_contract_is_amended_from_today(
    tenant, catalog
):
    """A one-time contract has no next period: the amendment starts today (in its zone)."""
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization, document=_document(
            start="2026-01-01", end="2027-01-01", cadence="one_time", phases=[
                {"start_date": "2026-01-01", "end_date": "2027-01-01",
                 "items": [_flat("PLATFORM", "100.00")]}]))
        assert selectors.amendment_start(contract=contract) == date(2026, 6, 15)
