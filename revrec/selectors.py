"""The ledger's reads: the trial balance, an account's balance month by month, the revenue
reports (recognized revenue by month, the deferred revenue waterfall, unbilled revenue, billed
vs recognized vs collected), the journal explorer with its drill-down links, and the journal
export for a general ledger.

Every figure is of one currency: two currencies are never added. Every query starts at
``for_organization``. A range ``[start, end]`` is of days, both included; months are the
calendar months of the entries' effective dates. Balances are debit - credit (positive for an
asset or an expense); a revenue figure is credit - debit (revenue earned is positive).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.urls import reverse

from contracts.models import Customer, Product
from invoicing.models import CreditNote, Invoice
from payments.models import Payment
from revrec import postings
from revrec.models import Account, JournalEntry, JournalLine, RevenueSchedule
from revrec.recognition import ratable_cumulative
from zenskar.tenancy.models import Organization

Key = Account.SystemKey
ZERO = Decimal(0)
MAX_MONTHS = 120  # a monthly report spans at most ten years
MAX_WATERFALL_MONTHS = 36
MAX_EXPORT_LINES = 100_000
# The accounts the summary shows, in this order.
MAIN_ACCOUNTS = (Key.ACCOUNTS_RECEIVABLE, Key.UNBILLED_REVENUE, Key.CASH,
                 Key.GATEWAY_RECEIVABLE, Key.DEFERRED_REVENUE, Key.SALES_TAX_PAYABLE,
                 Key.CUSTOMER_CREDIT, Key.REVENUE)
NO_PRODUCT = "No product"
NO_CUSTOMER = "No customer"


# --- Months -----------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months_between(start: date, end: date) -> list[date]:
    """The first day of each month from ``start``'s through ``end``'s."""
    months, cursor = [], month_start(start)
    while cursor <= end:
        months.append(cursor)
        cursor = next_month(cursor)
    return months


def month_count(start: date, end: date) -> int:
    """How many calendar months ``[start, end]`` touches."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after (before, when negative) ``first``'s."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def last_months(end: date, months: int = 12) -> tuple[date, date]:
    """The ``months`` calendar months that end with ``end``'s: their first and last days."""
    return add_months(end, 1 - months), next_month(end) - timedelta(days=1)


# --- The trial balance ------------------------------------------------------------------------


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


def ledger_currencies(*, organization: Organization) -> list[str]:
    """The currencies the organization's ledger has entries in, alphabetically."""
    return list(JournalEntry.objects.for_organization(organization).order_by("currency")
                .values_list("currency", flat=True).distinct())


def report_currency(*, organization: Organization, currency: str | None = None) -> str:
    """The currency a report is in: ``currency`` when given; else the organization's default
    currency when the ledger has entries in it (or none at all); else the ledger's first."""
    if currency:
        return currency
    found = ledger_currencies(organization=organization)
    if not found or organization.default_currency in found:
        return organization.default_currency
    return found[0]


@dataclass(frozen=True)
class SummaryRow:
    currency: str
    key: str
    account: Account
    balance: Decimal  # debit - credit


def ledger_summary(*, organization: Organization,
                   on: date | None = None) -> list[SummaryRow]:
    """The main system accounts' balances per currency (``MAIN_ACCOUNTS``), of the entries
    effective ``on`` or before; an account with no line in a currency is shown as zero."""
    rows = trial_balance(organization=organization, on=on)
    by_key = {(row.account.system_key, row.currency): row.balance for row in rows}
    accounts = {a.system_key: a for a in Account.objects.for_organization(organization)
                .filter(system_key__in=MAIN_ACCOUNTS)}
    currencies = sorted({row.currency for row in rows})
    return [SummaryRow(currency, key, accounts[key], by_key.get((key, currency), ZERO))
            for currency in currencies for key in MAIN_ACCOUNTS if key in accounts]


# --- An account over time ---------------------------------------------------------------------


