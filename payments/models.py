"""Gateways, saved payment methods, payments and refunds, gateway events, checkout sessions."""

from __future__ import annotations

from django.db import models

from zenskar.tenancy.models import TenantModel

AMOUNT = {"max_digits": 20, "decimal_places": 4}

# The gateway's card brands (Stripe's ``card.brand``) as a customer reads them.
CARD_BRANDS = {"amex": "American Express", "diners": "Diners Club", "discover": "Discover",
               "eftpos_au": "eftpos", "jcb": "JCB", "mastercard": "Mastercard",
               "unionpay": "UnionPay", "visa": "Visa"}


def card_label(brand: str, last4: str) -> str:
    """``card_label("visa", "4242")`` -> "Visa •••• 4242"; "" without the last four digits."""
    if not last4:
        return ""
    brand = brand.lower()
    if brand in ("", "unknown"):
        name = "Card"
    else:
        name = CARD_BRANDS.get(brand, brand.replace("_", " ").capitalize())
    return f"{name} •••• {last4}"


class GatewayAccount(TenantModel):
    """The organization's payment gateway. Keys and the webhook secret are encrypted at rest
    (zenskar.crypto) and never returned by the API."""

    class Kind(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        MANUAL = "manual", "Manual (no card processing)"

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        LIVE = "live", "Live"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.TEST)
    encrypted_credentials = models.BinaryField()
    publishable_key = models.CharField(max_length=200, blank=True)
    retry_days = models.JSONField(default=list, help_text="Days after a failed auto-charge on "
                                                          "which it is tried again, e.g. [1,3,5,7].")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="one_gateway")]


class GatewayCustomer(TenantModel):
    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    gateway_id = models.CharField(max_length=100)
    auto_collect = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "customer"],
                                               name="gateway_customer_once")]


class PaymentMethod(TenantModel):
    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="payment_methods")
    gateway_id = models.CharField(max_length=100)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True)
    exp_year = models.PositiveSmallIntegerField(null=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["organization", "gateway_id"],
                                               name="payment_method_once")]


class Payment(TenantModel):
    class Method(models.TextChoices):
        CARD = "card", "Card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CHEQUE = "cheque", "Cheque"
        CASH = "cash", "Cash"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"

    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT,
                                 related_name="payments")
    invoice = models.ForeignKey("invoicing.Invoice", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=16, choices=Method.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=200, blank=True,
                                 help_text="The gateway's id, or a cheque/transfer reference.")
    initiated_by = models.CharField(max_length=200, help_text="auto, a staff e-mail, customer")
    failure_reason = models.CharField(max_length=500, blank=True)
    refunded_amount = models.DecimalField(**AMOUNT, default=0)
    applied_amount = models.DecimalField(**AMOUNT, default=0,
                                         help_text="The part that paid the invoice.")
    received_on = models.DateField(null=True, blank=True)
    # The card a card payment was charged to, as it was then (the saved card may be removed
    # later): the receipt says "Visa •••• 4242".
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # Ties a gateway call to this row: a retried task reuses it, the gateway charges once.
    idempotency_key = models.CharField(max_length=200)
    attempt = models.PositiveSmallIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["organization", "idempotency_key"],
                                               name="payment_idempotency_key")]

    @property
    def card_label(self) -> str:
        """"Visa •••• 4242": the card charged, or "" when no card is known."""
        return card_label(self.card_brand, self.card_last4)


class Refund(TenantModel):
    """Money given back from a payment: ``from_credit`` out of the excess it left as customer
    credit, ``from_invoice`` out of what it paid of its invoice (which owes it again, unless a
    credit note took it off). ``amount = from_credit + from_invoice``. A refund a credit
    note asked for is written in the note's transaction (``pending``) and sent to the gateway
    after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**AMOUNT)
    from_credit = models.DecimalField(**AMOUNT, default=0)
    from_invoice = models.DecimalField(**AMOUNT, default=0)
    credit_note = models.ForeignKey("invoicing.CreditNote", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices,
                              default=Status.SUCCEEDED)
    failure_reason = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    initiated_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "payment", "credit_note"],
                                    condition=models.Q(credit_note__isnull=False),
                                    name="refund_once_per_credit_note"),
        ]


class ChargeSchedule(TenantModel):
    """Automatic collection of one invoice: how many attempts, when the next one is due.
    Stops when the invoice is paid or the retries are spent (then dunning takes over)."""

    invoice = models.OneToOneField("invoicing.Invoice", on_delete=models.CASCADE,
                                   related_name="charge_schedule")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    stopped = models.BooleanField(default=False)
    last_error = models.CharField(max_length=500, blank=True)


class GatewayEvent(TenantModel):
    """A webhook event from the gateway, processed once (unique by its id)."""

    gateway_event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "gateway_event_id"],
                                               name="gateway_event_once")]


class CheckoutSession(TenantModel):
    """A customer-facing payment page: for an invoice, or for buying a prepaid amount."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        PREPAID = "prepaid", "Prepaid amount"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    customer = models.ForeignKey("contracts.Customer", on_delete=models.CASCADE,
                                 related_name="+")
    invoice = models.ForeignKey("invoicing.Invoice", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=300, blank=True)
    success_url = models.URLField(max_length=1000, blank=True)
    cancel_url = models.URLField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    expires_at = models.DateTimeField()
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    # The card form's SetupIntent, made once and shown on every visit until a card is
    # confirmed with it; its client secret encrypted at rest (zenskar.crypto).
    setup_intent_id = models.CharField(max_length=100, blank=True)
    setup_intent_secret = models.BinaryField(null=True, blank=True)
