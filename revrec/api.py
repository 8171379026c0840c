"""API of the revenue ledger (under ``/api/v1/revenue``): the summary; the reports -- trial
balance, an account's balance month by month, revenue by month, the deferred revenue
waterfall, unbilled revenue, billed vs recognized vs collected; the journal and its export
for a general ledger; the chart of accounts and its GL codes; the revenue schedules; the
period close.

Every member reads; the writes (accounts, closes) need a role that writes
(``WRITE_ROLES``: owner, admin, finance), as invoicing's. Every query parameter is checked at
the door: a bad one is a 400 naming it, in the one error body. Amounts are decimal strings
with their currency's minor digits; each figure is of one currency.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from revrec import closing, selectors
from revrec.models import Account, JournalLine, PeriodClose, RevenueSchedule
from revrec.services import account_create, account_update, accounts_ensure, lock_date, today
from zenskar.api.fields import BoundedDateField
from zenskar.api.views import OrganizationAPIView
from zenskar.bounds import MIN_DATE
from zenskar.money import is_valid_currency, round_money


def amount_text(value: Decimal, currency: str) -> str:
    """``value`` as a decimal string with ``currency``'s minor digits: "1300.00", "3704"
    (the ledger's amounts are rounded already; this only writes them)."""
    return str(round_money(Decimal(value), currency))


def _refuse(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _actor(request) -> str:
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.username
    return f"api key {access.api_key.prefix}"


# --- Query parameters -------------------------------------------------------------------------


class CurrencyField(serializers.CharField):
    """An ISO 4217 code, upper case."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "An ISO 4217 code, e.g. USD; default: the "
                                       "organization's currency (or the ledger's first).")
        super().__init__(max_length=3, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_valid_currency(value):
            raise serializers.ValidationError(
                f"{value[:10]!r} is not an ISO 4217 currency code, e.g. USD.",
                code="invalid_currency")
        return value


class _Query(serializers.Serializer):
    """The query string, checked like a body. ``from`` (a Python keyword) is added by
    ``get_fields`` when ``from_help`` is set."""

    from_help = ""

    def get_fields(self):
        fields = super().get_fields()
        if not self.from_help:
            return fields
        return {"from": BoundedDateField(required=False, help_text=self.from_help), **fields}

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and end < start:
            raise _refuse("to", "Must be on or after from.", "invalid_range")
        return attrs


def _params(query: type[serializers.Serializer], request) -> dict:
    data = query(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


MONTHS_DEFAULT = "default: the 12 months ending with this one"


class MonthlyQuery(_Query):
    from_help = f"First day (included); {MONTHS_DEFAULT}."
    to = BoundedDateField(required=False,
                          help_text="Last day (included); default: this month's last day. "
                                    f"At most {selectors.MAX_MONTHS} months after from.")
    currency = CurrencyField()


class RevenueByMonthQuery(MonthlyQuery):
    group = serializers.ChoiceField(choices=list(selectors.GROUPS), required=False,
                                    default="product",
                                    help_text="One series per product (the default) or per "
                                              "customer.")


class BalancesQuery(_Query):
    from_help = f"First day (included); {MONTHS_DEFAULT}."
    to = BoundedDateField(required=False, help_text="Last day (included); default: this "
                                                    "month's last day.")


class OnQuery(serializers.Serializer):
    on = BoundedDateField(required=False, help_text="Entries effective on or before this day; "
                                                    "default: all of them.")


class WaterfallQuery(serializers.Serializer):
    on = BoundedDateField(required=False, help_text="As of the end of this day; default: today "
                                                    "in the organization's time zone.")
    months = serializers.IntegerField(
        required=False, default=12, min_value=1, max_value=selectors.MAX_WATERFALL_MONTHS,
        help_text=f"Months shown one by one (1 to {selectors.MAX_WATERFALL_MONTHS}); the rest "
                  "is 'later'.")
    currency = CurrencyField()


class UnbilledQuery(serializers.Serializer):
    on = BoundedDateField(required=False, help_text="Entries effective on or before this day; "
                                                    "default: all of them.")
    currency = CurrencyField(help_text="An ISO 4217 code; default: every currency.")


class JournalQuery(_Query):
    from_help = "Entries effective on or after this day."
    to = BoundedDateField(required=False, help_text="Entries effective on or before this day.")
    account = serializers.UUIDField(required=False, help_text="An account's id.")
    source_type = serializers.CharField(
        required=False, max_length=64,
        help_text="The kind of source event: invoice.finalized, invoice.voided, "
                  "payment.applied, revenue.recognized, credit_note.issued...")
    currency = CurrencyField(help_text="An ISO 4217 code; default: every currency.")
    invoice = serializers.UUIDField(required=False, help_text="Lines about this invoice.")
    customer = serializers.UUIDField(required=False, help_text="Lines about this customer.")
    payment = serializers.UUIDField(required=False, help_text="Lines about this payment.")
    credit_note = serializers.UUIDField(required=False,
                                        help_text="Lines about this credit note.")
    product = serializers.UUIDField(required=False, help_text="Lines about this product.")


class ExportQuery(_Query):
    from_help = "Entries effective on or after this day; default: the first."
    to = BoundedDateField(required=False,
                          help_text="Entries effective on or before this day; default: the last.")
    format = serializers.ChoiceField(choices=["csv", "json"], required=False, default="csv",
                                     help_text="csv (the default) or json.")
    currency = CurrencyField(help_text="An ISO 4217 code; default: every currency.")


class ScheduleQuery(serializers.Serializer):
    invoice = serializers.UUIDField(required=False, help_text="The schedules of this invoice.")


class ThroughQuery(serializers.Serializer):
    through = BoundedDateField(help_text="The last day of the period to close (included).")


def _monthly_range(params: dict, organization) -> tuple[date, date]:
    """``from`` / ``to`` with their defaults (the 12 months ending with this one), at most
    ``MAX_MONTHS`` months."""
    default_start, default_end = selectors.last_months(today(organization))
    end = params.get("to") or default_end
    start = params.get("from") or max(MIN_DATE, selectors.last_months(end)[0]
                                      if params.get("to") else default_start)
    if end < start:
        raise _refuse("from", "Must be on or before to (default: this month's last day).",
                      "invalid_range")
    if selectors.month_count(start, end) > selectors.MAX_MONTHS:
        raise _refuse("to" if params.get("to") else "from",
                      f"At most {selectors.MAX_MONTHS} months from from to to (default: this "
                      "month's last day).", "out_of_bounds")
    return start, end


def _account(view: OrganizationAPIView, account_id) -> Account:
    return view.get_scoped(Account.objects, id=account_id)


# --- Output -----------------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    gl_code = serializers.CharField(help_text="The code in your general ledger, used by the "
                                              "export (empty: the export uses `code`).")
    system_key = serializers.CharField(
        help_text="Set on the accounts the ledger posts to (accounts_receivable, "
                  "deferred_revenue, revenue...); empty on your own.")
    type = serializers.CharField(help_text="asset, liability, equity, revenue or expense.")

    class Meta:
        model = Account
        fields = ["id", "code", "name", "type", "system_key", "gl_code", "active",
                  "updated_at"]


class AccountListSerializer(serializers.Serializer):
    results = AccountSerializer(many=True)


class AccountIn(serializers.Serializer):
    """Shapes only: the rules (code 1 to 20 characters and unique, name 1 to 200, type,
    GL code at most 100) are ``revrec.services``' -- the dashboard's form asks the same."""

    code = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                 help_text="1 to 20 characters, unique in the chart, e.g. 4100.")
    name = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                 help_text="1 to 200 characters.")
    type = serializers.CharField(allow_blank=True,
                                 help_text="asset, liability, equity, revenue or expense.")
    gl_code = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                    help_text="At most 100 characters: the code in your GL.")


class AccountUpdateIn(serializers.Serializer):
    """Fields left out keep their value; a system account keeps its type and stays active."""

    code = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                 help_text="1 to 20 characters, unique in the chart.")
    name = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                 help_text="1 to 200 characters.")
    type = serializers.CharField(required=False, allow_blank=True,
                                 help_text="asset, liability, equity, revenue or expense "
                                           "(not of a system account).")
    gl_code = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                    help_text="At most 100 characters: the code in your GL.")
    active = serializers.BooleanField(required=False,
                                      help_text="false retires one of your own accounts.")


class SummaryBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    key = serializers.CharField(help_text="The system account's key.")
    code = serializers.CharField()
    name = serializers.CharField()
    balance = serializers.CharField(help_text="Debit - credit: an asset positive, a liability "
                                              "or revenue negative.")


class SummarySerializer(serializers.Serializer):
    lock_date = serializers.DateField(allow_null=True,
                                      help_text="The books are closed through this day.")
    currencies = serializers.ListField(child=serializers.CharField(),
                                       help_text="The currencies the ledger has entries in.")
    default_currency = serializers.CharField(help_text="The currency reports use by default.")
    balances = SummaryBalanceSerializer(many=True)
    links = serializers.DictField(child=serializers.CharField(),
                                  help_text="The reports, by name: their paths.")


class TrialBalanceRowSerializer(serializers.Serializer):
    currency = serializers.CharField()
    account = serializers.UUIDField()
    code = serializers.CharField()
    gl_code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    system_key = serializers.CharField()
    debit = serializers.CharField()
    credit = serializers.CharField()
    balance = serializers.CharField(help_text="debit - credit")


class CurrencyTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    debit = serializers.CharField()
    credit = serializers.CharField()


class TrialBalanceSerializer(serializers.Serializer):
    on = serializers.DateField(allow_null=True)
    rows = TrialBalanceRowSerializer(many=True)
    totals = CurrencyTotalSerializer(many=True, help_text="Per currency: debits equal credits.")


class BalancePointSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The month's first day.")
    on = serializers.DateField(help_text="The day of the closing balance.")
    debit = serializers.CharField(help_text="The month's debits.")
    credit = serializers.CharField(help_text="The month's credits.")
    balance = serializers.CharField(help_text="Closing balance on `on`, debit - credit.")


class BalanceSeriesSerializer(serializers.Serializer):
    currency = serializers.CharField()
    points = BalancePointSerializer(many=True)


class _Ranged(serializers.Serializer):
    # An answer with ``from`` (a Python keyword, so added here), just before ``to``. A
    # comment, not a docstring: the schema would describe every subclass with it.

    def get_fields(self):
        fields = {}
        for name, field in super().get_fields().items():
            if name == "to":
                fields["from"] = serializers.DateField()
            fields[name] = field
        return fields


class AccountBalancesSerializer(_Ranged):
    """An account's closing balance month by month, per currency."""

    account = AccountSerializer()
    to = serializers.DateField()
    series = BalanceSeriesSerializer(many=True)


class SeriesSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The product's or customer's id; empty for lines "
                                          "without one.")
    label = serializers.CharField()
    amounts = serializers.ListField(child=serializers.CharField(), help_text="One per month.")
    total = serializers.CharField()


class RevenueByMonthSerializer(_Ranged):
    """Recognized revenue of one currency by month, one series per product or customer."""

    currency = serializers.CharField()
    to = serializers.DateField()
    group = serializers.CharField()
    months = serializers.ListField(child=serializers.DateField(),
                                   help_text="Each month's first day.")
    series = SeriesSerializer(many=True)
    totals = serializers.ListField(child=serializers.CharField(), help_text="One per month.")
    total = serializers.CharField()


class MonthAmountSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The month's first day.")
    amount = serializers.CharField()


class WaterfallSerializer(serializers.Serializer):
    currency = serializers.CharField()
    on = serializers.DateField()
    months = MonthAmountSerializer(many=True, help_text="Ratable schedules: what each month "
                                                         "recognizes.")
    later = serializers.CharField(help_text="Ratable schedules, after the last month.")
    as_used = serializers.CharField(help_text="Prepaid drawdown blocks: recognized as their "
                                              "units are used, the rest at expiry.")
    total = serializers.CharField(help_text="What the open schedules still defer.")
    ledger_balance = serializers.CharField(
        help_text="The deferred revenue account through `on`, credit - debit.")
    schedules = serializers.IntegerField(help_text="Open schedules counted.")


class UnbilledBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.CharField(help_text="Debit - credit: usage earned, not invoiced.")


class UnbilledInvoiceSerializer(serializers.Serializer):
    invoice = serializers.UUIDField(allow_null=True)
    number = serializers.CharField(help_text="Empty for a draft.")
    status = serializers.CharField()
    customer = serializers.CharField(help_text="The customer's name.")
    billing_date = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    amount = serializers.CharField()


class UnbilledSerializer(serializers.Serializer):
    on = serializers.DateField(allow_null=True)
    balances = UnbilledBalanceSerializer(many=True)
    invoices = UnbilledInvoiceSerializer(many=True)


class BrcMonthSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The month's first day.")
    billed = serializers.CharField()
    recognized = serializers.CharField()
    collected = serializers.CharField()


class BrcTotalsSerializer(serializers.Serializer):
    billed = serializers.CharField()
    recognized = serializers.CharField()
    collected = serializers.CharField()


class BilledRecognizedCollectedSerializer(_Ranged):
    """Billed, recognized and collected amounts of one currency by month."""

    currency = serializers.CharField()
    to = serializers.DateField()
    months = BrcMonthSerializer(many=True)
    totals = BrcTotalsSerializer()


class LinksSerializer(serializers.Serializer):
    invoice = serializers.CharField(allow_null=True)
    payment = serializers.CharField(allow_null=True)
    credit_note = serializers.CharField(allow_null=True)
    customer = serializers.CharField(allow_null=True)


class JournalLineSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    entry = serializers.UUIDField(source="entry_id")
    effective_date = serializers.DateField(source="entry.effective_date")
    posted_at = serializers.DateTimeField(source="entry.posted_at")
    currency = serializers.CharField(source="entry.currency")
    source_type = serializers.CharField(source="entry.source_type")
    source_id = serializers.CharField(source="entry.source_id")
    memo = serializers.CharField(source="entry.memo")
    account = serializers.UUIDField(source="account_id")
    account_code = serializers.CharField(source="account.code")
    account_name = serializers.CharField(source="account.name")
    gl_code = serializers.CharField(source="account.gl_code")
    debit = serializers.SerializerMethodField()
    credit = serializers.SerializerMethodField()
    description = serializers.CharField()
    invoice = serializers.UUIDField(source="invoice_id", allow_null=True)
    payment = serializers.UUIDField(source="payment_id", allow_null=True)
    credit_note = serializers.UUIDField(source="credit_note_id", allow_null=True)
    customer = serializers.UUIDField(source="customer_id", allow_null=True)
    product = serializers.UUIDField(source="product_id", allow_null=True)
    links = serializers.SerializerMethodField(
        help_text="The dashboard pages to drill down to (null where the line names none).")

    def get_debit(self, line: JournalLine) -> str:
        return amount_text(line.debit, line.entry.currency)

    def get_credit(self, line: JournalLine) -> str:
        return amount_text(line.credit, line.entry.currency)

    @extend_schema_field(LinksSerializer)
    def get_links(self, line: JournalLine) -> dict:
        return selectors.line_urls(line)


class ExportRowSerializer(serializers.Serializer):
    entry_id = serializers.UUIDField()
    effective_date = serializers.DateField()
    posted_at = serializers.DateTimeField()
    currency = serializers.CharField()
    source_type = serializers.CharField()
    source_id = serializers.CharField()
    memo = serializers.CharField()
    account_code = serializers.CharField()
    gl_code = serializers.CharField(help_text="The account's GL code, or its code when none "
                                              "is mapped.")
    account_name = serializers.CharField()
    debit = serializers.CharField()
    credit = serializers.CharField()
    description = serializers.CharField()
    invoice_id = serializers.UUIDField(allow_null=True)
    payment_id = serializers.UUIDField(allow_null=True)
    credit_note_id = serializers.UUIDField(allow_null=True)
    customer_id = serializers.UUIDField(allow_null=True)
    product_id = serializers.UUIDField(allow_null=True)


class ExportSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField(),
                                    help_text="The CSV's header, in order.")
    rows = ExportRowSerializer(many=True)


