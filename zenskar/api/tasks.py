from zenskar.api import idempotency
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="api.purge_expired_idempotency_keys", time_limit=300)
def purge_expired_idempotency_keys(organization) -> int:
    return idempotency.purge_expired(organization=organization)
