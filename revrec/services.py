"""The ledger's writes: the chart of system accounts, posting an entry, reversing one.

Guarantees:
- an entry is posted in one transaction (the caller's, when there is one: a posting made by a
  domain-event handler commits or rolls back with the billing event behind it);
- once per (organization, source_type, source_id): posting the same source again returns the
  entry made the first time and writes nothing -- the database's unique constraint decides,
  not a check in Python, so two concurrent retries still make one entry;
- every amount is a ``Decimal`` (a float raises ``TypeError``), rounded half-up to the
  entry's currency's minor unit before it is written; lines of zero are left out; an entry of
  fewer than two lines, or whose debits differ from its credits, is refused here
  (``ValueError``) and, were this bypassed, by the database at commit;
- nothing posted is ever changed: ``entry_reverse`` posts the exact mirror of an entry
  (debits and credits swapped, same accounts and references), at most once per entry;
- the system accounts are seeded on first use (``accounts_ensure``), idempotently;
- nothing posts into a closed period: an entry dated on or before the lock date (the latest
  ``PeriodClose``) is posted on the first open day, and its memo says which day it belongs
  to.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction

from revrec.models import Account, JournalEntry, JournalLine, PeriodClose
from zenskar.core.dates import local_date
from zenskar.money import as_decimal, is_valid_currency, round_money
from zenskar.tenancy.models import Organization

Key = Account.SystemKey
Type = Account.Type

# The system chart: (key, code, name, type). Codes follow the usual numbering (1 assets,
# 2 liabilities, 4 revenue, 6 expenses); the tenant maps each to its own GL code.
SYSTEM_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    (Key.CASH, "1000", "Cash", Type.ASSET),
    (Key.ACCOUNTS_RECEIVABLE, "1100", "Accounts receivable", Type.ASSET),
    (Key.GATEWAY_RECEIVABLE, "1150", "Gateway receivable (clearing)", Type.ASSET),
    (Key.ALLOWANCE_FOR_DOUBTFUL_ACCOUNTS, "1190", "Allowance for doubtful accounts", Type.ASSET),
    (Key.UNBILLED_REVENUE, "1200", "Unbilled revenue (contract asset)", Type.ASSET),
    (Key.DEFERRED_REVENUE, "2100", "Deferred revenue (contract liability)", Type.LIABILITY),
    (Key.SALES_TAX_PAYABLE, "2200", "Sales tax payable", Type.LIABILITY),
    (Key.CUSTOMER_CREDIT, "2300", "Customer credit (wallet)", Type.LIABILITY),
    (Key.REFUNDS_PAYABLE, "2400", "Refunds payable", Type.LIABILITY),
    (Key.REVENUE, "4000", "Revenue", Type.REVENUE),
    (Key.BAD_DEBT_EXPENSE, "6100", "Bad-debt expense", Type.EXPENSE),
    (Key.GATEWAY_FEES, "6200", "Gateway fees", Type.EXPENSE),
)


@dataclass(frozen=True)
class Refs:
    """What a line is about, for drill-down: ids of rows of earlier apps."""

    invoice: uuid.UUID | None = None
    payment: uuid.UUID | None = None
    credit_note: uuid.UUID | None = None
    customer: uuid.UUID | None = None
    product: uuid.UUID | None = None


NO_REFS = Refs()


@dataclass(frozen=True)
class Posting:
    """One line to post: an account (a system key or an ``Account`` of the organization), its
    debit and its credit (one of them zero), what it is about, and a few words."""

    account: str | Account
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    refs: Refs = NO_REFS
    description: str = ""


PostingLike = Posting | tuple[str | Account, Decimal, Decimal, Refs | None]


def accounts_ensure(*, organization: Organization) -> dict[str, Account]:
    """The organization's system accounts by key, created when missing. Idempotent and safe
    under concurrency: a seed racing another leaves one account per key (the unique
    constraint), and both callers get it."""
    accounts = _system_accounts(organization)
    if len(accounts) < len(SYSTEM_ACCOUNTS):
        Account.objects.bulk_create(
            [Account(organization=organization, system_key=key, code=code, name=name, type=kind)
             for key, code, name, kind in SYSTEM_ACCOUNTS if key not in accounts],
            ignore_conflicts=True)
        accounts = _system_accounts(organization)
        missing = [key for key, *_ in SYSTEM_ACCOUNTS if key not in accounts]
        if missing:  # the code of a system account is taken by an account of the tenant's
            raise ValueError(f"Cannot seed the system accounts {missing}: their codes are taken.")
    return accounts


def _system_accounts(organization: Organization) -> dict[str, Account]:
    return {account.system_key: account
            for account in Account.objects.for_organization(organization).exclude(system_key="")}


def _line(posting: PostingLike) -> Posting:
    if isinstance(posting, Posting):
        return posting
    account, debit, credit, refs = posting
    return Posting(account, debit, credit, refs or NO_REFS)


def _resolved(organization: Organization, currency: str,
              postings: Iterable[PostingLike]) -> list[tuple[Account, Decimal, Decimal, Posting]]:
    accounts = accounts_ensure(organization=organization)
    resolved = []
    for posting in map(_line, postings):
        debit = round_money(as_decimal(posting.debit, field="debit"), currency)
        credit = round_money(as_decimal(posting.credit, field="credit"), currency)
        if debit < 0 or credit < 0 or (debit and credit):
            raise ValueError(f"A line is a debit or a credit, never negative nor both: "
                             f"{posting.account!r} Dr {debit} Cr {credit}.")
        if not debit and not credit:
            continue
        if isinstance(posting.account, Account):
            account = posting.account
            if account.organization_id != organization.id:
                raise ValueError(f"Account {account.code} is another organization's.")
        elif posting.account in accounts:
            account = accounts[posting.account]
        else:
            raise ValueError(f"No system account {posting.account!r}.")
        resolved.append((account, debit, credit, posting))
    return resolved


def entry_existing(*, organization: Organization, source_type: str,
                   source_id: str) -> JournalEntry | None:
    return JournalEntry.objects.for_organization(organization).filter(
        source_type=source_type, source_id=source_id).first()


def entry_post(*, organization: Organization, source_type: str, source_id: str | uuid.UUID,
               currency: str, effective_date: date, lines: Sequence[PostingLike],
               memo: str = "", reverses: JournalEntry | None = None) -> JournalEntry:
    """Post one balanced entry for the source event ``source_type`` / ``source_id``, or
    return the entry already posted for it (nothing written). ``lines``: ``Posting`` rows or
    ``(system key or Account, debit, credit, Refs | None)`` tuples, Decimal amounts rounded
    here to ``currency``; lines of zero are dropped. Raises ValueError for an unknown
    currency or account, a line with two sides or a negative one, fewer than two lines, or
    debits that differ from credits. Atomic (a savepoint inside the caller's transaction)."""
    source_id = str(source_id)
    existing = entry_existing(organization=organization, source_type=source_type,
                              source_id=source_id)
    if existing is not None:
        return existing
    if not is_valid_currency(currency):
        raise ValueError(f"Unknown currency {currency!r}.")
    resolved = _resolved(organization, currency, lines)
    debits = sum((debit for _, debit, _, _ in resolved), Decimal(0))
    credits = sum((credit for _, _, credit, _ in resolved), Decimal(0))
    if len(resolved) < 2:
        raise ValueError(f"An entry has at least two lines ({source_type} {source_id}).")
    if debits != credits:
        raise ValueError(f"Unbalanced entry {source_type} {source_id}: debits {debits} "
                         f"<> credits {credits} {currency}.")
    effective_date, memo = _into_open_period(organization, effective_date, memo)
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                organization=organization, source_type=source_type[:64],
                source_id=source_id[:200], currency=currency, effective_date=effective_date,
                memo=memo[:500], reverses=reverses)
            JournalLine.objects.bulk_create([
                JournalLine(organization=organization, entry=entry, account=account,
                            debit=debit, credit=credit, description=posting.description[:300],
                            invoice_id=posting.refs.invoice, payment_id=posting.refs.payment,
                            credit_note_id=posting.refs.credit_note,
                            customer_id=posting.refs.customer, product_id=posting.refs.product,
                            position=position)
                for position, (account, debit, credit, posting) in enumerate(resolved)])
    except IntegrityError:
        # Posted meanwhile by a concurrent retry of the same event: that entry is the one.
        existing = entry_existing(organization=organization, source_type=source_type,
                                  source_id=source_id)
        if existing is None:
            raise
        return existing
    return entry