class ScheduleSerializer(serializers.ModelSerializer):
    method = serializers.CharField(help_text="ratable or drawdown.")
    modification = serializers.CharField(help_text="Empty, prospective or "
                                                   "cumulative_catch_up.")
    amount = serializers.SerializerMethodField()
    recognized = serializers.SerializerMethodField()
    deferred = serializers.SerializerMethodField(help_text="amount - recognized.")
    billed = serializers.SerializerMethodField(help_text="The line as invoiced, net of tax.")
    invoice = serializers.UUIDField(source="invoice_id")
    invoice_line = serializers.UUIDField(source="invoice_line_id", allow_null=True)
    customer = serializers.UUIDField(source="customer_id")
    product = serializers.UUIDField(source="product_id", allow_null=True)
    contract = serializers.UUIDField(source="contract_id", allow_null=True)

    class Meta:
        model = RevenueSchedule
        fields = ["id", "method", "currency", "amount", "recognized", "deferred", "billed",
                  "start_date", "end_date", "recognized_through", "units", "units_drawn",
                  "modification", "done", "description", "invoice", "invoice_line",
                  "customer", "product", "contract", "created_at"]

    def get_amount(self, schedule: RevenueSchedule) -> str:
        return amount_text(schedule.amount, schedule.currency)

    def get_recognized(self, schedule: RevenueSchedule) -> str:
        return amount_text(schedule.recognized, schedule.currency)

    def get_deferred(self, schedule: RevenueSchedule) -> str:
        return amount_text(schedule.amount - schedule.recognized, schedule.currency)

    def get_billed(self, schedule: RevenueSchedule) -> str:
        return amount_text(schedule.billed, schedule.currency)


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="drafts_past_their_date, unposted_events, "
                                           "recognition_behind, unapplied_payments.")
    passed = serializers.BooleanField()
    blocking = serializers.BooleanField(help_text="A failing blocking check refuses the close "
                                                  "(unless forced).")
    count = serializers.IntegerField()
    detail = serializers.CharField()


