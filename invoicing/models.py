"""Invoices, their lines, numbering, taxes, credit notes and customer credit.

Documents are state machines (``draft -> finalized -> paid | void | uncollectible``); a
finalized invoice never changes, a credit note corrects it. The arithmetic is in
``contracts.pricing``; the workflows in ``invoicing.services``.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from zenskar.tenancy.models import TenantModel

AMOUNT = {"max_digits": 20, "decimal_places": 4}  # rounded to the currency; room for KWD
PRICE = {"max_digits": 30, "decimal_places": 10}


class InvoiceSettings(TenantModel):
    """One row per organization: how its invoices are numbered and when they are final."""

    number_prefix = models.CharField(max_length=20)
    grace_period_hours = models.PositiveIntegerField(
        default=24, help_text="Drafts wait this long for late usage before finalization."
    )
    auto_finalize = models.BooleanField(default=True)
    auto_send = models.BooleanField(default=True)
    footer = models.TextField(blank=True, help_text="Printed on every invoice (bank details).")
    address = models.TextField(blank=True, help_text="The organization's postal address.")
    logo_url = models.TextField(blank=True)  # a data: URI (bounded by the settings service)
    support_email = models.EmailField(
        blank=True, help_text="Where customers ask about what they owe: shown on the payment "
                              "page and its receipt.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="invoice_settings_one")
        ]


class NumberSequence(TenantModel):
    """The gapless counter of an organization's invoice (or credit note) numbers for a year.
    Taken under a row lock in the finalizing transaction: a rolled-back finalization gives
    its number back, so numbers are never skipped nor reused."""

    kind = models.CharField(max_length=16, default="invoice")
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "year"],
                                    name="number_sequence_unique")
        ]


class TaxRate(TenantModel):
    name = models.CharField(max_length=100)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    region = models.CharField(max_length=100, blank=True, help_text="Empty: the whole country.")
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="Percent, e.g. 19.")
    inclusive = models.BooleanField(default=False, help_text="Prices already include it.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country", "region"]


class Invoice(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINALIZED = "finalized", "Finalized"
        PAID = "paid", "Paid"
        VOID = "void", "Void"
        UNCOLLECTIBLE = "uncollectible", "Uncollectible"

    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT,
                                 related_name="invoices")
    contract = models.ForeignKey("contracts.Contract", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="invoices")
    billing_date = models.DateField(help_text="The contract's billing date this invoice is for.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    subtotal = models.DecimalField(**AMOUNT, default=0)
    tax_total = models.DecimalField(**AMOUNT, default=0)
    total = models.DecimalField(**AMOUNT, default=0)
    # What became of the total: total - amount_credited - credit_applied - amount_paid =
    # amount_due. Each is the sum of the invoice's InvoiceSettlement rows of its kind,
    # written with them under the invoice's row lock (invoicing.services.settlement).
    amount_credited = models.DecimalField(
        **AMOUNT, default=0,
        help_text="Credit notes that took off what is owed (reduce_due or refund).")
    credit_applied = models.DecimalField(**AMOUNT, default=0)
    amount_paid = models.DecimalField(
        **AMOUNT, default=0, help_text="Payments applied, net of the refunds taken back.")
    amount_refunded = models.DecimalField(
        **AMOUNT, default=0, help_text="Refunds taken back out of the invoice's payments.")
    amount_due = models.DecimalField(**AMOUNT, default=0)
    finalize_after = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    corrections_only = models.BooleanField(
        default=False,
        help_text="Carries only corrections of earlier final invoices (the contract had no "
                  "draft to carry them): it never stands for a billing date of the schedule.")
    rerated_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When its finalization re-rated the contract's closed dates (it carries "
                  "their corrections); a later amendment or late usage re-rates them again.")
    voided_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    pdf = models.BinaryField(null=True, blank=True)
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)
    # The hosted payment page's signed link, which the PDF and the e-mail carry: made by
    # payments when the first of them goes out (again when about to expire), stored through
    # invoicing.services.invoice_payment_link_set.
    payment_url = models.TextField(blank=True)
    payment_url_expires_at = models.DateTimeField(null=True, blank=True)
    memo = models.TextField(blank=True)
    manual = models.BooleanField(default=False, help_text="A one-off invoice written by hand.")
    payment_terms_days = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="A one-off invoice's own terms: due this many days after its issue date. "
                  "Empty: the contract's terms, or the customer's.")
    edited = models.BooleanField(
        default=False, help_text="Changed by hand: no longer recomputed from usage."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-billing_date", "-created_at"]
        constraints = [
            # One invoice per contract and billing date, whatever runs the generation.
            models.UniqueConstraint(
                fields=["contract", "billing_date"],
                condition=Q(contract__isnull=False, corrections_only=False),
                name="invoice_one_per_contract_date",
            ),
            models.UniqueConstraint(  # corrections alone: one open at a time per contract
                fields=["contract"],
                condition=Q(contract__isnull=False, corrections_only=True, status="draft"),
                name="invoice_one_open_correction_per_contract",
            ),
            models.UniqueConstraint(
                fields=["organization", "number"], condition=~Q(number=""),
                name="invoice_number_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "finalize_after"],
                         name="invoice_due_to_finalize"),
            models.Index(fields=["organization", "customer", "status"], name="invoice_customer"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {self.billing_date}"


class InvoiceLine(TenantModel):
    class Kind(models.TextChoices):
        RECURRING = "recurring", "Recurring charge"
        USAGE = "usage", "Usage"
        ONE_TIME = "one_time", "One-time charge"
        PREPAID = "prepaid", "Prepaid purchase"
        OVERAGE = "overage", "Overage"
        TRUE_UP = "true_up", "Minimum commitment true-up"
        DISCOUNT = "discount", "Discount"
        CREDIT = "credit", "Proration credit"
        ADJUSTMENT = "adjustment", "Late usage adjustment"
        MANUAL = "manual", "Manual line"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    price_item = models.ForeignKey("contracts.PriceItem", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey("contracts.Product", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=500)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(**PRICE, null=True, blank=True)
    unit_price = models.DecimalField(**PRICE, null=True, blank=True)
    amount = models.DecimalField(**AMOUNT, help_text="Rounded once, to the currency.")
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    tax_amount = models.DecimalField(**AMOUNT, default=0)
    derivation = models.JSONField(default=dict, help_text="Why the amount is what it is.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "created_at"]


class InvoiceAudit(TenantModel):
    """Who changed a draft by hand, and how."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="audit")
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["created_at"]


