"""Customers, products and contracts: the written-once copy of each paper contract.

Tables and their invariants only; every write goes through ``contracts.services``. The
arithmetic lives in the pure packages ``contracts.pricing`` and ``contracts.schedule``.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from zenskar.tenancy.models import TenantModel, validate_currency, validate_time_zone

# Prices carry 10 decimal places (a price per API call of $0.0000125 survives); amounts are
# rounded to the currency's minor unit only on invoice lines.
PRICE = {"max_digits": 30, "decimal_places": 10}


class Cadence(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUAL = "semi_annual", "Semi-annual"
    ANNUAL = "annual", "Annual"
    EVERY_N_MONTHS = "every_n_months", "Every N months"
    WEEKLY = "weekly", "Weekly"
    ONE_TIME = "one_time", "One time"


CADENCE_MONTHS = {
    Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3, Cadence.SEMI_ANNUAL: 6, Cadence.ANNUAL: 12,
}


class Anchor(models.TextChoices):
    CALENDAR = "calendar", "Calendar-aligned"
    ANNIVERSARY = "anniversary", "Anniversary of the start date"
    DAY_OF_MONTH = "day_of_month", "A chosen day of the month"


class Weekday(models.TextChoices):
    """The day calendar-anchored weekly periods start on (ISO order, Monday first)."""

    MONDAY = "monday", "Monday"
    TUESDAY = "tuesday", "Tuesday"
    WEDNESDAY = "wednesday", "Wednesday"
    THURSDAY = "thursday", "Thursday"
    FRIDAY = "friday", "Friday"
    SATURDAY = "saturday", "Saturday"
    SUNDAY = "sunday", "Sunday"


class Timing(models.TextChoices):
    ADVANCE = "advance", "In advance"
    ARREARS = "arrears", "In arrears"


class Customer(TenantModel):
    external_id = models.CharField(
        max_length=255, help_text="Your own id for the customer; usage events refer to it."
    )
    name = models.CharField(max_length=200)
    emails = ArrayField(models.EmailField(), default=list, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    tax_id = models.CharField(max_length=64, blank=True)
    tax_exempt = models.BooleanField(default=False)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    attributes = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="customer_external_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Product(TenantModel):
    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring service"
        USAGE = "usage", "Usage"
        ONE_TIME = "one_time", "One-time"

    class RevenueRule(models.TextChoices):
        RATABLE = "ratable", "Ratably over the service period"
        POINT_IN_TIME = "point_in_time", "At a point in time"
        AS_USED = "as_used", "As used"

    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    revenue_rule = models.CharField(max_length=16, choices=RevenueRule.choices)
    standalone_selling_price = models.DecimalField(**PRICE, null=True, blank=True)
    ssp_currency = models.CharField(
        max_length=3, blank=True, validators=[validate_currency],
        help_text="Currency of the standalone selling price.",
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sku"], name="product_sku_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Contract(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=200)
    reference = models.CharField(
        max_length=200, blank=True, help_text="The paper contract's own reference."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    start_date = models.DateField()
    end_date = models.DateField(
        null=True, blank=True, help_text="First day not covered; empty for evergreen."
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    cadence = models.CharField(max_length=16, choices=Cadence.choices, default=Cadence.MONTHLY)
    cadence_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For 'every N months'."
    )
    anchor = models.CharField(max_length=16, choices=Anchor.choices, default=Anchor.CALENDAR)
    anchor_day = models.PositiveSmallIntegerField(null=True, blank=True)
    anchor_weekday = models.CharField(
        max_length=9, choices=Weekday.choices, blank=True,
        help_text="Weekly periods anchored on the calendar start on this day (Monday if empty).",
    )
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    auto_renew = models.BooleanField(default=False)
    renewal_term_months = models.PositiveSmallIntegerField(null=True, blank=True)
    renewal_notice_days = models.PositiveSmallIntegerField(null=True, blank=True)
    variables = models.JSONField(
        default=dict, blank=True, help_text="Named numbers custom formulas may use."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="contract_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(anchor="day_of_month")
                | Q(anchor_day__gte=1, anchor_day__lte=31),
                name="contract_anchor_day_in_month",
            ),
            models.CheckConstraint(
                condition=~Q(cadence="every_n_months") | Q(cadence_months__gte=1),
                name="contract_every_n_months_has_n",
            ),
            models.CheckConstraint(
                condition=Q(anchor_weekday="") | Q(anchor="calendar"),
                name="contract_weekday_on_calendar_anchor",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Phase(TenantModel):
    """A consecutive date range of a contract with its own prices (a ramp step, a trial).

    Phases of a contract never overlap: every write of a phase goes through a service that
    locks the contract row first, then checks (an exclusion constraint would need the
    btree_gist extension, which not every PostgreSQL installation ships)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=200, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="First day not covered.")
    entitlements = models.JSONField(
        default=dict, blank=True,
        help_text='Feature key -> override in this phase ({"value": "2000", "policy": '
                  '"hard"}), normalised; see contracts.entitlement_overrides.',
    )

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "start_date"], name="phase_start_unique"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="phase_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.start_date} - {self.end_date or 'open'}"