class PeriodCloseSerializer(serializers.ModelSerializer):
    checks = CheckSerializer(many=True, help_text="The checks as they stood at the close.")

    class Meta:
        model = PeriodClose
        fields = ["id", "closed_through", "closed_by", "note", "checks", "created_at"]


class CloseIn(serializers.Serializer):
    closed_through = BoundedDateField(
        help_text="The last day to close (included): a day that has ended, after the current "
                  "lock date.")
    force = serializers.BooleanField(required=False, default=False,
                                     help_text="Close even when a blocking check fails.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                 help_text="At most 500 characters.")


class CloseChecksSerializer(serializers.Serializer):
    through = serializers.DateField()
    lock_date = serializers.DateField(allow_null=True)
    can_close = serializers.BooleanField(
        help_text="The day has ended, is after the lock date, and no blocking check fails.")
    checks = CheckSerializer(many=True)


# --- The summary and the reports --------------------------------------------------------------


REPORTS = {
    "trial_balance": "api:revenue-trial-balance",
    "accounts": "api:revenue-accounts",
    "revenue_by_month": "api:revenue-by-month",
    "deferred_waterfall": "api:revenue-deferred-waterfall",
    "unbilled": "api:revenue-unbilled",
    "billed_recognized_collected": "api:revenue-billed-recognized-collected",
    "journal": "api:revenue-journal",
    "journal_export": "api:revenue-journal-export",
    "schedules": "api:revenue-schedules",
    "closes": "api:revenue-closes",
    "close_checks": "api:revenue-close-checks",
}


class RevenueSummaryView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_summary", responses=SummarySerializer,
        summary="The revenue ledger at a glance",
        description="The main system accounts' balances per currency (debit - credit: "
                    "receivables and cash positive, deferred revenue, tax payable, customer "
                    "credit and revenue negative), the lock date of the closed periods, and "
                    "the paths of the reports.",
    )
    def get(self, request):
        organization = self.organization
        rows = selectors.ledger_summary(organization=organization)
        return Response(SummarySerializer({
            "lock_date": lock_date(organization),
            "currencies": selectors.ledger_currencies(organization=organization),
            "default_currency": selectors.report_currency(organization=organization),
            "balances": [{"currency": row.currency, "key": row.key, "code": row.account.code,
                          "name": row.account.name,
                          "balance": amount_text(row.balance, row.currency)} for row in rows],
            "links": {name: reverse(url) for name, url in REPORTS.items()},
        }).data)