class CreditNote(TenantModel):
    """A document that corrects a finalized invoice: numbered from its own gapless sequence,
    rendered to a PDF once, e-mailed to the customer. Its money goes where it was told
    (``destination``): off what is still due, to the customer's credit balance, or back to
    the invoice's payments (a refund). ``total = amount_credited + to_customer_credit``."""

    class Destination(models.TextChoices):
        REDUCE_DUE = "reduce_due", "Reduce the amount due"
        CUSTOMER_CREDIT = "customer_credit", "Customer credit balance"
        REFUND = "refund", "Refund the payment"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey("contracts.Customer", null=True, on_delete=models.PROTECT,
                                 related_name="credit_notes")
    number = models.CharField(max_length=64)
    reason = models.CharField(max_length=300)
    currency = models.CharField(max_length=3)
    destination = models.CharField(max_length=16, choices=Destination.choices,
                                   default=Destination.REDUCE_DUE)
    subtotal = models.DecimalField(**AMOUNT)
    tax_total = models.DecimalField(**AMOUNT)
    total = models.DecimalField(**AMOUNT)
    amount_credited = models.DecimalField(
        **AMOUNT, default=0, help_text="The part that took off what the invoice owes.")
    to_customer_credit = models.DecimalField(
        **AMOUNT, default=0, help_text="The part that became customer credit.")
    to_refund = models.DecimalField(
        **AMOUNT, default=0, help_text="The part refunded to the invoice's payments.")
    pdf = models.BinaryField(null=True, blank=True)
    pdf_rendered_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"],
                                    name="credit_note_number_unique"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(TenantModel):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=500)
    amount = models.DecimalField(**AMOUNT)
    tax_amount = models.DecimalField(**AMOUNT, default=0)


