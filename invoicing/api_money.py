"""API for money after the invoice: credit notes (every one, one, its PDF; issuing one is under
its invoice, ``invoicing.api``) and the customer's balance (per currency; its movements; its
credit lots, and granting credit).

Thin adapters: parse, call a service or selector, render. Every object is fetched through
``get_scoped`` (this organization only, else 404)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from contracts.models import Customer
from invoicing import delivery, selectors, services
from invoicing.models import CreditGrant, CreditNote, CreditNoteLine, CustomerCredit
from zenskar.api.fields import AmountField, BoundedDateTimeField
from zenskar.api.views import OrganizationAPIView
from zenskar.money import is_valid_currency


class NoteLineAmountField(AmountField):
    """An amount of a credit note line, in its note's currency."""

    def get_attribute(self, instance):
        return serializers.Field.get_attribute(self, instance), instance.credit_note.currency


class CreditNoteLineSerializer(serializers.ModelSerializer):
    invoice_line = serializers.UUIDField(source="invoice_line_id")
    amount = NoteLineAmountField()
    tax_amount = NoteLineAmountField()

    class Meta:
        model = CreditNoteLine
        fields = ["id", "invoice_line", "description", "amount", "tax_amount"]


class CreditNoteSerializer(serializers.ModelSerializer):
    invoice = serializers.UUIDField(source="invoice_id")
    invoice_number = serializers.CharField(source="invoice.number")
    customer = serializers.CharField(source="invoice.customer.external_id")
    subtotal = AmountField()
    tax_total = AmountField()
    total = AmountField()
    amount_credited = AmountField(help_text="Taken off what the invoice owes (reduce_due, "
                                            "refund).")
    to_customer_credit = AmountField(help_text="Added to the customer's credit balance.")
    to_refund = AmountField(help_text="Refunded to the invoice's payments.")
    lines = CreditNoteLineSerializer(many=True, read_only=True)

    class Meta:
        model = CreditNote
        fields = ["id", "number", "invoice", "invoice_number", "customer", "reason",
                  "currency", "destination", "subtotal", "tax_total", "total",
                  "amount_credited", "to_customer_credit", "to_refund", "lines", "sent_at",
                  "created_at"]


def _as_uuid(value: str | None) -> uuid.UUID | None:
    """``value`` as an id, when it is one (a customer is named by its id or external id)."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _notes(organization):
    return selectors.credit_notes_list(organization=organization).prefetch_related("lines")


class CreditNoteListView(OrganizationAPIView):
    @extend_schema(
        responses=CreditNoteSerializer(many=True), summary="List credit notes, newest first",
        description="Every credit note with its lines (cursor-paginated), of an invoice or a "
                    "customer.",
        parameters=[OpenApiParameter("invoice", OpenApiTypes.UUID, description="An invoice's"),
                    OpenApiParameter("customer", str,
                                     description="The customer's id or external_id")])
    def get(self, request):
        params = request.query_params
        invoice = None
        if params.get("invoice"):
            try:
                invoice = uuid.UUID(params["invoice"])
            except ValueError:
                raise ValidationError({"invoice": ["Must be an id (a UUID)."]}) from None
        customer = params.get("customer") or None
        notes = selectors.credit_notes_list(organization=self.organization,
                                            customer_external_id=customer,
                                            customer_id=_as_uuid(customer))
        if invoice is not None:
            notes = notes.filter(invoice_id=invoice)
        return self.paginate(notes.prefetch_related("lines"), CreditNoteSerializer)


class CreditNoteDetailView(OrganizationAPIView):
    @extend_schema(responses=CreditNoteSerializer, summary="A credit note with its lines",
                   description="One credit note: its amounts, where the money went, each "
                               "line with its tax.")
    def get(self, request, credit_note_id):
        note = self.get_scoped(_notes(self.organization), id=credit_note_id)
        return Response(CreditNoteSerializer(note).data)


class CreditNotePdfView(OrganizationAPIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY},
                   summary="The credit note's PDF (rendered once, then the stored one)",
                   description="The PDF as sent to the customer: rendered on the first call, "
                               "then served as stored.")
    def get(self, request, credit_note_id):
        note = self.get_scoped(_notes(self.organization), id=credit_note_id)
        response = HttpResponse(delivery.credit_note_pdf(note=note),
                                content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{note.number}.pdf"'
        return response


# --- The customer's balance -------------------------------------------------------------------


class CurrencyBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    credit_balance = AmountField(help_text="Credit the next invoices will use.")
    open_amount_due = AmountField(help_text="What its finalized invoices still owe.")
    overdue = AmountField(help_text="The part of that past its due date.")


class BalanceSerializer(serializers.Serializer):
    customer = serializers.UUIDField()
    external_id = serializers.CharField()
    balances = CurrencyBalanceSerializer(many=True)


class MovementSerializer(serializers.ModelSerializer):
    amount = AmountField(help_text="Positive adds credit, negative uses it.")
    grant = serializers.UUIDField(source="grant_id", allow_null=True)
    invoice = serializers.UUIDField(source="invoice_id", allow_null=True)

    class Meta:
        model = CustomerCredit
        fields = ["id", "kind", "currency", "amount", "grant", "invoice", "description",
                  "created_at"]


class GrantSerializer(serializers.ModelSerializer):
    amount = AmountField()
    remaining = AmountField(help_text="What is left of it.")
    products = serializers.ListField(
        source="product_ids", child=serializers.UUIDField(),
        help_text="The products whose invoice lines it may pay; empty: any line.")
    invoice = serializers.UUIDField(source="invoice_id", allow_null=True)

    class Meta:
        model = CreditGrant
        fields = ["id", "kind", "currency", "amount", "remaining", "reason", "expires_at",
                  "expired_at", "products", "invoice", "granted_by", "created_at"]


class GrantIn(serializers.Serializer):
    """Shapes only: the rules (bounds, the currency's digits, a future expiry, the products
    exist) are ``customer_credit_grant``'s."""

    amount = serializers.DecimalField(
        max_digits=None, decimal_places=None,
        help_text="More than 0, at most 10^12, in the currency's digits, e.g. \"50.00\".")
    currency = serializers.CharField(required=False, allow_blank=True,
                                     help_text="ISO 4217. Omitted: the customer's currency.")
    reason = serializers.CharField(allow_blank=True, help_text="1 to 300 characters.")
    expires_at = BoundedDateTimeField(required=False, allow_null=True,
                                      help_text="What is left then expires (a movement).")
    products = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100,
        help_text="Product ids or SKUs: it then pays only invoice lines of these products.")