class TrialBalanceView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_trial_balance", parameters=[OnQuery],
        responses=TrialBalanceSerializer, summary="The trial balance",
        description="Every account's debits and credits per currency, of the entries "
                    "effective on `on` or before. Each currency's debits equal its credits.",
    )
    def get(self, request):
        on = _params(OnQuery, request).get("on")
        rows = selectors.trial_balance(organization=self.organization, on=on)
        totals: dict[str, list[Decimal]] = {}
        for row in rows:
            total = totals.setdefault(row.currency, [Decimal(0), Decimal(0)])
            total[0] += row.debit
            total[1] += row.credit
        return Response(TrialBalanceSerializer({
            "on": on,
            "rows": [{"currency": r.currency, "account": r.account.id, "code": r.account.code,
                      "gl_code": r.account.gl_code, "name": r.account.name,
                      "type": r.account.type, "system_key": r.account.system_key,
                      "debit": amount_text(r.debit, r.currency),
                      "credit": amount_text(r.credit, r.currency),
                      "balance": amount_text(r.balance, r.currency)} for r in rows],
            "totals": [{"currency": currency, "debit": amount_text(debit, currency),
                        "credit": amount_text(credit, currency)}
                       for currency, (debit, credit) in totals.items()],
        }).data)


class AccountListView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_accounts_list", responses=AccountListSerializer,
        summary="The chart of accounts",
        description="Every account, by code: the system accounts the ledger posts to (seeded "
                    "on first use) and your own, each with the code of your general ledger "
                    "(`gl_code`) the export uses.",
    )
    def get(self, request):
        accounts_ensure(organization=self.organization)
        accounts = Account.objects.for_organization(self.organization).order_by("code")
        return Response({"results": AccountSerializer(accounts, many=True).data})

    @extend_schema(
        operation_id="revenue_accounts_create", request=AccountIn,
        responses={201: AccountSerializer}, summary="Add an account of your own",
        description="An account of your chart the system never posts to by itself (for "
                    "entries you import or map). Its code must be unique in the chart.",
    )
    def post(self, request):
        data = AccountIn(data=request.data)
        data.is_valid(raise_exception=True)
        account = account_create(organization=self.organization, **data.validated_data)
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)


