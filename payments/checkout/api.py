"""API for hosted checkout sessions: a signed payment link for an invoice, or for buying a
prepaid amount of credit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from contracts.models import Customer
from invoicing import selectors as invoicing
from payments.checkout import links as checkout
from payments.checkout import services as checkout_services
from payments.models import CheckoutSession
from zenskar.api.fields import AmountInField
from zenskar.api.schema import error_response
from zenskar.api.views import OrganizationAPIView
from zenskar.money import round_money


class CheckoutSessionSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The signed payment link to send.")
    customer = serializers.CharField(source="customer.external_id")
    invoice = serializers.UUIDField(source="invoice_id", allow_null=True)
    amount = serializers.SerializerMethodField(
        help_text="What the page charges: an open invoice session's current amount due.")

    class Meta:
        model = CheckoutSession
        fields = ["id", "kind", "url", "status", "customer", "invoice", "amount", "currency",
                  "description", "success_url", "cancel_url", "expires_at", "created_at"]

    def get_url(self, session: CheckoutSession) -> str:
        return checkout.link(session)

    def get_amount(self, session: CheckoutSession) -> str:
        amount = session.amount
        if session.kind == CheckoutSession.Kind.INVOICE and \
                session.status == CheckoutSession.Status.OPEN:
            amount = checkout_services.checkout_amount_due(session)  # paid in part since?
        return str(round_money(amount, session.currency))


class CheckoutSessionIn(serializers.Serializer):
    invoice = serializers.UUIDField(required=False, help_text="An invoice to pay.")
    customer = serializers.CharField(required=False,
                                     help_text="Prepaid purchase: the customer's external_id.")
    amount = AmountInField(required=False,
                                      help_text="Prepaid purchase: the amount, in the "
                                                "customer's currency.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=300)
    success_url = serializers.URLField(required=False, allow_blank=True, max_length=1000,
                                       help_text="Where the customer goes after paying "
                                                 "({CHECKOUT_SESSION_ID} is replaced).")
    cancel_url = serializers.URLField(required=False, allow_blank=True, max_length=1000)

    def validate(self, data):
        if "invoice" in data:
            stray = [name for name in ("customer", "amount") if name in data]
            if stray:
                raise serializers.ValidationError(
                    {name: ["Not with an invoice: the invoice says who pays what."]
                     for name in stray})
            return data
        errors = {name: ["Required for a prepaid purchase (or give an invoice)."]
                  for name in ("customer", "amount") if name not in data}
        if errors:
            raise serializers.ValidationError(errors)
        return data


class CheckoutSessionListView(OrganizationAPIView):
    @extend_schema(responses=CheckoutSessionSerializer(many=True),
                   summary="List checkout sessions",
                   description="Hosted payment pages made, newest first (cursor-paginated), "
                               "with their signed link and status.")
    def get(self, request):
        sessions = CheckoutSession.objects.for_organization(self.organization).select_related(
            "customer", "invoice")
        return self.paginate(sessions, CheckoutSessionSerializer)

    @extend_schema(request=CheckoutSessionIn,
                   responses={201: CheckoutSessionSerializer,
                              404: error_response("No invoice of this organization has the "
                                                  "id given as `invoice`.")},
                   summary="A hosted payment page for an invoice, or for prepaid credit",
                   description="A signed link that expires, to send to the customer: the page "
                               "shows what the invoice owes (or the prepaid amount) and takes "
                               "a card; a payment is applied like any other. Give `invoice`, "
                               "or `customer` and `amount`.")
    def post(self, request):
        data = CheckoutSessionIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        urls = {"success_url": fields.get("success_url", ""),
                "cancel_url": fields.get("cancel_url", "")}
        if "invoice" in fields:
            invoice = self.get_scoped(invoicing.invoices(organization=self.organization),
                                      id=fields["invoice"])
            session = checkout_services.checkout_session_for_invoice(
                organization=self.organization, invoice=invoice, **urls)
        else:
            customer = Customer.objects.for_organization(self.organization).filter(
                external_id=fields["customer"]).first()
            if customer is None:
                raise ValidationError({"customer": ["No customer has this external_id."]})
            session = checkout_services.checkout_session_for_prepaid(
                organization=self.organization, customer=customer, amount=fields["amount"],
                description=fields.get("description", ""), **urls)
        return Response(CheckoutSessionSerializer(session).data,
                        status=status.HTTP_201_CREATED)