class PriceItem(TenantModel):
    class Model(models.TextChoices):
        FLAT_FEE = "flat_fee", "Flat fee"
        PER_UNIT = "per_unit", "Per unit"
        PERCENTAGE = "percentage", "Percentage of an amount"
        PACKAGE = "package", "Package"
        GRADUATED = "graduated", "Graduated tiers"
        VOLUME = "volume", "Volume tiers"
        STAIR_STEP = "stair_step", "Stair-step"
        MATRIX = "matrix", "Matrix"
        TWO_DIMENSIONAL = "two_dimensional", "Two-dimensional tiers"
        FORMULA = "formula", "Custom formula"
        PREPAID_UNITS = "prepaid_units", "Prepaid units"
        PREPAID_CREDIT = "prepaid_credit", "Prepaid credit"
        MINIMUM_COMMITMENT = "minimum_commitment", "Minimum spend commitment"

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    timing = models.CharField(max_length=8, choices=Timing.choices, default=Timing.ADVANCE)
    cadence = models.CharField(
        max_length=16, choices=Cadence.choices, blank=True,
        help_text="Empty: the contract's cadence.",
    )
    cadence_months = models.PositiveSmallIntegerField(null=True, blank=True)
    meter_key = models.SlugField(max_length=100, blank=True)
    quantity = models.DecimalField(
        **PRICE, null=True, blank=True, help_text="A fixed quantity (seats) when not metered."
    )
    model = models.CharField(max_length=24, choices=Model.choices)
    pricing = models.JSONField(default=dict, help_text="The model's parameters; see the docs.")

    class Meta:
        ordering = ["position", "created_at"]

    def __str__(self) -> str:
        return self.description or f"{self.get_model_display()} item"


class Discount(TenantModel):
    """A discount on one price item (``price_item`` set) or on the whole contract."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage"
        FIXED = "fixed", "Fixed amount"

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="discounts")
    price_item = models.ForeignKey(
        PriceItem, null=True, blank=True, on_delete=models.CASCADE, related_name="discounts"
    )
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.DecimalField(**PRICE)
    periods = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Only the first N billing periods."
    )
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True, help_text="First day no longer discounted.")

    class Meta:
        ordering = ["created_at"]


class Amendment(TenantModel):
    """A change to a contract from a date on; the terms before that date are kept as they
    were (the phase in force is split at the date). ``before`` keeps the document of the
    contract as it stood, for the audit trail."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="amendments")
    effective_date = models.DateField()
    description = models.CharField(max_length=300, blank=True)
    before = models.JSONField()
    changes = models.JSONField()
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["effective_date", "created_at"]