class AccountDetailView(OrganizationAPIView):
    @extend_schema(operation_id="revenue_accounts_retrieve", responses=AccountSerializer,
                   summary="An account",
                   description="One account of the chart, with its GL code.")
    def get(self, request, account_id):
        return Response(AccountSerializer(_account(self, account_id)).data)

    @extend_schema(
        operation_id="revenue_accounts_update", request=AccountUpdateIn,
        responses=AccountSerializer, summary="Change an account (map its GL code)",
        description="Change an account's code, name, GL code, type or state. A system "
                    "account keeps its type and stays active: postings need it. A field this "
                    "endpoint does not know is refused.",
    )
    def patch(self, request, account_id):
        account = _account(self, account_id)
        data = AccountUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(data.fields))
        if unknown:
            raise ValidationError({name: [ValidationError("Not a field of an account.",
                                                          code="unknown_field")]
                                   for name in unknown})
        account = account_update(account=account, **data.validated_data)
        return Response(AccountSerializer(account).data)


class AccountBalancesView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_account_balances", parameters=[BalancesQuery],
        responses=AccountBalancesSerializer, summary="An account's balance month by month",
        description="Per currency, each month of [from, to]: its debits and credits and the "
                    "closing balance (debit - credit of every entry through the month's last "
                    f"day, or `to`). At most {selectors.MAX_MONTHS} months.",
    )
    def get(self, request, account_id):
        account = _account(self, account_id)
        start, end = _monthly_range(_params(BalancesQuery, request), self.organization)
        series = selectors.account_balances(organization=self.organization, account=account,
                                            start=start, end=end)
        return Response(AccountBalancesSerializer({
            "account": account, "from": start, "to": end,
            "series": [{"currency": currency, "points": [
                {"month": p.month, "on": p.on, "debit": amount_text(p.debit, currency),
                 "credit": amount_text(p.credit, currency),
                 "balance": amount_text(p.balance, currency)} for p in points]}
                for currency, points in series.items()],
        }).data)


