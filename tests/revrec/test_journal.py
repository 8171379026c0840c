"""The ledger core: the system chart, posting an entry once per source, reversing it."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from revrec.models import Account, JournalEntry, JournalLine
from revrec.selectors import balances
from revrec.services import (
    SYSTEM_ACCOUNTS,
    Posting,
    Refs,
    accounts_ensure,
    entry_post,
    entry_reverse,
)

pytestmark = pytest.mark.django_db

Key = Account.SystemKey
JAN_5 = date(2026, 1, 5)


def _post(organization, source_id="inv-1", currency="USD", lines=None, **fields):
    return entry_post(organization=organization, source_type="test.event", source_id=source_id,
                      currency=currency, effective_date=JAN_5,
                      lines=lines or [(Key.ACCOUNTS_RECEIVABLE, Decimal("100.00"), 0, None),
                                      (Key.REVENUE, 0, Decimal("100.00"), None)],
                      **fields)


def _sides(entry):
    return [(line.account.system_key, line.debit, line.credit)
            for line in JournalLine.objects.for_organization(entry.organization_id)
            .filter(entry=entry).select_related("account").order_by("debit", "credit")]


def test_the_system_chart_is_seeded_once_per_organization(tenant, other_tenant):
    organization = tenant.organization
    with tenant.context():
        first = accounts_ensure(organization=organization)
        again = accounts_ensure(organization=organization)
        assert set(first) == {key for key, *_ in SYSTEM_ACCOUNTS} == set(Key.values)
        assert {k: a.id for k, a in first.items()} == {k: a.id for k, a in again.items()}
        assert Account.objects.for_organization(organization).count() == 12
        receivable = first[Key.ACCOUNTS_RECEIVABLE]
        assert (receivable.code, receivable.name, receivable.type) == (
            "1100", "Accounts receivable", "asset")
        assert first[Key.DEFERRED_REVENUE].type == "liability"
    with other_tenant.context():
        theirs = accounts_ensure(organization=other_tenant.organization)
        assert theirs[Key.CASH].id != first[Key.CASH].id


def test_an_entry_is_posted_rounded_to_the_currency_and_balanced(tenant, as_at_commit):
    organization = tenant.organization
    invoice_id = uuid.uuid4()
    with tenant.context():
        entry = _post(organization, lines=[
            Posting(Key.ACCOUNTS_RECEIVABLE, debit=Decimal("100.004"),
                    refs=Refs(invoice=invoice_id)),
            Posting(Key.REVENUE, credit=Decimal("100.00")),
            Posting(Key.SALES_TAX_PAYABLE, credit=Decimal("0")),  # a line of zero is left out
        ], memo="January")
        as_at_commit()
        # 100.004 USD rounds half-up to 100.00: the entry balances at the currency's cents
        assert _sides(entry) == [(Key.REVENUE, Decimal("0"), Decimal("100.00")),
                                 (Key.ACCOUNTS_RECEIVABLE, Decimal("100.00"), Decimal("0"))]
        assert (entry.currency, entry.effective_date, entry.memo) == ("USD", JAN_5, "January")
        receivable = JournalLine.objects.for_organization(organization).get(
            entry=entry, debit__gt=0)
        assert receivable.invoice_id == invoice_id


def test_posting_the_same_source_again_returns_the_first_entry(tenant):
    organization = tenant.organization
    with tenant.context():
        first = _post(organization)
        again = _post(organization, lines=[(Key.CASH, Decimal("5"), 0, None),
                                           (Key.REVENUE, 0, Decimal("5"), None)])
        assert again.id == first.id
        assert JournalEntry.objects.for_organization(organization).count() == 1
        assert JournalLine.objects.for_organization(organization).count() == 2


@pytest.mark.parametrize(("lines", "message"), [
    ([(Key.CASH, Decimal("10.00"), 0, None), (Key.REVENUE, 0, Decimal("9.99"), None)],
     "Unbalanced"),
    ([(Key.CASH, Decimal("10.00"), Decimal("10.00"), None),
      (Key.REVENUE, 0, Decimal("0"), None)], "never negative nor both"),
    ([(Key.CASH, Decimal("-10.00"), 0, None), (Key.REVENUE, Decimal("-10.00"), 0, None)],
     "never negative nor both"),
    ([(Key.CASH, Decimal("10.00"), 0, None)], "at least two lines"),
    ([(Key.CASH, Decimal("10.00"), 0, None), ("nope", 0, Decimal("10.00"), None)],
     "No system account"),
])
def test_a_wrong_entry_is_refused_before_anything_is_written(tenant, lines, message):
    with tenant.context():
        with pytest.raises(ValueError, match=message):
            _post(tenant.organization, lines=lines)
        assert not JournalEntry.objects.for_organization(tenant.organization).exists()


def test_a_float_is_refused(tenant):
    with tenant.context(), pytest.raises(TypeError, match="float"):
        _post(tenant.organization, lines=[(Key.CASH, 0.1, 0, None),
                                          (Key.REVENUE, 0, Decimal("0.1"), None)])


def test_amounts_take_the_currencys_own_digits(tenant):
    with tenant.context():
        # JPY has no minor unit: 1000.5 rounds half-up to 1001
        yen = _post(tenant.organization, source_id="jpy", currency="JPY", lines=[
            (Key.CASH, Decimal("1000.5"), 0, None), (Key.REVENUE, 0, Decimal("1001"), None)])
        # KWD has three: 12.3455 rounds to 12.346
        dinar = _post(tenant.organization, source_id="kwd", currency="KWD", lines=[
            (Key.CASH, Decimal("12.3455"), 0, None), (Key.REVENUE, 0, Decimal("12.346"), None)])
        assert [s[1] for s in _sides(yen) if s[1]] == [Decimal("1001")]
        assert [s[1] for s in _sides(dinar) if s[1]] == [Decimal("12.346")]
        # amounts of two currencies are never added
        assert balances(organization=tenant.organization) == {
            (Key.CASH, "JPY"): Decimal("1001"), (Key.REVENUE, "JPY"): Decimal("-1001"),
            (Key.CASH, "KWD"): Decimal("12.346"), (Key.REVENUE, "KWD"): Decimal("-12.346")}


def test_another_organizations_account_is_refused(tenant, other_tenant):
    with other_tenant.context():
        theirs = accounts_ensure(organization=other_tenant.organization)[Key.CASH]
    with tenant.context(), pytest.raises(ValueError, match="another organization"):
        _post(tenant.organization, lines=[(theirs, Decimal("1"), 0, None),
                                          (Key.REVENUE, 0, Decimal("1"), None)])


def test_a_reversal_mirrors_the_entry_once(tenant, as_at_commit):
    organization = tenant.organization
    with tenant.context():
        entry = _post(organization)
        reversal = entry_reverse(entry, source_type="test.undone", source_id="inv-1",
                                 effective_date=date(2026, 2, 1))
        again = entry_reverse(entry, source_type="test.undone", source_id="inv-1")
        as_at_commit()
        assert again.id == reversal.id
        assert reversal.reverses_id == entry.id
        assert reversal.effective_date == date(2026, 2, 1)
        assert _sides(reversal) == [(Key.ACCOUNTS_RECEIVABLE, Decimal("0"), Decimal("100.00")),
                                    (Key.REVENUE, Decimal("100.00"), Decimal("0"))]
        with pytest.raises(ValueError, match="already reversed"):
            entry_reverse(entry, source_type="test.undone-twice", source_id="inv-1")
        # 100 - 100 on each account: nothing left
        assert set(balances(organization=organization).values()) == {Decimal(0)}
