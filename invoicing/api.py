"""API for invoices, credit notes, taxes, invoicing settings, and the billing failures of the
scheduled runs."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from contracts.models import Customer
from invoicing import selectors, services, taxes
from invoicing.api_money import CreditNoteSerializer
from invoicing.models import (
    BillingFailure,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceSettings,
    TaxRate,
)
from zenskar import bounds
from zenskar.api.fields import AmountField, PriceNumberInField
from zenskar.api.views import OrganizationAPIView

AMOUNT = {"max_digits": 20, "decimal_places": 4}


class LineSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.sku", default=None)
    amount = AmountField()
    tax_amount = AmountField()

    class Meta:
        model = InvoiceLine
        fields = ["id", "kind", "description", "product", "period_start", "period_end",
                  "quantity", "unit_price", "amount", "tax_rate", "tax_amount", "derivation"]


class InvoiceSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    contract = serializers.UUIDField(source="contract_id", allow_null=True)
    lines = LineSerializer(many=True, read_only=True)
    subtotal = AmountField()
    tax_total = AmountField()
    total = AmountField()
    amount_credited = AmountField(
        help_text="Credit notes that took off what is owed (reduce_due, refund).")
    credit_applied = AmountField(help_text="The customer's credit balance applied.")
    amount_paid = AmountField(help_text="Payments applied, net of the refunds taken back.")
    amount_refunded = AmountField(help_text="Refunds taken back out of its payments.")
    amount_due = AmountField(
        help_text="total - amount_credited - credit_applied - amount_paid.")

    class Meta:
        model = Invoice
        fields = ["id", "number", "status", "customer", "contract", "billing_date",
                  "corrections_only", "currency", "issue_date", "due_date", "period_start",
                  "period_end", "subtotal", "tax_total", "total", "amount_credited",
                  "credit_applied", "amount_paid", "amount_refunded", "amount_due",
                  "finalize_after", "finalized_at", "sent_at", "memo", "manual", "edited",
                  "lines", "created_at"]


class InvoiceSummarySerializer(InvoiceSerializer):
    class Meta(InvoiceSerializer.Meta):
        fields = [f for f in InvoiceSerializer.Meta.fields if f != "lines"]


class TaxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxRate
        fields = ["id", "name", "country", "region", "rate", "inclusive", "active"]


class TaxRateIn(serializers.Serializer):
    """Shapes only: the rules (1 to 100 characters, an ISO 3166-1 country, 0 to 100 percent
    with at most 4 decimals) are ``invoicing.taxes``' -- the dashboard's form asks the same."""

    name = serializers.CharField(allow_blank=True, help_text="1 to 100 characters, e.g. VAT.")
    country = serializers.CharField(allow_blank=True, help_text="ISO 3166-1 alpha-2, e.g. DE.")
    region = serializers.CharField(required=False, allow_blank=True,
                                   help_text="At most 100 characters; empty: the whole country.")
    rate = serializers.DecimalField(max_digits=None, decimal_places=None,
                                    help_text="Percent, 0 to 100, at most 4 decimals, e.g. 19.")
    inclusive = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)


class SettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceSettings
        fields = ["number_prefix", "grace_period_hours", "auto_finalize", "auto_send",
                  "footer", "address", "logo_url", "support_email"]


class SettingsIn(serializers.Serializer):
    """Shapes only: the rules are ``invoice_settings_update``'s -- the dashboard's form asks
    the same. Fields left out keep their value."""

    number_prefix = serializers.CharField(
        required=False, allow_blank=True,
        help_text="Up to 20 letters, digits, - and _ (stored upper-case): numbers read "
                  "PREFIX-YEAR-000001.")
    grace_period_hours = serializers.IntegerField(
        required=False, help_text="0 to 87840: how long a draft waits for late usage.")
    auto_finalize = serializers.BooleanField(required=False)
    auto_send = serializers.BooleanField(required=False)
    footer = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                   help_text="At most 2,000 characters.")
    address = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                    help_text="At most 2,000 characters.")
    logo_url = serializers.CharField(
        required=False, allow_blank=True,
        help_text="A data: URI (base64) of a PNG, JPEG, GIF or WebP image of at most 200 KB "
                  "(checked by its bytes), or empty.")
    support_email = serializers.CharField(
        required=False, allow_blank=True,
        help_text="One e-mail address (at most 254 characters), or empty: shown to customers on "
                  "the hosted payment page and its receipt.")


def _actor(request) -> str:
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.username
    return f"api key {access.api_key.prefix}"


def _uuid_param(params, name: str, message: str) -> uuid.UUID | None:
    if not params.get(name):
        return None
    try:
        return uuid.UUID(params[name])
    except ValueError:
        raise ValidationError({name: [message]}) from None


def _invoice_filters(params) -> dict:
    """The invoice list's query string, checked and typed for ``selectors.invoices_list``."""
    filters: dict = {}
    if params.get("status"):
        if params["status"] not in Invoice.Status.values:
            raise ValidationError(
                {"status": [f"Must be one of {', '.join(Invoice.Status.values)}."]})
        filters["status"] = params["status"]
    if params.get("customer"):
        filters["customer"] = params["customer"]
    filters["contract"] = _uuid_param(params, "contract", "Must be a contract id.")
    for name in ("from", "to"):
        if params.get(name):
            try:
                filters[f"date_{name}"] = date.fromisoformat(params[name])
            except ValueError:
                raise ValidationError({name: ["Must be a date, YYYY-MM-DD."]}) from None
    if params.get("overdue") in ("true", "1"):
        filters["overdue"] = True
    return filters