def _series(report: selectors.MonthlyReport) -> list[dict]:
    return [{"key": s.key, "label": s.label,
             "amounts": [amount_text(a, report.currency) for a in s.amounts],
             "total": amount_text(s.total, report.currency)} for s in report.series]


class RevenueByMonthView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_by_month", parameters=[RevenueByMonthQuery],
        responses=RevenueByMonthSerializer, summary="Recognized revenue by month",
        description="Revenue earned (credits - debits of the revenue account) in one "
                    "currency, by the month of the entries' effective dates in [from, to], "
                    "one series per product or per customer (lines without one: 'No product' "
                    f"/ 'No customer'). At most {selectors.MAX_MONTHS} months.",
    )
    def get(self, request):
        params = _params(RevenueByMonthQuery, request)
        start, end = _monthly_range(params, self.organization)
        currency = selectors.report_currency(organization=self.organization,
                                             currency=params.get("currency"))
        report = selectors.revenue_by_month(organization=self.organization, start=start,
                                            end=end, currency=currency, group=params["group"])
        return Response(RevenueByMonthSerializer({
            "currency": currency, "from": start, "to": end, "group": params["group"],
            "months": list(report.months), "series": _series(report),
            "totals": [amount_text(a, currency) for a in report.totals],
            "total": amount_text(report.total, currency),
        }).data)


class DeferredWaterfallView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_deferred_waterfall", parameters=[WaterfallQuery],
        responses=WaterfallSerializer, summary="When deferred revenue will be recognized",
        description="The open revenue schedules in one currency, spread over the months "
                    "from the one of the day after `on`: ratable schedules by their daily "
                    "figure (what a run has not yet recognized of past days lands in the "
                    "first month), the rest 'later'; prepaid drawdown blocks 'as used' "
                    "(recognized as their units are used, the rest at expiry).",
    )
    def get(self, request):
        params = _params(WaterfallQuery, request)
        on = params.get("on") or today(self.organization)
        currency = selectors.report_currency(organization=self.organization,
                                             currency=params.get("currency"))
        waterfall = selectors.deferred_waterfall(organization=self.organization, on=on,
                                                 currency=currency, months=params["months"])
        return Response(WaterfallSerializer({
            "currency": currency, "on": on,
            "months": [{"month": month, "amount": amount_text(amount, currency)}
                       for month, amount in zip(waterfall.months, waterfall.amounts,
                                                strict=True)],
            "later": amount_text(waterfall.later, currency),
            "as_used": amount_text(waterfall.as_used, currency),
            "total": amount_text(waterfall.total, currency),
            "ledger_balance": amount_text(waterfall.ledger_balance, currency),
            "schedules": waterfall.schedules,
        }).data)


