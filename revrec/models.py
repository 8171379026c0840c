"""The books: a chart of accounts per organization and a double-entry, append-only journal.

What the database itself guarantees (``revrec/migrations/0001_initial.py``), not Python:
- every entry, at commit, has at least two lines and its debits equal its credits (an entry
  has one currency) -- a deferred constraint trigger; a line's entry and account are its own
  organization's;
- entries and lines are never updated nor deleted (a trigger; the application role is not
  even granted UPDATE or DELETE on them): a mistake is corrected by a reversing entry;
- one entry per (organization, source event): a retried posting finds the entry it made;
  an entry is reversed at most once;
- a line has exactly one positive side;
- row-level security, like every tenant table.

Lines point at what is behind them (invoice, payment, credit note, customer, product) by plain
UUID columns, not foreign keys: the ledger keeps its history whatever becomes of those rows,
and a reader drills down from any figure to the document behind it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from zenskar.tenancy.models import TenantModel

AMOUNT = {"max_digits": 20, "decimal_places": 4}  # as invoicing's: rounded to the currency


class Account(TenantModel):
    """An account of the organization's chart. The system accounts (``system_key`` set) are
    seeded by ``revrec.services.accounts_ensure`` and are what postings name; the tenant maps
    each to its general-ledger code (``gl_code``) for export, and may add accounts of its
    own."""

    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        REVENUE = "revenue", "Revenue"
        EXPENSE = "expense", "Expense"

    class SystemKey(models.TextChoices):
        ACCOUNTS_RECEIVABLE = "accounts_receivable", "Accounts receivable"
        GATEWAY_RECEIVABLE = "gateway_receivable", "Gateway receivable (clearing)"
        CASH = "cash", "Cash"
        UNBILLED_REVENUE = "unbilled_revenue", "Unbilled revenue (contract asset)"
        ALLOWANCE_FOR_DOUBTFUL_ACCOUNTS = ("allowance_for_doubtful_accounts",
                                           "Allowance for doubtful accounts")
        DEFERRED_REVENUE = "deferred_revenue", "Deferred revenue (contract liability)"
        SALES_TAX_PAYABLE = "sales_tax_payable", "Sales tax payable"
        CUSTOMER_CREDIT = "customer_credit", "Customer credit (wallet)"
        REFUNDS_PAYABLE = "refunds_payable", "Refunds payable"
        REVENUE = "revenue", "Revenue"
        BAD_DEBT_EXPENSE = "bad_debt_expense", "Bad-debt expense"
        GATEWAY_FEES = "gateway_fees", "Gateway fees"

    code = models.CharField(max_length=20, help_text="The account's number in the chart.")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices)
    system_key = models.CharField(
        max_length=40, choices=SystemKey.choices, blank=True,
        help_text="Set on the accounts the system posts to; empty on the tenant's own.")
    gl_code = models.CharField(max_length=100, blank=True,
                               help_text="The code in the tenant's general ledger (export).")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "system_key"],
                                    condition=~Q(system_key=""),
                                    name="revrec_account_system_key_unique"),
            models.UniqueConstraint(fields=["organization", "code"],
                                    name="revrec_account_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class JournalEntry(TenantModel):
    """One posting: two or more lines whose debits equal their credits, in one currency,
    made once per source event (``source_type`` + ``source_id``: ``invoice.finalized`` and
    the invoice's id, ``payment.applied`` and ``payment:<id>``)."""

    posted_at = models.DateTimeField(default=timezone.now)
    effective_date = models.DateField(help_text="The day the entry counts in the books.")
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=500, blank=True)
    source_type = models.CharField(max_length=64)
    source_id = models.CharField(max_length=200)
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="reversals")

    class Meta:
        ordering = ["effective_date", "posted_at"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(fields=["organization", "source_type", "source_id"],
                                    name="revrec_entry_once_per_source"),
            models.UniqueConstraint(fields=["reverses"], condition=Q(reverses__isnull=False),
                                    name="revrec_entry_reversed_once"),
        ]
        indexes = [
            models.Index(fields=["organization", "effective_date"], name="revrec_entry_date"),
        ]

    def __str__(self) -> str:
        return f"{self.source_type} {self.source_id} ({self.effective_date})"


class JournalLine(TenantModel):
    """One side of an entry on one account: a debit or a credit, never both."""

    # Written by the thousand per recognition run: no index of its own on the organization
    # nor on created_at (the composite indexes lead with the organization).
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    debit = models.DecimalField(**AMOUNT, default=0)
    credit = models.DecimalField(**AMOUNT, default=0)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in its entry.")
    # What is behind the line, for drill-down (plain columns: no foreign key across apps).
    invoice_id = models.UUIDField(null=True, blank=True)
    payment_id = models.UUIDField(null=True, blank=True)
    credit_note_id = models.UUIDField(null=True, blank=True)
    customer_id = models.UUIDField(null=True, blank=True)
    product_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["entry", "position"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0, credit=0) | Q(debit=0, credit__gt=0)),
                name="revrec_line_one_side"),
        ]
        indexes = [
            # the journal's pages, newest first
            models.Index(fields=["organization", "created_at"], name="revrec_line_created"),
            models.Index(fields=["organization", "account"], name="revrec_line_account"),
            models.Index(fields=["organization", "invoice_id"], name="revrec_line_invoice"),
            models.Index(fields=["organization", "customer_id"], name="revrec_line_customer"),
        ]

    def __str__(self) -> str:
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account_id} {side}"