class InvoiceSettlement(TenantModel):
    """One movement of money on a finalized invoice -- what its amount fields are the sums
    of. ``amount`` is what the movement did to the field of its kind:

    - ``payment``: a payment applied (``amount_paid`` += amount, ``amount_due`` -= amount);
    - ``refund``: a refund taken back out of a payment (``amount_paid`` -= amount,
      ``amount_refunded`` += amount; ``amount_due`` += amount unless a credit note took the
      same amount off what is owed in the same transaction);
    - ``credit_note``: a credit note that took ``amount`` off what is owed
      (``amount_credited``);
    - ``credit_applied``: customer credit applied at finalization (``credit_applied``); a
      negative amount is an invoice of credits whose total went to the credit balance.

    ``source`` is unique per organization: a retried application finds its row and does
    nothing twice. ``reference`` is the payment a refund reverses (its source)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        CREDIT_NOTE = "credit_note", "Credit note"
        CREDIT_APPLIED = "credit_applied", "Customer credit applied"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="settlements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT)
    source = models.CharField(max_length=200, help_text="payment:<id>, refund:<id>, ...")
    reference = models.CharField(max_length=200, blank=True,
                                 help_text="A refund: the source of the payment it reverses.")
    credit_note = models.ForeignKey(CreditNote, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="settlements")
    description = models.CharField(max_length=300, blank=True)
    status_before = models.CharField(max_length=16)
    status_after = models.CharField(max_length=16)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source"],
                                    name="invoice_settlement_source_unique"),
        ]
        indexes = [models.Index(fields=["organization", "invoice", "kind"],
                                name="invoice_settlement_kind")]


class CreditGrant(TenantModel):
    """A lot of customer credit: granted by someone (``grant``), an overpayment kept as
    credit, a prepaid purchase, a credit note, an invoice of credits. ``remaining`` is what
    is left of it -- never below zero (a database CHECK, and every draw locks the row) --
    and the customer's balance in a currency is the sum of its lots' ``remaining``, which is
    also the sum of its CustomerCredit movements. A lot restricted to products
    (``product_ids``) pays only invoice lines of those products; a lot with ``expires_at``
    expires by a movement, never by a deletion."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Granted"
        OVERPAYMENT = "overpayment", "Overpayment kept as credit"
        PREPAID = "prepaid", "Prepaid purchase"
        CREDIT_NOTE = "credit_note", "Credit note"
        INVOICE = "invoice", "Invoice of credits"
        MIGRATED = "migrated", "Balance before credit lots"

    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT,
                                 related_name="credit_grants")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(**AMOUNT)
    remaining = models.DecimalField(**AMOUNT)
    reason = models.CharField(max_length=300)
    source = models.CharField(max_length=200, help_text="grant:<id>, payment:<id>, ...")
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    product_ids = ArrayField(models.UUIDField(), default=list, blank=True,
                             help_text="Empty: any line. Else only lines of these products.")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", help_text="The invoice it came from.")
    granted_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source"],
                                    name="credit_grant_source_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_grant_positive"),
            models.CheckConstraint(condition=Q(remaining__gte=0, remaining__lte=models.F("amount")),
                                   name="credit_grant_remaining_in_bounds"),
        ]
        indexes = [models.Index(fields=["organization", "customer", "currency"],
                                name="credit_grant_customer")]


class CustomerCredit(TenantModel):
    """Customer credit balance movements: positive adds credit, negative uses it. The
    balance is their sum (per currency). Unique per source so nothing is applied twice.
    Each movement since credit lots belongs to the lot (``grant``) it adds to or draws
    from."""

    class Kind(models.TextChoices):
        GRANTED = "granted", "Granted"
        APPLIED = "applied", "Applied to an invoice"
        RETURNED = "returned", "Returned by a voided invoice"
        EXPIRED = "expired", "Expired"
        REFUNDED = "refunded", "Refunded"

    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT,
                                 related_name="credit_movements")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**AMOUNT)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GRANTED)
    grant = models.ForeignKey(CreditGrant, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="movements")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    source = models.CharField(max_length=200, help_text="e.g. credit_note:<id>, invoice:<id>")
    description = models.CharField(max_length=300)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source"],
                                    name="customer_credit_source_unique")
        ]


class BillingFailure(TenantModel):
    """A contract or invoice that a scheduled run could not handle: which, at what stage, why,
    since when and how often. The run went on with the others; the next run tries this one
    again, and a success resolves the row (kept, as history). One open row per stage and
    contract (generation) or invoice (finalization, delivery, payment): a database
    constraint, so runs at once count attempts on the same row."""

    class Stage(models.TextChoices):
        GENERATION = "generation", "Invoice generation"
        FINALIZATION = "finalization", "Finalization"
        DELIVERY = "delivery", "Delivery (PDF and e-mail)"
        PAYMENT = "payment", "Automatic payment"

    stage = models.CharField(max_length=16, choices=Stage.choices)
    subject_id = models.UUIDField(
        help_text="The contract (generation) or the invoice (other stages) that failed; kept "
                  "when that row is deleted.")
    contract = models.ForeignKey("contracts.Contract", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    customer = models.ForeignKey("contracts.Customer", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    message = models.CharField(max_length=500, help_text="For people: no traceback (logged).")
    error_type = models.CharField(max_length=200, blank=True)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True,
                                  help_text="Why it is no longer open, e.g. billed on retry.")

    class Meta:
        ordering = ["-last_failed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "stage", "subject_id"],
                condition=Q(resolved_at__isnull=True), name="billing_failure_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} failed: {self.message}"


class InvoiceTemplate(TenantModel):
    """The organization's invoice template: HTML and CSS in a sandboxed Jinja2."""

    name = models.CharField(max_length=100, default="Invoice")
    html = models.TextField()
    css = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)



# The customer coupons, in a module of their own (this one is long enough), registered with the
# app from here like every model of it.
from invoicing.coupon_models import Coupon as Coupon  # noqa: E402
from invoicing.coupon_models import CouponApplication as CouponApplication  # noqa: E402
from invoicing.coupon_models import CouponRedemption as CouponRedemption  # noqa: E402
