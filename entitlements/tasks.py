"""Entitlements' schedule: notices for the usage just ingested, expiry of prepaid lots and the
counters' reconciliation. Each is safe to run twice (a notice is sent once per window, a lot
expires once, a reconciliation repairs to the same truth)."""

from __future__ import annotations

from entitlements import handlers, services
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="entitlements.evaluate_notices", time_limit=300)
def evaluate_notices(organization) -> dict:
    """Every minute: limit approaching / reached and balance exhausted, for the customers
    whose usage moved since the last run."""
    pairs = handlers.dirty_take(organization.id)
    return {"evaluated": services.notices_evaluate(organization=organization, pairs=pairs)}


@tenant_task(name="entitlements.expire_balances", time_limit=600)
def expire_balances(organization) -> dict:
    return {"expired": services.balances_expire(organization=organization)}


@tenant_task(name="entitlements.reconcile_counters", time_limit=3600)
def reconcile_counters(organization) -> dict:
    run = services.reconcile(organization=organization)
    return {"checked": run.counters_checked, "database_repaired": run.database_repaired,
            "cache_repaired": run.cache_repaired, "error": run.error}
