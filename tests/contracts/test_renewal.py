from datetime import date

import pytest

from contracts import services
from contracts.models import Contract
from contracts.selectors import contract_document

pytestmark = pytest.mark.django_db


def _active(tenant, document):
    document["status"] = "active"
    with tenant.context():
        return services.contract_create(organization=tenant.organization, document=document)


def test_an_auto_renewing_contract_renews_for_its_term_on_its_end_date(tenant, catalog, document):
    contract = _active(tenant, document)  # 2026-01-01 .. 2028-01-01, renews for 12 months
    with tenant.context():
        services.contract_renew_or_end(contract=contract, today=date(2027, 12, 31))
        contract.refresh_from_db()
        assert contract.end_date == date(2028, 1, 1)  # not yet due

        services.contract_renew_or_end(contract=contract, today=date(2028, 1, 1))
        services.contract_renew_or_end(contract=contract, today=date(2028, 1, 1))  # idempotent
        contract.refresh_from_db()
        assert (contract.status, contract.end_date) == ("active", date(2029, 1, 1))
        phases = contract_document(contract=contract)["phases"]
        # the year-2 prices carry on into the renewal term
        assert (phases[-1]["start_date"], phases[-1]["end_date"]) == ("2027-01-01", "2029-01-01")
        assert phases[-1]["items"][0]["pricing"] == {"amount": "1200.00"}
        assert contract.amendments.get().effective_date == date(2028, 1, 1)


def test_a_contract_without_auto_renewal_ends(tenant, catalog, document):
    document["auto_renew"] = False
    contract = _active(tenant, document)
    with tenant.context():
        services.contract_renew_or_end(contract=contract, today=date(2028, 1, 5))
        assert Contract.objects.get(pk=contract.pk).status == "ended"