def lock_date(organization: Organization) -> date | None:
    """The last day of the closed periods (the latest close), None when nothing is closed."""
    close = PeriodClose.objects.for_organization(organization).order_by("-created_at").first()
    return close.closed_through if close is not None else None


def _into_open_period(organization: Organization, effective_date: date,
                      memo: str) -> tuple[date, str]:
    """A day in a closed period moves to the first open day, and the memo says so."""
    locked = lock_date(organization)
    if locked is None or effective_date > locked:
        return effective_date, memo
    first_open = locked + timedelta(days=1)
    note = (f"(belongs to {effective_date.isoformat()}, in a closed period: posted on "
            f"{first_open.isoformat()}, the first open day)")
    return first_open, f"{memo} {note}".strip()


def entry_reverse(entry: JournalEntry, *, source_type: str, source_id: str | uuid.UUID,
                  effective_date: date | None = None, memo: str = "") -> JournalEntry:
    """Post the exact mirror of ``entry`` (each line's debit and credit swapped, the same
    accounts and references) for the source event that undoes it; ``effective_date``: today
    in the organization's time zone when omitted. Idempotent by the source; an entry is
    reversed once (a second reversal under another source raises ValueError)."""
    organization = entry.organization
    existing = entry_existing(organization=organization, source_type=source_type,
                              source_id=str(source_id))
    if existing is not None:
        return existing
    earlier = JournalEntry.objects.for_organization(organization).filter(reverses=entry).first()
    if earlier is not None:
        raise ValueError(f"Entry {entry.id} is already reversed by {earlier.source_type} "
                         f"{earlier.source_id}.")
    lines = JournalLine.objects.for_organization(organization).filter(
        entry=entry).select_related("account").order_by("position")
    return entry_post(
        organization=organization, source_type=source_type, source_id=source_id,
        currency=entry.currency, reverses=entry,
        effective_date=effective_date or today(organization),
        memo=memo or f"Reversal of {entry.source_type} {entry.source_id}",
        lines=[Posting(line.account, debit=line.credit, credit=line.debit,
                       description=line.description,
                       refs=Refs(invoice=line.invoice_id, payment=line.payment_id,
                                 credit_note=line.credit_note_id, customer=line.customer_id,
                                 product=line.product_id))
               for line in lines])


def today(organization: Organization, now: datetime | None = None) -> date:
    """The organization's calendar day now (its time zone)."""
    return local_date(organization.time_zone, now)