def _billing_failure_filters(params) -> dict:
    """The billing failures list's query string, checked and typed: ``status`` (open by
    default, or resolved), ``stage``, ``contract``."""
    filters: dict = {"status": params.get("status") or "open"}
    if filters["status"] not in selectors.FAILURE_STATUSES:
        raise ValidationError(
            {"status": [f"Must be one of {', '.join(selectors.FAILURE_STATUSES)}."]})
    if params.get("stage"):
        if params["stage"] not in BillingFailure.Stage.values:
            raise ValidationError(
                {"stage": [f"Must be one of {', '.join(BillingFailure.Stage.values)}."]})
        filters["stage"] = params["stage"]
    filters["contract"] = _uuid_param(params, "contract", "Must be a contract id.")
    return filters


class InvoiceListView(OrganizationAPIView):
    @extend_schema(
        responses=InvoiceSummarySerializer(many=True), summary="List invoices",
        description="Invoices newest first (cursor-paginated), without their lines, filtered "
                    "by status, customer, contract, billing date or overdue.",
        parameters=[OpenApiParameter("status", str, enum=Invoice.Status.values),
                    OpenApiParameter("customer", str, description="The customer's external_id."),
                    OpenApiParameter("contract", OpenApiTypes.UUID,
                                     description="A contract's id: its invoices."),
                    OpenApiParameter("from", OpenApiTypes.DATE,
                                     description="Billing date on or after this day."),
                    OpenApiParameter("to", OpenApiTypes.DATE,
                                     description="Billing date on or before this day."),
                    OpenApiParameter("overdue", bool,
                                     description="true: only finalized invoices past their due "
                                                 "date with money due.")],
    )
    def get(self, request):
        invoices = selectors.invoices_list(organization=self.organization,
                                           **_invoice_filters(request.query_params))
        return self.paginate(invoices, InvoiceSummarySerializer)

    class OneOffIn(serializers.Serializer):
        """Shapes only: the rules are ``invoice_create_one_off``'s -- the dashboard's form
        asks the same."""

        customer = serializers.CharField(help_text="external_id")
        memo = serializers.CharField(required=False, allow_blank=True,
                                     help_text="At most 2,000 characters; printed on it.")
        currency = serializers.CharField(
            required=False, allow_blank=True,
            help_text="ISO 4217, e.g. EUR. Omitted: the customer's currency.")
        payment_terms_days = serializers.IntegerField(
            required=False, allow_null=True,
            help_text="Due this many days (0 to 365) after the issue date. Omitted: the "
                      "customer's terms.")
        lines = serializers.ListField(child=serializers.DictField(), allow_empty=False,
                                      help_text="1 to 100 of {description, quantity, "
                                                "unit_price}.")

    @extend_schema(request=OneOffIn, responses={201: InvoiceSerializer},
                   summary="A one-off draft invoice with manual lines",
                   description="A draft, not tied to a contract, with the lines given (tax "
                               "applied as for any invoice); finalize it to number it and post "
                               "it. An unknown customer or a bad line is a 400 naming it.")
    def post(self, request):
        data = self.OneOffIn(data=request.data)
        data.is_valid(raise_exception=True)
        customer = Customer.objects.for_organization(self.organization).filter(
            external_id=data.validated_data["customer"]).first()
        if customer is None:
            raise ValidationError({"customer": ["No customer has this external_id."]})
        lines = []
        for index, line in enumerate(data.validated_data["lines"]):
            checked = ManualLineIn(data=line)
            if not checked.is_valid():
                raise ValidationError({f"lines[{index}].{k}": v for k, v in checked.errors.items()})
            lines.append(checked.validated_data)
        invoice = services.invoice_create_one_off(
            organization=self.organization, customer=customer, lines=lines,
            memo=data.validated_data.get("memo", ""),
            currency=data.validated_data.get("currency") or None,
            payment_terms_days=data.validated_data.get("payment_terms_days"),
            actor=_actor(request))
        return Response(InvoiceSerializer(invoice).data, status=status.HTTP_201_CREATED)