@dataclass(frozen=True)
class BalancePoint:
    """One month of an account in one currency: the month's debits and credits, and the
    closing balance (debit - credit of every entry through ``on``, the month's last day or
    the range's end)."""

    month: date
    on: date
    debit: Decimal
    credit: Decimal
    balance: Decimal


def account_balances(*, organization: Organization, account: Account, start: date,
                     end: date) -> dict[str, list[BalancePoint]]:
    """``{currency: [one point per month of [start, end]]}``, for each currency the account
    has a line in on or before ``end``. The first month's movements count from ``start``;
    its opening balance is every line before ``start``."""
    lines = JournalLine.objects.for_organization(organization).filter(
        account=account, entry__effective_date__lte=end).order_by()
    opening = {row["entry__currency"]: (row["debit"] or ZERO) - (row["credit"] or ZERO)
               for row in lines.filter(entry__effective_date__lt=start)
               .values("entry__currency").annotate(debit=Sum("debit"), credit=Sum("credit"))}
    moves: dict[tuple[str, date], tuple[Decimal, Decimal]] = {
        (row["entry__currency"], row["month"]): (row["debit"] or ZERO, row["credit"] or ZERO)
        for row in lines.filter(entry__effective_date__gte=start)
        .annotate(month=TruncMonth("entry__effective_date"))
        .values("entry__currency", "month").annotate(debit=Sum("debit"), credit=Sum("credit"))}
    currencies = sorted(set(opening) | {currency for currency, _ in moves})
    series: dict[str, list[BalancePoint]] = {}
    for currency in currencies:
        balance, points = opening.get(currency, ZERO), []
        for month in months_between(start, end):
            debit, credit = moves.get((currency, month), (ZERO, ZERO))
            balance += debit - credit
            points.append(BalancePoint(month, min(next_month(month) - timedelta(days=1), end),
                                       debit, credit, balance))
        series[currency] = points
    return series


# --- Monthly reports --------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One line of a monthly report: its key (a product's or customer's id, "" for none, or
    the figure's name), its label and one amount per month of the report."""

    key: str
    label: str
    amounts: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO)


@dataclass(frozen=True)
class MonthlyReport:
    """Amounts of one currency by calendar month, one or more series."""

    currency: str
    start: date
    end: date
    months: tuple[date, ...]
    series: tuple[Series, ...]

    @property
    def totals(self) -> tuple[Decimal, ...]:
        """Per month, the series added up (one currency: they may be)."""
        return tuple(sum((s.amounts[i] for s in self.series), ZERO)
                     for i in range(len(self.months)))

    @property
    def total(self) -> Decimal:
        return sum(self.totals, ZERO)


GROUPS = ("product", "customer")


