from datetime import datetime
from zoneinfo import ZoneInfo

from contracts import services
from contracts.models import Contract
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="contracts.renew_or_end_contracts", time_limit=600)
def renew_or_end_contracts(organization) -> int:
    """Renew or end every active contract of the organization whose end date has come (in
    the contract's own time zone). Safe to run any number of times."""
    changed = 0
    due = Contract.objects.for_organization(organization).filter(
        status=Contract.Status.ACTIVE, end_date__isnull=False
    )
    for contract in due:
        today = datetime.now(ZoneInfo(contract.time_zone)).date()
        if contract.end_date <= today:
            services.contract_renew_or_end(contract=contract, today=today)
            changed += 1
    return changed
