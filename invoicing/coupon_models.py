"""Customer coupons: the organization's catalogue (``Coupon``), a coupon applied to a customer
(``CouponRedemption``), and what a redemption took off each invoice (``CouponApplication``).

Tables and their invariants only (imported by ``invoicing.models``); every write goes through
``invoicing.services.coupons``, the arithmetic is ``invoicing.coupon_discounts``.

Invoicing keeps them: a coupon's scope names products (contracts) and meters (metering), and
what it takes off is an invoice line and a consumption per invoice -- invoicing's rows. The
consumption is never a stored balance: what is left of a fixed coupon is its amount less the
applications on invoices that are not void (a deleted draft takes its applications with it),
so voiding an invoice or deleting a draft gives it back with no write of its own.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from zenskar.tenancy.models import TenantModel

AMOUNT = {"max_digits": 20, "decimal_places": 4}


class Coupon(TenantModel):
    """A discount customers can be given by its code: a percentage of the lines in its scope,
    or a fixed amount in one currency used up over the customer's invoices; for the first
    invoice, the first N invoices of each contract, or every invoice. Its terms never change
    once created (the customers who have it keep what they were given); its name, its limit
    and its redemption deadline may, and archiving it stops new redemptions only."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage"
        FIXED = "fixed", "Fixed amount"

    class Duration(models.TextChoices):
        ONCE = "once", "Once"
        REPEATING = "repeating", "Repeating"
        FOREVER = "forever", "Forever"

    code = models.CharField(max_length=50, help_text="What customers type; unique in any case.")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    percent_off = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    amount_off = models.DecimalField(**AMOUNT, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True,
                                help_text="A fixed coupon's: it applies to invoices in it only.")
    duration = models.CharField(max_length=16, choices=Duration.choices)
    duration_periods = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Repeating: the first N invoices of each contract.")
    product_ids = ArrayField(models.UUIDField(), default=list, blank=True,
                             help_text="Scope: lines of these products (with meter_keys: of "
                                       "either). Both empty: every line.")
    meter_keys = ArrayField(models.CharField(max_length=100), default=list, blank=True,
                            help_text="Scope: lines priced on these meters.")
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Across customers; empty: no limit.")
    times_redeemed = models.PositiveIntegerField(default=0)
    redeem_by = models.DateTimeField(null=True, blank=True,
                                     help_text="No redemption after this instant.")
    archived = models.BooleanField(default=False, help_text="No longer redeemable.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(Upper("code"), "organization",
                                    name="coupon_code_unique_any_case"),
            models.CheckConstraint(
                condition=(Q(kind="percent", percent_off__gt=0, percent_off__lte=100,
                             amount_off__isnull=True, currency="")
                           | (Q(kind="fixed", amount_off__gt=0, percent_off__isnull=True)
                              & ~Q(currency=""))),
                name="coupon_kind_terms"),
            models.CheckConstraint(
                condition=(Q(duration="repeating", duration_periods__gte=1)
                           | (~Q(duration="repeating") & Q(duration_periods__isnull=True))),
                name="coupon_duration_periods"),
            # the last slot is taken by one redemption only (an UPDATE guarded by the limit)
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True)
                | Q(times_redeemed__lte=F("max_redemptions")),
                name="coupon_redemptions_within_limit"),
        ]

    def __str__(self) -> str:
        return self.code


class CouponRedemption(TenantModel):
    """A coupon applied to a customer: once per customer and coupon. Removing it stops its
    applications to drafts from then on; finalized invoices keep theirs."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT,
                                 related_name="coupon_redemptions")
    redeemed_by = models.CharField(max_length=200, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "customer", "coupon"],
                                    name="coupon_redemption_once_per_customer"),
        ]


class CouponApplication(TenantModel):
    """What a redemption took off one invoice (its discount line's amount, positive). One per
    redemption and invoice: recomputing a draft rewrites its row, never adds one. Deleted with
    its draft; a void invoice's rows no longer count."""

    redemption = models.ForeignKey(CouponRedemption, on_delete=models.PROTECT,
                                   related_name="applications")
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.CASCADE,
                                related_name="coupon_applications")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT)
    in_scope_amount = models.DecimalField(**AMOUNT, help_text="What it was taken off.")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "redemption", "invoice"],
                                    name="coupon_application_once_per_invoice"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="coupon_application_positive"),
        ]
        indexes = [models.Index(fields=["organization", "invoice"],
                                name="coupon_application_invoice")]