def _labels(organization: Organization, group: str,
            ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    model = Product if group == "product" else Customer
    return dict(model.objects.for_organization(organization).filter(id__in=list(ids))
                .values_list("id", "name"))


def revenue_by_month(*, organization: Organization, start: date, end: date, currency: str,
                     group: str = "product") -> MonthlyReport:
    """Recognized revenue -- credits minus debits of the system ``revenue`` account -- in
    ``currency``, by the month of the entries' effective dates in ``[start, end]``, one series
    per product (``group="product"``) or per customer (``"customer"``) named by the lines'
    references: the product's or customer's name, "No product" / "No customer" for lines
    without one. Series by total, largest first; one that nets to zero every month is left
    out."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}")
    column = f"{group}_id"
    rows = (JournalLine.objects.for_organization(organization)
            .filter(account__system_key=Key.REVENUE, entry__currency=currency,
                    entry__effective_date__gte=start, entry__effective_date__lte=end)
            .order_by().annotate(month=TruncMonth("entry__effective_date"))
            .values(column, "month").annotate(debit=Sum("debit"), credit=Sum("credit")))
    months = tuple(months_between(start, end))
    index = {month: i for i, month in enumerate(months)}
    amounts: dict[uuid.UUID | None, list[Decimal]] = defaultdict(lambda: [ZERO] * len(months))
    for row in rows:
        amounts[row[column]][index[row["month"]]] += (row["credit"] or ZERO) - (row["debit"] or ZERO)
    names = _labels(organization, group, [key for key in amounts if key is not None])
    none = NO_PRODUCT if group == "product" else NO_CUSTOMER
    series = [Series("" if key is None else str(key),
                     none if key is None else names.get(key, f"Unknown {group} {str(key)[:8]}"),
                     tuple(values)) for key, values in amounts.items() if any(values)]
    series.sort(key=lambda s: (-s.total, s.label, s.key))
    return MonthlyReport(currency, start, end, months, tuple(series))


BILLED, RECOGNIZED, COLLECTED = "billed", "recognized", "collected"


def billed_recognized_collected(*, organization: Organization, start: date, end: date,
                                currency: str) -> MonthlyReport:
    """Three series in ``currency`` by the month of the entries' effective dates in
    ``[start, end]``:

    - ``billed``: what invoices charged, net of tax -- the accounts-receivable debit of each
      ``invoice.finalized`` entry less its sales-tax credit (the invoice's total less its
      tax), net of ``invoice.voided`` entries (the exact mirror, in the month of the void).
      Credit notes are not taken off (they are entries of their own, in the journal);
    - ``recognized``: revenue earned -- credits minus debits of the ``revenue`` account, every
      entry (point-in-time lines at finalization, the recognition runs, accrued usage,
      breakage, credit notes);
    - ``collected``: money received -- debits to cash and the gateway receivable of
      ``payment.applied`` entries, before refunds.
    """
    billing = {postings.FINALIZED, postings.VOIDED}
    rows = (JournalLine.objects.for_organization(organization)
            .filter(entry__currency=currency, entry__effective_date__gte=start,
                    entry__effective_date__lte=end,
                    account__system_key__in=[Key.ACCOUNTS_RECEIVABLE, Key.SALES_TAX_PAYABLE,
                                             Key.REVENUE, Key.CASH, Key.GATEWAY_RECEIVABLE])
            .order_by().annotate(month=TruncMonth("entry__effective_date"))
            .values("month", "account__system_key", "entry__source_type")
            .annotate(debit=Sum("debit"), credit=Sum("credit")))
    months = tuple(months_between(start, end))
    index = {month: i for i, month in enumerate(months)}
    figures = {name: [ZERO] * len(months) for name in (BILLED, RECOGNIZED, COLLECTED)}
    for row in rows:
        i, key, source = index[row["month"]], row["account__system_key"], row["entry__source_type"]
        debit, credit = row["debit"] or ZERO, row["credit"] or ZERO
        if key == Key.REVENUE:
            figures[RECOGNIZED][i] += credit - debit
        if source in billing and key == Key.ACCOUNTS_RECEIVABLE:
            figures[BILLED][i] += debit - credit
        elif source in billing and key == Key.SALES_TAX_PAYABLE:
            figures[BILLED][i] -= credit - debit
        elif source == postings.PAYMENT_APPLIED and key in (Key.CASH, Key.GATEWAY_RECEIVABLE):
            figures[COLLECTED][i] += debit
    labels = {BILLED: "Billed", RECOGNIZED: "Recognized", COLLECTED: "Collected"}
    return MonthlyReport(currency, start, end, months,
                         tuple(Series(name, labels[name], tuple(values))
                               for name, values in figures.items()))


# --- Deferred revenue -------------------------------------------------------------------------


@dataclass(frozen=True)
class Waterfall:
    """What deferred revenue holds in one currency and when it will be recognized."""

    currency: str
    on: date
    months: tuple[date, ...]
    amounts: tuple[Decimal, ...]  # ratable schedules, recognized in each month
    later: Decimal  # ratable schedules, after the last month
    as_used: Decimal  # prepaid drawdown blocks: as their units are used, or at expiry
    schedules: int  # open schedules counted
    ledger_balance: Decimal  # the deferred revenue account through ``on``, credit - debit

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO) + self.later + self.as_used


def deferred_waterfall(*, organization: Organization, on: date, currency: str,
                       months: int = 12) -> Waterfall:
    """The open revenue schedules in ``currency`` as they stand (their amount and what is
    recognized of it), spread over the ``months`` calendar months from the one of the day
    after ``on``:

    - a ratable schedule earns by each month's end its cumulative figure
      (``recognition.ratable_cumulative``, rounded once as the run rounds it) and never less
      than it has already recognized: each month gets the difference, so what a run has not
      yet recognized of days already past lands in the first month, and what is left after
      the last month is ``later``;
    - a prepaid drawdown block has no calendar: what it has not recognized is ``as_used``
      (recognized as its units are used, the rest at its expiry).

    The buckets add up to what the schedules still defer (amount - recognized);
    ``ledger_balance`` is the deferred revenue account's balance through ``on`` beside it
    (it also holds deferrals without a schedule)."""
    if not 1 <= months <= MAX_WATERFALL_MONTHS:
        raise ValueError(f"months must be 1 to {MAX_WATERFALL_MONTHS}")
    first = month_start(on + timedelta(days=1))
    firsts = [first]
    while len(firsts) < months:
        firsts.append(next_month(firsts[-1]))
    boundaries = [next_month(month) for month in firsts]  # each month's exclusive end
    amounts = [ZERO] * months
    later = as_used = ZERO
    count = 0
    open_schedules = (RevenueSchedule.objects.for_organization(organization)
                      .filter(done=False, currency=currency).order_by("id")
                      .values_list("method", "amount", "recognized", "start_date", "end_date"))
    for method, amount, recognized, start, end in open_schedules.iterator(chunk_size=2000):
        left = amount - recognized
        if not left:
            continue
        count += 1
        if method == RevenueSchedule.Method.DRAWDOWN:
            as_used += left
            continue
        reached = recognized
        if end is not None:
            for i, boundary in enumerate(boundaries):
                cumulative = ratable_cumulative(amount, currency, start, end, boundary)
                if abs(cumulative) > abs(reached):
                    amounts[i] += cumulative - reached
                    reached = cumulative
        later += amount - reached
    deferred = (JournalLine.objects.for_organization(organization)
                .filter(account__system_key=Key.DEFERRED_REVENUE, entry__currency=currency,
                        entry__effective_date__lte=on)
                .aggregate(debit=Sum("debit"), credit=Sum("credit")))
    ledger = (deferred["credit"] or ZERO) - (deferred["debit"] or ZERO)
    return Waterfall(currency, on, tuple(firsts), tuple(amounts), later, as_used, count, ledger)


# --- Unbilled revenue -------------------------------------------------------------------------


@dataclass(frozen=True)
class UnbilledRow:
    """What one invoice (a draft, usually) still has in unbilled revenue: usage earned at a
    period's end, not invoiced yet."""

    invoice_id: uuid.UUID | None
    currency: str
    amount: Decimal  # debit - credit: an asset
    number: str = ""
    status: str = ""
    customer: str = ""
    billing_date: date | None = None


@dataclass(frozen=True)
class Unbilled:
    on: date | None
    balances: dict[str, Decimal]  # per currency, debit - credit
    invoices: tuple[UnbilledRow, ...]


def unbilled(*, organization: Organization, on: date | None = None,
             currency: str | None = None) -> Unbilled:
    """The unbilled revenue account's balance per currency through ``on`` (all entries when
    None), and what each invoice the lines name still holds in it (the invoices whose accrual
    is cleared by their finalization, or reversed by their void, net to zero and are left
    out), largest first."""
    lines = JournalLine.objects.for_organization(organization).filter(
        account__system_key=Key.UNBILLED_REVENUE)
    if on is not None:
        lines = lines.filter(entry__effective_date__lte=on)
    if currency:
        lines = lines.filter(entry__currency=currency)
    rows = (lines.order_by().values("entry__currency", "invoice_id")
            .annotate(debit=Sum("debit"), credit=Sum("credit")))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    found = []
    for row in rows:
        amount = (row["debit"] or ZERO) - (row["credit"] or ZERO)
        totals[row["entry__currency"]] += amount
        if amount:
            found.append((row["invoice_id"], row["entry__currency"], amount))
    labels = (Invoice.objects.for_organization(organization)
              .filter(id__in=[i for i, _, _ in found if i is not None])
              .values("id", "number", "status", "billing_date", "customer__name"))
    invoices: dict[uuid.UUID, dict[str, Any]] = {row["id"]: dict(row) for row in labels}
    result = []
    for invoice_id, row_currency, amount in found:
        invoice = invoices.get(invoice_id, {}) if invoice_id else {}
        result.append(UnbilledRow(invoice_id, row_currency, amount,
                                  invoice.get("number") or "", invoice.get("status") or "",
                                  invoice.get("customer__name") or "",
                                  invoice.get("billing_date")))
    result.sort(key=lambda r: (r.currency, -r.amount, str(r.invoice_id)))
    return Unbilled(on, {c: totals[c] for c in sorted(totals)}, tuple(result))


# --- The journal ------------------------------------------------------------------------------


REFERENCES = ("invoice", "payment", "credit_note", "customer", "product")


def journal_lines(*, organization: Organization, start: date | None = None,
                  end: date | None = None, account: Account | None = None,
                  source_type: str = "", currency: str = "",
                  invoice: uuid.UUID | None = None, customer: uuid.UUID | None = None,
                  payment: uuid.UUID | None = None, credit_note: uuid.UUID | None = None,
                  product: uuid.UUID | None = None) -> QuerySet[JournalLine]:
    """The journal's lines, with their entry and account, filtered by the entries' effective
    dates ``[start, end]``, an account, a source type (``invoice.finalized``...), a currency
    and what the lines are about; newest effective date first, each entry's lines in order."""
    lines = JournalLine.objects.for_organization(organization).select_related("entry",
                                                                              "account")
    if start is not None:
        lines = lines.filter(entry__effective_date__gte=start)
    if end is not None:
        lines = lines.filter(entry__effective_date__lte=end)
    if account is not None:
        lines = lines.filter(account=account)
    if source_type:
        lines = lines.filter(entry__source_type=source_type)
    if currency:
        lines = lines.filter(entry__currency=currency)
    for name, value in (("invoice", invoice), ("customer", customer), ("payment", payment),
                        ("credit_note", credit_note), ("product", product)):
        if value is not None:
            lines = lines.filter(**{f"{name}_id": value})
    return lines.order_by("-entry__effective_date", "-entry__posted_at", "entry_id", "position")


def source_types(*, organization: Organization) -> list[str]:
    """The kinds of source event the organization's journal has entries of."""
    return list(JournalEntry.objects.for_organization(organization).order_by("source_type")
                .values_list("source_type", flat=True).distinct())


@dataclass(frozen=True)
class Link:
    """Where a line drills down to: the dashboard page of the document behind it."""

    kind: str  # invoice, payment, credit_note, customer
    label: str
    url: str


def line_urls(line: JournalLine) -> dict[str, str | None]:
    """The dashboard pages of what ``line`` is about: its invoice, payment, credit note (on
    its invoice's page, else its PDF) and customer; None where it names none."""
    note = None
    if line.credit_note_id is not None:
        note = (reverse("invoicing:invoice-detail", args=[line.invoice_id]) + "#credit-notes"
                if line.invoice_id is not None
                else reverse("invoicing:credit-note-pdf", args=[line.credit_note_id]))
    return {
        "invoice": reverse("invoicing:invoice-detail", args=[line.invoice_id])
        if line.invoice_id is not None else None,
        "payment": reverse("payments_dashboard:payment-detail", args=[line.payment_id])
        if line.payment_id is not None else None,
        "credit_note": note,
        "customer": reverse("contracts:customer-detail", args=[line.customer_id])
        if line.customer_id is not None else None,
    }


def drill_downs(*, organization: Organization,
                lines: Iterable[JournalLine]) -> dict[uuid.UUID, list[Link]]:
    """Each line's links (``line_urls``) named for people: the invoice's and credit note's
    numbers, the payment's method and reference, the customer's name -- read in one query
    per kind of document."""
    lines = list(lines)
    wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
    for line in lines:
        for name in ("invoice", "payment", "credit_note", "customer"):
            value = getattr(line, f"{name}_id")
            if value is not None:
                wanted[name].add(value)
    names: dict[str, dict[uuid.UUID, str]] = {
        "invoice": {i: number or "Draft invoice" for i, number in
                    Invoice.objects.for_organization(organization)
                    .filter(id__in=wanted["invoice"]).values_list("id", "number")},
        "credit_note": dict(CreditNote.objects.for_organization(organization)
                            .filter(id__in=wanted["credit_note"]).values_list("id", "number")),
        "payment": {i: f"Payment ({method.replace('_', ' ')}{', ' + ref if ref else ''})"
                    for i, method, ref in Payment.objects.for_organization(organization)
                    .filter(id__in=wanted["payment"]).values_list("id", "method", "reference")},
        "customer": dict(Customer.objects.for_organization(organization)
                         .filter(id__in=wanted["customer"]).values_list("id", "name")),
    }
    fallback = {"invoice": "Invoice", "payment": "Payment", "credit_note": "Credit note",
                "customer": "Customer"}
    found = {}
    for line in lines:
        links = []
        for kind, url in line_urls(line).items():
            if url is not None:
                target = getattr(line, f"{kind}_id")
                links.append(Link(kind, names[kind].get(target, fallback[kind]), url))
        found[line.id] = links
    return found


# --- The export -------------------------------------------------------------------------------


EXPORT_COLUMNS = ("entry_id", "effective_date", "posted_at", "currency", "source_type",
                  "source_id", "memo", "account_code", "gl_code", "account_name", "debit",
                  "credit", "description", "invoice_id", "payment_id", "credit_note_id",
                  "customer_id", "product_id")


@dataclass(frozen=True)
class ExportRow:
    """One journal line as a general ledger imports it: the entry (id, date, currency,
    source, memo), the account (its code in this chart, its GL code -- the account's code
    when no GL code is mapped -- and name), the line's debit and credit, and the documents
    behind it."""

    entry_id: uuid.UUID
    effective_date: date
    posted_at: datetime
    currency: str
    source_type: str
    source_id: str
    memo: str
    account_code: str
    gl_code: str
    account_name: str
    debit: Decimal
    credit: Decimal
    description: str
    invoice_id: uuid.UUID | None
    payment_id: uuid.UUID | None
    credit_note_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    product_id: uuid.UUID | None


def journal_export(*, organization: Organization, start: date | None = None,
                   end: date | None = None, currency: str = "") -> list[ExportRow]:
    """The lines of the entries effective in ``[start, end]`` (in ``currency`` when given),
    in the order they count: by effective date, then as posted, each entry's lines in
    order. Each entry's rows balance."""
    lines = journal_lines(organization=organization, start=start, end=end,
                          currency=currency).order_by(
        "entry__effective_date", "entry__posted_at", "entry_id", "position")
    return [ExportRow(
        line.entry_id, line.entry.effective_date, line.entry.posted_at, line.entry.currency,
        line.entry.source_type, line.entry.source_id, line.entry.memo, line.account.code,
        line.account.gl_code or line.account.code, line.account.name, line.debit, line.credit,
        line.description, line.invoice_id, line.payment_id, line.credit_note_id,
        line.customer_id, line.product_id) for line in lines.iterator(chunk_size=2000)]
