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

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from revrec.models import Account, JournalEntry, JournalLine, PeriodClose
from zenskar import bounds
from zenskar.core.dates import local_date
from zenskar.core.ids import uuid7
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
        taken = set(Account.objects.for_organization(organization).values_list("code",
                                                                                flat=True))
        Account.objects.bulk_create(
            [Account(organization=organization, system_key=key, code=_free_code(code, taken),
                     name=name, type=kind)
             for key, code, name, kind in SYSTEM_ACCOUNTS if key not in accounts],
            ignore_conflicts=True)
        accounts = _system_accounts(organization)
        missing = [key for key, *_ in SYSTEM_ACCOUNTS if key not in accounts]
        if missing:  # a code taken meanwhile by a concurrent account: the next call seeds it
            raise ValueError(f"Could not seed the system accounts {missing}; try again.")
    return accounts


def _free_code(code: str, taken: set[str]) -> str:
    """``code``, or -- taken by an account of the tenant's -- ``code-S``, ``code-S2``, ..."""
    candidate, n = code, 1
    while candidate in taken:
        candidate = f"{code}-S{n if n > 1 else ''}"
        n += 1
    taken.add(candidate)
    return candidate


ACCOUNT_FIELDS = ("code", "name", "type", "gl_code", "active")


def _account_errors(organization: Organization, values: dict[str, object],
                    account: Account | None) -> dict[str, list[ValidationError]]:
    errors: dict[str, list[ValidationError]] = {}

    def text(name: str, limit: int, *, required: bool) -> None:
        if name not in values:
            return
        value = values[name]
        if not isinstance(value, str) or (required and not value.strip()) \
                or len(value) > limit or bounds.text_problem(value):
            errors[name] = [ValidationError(
                f"{'1' if required else '0'} to {limit} characters of text.",
                code="invalid")]
        else:
            values[name] = value.strip()

    text("code", 20, required=True)
    text("name", 200, required=True)
    text("gl_code", 100, required=False)
    if "type" in values and values["type"] not in Account.Type.values:
        errors["type"] = [ValidationError(f"One of {', '.join(Account.Type.values)}.",
                                          code="invalid_choice")]
    if "active" in values and not isinstance(values["active"], bool):
        errors["active"] = [ValidationError("true or false.", code="invalid")]
    if account is not None and account.system_key:
        for name in ("type", "active"):
            if name in values and values[name] != getattr(account, name):
                errors[name] = [ValidationError(
                    "A system account's type and state are fixed: postings need it.",
                    code="system_account")]
    if "code" in values and "code" not in errors:
        clash = Account.objects.for_organization(organization).filter(code=values["code"])
        if account is not None:
            clash = clash.exclude(id=account.id)
        if clash.exists():
            errors["code"] = [ValidationError("Another account has this code.",
                                              code="duplicate")]
    return errors


@transaction.atomic
def account_create(*, organization: Organization, code: str, name: str, type: str,
                   gl_code: str = "") -> Account:
    """An account of the tenant's own (never a system account). Every rule is checked here;
    a ValidationError names the field."""
    accounts_ensure(organization=organization)
    values: dict[str, object] = {"code": code, "name": name, "type": type, "gl_code": gl_code}
    errors = _account_errors(organization, values, None)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return Account.objects.create(organization=organization, **values)
    except IntegrityError:
        raise ValidationError({"code": [ValidationError("Another account has this code.",
                                                        code="duplicate")]}) from None


@transaction.atomic
def account_update(*, account: Account, **changes: object) -> Account:
    """Change an account's ``code``, ``name``, ``gl_code`` (the tenant's general-ledger code,
    used by the export) or ``active``; a system account keeps its type and stays active.
    Unknown fields are refused; a ValidationError names the field."""
    unknown = sorted(set(changes) - set(ACCOUNT_FIELDS))
    if unknown:
        raise ValidationError({name: [ValidationError("Not a field of an account.",
                                                      code="unknown_field")]
                               for name in unknown})
    values = dict(changes)
    errors = _account_errors(account.organization, values, account)
    if errors:
        raise ValidationError(errors)
    for name, value in values.items():
        setattr(account, name, value)
    try:
        with transaction.atomic():
            account.save(update_fields=[*values, "updated_at"])
    except IntegrityError:
        raise ValidationError({"code": [ValidationError("Another account has this code.",
                                                        code="duplicate")]}) from None
    return account


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
            _lines_insert(organization, entry, resolved)
    except IntegrityError:
        # Posted meanwhile by a concurrent retry of the same event: that entry is the one.
        existing = entry_existing(organization=organization, source_type=source_type,
                                  source_id=source_id)
        if existing is None:
            raise
        return existing
    return entry


BULK_FROM = 200  # lines: from this many on, one INSERT of arrays instead of model rows
LINE_COLUMNS = ("id", "organization_id", "created_at", "entry_id", "account_id", "debit",
                "credit", "description", "position", "invoice_id", "payment_id",
                "credit_note_id", "customer_id", "product_id")


def _lines_insert(organization: Organization, entry: JournalEntry,
                  resolved: list[tuple[Account, Decimal, Decimal, Posting]]) -> None:
    """The entry's lines. A large entry (a recognition run's) goes in as one INSERT of
    arrays (COPY is refused under row-level security): the same rows, constraints and
    triggers, without building a model object per line."""
    if len(resolved) < BULK_FROM:
        JournalLine.objects.bulk_create([
            JournalLine(organization=organization, entry=entry, account=account,
                        debit=debit, credit=credit, description=posting.description[:300],
                        invoice_id=posting.refs.invoice, payment_id=posting.refs.payment,
                        credit_note_id=posting.refs.credit_note,
                        customer_id=posting.refs.customer, product_id=posting.refs.product,
                        position=position)
            for position, (account, debit, credit, posting) in enumerate(resolved)])
        return
    now = timezone.now()
    table = JournalLine._meta.db_table
    columns = list(zip(*[
        (uuid7(), organization.id, now, entry.id, account.id, debit, credit,
         posting.description[:300], position, posting.refs.invoice, posting.refs.payment,
         posting.refs.credit_note, posting.refs.customer, posting.refs.product)
        for position, (account, debit, credit, posting) in enumerate(resolved)], strict=True))
    types = ("uuid", "uuid", "timestamptz", "uuid", "uuid", "numeric", "numeric", "text",
             "smallint", "uuid", "uuid", "uuid", "uuid", "uuid")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(LINE_COLUMNS)}) "  # noqa: S608 - our table
            f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)})",
            [list(column) for column in columns])


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
