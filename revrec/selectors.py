"""The ledger's reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from revrec.models import Account, JournalLine
from zenskar.tenancy.models import Organization


@dataclass(frozen=True)
class TrialBalanceRow:
    account: Account
    currency: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Debit minus credit: positive for an asset or expense, negative for a liability
        or revenue."""
        return self.debit - self.credit


def trial_balance(*, organization: Organization, on: date | None = None) -> list[TrialBalanceRow]:
    """Every account's debits and credits per currency, of the entries effective ``on`` or
    before (all of them when None), by account code. Each currency's rows sum to zero."""
    lines = JournalLine.objects.for_organization(organization)
    if on is not None:
        lines = lines.filter(entry__effective_date__lte=on)
    sums = (lines.values("account", "entry__currency")
            .annotate(debit=Sum("debit"), credit=Sum("credit")))
    accounts = {a.id: a for a in Account.objects.for_organization(organization)}
    rows = [TrialBalanceRow(accounts[row["account"]], row["entry__currency"],
                            row["debit"] or Decimal(0), row["credit"] or Decimal(0))
            for row in sums]
    return sorted(rows, key=lambda r: (r.currency, r.account.code))


def balances(*, organization: Organization, on: date | None = None) -> dict[tuple[str, str], Decimal]:
    """``{(system key or code, currency): debit - credit}``: the trial balance as a map."""
    return {(row.account.system_key or row.account.code, row.currency): row.balance
            for row in trial_balance(organization=organization, on=on)}
