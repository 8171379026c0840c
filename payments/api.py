"""API for the payment gateway, saved cards, payments and refunds.

Thin adapters over ``payments.services``: parse, call the service, render. Every object is
fetched through ``get_scoped`` (this organization only, else 404). Gateway credentials are
write-only: no response ever carries the secret key or the webhook secret.
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from contracts.models import Customer
from invoicing import selectors as invoicing
from payments import refunds, services
from payments.gateways import GatewayError, gateway_for
from payments.models import GatewayAccount, Payment, PaymentMethod, Refund
from zenskar.api.fields import AmountField, AmountInField, BoundedDateField
from zenskar.api.schema import error_response
from zenskar.api.views import OrganizationAPIView
from zenskar.crypto import decrypt_json
from zenskar.tenancy.models import MANAGE_ROLES

AMOUNT = {"max_digits": 20, "decimal_places": 4}
SECRETS = ("secret_key", "webhook_secret")


def actor_of(request) -> str:
    """Who did it, as recorded on payments and refunds: a staff e-mail or an API key."""
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.get_username()
    return f"api key {access.api_key.prefix}"


# --- Gateway -----------------------------------------------------------------------------------


class GatewayIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GatewayAccount.Kind.choices)
    mode = serializers.ChoiceField(choices=GatewayAccount.Mode.choices,
                                   default=GatewayAccount.Mode.TEST)
    secret_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500,
        help_text="Write-only. Omitted: the stored one is kept.")
    webhook_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500,
        help_text="Write-only. Omitted: the stored one is kept.")
    publishable_key = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                            default="")
    retry_days = serializers.ListField(child=serializers.IntegerField(), required=False)


class GatewayOut(serializers.Serializer):
    kind = serializers.CharField()
    mode = serializers.CharField()
    publishable_key = serializers.CharField()
    retry_days = serializers.ListField(child=serializers.IntegerField())
    has_secret_key = serializers.BooleanField()
    has_webhook_secret = serializers.BooleanField()
    webhook_url = serializers.CharField(help_text="Where the gateway sends its webhooks.")
    updated_at = serializers.DateTimeField()


def _stored_secrets(account: GatewayAccount | None) -> dict:
    return decrypt_json(account.encrypted_credentials) if account else {}


def _gateway_out(account: GatewayAccount) -> dict:
    stored = _stored_secrets(account)
    path = reverse("payments-webhook", args=[account.organization_id])
    return GatewayOut({
        "kind": account.kind, "mode": account.mode, "publishable_key": account.publishable_key,
        "retry_days": account.retry_days,
        "has_secret_key": bool(stored.get("secret_key")),
        "has_webhook_secret": bool(stored.get("webhook_secret")),
        "webhook_url": settings.PUBLIC_URL + path, "updated_at": account.updated_at,
    }).data


class GatewayView(OrganizationAPIView):
    """The organization's gateway. Changing it is for owners and admins."""

    write_roles = MANAGE_ROLES

    @extend_schema(responses={200: GatewayOut,
                              404: error_response("No gateway is set up yet.")},
                   summary="The payment gateway (no secrets)")
    def get(self, request):
        account = services.gateway_account(organization=self.organization)
        if account is None:
            raise exceptions.NotFound("No gateway is set up yet.")
        return Response(_gateway_out(account))

    @extend_schema(request=GatewayIn, responses=GatewayOut,
                   summary="Set the payment gateway (secrets are write-only)")
    def put(self, request):
        data = GatewayIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        stored = _stored_secrets(services.gateway_account(organization=self.organization))
        for name in SECRETS:
            fields.setdefault(name, stored.get(name, ""))
        account = services.gateway_account_set(organization=self.organization, **fields)
        return Response(_gateway_out(account))


class GatewayTestView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    class TestOut(serializers.Serializer):
        ok = serializers.BooleanField()
        message = serializers.CharField()

    @extend_schema(request=None, responses=TestOut,
                   summary="Call the gateway with the stored keys and say whether it answered",
                   description="Makes one harmless call to the gateway: `ok` and the gateway's "
                               "answer in words. No gateway set up yet is a 400.")
    def post(self, request):
        account = services.gateway_account(organization=self.organization)
        if account is None:
            raise ValidationError({"gateway": ["No gateway is set up yet."]})
        ok, message = gateway_for(account).test_connection()
        return Response({"ok": ok, "message": message})


# --- Saved cards -------------------------------------------------------------------------------


class PaymentMethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentMethod
        fields = ["id", "gateway_id", "brand", "last4", "exp_month", "exp_year", "is_default",
                  "created_at"]


