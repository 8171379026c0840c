"""The ledger's schedule: the daily recognition run. Safe to run twice (a day is recognized
once per schedule: a database constraint) and to miss days (the next run catches up)."""

from __future__ import annotations

from datetime import date, timedelta

from revrec import postings, recognition
from revrec.services import today
from zenskar.money import round_money
from zenskar.tenancy.tasks import tenant_task


@tenant_task(name="revrec.recognize_revenue", time_limit=3600)
def recognize_revenue(organization, through: str | None = None) -> dict:
    """Through yesterday in the organization's time zone (a day is recognized once it has
    ended), or ``through``: the usage of drafts whose period has ended is accrued, then every
    open schedule recognizes its days. Beat runs it hourly, so each organization's day is
    recognized soon after its own midnight; a run with nothing new to do writes nothing."""
    day = date.fromisoformat(through) if through else today(organization) - timedelta(days=1)
    accrued = postings.usage_accrue(organization=organization, through=day)
    result = recognition.recognize(organization=organization, through=day)
    return {"through": day.isoformat(), "accrued": accrued, "schedules": result.schedules,
            "recognitions": result.recognitions, "entries": result.entries,
            "amounts": {currency: str(round_money(amount, currency))
                        for currency, amount in result.amounts.items()},
            "failed": result.failed}
