"""What the ledger tests read of the books: balances by account, the trial balance's zero, a
recognition run -- each under the tenant's context."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from revrec import recognition
from revrec.selectors import balances, trial_balance


def account_balances(tenant) -> dict[str, Decimal]:
    """{system key: debit - credit} of the accounts not at zero (a ledger of one currency)."""
    with tenant.context():
        return {key: value for (key, _), value in
                balances(organization=tenant.organization).items() if value}


def trial_balance_is_zero(tenant, as_at_commit=None) -> None:
    """Every currency's trial balance sums to zero (after the checks the database defers to
    commit, when ``as_at_commit`` is given)."""
    if as_at_commit is not None:
        as_at_commit()
    with tenant.context():
        rows = trial_balance(organization=tenant.organization)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.currency] += row.balance
    assert rows
    assert set(totals.values()) == {Decimal(0)}, dict(totals)


def recognize_through(tenant, through: date) -> recognition.RunResult:
    with tenant.context():
        return recognition.recognize(organization=tenant.organization, through=through)