class PaymentMethodsView(OrganizationAPIView):
    class RecordIn(serializers.Serializer):
        setup_intent = serializers.CharField(max_length=200)

    @extend_schema(responses=inline_serializer("PaymentMethods", {
                       "results": PaymentMethodSerializer(many=True)}),
                   summary="A customer's saved cards, the default first",
                   description="Brand, last four digits and expiry of each card saved at the "
                               "gateway (not paginated); never the card number.")
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        methods = PaymentMethod.objects.for_organization(self.organization).filter(
            customer=customer)
        return Response({"results": PaymentMethodSerializer(methods, many=True).data})

    @extend_schema(request=RecordIn, responses={201: PaymentMethodSerializer},
                   summary="Record the card a confirmed SetupIntent saved",
                   description="After Stripe.js confirmed the SetupIntent of /setup: reads "
                               "the card from the gateway and saves it for the customer's "
                               "automatic payments. A SetupIntent the gateway refuses is a 400.")
    def post(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = self.RecordIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            method = services.card_setup_complete(
                customer=customer, setup_intent_id=data.validated_data["setup_intent"])
        except GatewayError as error:
            raise ValidationError({"setup_intent": [str(error)]}) from None
        return Response(PaymentMethodSerializer(method).data, status=status.HTTP_201_CREATED)


class PaymentMethodSetupView(OrganizationAPIView):
    # The client secret lets a browser confirm the SetupIntent: never kept for replays.
    idempotency_redact = ("client_secret",)

    class SetupOut(serializers.Serializer):
        setup_intent = serializers.CharField()
        client_secret = serializers.CharField()
        publishable_key = serializers.CharField()
        js_url = serializers.CharField()

    @extend_schema(request=None, responses={201: SetupOut},
                   summary="Start saving a card: a SetupIntent for Stripe.js",
                   description="Creates a SetupIntent at the gateway; its client secret (never "
                               "kept for an idempotent replay) lets a browser confirm it with "
                               "Stripe.js. No gateway set up is a 400.")
    def post(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        try:
            started = services.card_setup_start(customer=customer)
        except GatewayError as error:
            raise ValidationError({"gateway": [str(error)]}) from None
        return Response(self.SetupOut(started).data, status=status.HTTP_201_CREATED)


# --- Payments and refunds ----------------------------------------------------------------------


class RefundAmountField(AmountField):
    """A refund's amount, in its payment's currency."""

    def get_attribute(self, instance):
        return serializers.Field.get_attribute(self, instance), instance.payment.currency


class RefundSerializer(serializers.ModelSerializer):
    payment = serializers.UUIDField(source="payment_id")
    amount = RefundAmountField()
    from_credit = RefundAmountField(
        help_text="Out of the unapplied credit the payment left (the customer's balance).")
    from_invoice = RefundAmountField(
        help_text="Out of what the payment paid of its invoice (which owes it again, unless "
                  "a credit note took it off).")
    credit_note = serializers.UUIDField(source="credit_note_id", allow_null=True,
                                        help_text="The credit note that asked for it, if any.")

    class Meta:
        model = Refund
        fields = ["id", "payment", "amount", "from_credit", "from_invoice", "credit_note",
                  "status", "failure_reason", "reason", "reference", "initiated_by",
                  "created_at"]


class PaymentSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    customer_id = serializers.UUIDField()
    invoice = serializers.UUIDField(source="invoice_id", allow_null=True)
    invoice_number = serializers.CharField(source="invoice.number", default=None)
    amount = AmountField()
    refunded_amount = AmountField()
    applied_amount = AmountField()

    class Meta:
        model = Payment
        fields = ["id", "customer", "customer_id", "invoice", "invoice_number", "amount",
                  "currency", "method", "status", "reference", "initiated_by",
                  "failure_reason", "refunded_amount", "applied_amount", "received_on",
                  "attempt", "created_at", "updated_at"]


class PaymentDetailSerializer(PaymentSerializer):
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta(PaymentSerializer.Meta):
        fields = [*PaymentSerializer.Meta.fields, "refunds"]


def _payments(organization):
    return Payment.objects.for_organization(organization).select_related(
        "customer", "invoice")


def _as_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({field: ["Must be an id (a UUID)."]}) from None


class PaymentListView(OrganizationAPIView):
    @extend_schema(
        responses=PaymentSerializer(many=True), summary="List payments, newest first",
        description="Payments of every method and status (cursor-paginated), of a customer "
                    "or an invoice.",
        parameters=[
            OpenApiParameter("customer", str, description="The customer's id or external_id"),
            OpenApiParameter("invoice", str, description="The invoice's id"),
            OpenApiParameter("status", str, enum=Payment.Status.values)],
    )
    def get(self, request):
        payments = _payments(self.organization)
        params = request.query_params
        if params.get("customer"):
            value = params["customer"]
            match = Q(customer__external_id=value)
            try:
                match |= Q(customer_id=uuid.UUID(value))
            except ValueError:
                pass
            payments = payments.filter(match)
        if params.get("invoice"):
            payments = payments.filter(invoice_id=_as_uuid(params["invoice"], "invoice"))
        if params.get("status"):
            if params["status"] not in Payment.Status.values:
                raise ValidationError(
                    {"status": [f"One of {', '.join(Payment.Status.values)}."]})
            payments = payments.filter(status=params["status"])
        return self.paginate(payments, PaymentSerializer)


class PaymentDetailView(OrganizationAPIView):
    @extend_schema(responses=PaymentDetailSerializer, summary="A payment with its refunds",
                   description="One payment: amount, method, status, what it paid of its "
                               "invoice, and its refunds.")
    def get(self, request, payment_id):
        payment = self.get_scoped(_payments(self.organization), id=payment_id)
        return Response(PaymentDetailSerializer(payment).data)


class InvoicePaymentIn(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=Payment.Method.choices,
        help_text="card: charge the customer's default card now; any other: a payment "
                  "received outside the gateway.")
    amount = AmountInField(required=False,
                                      help_text="Omitted: the invoice's amount due.")
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                      default="",
                                      help_text="Offline: the transfer or cheque reference.")
    received_on = BoundedDateField(required=False,
                                        help_text="Offline: when it arrived (default today).")
    keep_excess_as_credit = serializers.BooleanField(
        default=False,
        help_text="An amount above what is due is refused unless this is true: the excess then "
                  "becomes the customer's credit balance, used by the next invoices.")


class InvoicePaymentsView(OrganizationAPIView):
    @extend_schema(request=InvoicePaymentIn, responses={201: PaymentSerializer},
                   summary="Collect an invoice: charge the saved card, or record an offline "
                           "payment",
                   description="`card` charges the customer's default card now; a declined "
                               "card is a 201 too, with status `failed` and the reason. Any "
                               "other method records money received outside the gateway. "
                               "What is paid is applied to the invoice (and posted); an "
                               "amount above what is due is a 400 unless "
                               "`keep_excess_as_credit`.")
    def post(self, request, invoice_id):
        invoice = self.get_scoped(invoicing.invoices(organization=self.organization),
                                  id=invoice_id)
        data = InvoicePaymentIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        amount = fields.get("amount")  # checked by the service: > 0, the currency's digits
        keep = fields["keep_excess_as_credit"]
        if fields["method"] == Payment.Method.CARD:
            # A declined card is a payment too: 201 with status "failed" and the reason.
            payment = services.invoice_charge(invoice=invoice, initiated_by=actor_of(request),
                                              amount=amount, keep_excess_as_credit=keep)
        else:
            payment = services.payment_record_offline(
                invoice=invoice, amount=amount, method=fields["method"],
                reference=fields["reference"],
                received_on=fields.get("received_on") or timezone.localdate(
                    timezone=ZoneInfo(self.organization.time_zone)),
                actor=actor_of(request), keep_excess_as_credit=keep)
        payment = _payments(self.organization).get(pk=payment.pk)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class RefundsView(OrganizationAPIView):
    class RefundIn(serializers.Serializer):
        amount = AmountInField(required=False,
                                          help_text="Omitted: all that can be refunded now.")
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                       default="")
        # "from" is a Python keyword: declared through the class namespace
        locals()["from"] = serializers.ChoiceField(
            choices=refunds.REFUND_FROM, required=False,
            help_text="Where the money comes from: credit (the unapplied excess the payment "
                      "left as customer credit; the invoice stays paid) or invoice (what it "
                      "paid of its invoice, which owes it again). Omitted: the unapplied "
                      "credit first, then the invoice.")

    @extend_schema(request=RefundIn, responses={201: RefundSerializer},
                   summary="Refund all or part of a succeeded payment",
                   description="Refunds through the gateway (a card) or records the refund "
                               "(offline), taking it from the unapplied credit or the invoice "
                               "as `from` says; the invoice owes again what its part gives "
                               "back. More than can be refunded is a 400.")
    def post(self, request, payment_id):
        payment = self.get_scoped(Payment.objects, id=payment_id)
        data = self.RefundIn(data=request.data)
        data.is_valid(raise_exception=True)
        amount = data.validated_data.get("amount")  # checked by the service, as above
        refund = refunds.refund_create(payment=payment, amount=amount,
                                        reason=data.validated_data["reason"],
                                        actor=actor_of(request),
                                        take_from=data.validated_data.get("from"))
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)
