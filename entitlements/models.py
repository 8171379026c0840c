"""What each customer may use: features, the grants that give them, the counters that say
how much was used, and the prepaid balances that usage draws down.

Tables and their invariants only; every write goes through ``entitlements.services``. How a
customer's grants are resolved and how a check is answered is in ``entitlements.grants`` and
``entitlements.checks``; the counters' two homes (PostgreSQL, the truth; Redis, the hot path)
in ``entitlements.counters``. A customer whose entitlements are paused for non-payment has an
active ``Suspension``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from zenskar.tenancy.models import TenantModel

# Limits and balances hold what a price item's quantity holds (contracts.models.PRICE).
QUANTITY = {"max_digits": 30, "decimal_places": 10}


class Feature(TenantModel):
    """Something a customer may use: on or off, a number (seats), a limit on a meter's
    usage per window, or a prepaid balance of units a meter draws down."""

    class Kind(models.TextChoices):
        BOOLEAN = "boolean", "Access on or off"
        NUMERIC = "numeric", "A number (e.g. seats)"
        METERED = "metered", "A limit on a meter's usage"
        PREPAID = "prepaid", "A prepaid balance drawn down by a meter"

    class Reset(models.TextChoices):
        MONTHLY = "monthly", "Every calendar month"
        BILLING_PERIOD = "billing_period", "Every billing period of the contract"
        NEVER = "never", "Never (for the life of the contract)"

    class Policy(models.TextChoices):
        HARD = "hard", "Hard: deny past the limit"
        SOFT = "soft", "Soft: allow past the limit and notify"
        OVERAGE = "overage", "Overage: allow and bill the excess through the contract"

    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    meter_key = models.SlugField(max_length=100, blank=True,
                                 help_text="The meter whose usage counts (metered, prepaid).")
    reset = models.CharField(max_length=16, choices=Reset.choices, blank=True,
                             help_text="When a metered limit starts again.")
    policy = models.CharField(max_length=8, choices=Policy.choices, default=Policy.HARD,
                              help_text="At the limit, unless a grant says otherwise.")
    notify_at = models.DecimalField(
        max_digits=5, decimal_places=4, default="0.8",
        help_text="The share of the limit at which limit_approaching is sent.")
    unit = models.CharField(max_length=50, blank=True, help_text="e.g. hours, calls, seats")
    archived_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="feature_key_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["metered", "prepaid"], meter_key__gt="")
                | (~Q(kind__in=["metered", "prepaid"]) & Q(meter_key="")),
                name="feature_meter_iff_usage"),
            models.CheckConstraint(
                condition=Q(kind="metered", reset__gt="") | (~Q(kind="metered") & Q(reset="")),
                name="feature_reset_iff_metered"),
            models.CheckConstraint(condition=Q(notify_at__gt=0, notify_at__lte=1),
                                   name="feature_notify_at_share"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    @property
    def counts_usage(self) -> bool:
        return self.kind in (self.Kind.METERED, self.Kind.PREPAID)


class ProductFeature(TenantModel):
    """A product includes a feature: the "Gold plan" includes 1,000 API calls a month. A
    contract with an item of the product grants it while the item's phase is in force; a
    prepaid feature is granted per unit bought, when the invoice is paid (or finalized)."""

    class GrantOn(models.TextChoices):
        PAID = "paid", "When the invoice is paid"
        FINALIZED = "finalized", "When the invoice is finalized"

    product = models.ForeignKey("contracts.Product", on_delete=models.CASCADE, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="product_grants")
    enabled = models.BooleanField(default=True, help_text="Boolean features: on or off.")
    value = models.DecimalField(
        **QUANTITY, null=True, blank=True,
        help_text="Numeric: the number; metered: the limit per window; prepaid: units per "
                  "unit of the invoice line bought.")
    policy = models.CharField(max_length=8, choices=Feature.Policy.choices, blank=True,
                              help_text="Empty: the feature's policy.")
    grant_on = models.CharField(max_length=16, choices=GrantOn.choices, default=GrantOn.PAID)
    expires_after_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Prepaid: the units expire this many days after grant.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["product", "feature"], name="product_feature_unique"),
            models.CheckConstraint(condition=Q(value__isnull=True) | Q(value__gte=0),
                                   name="product_feature_value_not_negative"),
        ]


class BalanceLot(TenantModel):
    """Prepaid units a customer was granted: bought on an invoice line, or given by a
    person. Usage draws the lots down, the earliest to expire first; what a lot still holds
    when it expires is ``forfeited`` (written once, at expiry). One lot per source: a
    retried grant finds its row."""

    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT,
                                 related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="lots")
    units = models.DecimalField(**QUANTITY)
    source = models.CharField(max_length=200, help_text="invoice_line:<id>, grant:<id>")
    invoice_id = models.UUIDField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    forfeited = models.DecimalField(**QUANTITY, default=0)

    class Meta:
        ordering = ["granted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source"], name="balance_lot_source"),
            models.CheckConstraint(condition=Q(units__gt=0), name="balance_lot_positive"),
            models.CheckConstraint(condition=Q(forfeited__gte=0, forfeited__lte=models.F("units")),
                                   name="balance_lot_forfeit_in_bounds"),
        ]
        indexes = [models.Index(fields=["organization", "customer", "feature"],
                                name="balance_lot_customer")]


class UsageCounter(TenantModel):
    """A meter's usage by one customer on one day of the customer's time zone: the source
    of truth every check and every consumption adds up (a month is at most 31 rows), kept
    as events are ingested, in their transaction. Rebuilt from the event table by the
    reconciliation job, never the other way round."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)  # not indexed: never searched
    customer = models.CharField(max_length=255, help_text="The customer's external id.")
    meter_key = models.SlugField(max_length=100)
    day = models.DateField()
    value = models.DecimalField(**QUANTITY, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "customer", "meter_key", "day"],
                                    name="usage_counter_day"),
        ]