def _currency_param(request) -> str | None:
    currency = request.query_params.get("currency")
    if currency is not None and not is_valid_currency(currency):
        raise ValidationError({"currency": ["An ISO 4217 currency code, e.g. USD."]})
    return currency


CURRENCY = OpenApiParameter("currency", str, description="Only this currency (ISO 4217)")


class CustomerBalanceView(OrganizationAPIView):
    @extend_schema(responses=BalanceSerializer,
                   summary="The customer's balance per currency: credit, open and overdue",
                   description="Per currency: the credit balance the next invoices will use, "
                               "what finalized invoices still owe, and the overdue part of "
                               "it. Currencies are never added.")
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        balances = selectors.customer_balance(organization=self.organization,
                                              customer=customer)
        return Response(BalanceSerializer({
            "customer": customer.id, "external_id": customer.external_id,
            "balances": balances}).data)


class CustomerMovementsView(OrganizationAPIView):
    @extend_schema(responses=MovementSerializer(many=True), parameters=[CURRENCY],
                   summary="The movements of the customer's credit balance, newest first",
                   description="Every credit added (grants, overpayments, credit notes) or "
                               "used (applied to an invoice, expired, refunded), "
                               "cursor-paginated.")
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        movements = selectors.customer_credit_movements(
            organization=self.organization, customer=customer,
            currency=_currency_param(request))
        return self.paginate(movements, MovementSerializer)


class CustomerGrantsView(OrganizationAPIView):
    @extend_schema(responses=GrantSerializer(many=True), parameters=[CURRENCY],
                   summary="The customer's credit lots (granted, overpayments, credit notes...)",
                   description="Each lot of credit (cursor-paginated) with what is left of "
                               "it, the products it may pay and when it expires.")
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        grants = selectors.customer_credit_grants(
            organization=self.organization, customer=customer,
            currency=_currency_param(request))
        return self.paginate(grants, GrantSerializer)

    @extend_schema(request=GrantIn, responses={201: GrantSerializer},
                   summary="Grant the customer credit, with a reason; optionally until a date "
                           "and only for some products",
                   description="Adds a lot to the customer's credit balance (a movement); "
                               "the next invoices use it. What is left at `expires_at` "
                               "expires.")
    def post(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = GrantIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        grant = services.customer_credit_grant(
            organization=self.organization, customer=customer, amount=fields["amount"],
            currency=fields.get("currency"), reason=fields["reason"],
            expires_at=fields.get("expires_at"), products=fields.get("products"),
            granted_by=_actor(request))
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


def _actor(request) -> str:
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.get_username()
    return f"api key {access.api_key.prefix}"


__all__ = ["CreditNoteDetailView", "CreditNoteListView", "CreditNotePdfView",
           "CreditNoteSerializer", "CustomerBalanceView", "CustomerGrantsView",
           "CustomerMovementsView"]