class ManualLineIn(serializers.Serializer):
    description = serializers.CharField(max_length=500)
    quantity = PriceNumberInField(default=Decimal(1), allow_negative=True)
    unit_price = PriceNumberInField(allow_negative=True)


class InvoiceDetailView(OrganizationAPIView):
    @extend_schema(responses=InvoiceSerializer, summary="An invoice with its lines",
                   description="One invoice with its amounts, what was credited and paid, and "
                               "each line with the derivation of its amount.")
    def get(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects.select_related("customer"), id=invoice_id)
        return Response(InvoiceSerializer(invoice).data)

    @extend_schema(request=None, responses={204: None},
                   summary="Delete a one-off draft (never a contract's draft nor a numbered "
                           "invoice)",
                   description="A draft that never had a number goes, with its lines. A "
                               "contract's draft is refused (the next generation run would "
                               "bring it back: change the contract or void the invoice), and "
                               "so is a finalized invoice (void or credit it): 400 on "
                               "``status``.")
    def delete(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        services.invoice_delete(invoice=invoice, actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvoiceActionView(OrganizationAPIView):
    """``finalize``, ``void``, ``mark-uncollectible``, ``send``."""

    @extend_schema(request=None, responses=InvoiceSerializer, operation_id="invoices_action",
                   summary="Finalize, void, mark uncollectible or send an invoice",
                   description="`finalize` numbers a draft, renders its PDF and posts it to the "
                               "ledger; `void` cancels an invoice (a finalized one's entries "
                               "are reversed); `mark-uncollectible` writes off what is due; "
                               "`send` "
                               "e-mails it to the customer. A transition the invoice's status "
                               "does not allow is a 400 on `status`; one already made is a "
                               "no-op. Another action is a 404.",
                   parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH,
                                                enum=["finalize", "void", "mark-uncollectible",
                                                      "send"])])
    def post(self, request, invoice_id, action):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        if action == "finalize":
            invoice = services.invoice_finalize(invoice=invoice)
        elif action == "void":
            invoice = services.invoice_void(invoice=invoice, actor=_actor(request))
        elif action == "mark-uncollectible":
            invoice = services.invoice_mark_uncollectible(invoice=invoice)
        elif action == "send":
            from invoicing import delivery

            invoice = delivery.invoice_send(invoice=invoice)
        else:
            return Response({"error": {"type": "not_found", "message": "No such action."}},
                            status=status.HTTP_404_NOT_FOUND)
        return Response(InvoiceSerializer(invoice).data)


class InvoicePdfView(OrganizationAPIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY},
                   summary="The invoice's PDF",
                   description="A draft's is rendered as it stands (marked draft); a finalized "
                               "invoice's is rendered once and stored, then served as is.")
    def get(self, request, invoice_id):
        from invoicing import delivery

        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        pdf = delivery.invoice_pdf(invoice=invoice)
        response = HttpResponse(pdf, content_type="application/pdf")
        name = invoice.number or f"draft-{invoice.billing_date}"
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        return response