class Consumption(TenantModel):
    """One consuming call: units a product asked to reserve before doing work, and what it
    was granted. Unique per (organization, key): a retried call returns the first answer."""

    key = models.CharField(max_length=255)
    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="+")
    requested = models.DecimalField(**QUANTITY)
    granted = models.DecimalField(**QUANTITY)
    answer = models.JSONField(help_text="The check as answered to the call.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="consumption_key"),
        ]


class Notice(TenantModel):
    """A notification sent about a customer's feature (limit approaching or reached, balance
    exhausted or topped up): once per window (or lot), by this unique row."""

    class Kind(models.TextChoices):
        LIMIT_APPROACHING = "entitlement.limit_approaching", "Limit approaching"
        LIMIT_REACHED = "entitlement.limit_reached", "Limit reached"
        BALANCE_EXHAUSTED = "entitlement.balance_exhausted", "Balance exhausted"
        BALANCE_TOPPED_UP = "entitlement.balance_topped_up", "Balance topped up"

    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    window = models.CharField(max_length=100, help_text="The window or lot it is about.")
    payload = models.JSONField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "customer", "feature", "kind",
                                            "window"], name="notice_once_per_window"),
        ]


class Suspension(TenantModel):
    """A customer's entitlements paused for non-payment, as the receivables app asks (the
    ``customer.entitlements_paused`` / ``customer.entitlements_resumed`` domain events): while
    the row is active (``resumed_at`` empty) every check of a feature the customer is granted,
    and every consuming call, answers not allowed with the reason ``paused``. Resuming ends
    the row; the history stays. At most one active row per customer (a partial unique
    constraint): pausing a paused customer finds its row."""

    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    invoice_id = models.UUIDField(null=True, blank=True,
                                  help_text="The overdue invoice it is about, if one.")
    paused_at = models.DateTimeField()
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-paused_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "customer"],
                                    condition=Q(resumed_at__isnull=True),
                                    name="suspension_one_active"),
            models.CheckConstraint(condition=Q(resumed_at__isnull=True)
                                   | Q(resumed_at__gte=models.F("paused_at")),
                                   name="suspension_resumed_after_paused"),
        ]

    @property
    def active(self) -> bool:
        return self.resumed_at is None


class Reconciliation(TenantModel):
    """One run of the counters' reconciliation: what it checked and the drift it repaired,
    in PostgreSQL (counters against the events) and in Redis (against PostgreSQL)."""

    finished_at = models.DateTimeField(null=True, blank=True)
    since = models.DateField()
    counters_checked = models.PositiveIntegerField(default=0)
    database_repaired = models.PositiveIntegerField(default=0)
    cache_repaired = models.PositiveIntegerField(default=0)
    drift = models.JSONField(default=list, help_text="Up to 50 repaired counters, with "
                                                     "what they held and what they hold now.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