class RevenueSchedule(TenantModel):
    """How one invoice line's revenue (its share of the transaction price, after allocation)
    is earned: ``amount`` in total, ``recognized`` so far. The ledger's own row: the
    recognition run moves ``recognized`` and posts the same amounts in one transaction, so
    ``amount - recognized`` is what the line still holds in deferred revenue.

    - ``ratable``: by day over ``[start_date, end_date)``; what is recognized through a day is
      ``amount x elapsed days / days``, rounded once, so the days add up to ``amount``;
    - ``drawdown``: a prepaid block of ``units``, earned as they are used (``units_drawn``);
      what is left at ``end_date`` (the block's expiry) is breakage, recognized that day.

    A negative ``amount`` (a proration credit of an amendment) takes revenue back the same
    way. ``modification`` labels a schedule made by a contract amendment: prospective (from
    the amendment on) or cumulative catch-up (it starts in the past, so the next run
    recognizes the elapsed days at once)."""

    # Written by the thousand per recognition run: no index of its own on the organization
    # nor on created_at (the composite indexes lead with the organization).
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Method(models.TextChoices):
        RATABLE = "ratable", "Ratably by day"
        DRAWDOWN = "drawdown", "Prepaid drawdown, breakage at expiry"

    class Modification(models.TextChoices):
        NONE = "", "Not a modification"
        PROSPECTIVE = "prospective", "Prospective"
        CUMULATIVE_CATCH_UP = "cumulative_catch_up", "Cumulative catch-up"

    source = models.CharField(max_length=200, help_text="invoice_line:<id>, once.")
    method = models.CharField(max_length=16, choices=Method.choices)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT)
    recognized = models.DecimalField(**AMOUNT, default=0)
    billed = models.DecimalField(**AMOUNT, help_text="The line's amount as invoiced, net of tax.")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True,
                                help_text="First day not covered; a prepaid block's expiry.")
    recognized_through = models.DateField(
        null=True, blank=True, help_text="First day not yet recognized (ratable).")
    units = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    units_drawn = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    modification = models.CharField(max_length=24, choices=Modification.choices, blank=True,
                                    default="")
    done = models.BooleanField(default=False)
    description = models.CharField(max_length=500, blank=True)
    invoice_id = models.UUIDField()
    invoice_line_id = models.UUIDField(null=True, blank=True)
    price_item_id = models.UUIDField(null=True, blank=True)
    customer_id = models.UUIDField()
    product_id = models.UUIDField(null=True, blank=True)
    contract_id = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_date", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source"],
                                    name="revrec_schedule_once_per_source"),
            models.CheckConstraint(
                condition=Q(amount__gte=0, recognized__gte=0, recognized__lte=models.F("amount"))
                | Q(amount__lte=0, recognized__lte=0, recognized__gte=models.F("amount")),
                name="revrec_schedule_recognized_within_amount"),
        ]
        indexes = [
            models.Index(fields=["organization", "done", "method"], name="revrec_schedule_open"),
            models.Index(fields=["organization", "created_at"], name="revrec_schedule_created"),
            models.Index(fields=["organization", "invoice_id"], name="revrec_schedule_invoice"),
        ]

    @property
    def deferred(self):
        return self.amount - self.recognized

    def __str__(self) -> str:
        return f"{self.method} {self.amount} {self.currency} from {self.start_date}"


class Recognition(TenantModel):
    """What one schedule recognized on one day, and the entry that posted it: at most one per
    (schedule, day, kind) -- a run retried, or two runs at once, recognize a day once."""

    # Written by the thousand per recognition run: no index of its own on the organization
    # nor on created_at (the composite indexes lead with the organization).
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Kind(models.TextChoices):
        RATABLE = "ratable", "Ratable"
        DRAWDOWN = "drawdown", "Drawn down"
        BREAKAGE = "breakage", "Breakage at expiry"

    schedule = models.ForeignKey(RevenueSchedule, on_delete=models.PROTECT,
                                 related_name="recognitions")
    on = models.DateField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(**AMOUNT)
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=200, blank=True,
                              help_text="What caused it: the invoice whose usage drew down.")

    class Meta:
        ordering = ["on", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "on", "kind", "source"],
                                    name="revrec_recognition_once_per_day"),
        ]
        indexes = [models.Index(fields=["organization", "on"], name="revrec_recognition_day")]


class PeriodClose(TenantModel):
    """A close of the books through ``closed_through`` (inclusive): nothing posts on or
    before the latest such day; a later event posts into the first open day and says so.
    Reopening is a new row with an earlier date (the history stays)."""

    closed_through = models.DateField()
    closed_by = models.CharField(max_length=200, blank=True)
    checks = models.JSONField(default=list, help_text="The pre-close checks as they stood.")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