class InvoiceLinesView(OrganizationAPIView):
    @extend_schema(request=ManualLineIn, responses={201: InvoiceSerializer},
                   summary="Add a one-off line to a draft",
                   description="A line written by hand (description, quantity, unit price) on "
                               "a draft; answers the invoice with its new totals. A finalized "
                               "invoice is refused (400 on `status`).")
    def post(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        data = ManualLineIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.invoice_add_line(invoice=invoice, actor=_actor(request), **data.validated_data)
        invoice.refresh_from_db()
        return Response(InvoiceSerializer(invoice).data, status=status.HTTP_201_CREATED)


class QuantityIn(serializers.Serializer):
    quantity = PriceNumberInField()


class InvoiceLineView(OrganizationAPIView):
    @extend_schema(request=QuantityIn, responses=LineSerializer,
                   summary="Adjust a draft line's quantity",
                   description="Overrides the quantity of a draft's line (kept when the draft "
                               "is recomputed) and re-prices it; the override is recorded in "
                               "its derivation. A finalized invoice's line is refused (400).")
    def patch(self, request, line_id):
        line = self.get_scoped(InvoiceLine.objects.select_related("invoice"), id=line_id)
        data = QuantityIn(data=request.data)
        data.is_valid(raise_exception=True)
        line = services.invoice_override_quantity(line=line, actor=_actor(request),
                                                  quantity=data.validated_data["quantity"])
        return Response(LineSerializer(line).data)

    @extend_schema(request=None, responses={200: InvoiceSerializer},
                   summary="Remove a line added by hand from a draft",
                   description="Answers the invoice with its new totals. A generated line is "
                               "refused (400 on ``line``): it comes back when the draft is "
                               "recomputed, so its quantity is set to 0 instead (PATCH).")
    def delete(self, request, line_id):
        line = self.get_scoped(InvoiceLine.objects.select_related("invoice"), id=line_id)
        invoice = services.invoice_remove_line(line=line, actor=_actor(request))
        invoice = Invoice.objects.for_organization(self.organization).select_related(
            "customer").get(pk=invoice.pk)
        return Response(InvoiceSerializer(invoice).data)


class CreditNoteIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    lines = serializers.ListField(child=serializers.DictField(), required=False,
                                  help_text="[{line: id, amount}] -- omit for a full credit")
    destination = serializers.ChoiceField(
        choices=CreditNote.Destination.choices, required=False,
        help_text="Where the money goes: reduce_due (the default while something is due; "
                  "what goes beyond it becomes customer credit), customer_credit (all of it "
                  "to the credit balance; the default once nothing is due), refund (back to "
                  "the invoice's payments).")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class CreditNotesView(OrganizationAPIView):
    @extend_schema(responses=inline_serializer("InvoiceCreditNotes", {
                       "results": CreditNoteSerializer(many=True)}),
                   summary="An invoice's credit notes",
                   description="Every credit note of the invoice with its lines (not "
                               "paginated).")
    def get(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        notes = selectors.credit_notes_list(organization=self.organization, invoice=invoice)
        return Response({"results": CreditNoteSerializer(notes.prefetch_related("lines"),
                                                         many=True).data})

    @extend_schema(request=CreditNoteIn, responses={201: CreditNoteSerializer},
                   summary="Credit an invoice, fully or per line",
                   description="Issues a numbered credit note against a finalized invoice "
                               "(each line's share of tax included), posts it to the ledger and "
                               "sends the money where `destination` says. The credit notes of "
                               "an invoice never exceed it, per line (400 naming the line).")
    def post(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        data = CreditNoteIn(data=request.data)
        data.is_valid(raise_exception=True)
        lines = None
        if data.validated_data.get("lines") is not None:
            lines = []
            for index, entry in enumerate(data.validated_data["lines"]):
                line = None
                if isinstance(entry.get("line"), str) and _is_uuid(entry["line"]):
                    line = InvoiceLine.objects.for_organization(self.organization).filter(
                        invoice=invoice, id=entry["line"]).first()
                if line is None:
                    raise ValidationError({f"lines[{index}].line": ["Not a line of this invoice."]})
                try:
                    amount = bounds.amount(entry.get("amount"))
                except bounds.BoundError as error:
                    raise ValidationError({f"lines[{index}].amount": [str(error)]}) from None
                lines.append((line, amount))
        note = services.credit_note_create(invoice=invoice, lines=lines,
                                           reason=data.validated_data["reason"],
                                           destination=data.validated_data.get("destination"))
        return Response(CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class TaxRateListView(OrganizationAPIView):
    @extend_schema(responses=inline_serializer("TaxRates", {
                       "results": TaxRateSerializer(many=True)}),
                   summary="List tax rates",
                   description="The organization's tax rates (not paginated): invoices apply "
                               "the active rate of the customer's country and region.")
    def get(self, request):
        rates = TaxRate.objects.for_organization(self.organization)
        return Response({"results": TaxRateSerializer(rates, many=True).data})

    @extend_schema(request=TaxRateIn, responses={201: TaxRateSerializer},
                   summary="Create a tax rate",
                   description="A rate for a country (and optionally a region), exclusive or "
                               "inclusive; drafts use it when next computed, finalized "
                               "invoices never change.")
    def post(self, request):
        data = TaxRateIn(data=request.data)
        data.is_valid(raise_exception=True)
        rate = taxes.tax_rate_create(organization=self.organization, **data.validated_data)
        return Response(TaxRateSerializer(rate).data, status=status.HTTP_201_CREATED)


class TaxRateDetailView(OrganizationAPIView):
    @extend_schema(request=TaxRateIn(partial=True), responses=TaxRateSerializer,
                   summary="Change a tax rate",
                   description="Fields left out keep their value; finalized invoices keep "
                               "the tax they were issued with.")
    def patch(self, request, rate_id):
        rate = self.get_scoped(TaxRate.objects, id=rate_id)
        data = TaxRateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rate = taxes.tax_rate_update(tax_rate=rate, **data.validated_data)
        return Response(TaxRateSerializer(rate).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a tax rate",
                   description="Removes the rate: drafts no longer apply it when next "
                               "computed; finalized invoices keep the tax they were issued "
                               "with.")
    def delete(self, request, rate_id):
        taxes.tax_rate_delete(tax_rate=self.get_scoped(TaxRate.objects, id=rate_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SettingsView(OrganizationAPIView):
    @extend_schema(responses=SettingsSerializer, summary="The invoicing settings",
                   description="Numbering prefix, grace period before drafts finalize, "
                               "automatic finalization and sending, and what invoices print.")
    def get(self, request):
        return Response(SettingsSerializer(
            services.invoice_settings(organization=self.organization)).data)

    @extend_schema(request=SettingsIn, responses=SettingsSerializer,
                   summary="Change the invoicing settings",
                   description="Fields left out keep their value. Finalized invoices keep "
                               "their number and PDF.")
    def patch(self, request):
        data = SettingsIn(data=request.data)
        data.is_valid(raise_exception=True)
        settings = services.invoice_settings_update(organization=self.organization,
                                                    **data.validated_data)
        return Response(SettingsSerializer(settings).data)


class BillingFailureSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    contract = serializers.SerializerMethodField(
        help_text="The contract's id: the one that could not be billed (generation), or the "
                  "invoice's contract.")
    invoice = serializers.SerializerMethodField(
        help_text="The invoice's id (finalization, delivery, payment); null for generation.")
    invoice_number = serializers.CharField(source="invoice.number", default=None)
    customer = serializers.CharField(source="customer.external_id", default=None)
    customer_name = serializers.CharField(source="customer.name", default=None)

    class Meta:
        model = BillingFailure
        fields = ["id", "stage", "status", "contract", "invoice", "invoice_number", "customer",
                  "customer_name", "message", "first_failed_at", "last_failed_at", "attempts",
                  "resolved_at", "resolution"]

    def get_status(self, failure) -> str:
        return "resolved" if failure.resolved_at else "open"

    def get_contract(self, failure) -> str | None:
        if failure.stage == BillingFailure.Stage.GENERATION:
            return str(failure.subject_id)  # kept when the contract was deleted
        return str(failure.contract_id) if failure.contract_id else None

    def get_invoice(self, failure) -> str | None:
        if failure.stage == BillingFailure.Stage.GENERATION:
            return None
        return str(failure.subject_id)


class BillingFailureListView(OrganizationAPIView):
    @extend_schema(
        responses=BillingFailureSerializer(many=True),
        summary="Contracts and invoices the scheduled runs could not handle",
        description="Each failed contract (generation) or invoice (finalization, delivery, "
                    "automatic payment) with the error in words, when it first and last "
                    "failed and how many times. Open ones are tried again by the next run "
                    "(hourly); a success resolves them.",
        parameters=[
            OpenApiParameter("status", str, enum=["open", "resolved"],
                             description="open (the default) or resolved"),
            OpenApiParameter("stage", str, enum=BillingFailure.Stage.values),
            OpenApiParameter("contract", OpenApiTypes.UUID,
                             description="A contract's failures and those of its invoices"),
        ],
    )
    def get(self, request):
        failures = selectors.billing_failures_list(
            organization=self.organization,
            **_billing_failure_filters(request.query_params))
        return self.paginate(failures, BillingFailureSerializer)