class UnbilledView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_unbilled", parameters=[UnbilledQuery],
        responses=UnbilledSerializer, summary="Unbilled revenue",
        description="The unbilled revenue account (usage earned at a period's end, not "
                    "invoiced yet) per currency, and what each invoice still holds in it.",
    )
    def get(self, request):
        params = _params(UnbilledQuery, request)
        found = selectors.unbilled(organization=self.organization, on=params.get("on"),
                                   currency=params.get("currency"))
        return Response(UnbilledSerializer({
            "on": found.on,
            "balances": [{"currency": currency, "balance": amount_text(balance, currency)}
                         for currency, balance in found.balances.items()],
            "invoices": [{"invoice": row.invoice_id, "number": row.number,
                          "status": row.status, "customer": row.customer,
                          "billing_date": row.billing_date, "currency": row.currency,
                          "amount": amount_text(row.amount, row.currency)}
                         for row in found.invoices],
        }).data)


class BilledRecognizedCollectedView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_billed_recognized_collected", parameters=[MonthlyQuery],
        responses=BilledRecognizedCollectedSerializer,
        summary="Billed, recognized and collected by month",
        description="In one currency, by the month of the entries' effective dates: billed "
                    "(invoices finalized, net of tax, less those voided), recognized (credits "
                    "- debits of the revenue account), collected (money received by "
                    f"payments, before refunds). At most {selectors.MAX_MONTHS} months.",
    )
    def get(self, request):
        params = _params(MonthlyQuery, request)
        start, end = _monthly_range(params, self.organization)
        currency = selectors.report_currency(organization=self.organization,
                                             currency=params.get("currency"))
        report = selectors.billed_recognized_collected(
            organization=self.organization, start=start, end=end, currency=currency)
        figures = {s.key: s for s in report.series}
        names = (selectors.BILLED, selectors.RECOGNIZED, selectors.COLLECTED)
        return Response(BilledRecognizedCollectedSerializer({
            "currency": currency, "from": start, "to": end,
            "months": [{"month": month, **{name: amount_text(figures[name].amounts[i], currency)
                                           for name in names}}
                       for i, month in enumerate(report.months)],
            "totals": {name: amount_text(figures[name].total, currency) for name in names},
        }).data)


# --- The journal ------------------------------------------------------------------------------


def _journal_filters(params: dict, organization) -> dict:
    """The journal's query parameters as ``selectors.journal_lines``' arguments; an account
    that is not the organization's is a 400."""
    filters = {"start": params.get("from"), "end": params.get("to"),
               "source_type": params.get("source_type", ""),
               "currency": params.get("currency", "")}
    for name in selectors.REFERENCES:
        filters[name] = params.get(name)
    if params.get("account"):
        account = Account.objects.for_organization(organization).filter(
            id=params["account"]).first()
        if account is None:
            raise _refuse("account", "No account of this organization has this id.",
                          "does_not_exist")
        filters["account"] = account
    return filters


class JournalView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_journal", parameters=[JournalQuery],
        responses=JournalLineSerializer(many=True), summary="The journal's lines",
        description="Lines of the journal (newest posted first, cursor-paginated), each with "
                    "its entry (effective date, currency, source event, memo), its account "
                    "and GL code, and the documents behind it with the dashboard pages to "
                    "drill down to.",
    )
    def get(self, request):
        filters = _journal_filters(_params(JournalQuery, request), self.organization)
        return self.paginate(selectors.journal_lines(organization=self.organization, **filters),
                             JournalLineSerializer)


class JSONForErrors(DefaultContentNegotiation):
    """The export's ``format`` is its own parameter, not DRF's renderer switch: errors are
    JSON in the one error body whatever it says; a CSV is written by the view itself."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _cell(value: object) -> str:
    """A CSV cell; text a spreadsheet would run as a formula starts with a quote (OWASP)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _export_row(row: selectors.ExportRow) -> dict:
    values = {name: getattr(row, name) for name in selectors.EXPORT_COLUMNS}
    values["debit"] = amount_text(row.debit, row.currency)
    values["credit"] = amount_text(row.credit, row.currency)
    return values


class JournalExportView(OrganizationAPIView):
    content_negotiation_class = JSONForErrors

    @extend_schema(
        operation_id="revenue_journal_export", parameters=[ExportQuery],
        responses={(200, "text/csv"): OpenApiTypes.STR,
                   (200, "application/json"): ExportSerializer},
        summary="Export the journal for a general ledger",
        description="Every line of the entries effective in [from, to], in the order they "
                    "count, with the entry (id, date, currency, source, memo), the account "
                    "(code, GL code -- its code when none is mapped -- and name), debit, "
                    "credit and the documents behind it: a CSV with a header row (text that "
                    "a spreadsheet would run as a formula starts with a quote), or JSON. At "
                    f"most {selectors.MAX_EXPORT_LINES:,} lines: narrow the dates beyond.",
    )
    def get(self, request):
        params = _params(ExportQuery, request)
        start, end = params.get("from"), params.get("to")
        currency = params.get("currency", "")
        lines = selectors.journal_lines(organization=self.organization, start=start, end=end,
                                        currency=currency)
        if lines.count() > selectors.MAX_EXPORT_LINES:
            raise _refuse("from", f"More than {selectors.MAX_EXPORT_LINES:,} lines: export a "
                                  "shorter range.", "too_many_lines")
        rows = [_export_row(row) for row in selectors.journal_export(
            organization=self.organization, start=start, end=end, currency=currency)]
        if params["format"] == "json":
            return Response(ExportSerializer({"columns": list(selectors.EXPORT_COLUMNS),
                                              "rows": rows}).data)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(selectors.EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row[name]) for name in selectors.EXPORT_COLUMNS])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        span = f"{start.isoformat() if start else 'start'}-{end.isoformat() if end else 'end'}"
        response["Content-Disposition"] = f'attachment; filename="journal-{span}.csv"'
        return response


# --- Schedules and closes ---------------------------------------------------------------------


class ScheduleListView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_schedules_list", parameters=[ScheduleQuery],
        responses=ScheduleSerializer(many=True), summary="Revenue schedules",
        description="How each invoice line's revenue is earned: ratably by day over its "
                    "period, or as a prepaid block's units are drawn (the rest at expiry); "
                    "the amount, what is recognized and what is still deferred. Newest "
                    "first, cursor-paginated.",
    )
    def get(self, request):
        invoice = _params(ScheduleQuery, request).get("invoice")
        schedules = RevenueSchedule.objects.for_organization(self.organization)
        if invoice is not None:
            schedules = schedules.filter(invoice_id=invoice)
        return self.paginate(schedules, ScheduleSerializer)


def _checks(checks: list[closing.Check]) -> list[dict]:
    return [{"name": c.name, "passed": c.passed, "blocking": c.blocking, "count": c.count,
             "detail": c.detail} for c in checks]


class CloseListView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_closes_list", responses=PeriodCloseSerializer(many=True),
        summary="Period closes",
        description="Every close of the books, newest first (a reopening is a close to an "
                    "earlier day): the latest one's day is the lock date.",
    )
    def get(self, request):
        return self.paginate(PeriodClose.objects.for_organization(self.organization),
                             PeriodCloseSerializer)

    @extend_schema(
        operation_id="revenue_closes_create", request=CloseIn,
        responses={201: PeriodCloseSerializer}, summary="Close the books through a day",
        description="Accrues the period's usage and recognizes revenue through "
                    "`closed_through`, runs the pre-close checks, and records the close: "
                    "from then on nothing posts on or before that day (a later event posts "
                    "on the first open day). The day must have ended and be after the lock "
                    "date. A blocking check that fails refuses the close (400, each failing "
                    "check under `closed_through`, its name as the code) and nothing is "
                    "written, unless `force`.",
    )
    def post(self, request):
        data = CloseIn(data=request.data)
        data.is_valid(raise_exception=True)
        through = data.validated_data["closed_through"]
        if through >= today(self.organization):
            raise _refuse("closed_through", f"{through.isoformat()} has not ended yet in "
                                            f"{self.organization.time_zone}: close a past day.",
                          "not_ended")
        with transaction.atomic():  # a refused close leaves no accrual nor recognition behind
            close = closing.period_close(
                organization=self.organization, through=through, closed_by=_actor(request),
                force=data.validated_data["force"], note=data.validated_data.get("note", ""))
        return Response(PeriodCloseSerializer(close).data, status=status.HTTP_201_CREATED)


class CloseChecksView(OrganizationAPIView):
    @extend_schema(
        operation_id="revenue_close_checks", parameters=[ThroughQuery],
        responses=CloseChecksSerializer, summary="The pre-close checks of a period",
        description="The checks a close through `through` would run, as things stand now "
                    "(the close itself first recognizes revenue through that day): drafts "
                    "past their date, finalized invoices without an entry, schedules not "
                    "recognized through the day, payments kept as credit.",
    )
    def get(self, request):
        through = _params(ThroughQuery, request)["through"]
        checks = closing.close_checks(organization=self.organization, through=through)
        locked = lock_date(self.organization)
        can_close = (through < today(self.organization)
                     and (locked is None or through > locked)
                     and not any(c.blocking and not c.passed for c in checks))
        return Response(CloseChecksSerializer({
            "through": through, "lock_date": locked, "can_close": can_close,
            "checks": _checks(checks)}).data)
