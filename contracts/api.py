"""API for customers, products, contracts (as documents), phases and price items."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from contracts import selectors, services
from contracts.models import (
    Amendment,
    Anchor,
    Cadence,
    Contract,
    Customer,
    Phase,
    PriceItem,
    Product,
    Weekday,
)
from zenskar.api.fields import BoundedDateField, PriceNumberInField
from zenskar.api.views import OrganizationAPIView

# --- Serializers ------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    emails = serializers.ListField(child=serializers.EmailField(), required=False)

    class Meta:
        model = Customer
        fields = [
            "id", "external_id", "name", "emails", "address_line1", "address_line2", "city",
            "region", "postal_code", "country", "currency", "time_zone", "tax_id",
            "tax_exempt", "payment_terms_days", "attributes", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"currency": {"required": False}, "time_zone": {"required": False}}
        validators = []  # uniqueness is the database's job (a constraint), reported as 400


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "id", "name", "sku", "description", "kind", "revenue_rule",
            "standalone_selling_price", "ssp_currency", "active", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []


class ContractSummarySerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    customer_name = serializers.CharField(source="customer.name")

    class Meta:
        model = Contract
        fields = [
            "id", "name", "reference", "customer", "customer_name", "status", "start_date",
            "end_date", "currency", "cadence", "created_at",
        ]


class PhaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Phase
        fields = ["id", "name", "start_date", "end_date"]
        read_only_fields = ["id"]


class AmendmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Amendment
        fields = ["id", "effective_date", "description", "changes", "before", "created_at"]


PRICING_HELP = (
    "`pricing` holds the model's parameters as decimal strings (contracts/price_config.py). "
    "`percentage`: `percent`, and per transaction `fixed_fee`, `free_transactions` (the "
    "first N events of each period are free), `minimum_per_transaction`, "
    "`maximum_per_transaction`: each event's fee is clamp(percent x amount + fixed_fee, "
    "minimum, maximum), the fees summed unrounded, the line rounded once. `matrix`: "
    "`dimensions`, `prices: [{values, unit_price}]` and `default_unit_price` for the "
    "combinations not listed (without it their usage cannot be billed)."
)

#: A weekly contract with a card-processing fee and a matrix with a default price.
CONTRACT_EXAMPLE = {
    "customer": "acme-42", "name": "Payments platform", "status": "active",
    "start_date": "2026-01-07", "end_date": "2027-01-06", "currency": "USD",
    "cadence": "weekly", "anchor": "calendar", "anchor_weekday": "monday",
    "phases": [{
        "start_date": "2026-01-07", "end_date": "2027-01-06",
        "items": [
            {"product": "PLATFORM", "model": "flat_fee", "timing": "advance",
             "pricing": {"amount": "70.00"}},
            {"product": "CARD", "model": "percentage", "timing": "arrears",
             "meter": "card_volume",
             "pricing": {"percent": "2.9", "fixed_fee": "0.30", "free_transactions": "3",
                         "minimum_per_transaction": "0.50",
                         "maximum_per_transaction": "10.00"}},
            {"product": "COMPUTE", "model": "matrix", "timing": "arrears", "meter": "hours",
             "pricing": {"dimensions": ["region", "type"],
                         "prices": [{"values": ["eu", "small"], "unit_price": "0.10"}],
                         "default_unit_price": "0.12"}},
        ],
    }],
}


def _contract_document(name: str, statuses, **extra) -> serializers.Serializer:
    return inline_serializer(name=name, fields={
        "customer": serializers.CharField(help_text="The customer's external_id."),
        "name": serializers.CharField(),
        "reference": serializers.CharField(required=False),
        "status": serializers.ChoiceField(choices=statuses, required=False),
        "start_date": BoundedDateField(),
        "end_date": BoundedDateField(required=False, allow_null=True),
        "currency": serializers.CharField(required=False),
        "time_zone": serializers.CharField(required=False),
        "cadence": serializers.ChoiceField(
            choices=Cadence.choices, required=False,
            help_text="How often it bills (default monthly). `weekly`: periods of 7 days in the "
                      "contract's time zone, from `anchor_weekday` (calendar anchor) or from "
                      "the start date (anniversary); a partial first or last week is prorated "
                      "by day (3 of 7 days: 3/7)."),
        "anchor": serializers.ChoiceField(
            choices=Anchor.choices, required=False,
            help_text="Where periods start (default calendar): the 1st of the month (weekly: "
                      "`anchor_weekday`), the start date's anniversary, or `anchor_day`."),
        "anchor_weekday": serializers.ChoiceField(
            choices=Weekday.choices, required=False, allow_null=True,
            help_text="Weekly periods on the calendar anchor start on this day (default "
                      "monday)."),
        "phases": serializers.ListField(
            child=serializers.DictField(),
            help_text="Consecutive phases, each `{name, start_date, end_date, items: [...]}`; "
                      "an item is `{product, model, timing, meter, quantity, pricing, "
                      "discounts}`. " + PRICING_HELP),
        "discounts": serializers.ListField(child=serializers.DictField(), required=False),
        **extra,
    })


# What a contract is written as (a new contract is a draft or active) ...
ContractDocumentIn = _contract_document("ContractDocumentIn", ["draft", "active"])
# ... and what it reads as, whatever its status has become since.
ContractDocument = _contract_document(
    "ContractDocument", Contract.Status.values, id=serializers.UUIDField(read_only=True))
PriceItemDocument = inline_serializer(
    name="PriceItemDocument",
    fields={
        "product": serializers.CharField(help_text="The product's SKU."),
        "model": serializers.CharField(),
        "pricing": serializers.DictField(help_text=PRICING_HELP),
        "timing": serializers.ChoiceField(choices=["advance", "arrears"], required=False),
        "meter": serializers.CharField(required=False, allow_null=True),
        "quantity": PriceNumberInField(required=False, allow_null=True),
    },
)


def _document_of(contract: Contract) -> dict:
    return selectors.contract_document(contract=contract)


# --- Customers --------------------------------------------------------------------------------


class CustomerListView(OrganizationAPIView):
    @extend_schema(
        responses=CustomerSerializer(many=True), summary="List customers",
        description="Customers newest first (cursor-paginated); `external_id` finds the one "
                    "your systems call so.",
        parameters=[OpenApiParameter("external_id", str, description="Exactly this external_id."),
                    OpenApiParameter("search", str,
                                     description="Part of the name, any case.")],
    )
    def get(self, request):
        customers = Customer.objects.for_organization(self.organization)
        if request.query_params.get("external_id"):
            customers = customers.filter(external_id=request.query_params["external_id"])
        if request.query_params.get("search"):
            customers = customers.filter(name__icontains=request.query_params["search"])
        return self.paginate(customers, CustomerSerializer)

    @extend_schema(request=CustomerSerializer, responses={201: CustomerSerializer},
                   summary="Create a customer",
                   description="`external_id` (your id of it, unique in the organization: "
                               "400 when taken) is how usage events and contracts name it. "
                               "Currency and time zone default to the organization's.")
    def post(self, request):
        data = CustomerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_create(organization=self.organization, **data.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(OrganizationAPIView):
    @extend_schema(responses=CustomerSerializer, summary="Read a customer",
                   description="One customer with its address, tax details and terms.")
    def get(self, request, customer_id):
        return Response(CustomerSerializer(self.get_scoped(Customer.objects, id=customer_id)).data)

    @extend_schema(request=CustomerSerializer, responses=CustomerSerializer,
                   summary="Change a customer",
                   description="Fields left out keep their value. Finalized invoices keep "
                               "the details they were issued with.")
    def patch(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = CustomerSerializer(customer, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = services.customer_update(customer=customer, **data.validated_data)
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a customer",
                   description="Only a customer nothing refers to: one with contracts, "
                               "invoices or payments is refused (400, code `in_use`).")
    def delete(self, request, customer_id):
        services.customer_delete(customer=self.get_scoped(Customer.objects, id=customer_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Products ---------------------------------------------------------------------------------


class ProductListView(OrganizationAPIView):
    @extend_schema(responses=ProductSerializer(many=True), summary="List products",
                   description="The catalog, newest first (cursor-paginated).")
    def get(self, request):
        return self.paginate(Product.objects.for_organization(self.organization),
                             ProductSerializer)

    @extend_schema(request=ProductSerializer, responses={201: ProductSerializer},
                   summary="Create a product",
                   description="A product contracts price (its SKU, unique in the "
                               "organization: 400 when taken), with its revenue rule for the "
                               "ledger.")
    def post(self, request):
        data = ProductSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(organization=self.organization, **data.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(OrganizationAPIView):
    @extend_schema(responses=ProductSerializer, summary="Read a product",
                   description="One product of the catalog.")
    def get(self, request, product_id):
        return Response(ProductSerializer(self.get_scoped(Product.objects, id=product_id)).data)

    @extend_schema(request=ProductSerializer, responses=ProductSerializer,
                   summary="Change, archive or restore a product",
                   description="Fields left out keep their value; `active` false archives it "
                               "(contracts that price it keep billing).")
    def patch(self, request, product_id):
        product = self.get_scoped(Product.objects, id=product_id)
        data = ProductSerializer(product, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        product = services.product_update(product=product, **data.validated_data)
        return Response(ProductSerializer(product).data)


# --- Contracts --------------------------------------------------------------------------------


class ContractListView(OrganizationAPIView):
    @extend_schema(
        responses=ContractSummarySerializer(many=True), summary="List contracts",
        description="Contracts newest first (cursor-paginated), without their terms.",
        parameters=[OpenApiParameter("status", str, enum=Contract.Status.values),
                    OpenApiParameter("customer", str,
                                     description="The customer's external_id")],
    )
    def get(self, request):
        contracts = selectors.contracts_list(organization=self.organization)
        if request.query_params.get("status"):
            contracts = contracts.filter(status=request.query_params["status"])
        if request.query_params.get("customer"):
            contracts = contracts.filter(customer__external_id=request.query_params["customer"])
        return self.paginate(contracts, ContractSummarySerializer)

    @extend_schema(
        request=ContractDocumentIn, responses={201: ContractDocument},
        summary="Create (import) a contract from its document",
        description="The whole contract in one document: customer, dates, phases with their "
                    "price items, discounts. An active one bills from its start date; a draft "
                    "waits for activate. Each bad part is a 400 naming its place "
                    "(`phases[0].items[1].pricing.maximum_per_transaction`).",
        examples=[OpenApiExample("Weekly, a card fee per transaction, a matrix default",
                                 value=CONTRACT_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        contract = services.contract_create(organization=self.organization, document=request.data)
        return Response(_document_of(contract), status=status.HTTP_201_CREATED)


class ContractDetailView(OrganizationAPIView):
    @extend_schema(responses=ContractDocument, summary="The contract as its document (export)",
                   description="The contract in the shape it is created with, its status "
                               "and id added.")
    def get(self, request, contract_id):
        return Response(_document_of(self.get_scoped(Contract.objects, id=contract_id)))

    @extend_schema(request=ContractDocumentIn, responses=ContractDocument,
                   summary="Replace a draft contract's terms",
                   description="The document replaces the draft's terms whole. An active "
                               "contract is refused (400 on `status`): amend it instead.")
    def put(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        contract = services.contract_update(contract=contract, document=request.data)
        return Response(_document_of(contract))

    @extend_schema(request=None, responses={204: None},
                   summary="Delete a contract never invoiced (a draft, or one whose billing "
                           "failed from the start)",
                   description="A contract with an invoice is refused (400): cancel it "
                               "instead.")
    def delete(self, request, contract_id):
        services.contract_delete(contract=self.get_scoped(Contract.objects, id=contract_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContractActivateView(OrganizationAPIView):
    @extend_schema(request=None, responses=ContractDocument, summary="Activate a draft contract",
                   description="From now on it bills: its first invoices are generated by the "
                               "next run. Activating an active contract is a no-op; another "
                               "status is a 400.")
    def post(self, request, contract_id):
        contract = services.contract_activate(
            contract=self.get_scoped(Contract.objects, id=contract_id)
        )
        return Response(_document_of(contract))


class CancelIn(serializers.Serializer):
    effective_date = BoundedDateField(help_text="The first day no longer covered.")


class ContractCancelView(OrganizationAPIView):
    @extend_schema(request=CancelIn, responses=ContractDocument, summary="Cancel a contract",
                   description="It stops covering from `effective_date`: a date in the past "
                               "credits what was billed beyond it on the next invoice.")
    def post(self, request, contract_id):
        data = CancelIn(data=request.data)
        data.is_valid(raise_exception=True)
        contract = services.contract_cancel(
            contract=self.get_scoped(Contract.objects, id=contract_id), **data.validated_data
        )
        return Response(_document_of(contract))


class AmendIn(serializers.Serializer):
    effective_date = BoundedDateField()
    description = serializers.CharField(required=False, allow_blank=True, max_length=300)
    end_date = BoundedDateField(required=False, allow_null=True)
    phases = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


class ContractAmendmentsView(OrganizationAPIView):
    @extend_schema(responses=AmendmentSerializer(many=True), summary="A contract's amendments",
                   description="Every amendment, newest first, with the terms before it.")
    def get(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        return self.paginate(contract.amendments.all(), AmendmentSerializer)

    @extend_schema(request=AmendIn, responses={201: AmendmentSerializer},
                   summary="Amend an active contract from a date",
                   description="The phases given are the terms from `effective_date` on; a "
                               "date in the past re-rates the closed periods and bills the "
                               "difference. A draft is refused (400 on `status`): replace it "
                               "with PUT.")
    def post(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        data = AmendIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "end_date" not in request.data:
            fields["end_date"] = ...
        user = request.user if getattr(request.auth, "user", None) else None
        amendment = services.contract_amend(contract=contract, created_by=user, **fields)
        return Response(AmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED)


class ContractEntitlementsIn(serializers.Serializer):
    effective_date = BoundedDateField(
        help_text="From this day on (a draft: every phase in force on or after it).")
    entitlements = serializers.DictField(  # each override is checked by the service
        allow_empty=False,
        help_text='Feature key -> override, e.g. {"api_calls": {"value": "2000", "policy": '
                  '"hard"}, "sso": {"value": true}}; null removes the feature\'s override.')
    description = serializers.CharField(required=False, allow_blank=True, max_length=300)


class ContractEntitlementsView(OrganizationAPIView):
    @extend_schema(request=ContractEntitlementsIn, responses=ContractDocument,
                   summary="Change a contract's entitlement overrides from a date (a draft is "
                           "rewritten, an active contract amended)",
                   description="Each feature key's override (value, policy) applies from "
                               "`effective_date`; null removes it. Answers the contract.")
    def post(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        data = ContractEntitlementsIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user if getattr(request.auth, "user", None) else None
        contract = services.contract_entitlements_set(contract=contract, created_by=user,
                                                      **data.validated_data)
        return Response(_document_of(contract))


class ContractScheduleView(OrganizationAPIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="What will be billed when: the next billing dates and their charges",
        description="The coming billing dates of the contract's schedule with each charge and "
                    "its period; usage charges are estimated from the usage so far. Writes "
                    "nothing.",
    )
    def get(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        summary = selectors.billing_summary(contract=contract)
        return Response({
            "currency": contract.currency,
            "billing_dates": [
                {
                    "date": entry.on.isoformat(),
                    "known_total": str(entry.known_total),
                    "includes_usage": entry.has_usage,
                    "charges": [
                        {
                            "price_item": str(c.item.id), "description": c.item.description,
                            "timing": c.item.timing, "period_start": c.period_start.isoformat(),
                            "period_end": c.period_end.isoformat(), "share": str(c.share),
                            "amount": str(c.estimate.amount) if c.estimate else None,
                        }
                        for c in entry.charges
                    ],
                }
                for entry in summary
            ],
        })


# --- Phases and price items -------------------------------------------------------------------


class PhaseListView(OrganizationAPIView):
    @extend_schema(responses=inline_serializer("ContractPhases", {
                       "results": PhaseSerializer(many=True)}),
                   summary="A contract's phases",
                   description="Its phases in date order (not paginated).")
    def get(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        return Response({"results": PhaseSerializer(contract.phases.all(), many=True).data})

    @extend_schema(request=PhaseSerializer, responses={201: PhaseSerializer},
                   summary="Add a phase to a draft contract",
                   description="A period of the contract with terms of its own; phases may "
                               "not overlap (400). Add its price items next.")
    def post(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        data = PhaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {"end_date": None, **data.validated_data}
        phase = services.phase_create(contract=contract, **fields)
        return Response(PhaseSerializer(phase).data, status=status.HTTP_201_CREATED)


class PhaseDetailView(OrganizationAPIView):
    def _phase(self, phase_id):
        return self.get_scoped(Phase.objects.select_related("contract"), id=phase_id)

    @extend_schema(responses=PhaseSerializer, summary="Read a phase",
                   description="One phase of a contract: its name and dates.")
    def get(self, request, phase_id):
        return Response(PhaseSerializer(self._phase(phase_id)).data)

    @extend_schema(request=PhaseSerializer, responses=PhaseSerializer,
                   summary="Change a draft contract's phase",
                   description="Fields left out keep their value; an active contract's "
                               "phases change by amendment (400).")
    def patch(self, request, phase_id):
        phase = self._phase(phase_id)
        data = PhaseSerializer(phase, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(PhaseSerializer(services.phase_update(phase=phase,
                                                               **data.validated_data)).data)

    @extend_schema(request=None, responses={204: None},
                   summary="Delete a draft contract's phase",
                   description="The phase goes with its price items; an active contract's "
                               "phases change by amendment (400).")
    def delete(self, request, phase_id):
        services.phase_delete(phase=self._phase(phase_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PriceItemListView(OrganizationAPIView):
    @extend_schema(responses=inline_serializer("PhaseItems", {
                       "results": serializers.ListField(child=PriceItemDocument)}),
                   summary="A phase's price items",
                   description="Each price item as written in the contract document (not "
                               "paginated).")
    def get(self, request, phase_id):
        phase = self.get_scoped(Phase.objects, id=phase_id)
        items = phase.items.select_related("product").prefetch_related("discounts")
        return Response({"results": [selectors.item_document(i) for i in items]})

    @extend_schema(request=PriceItemDocument, responses={201: PriceItemDocument},
                   summary="Add a price item to a draft phase",
                   description="A product priced by a model (flat, per unit, tiered, "
                               "volume, package...) billed in advance or in arrears; a usage "
                               "item names its meter. Each bad part is a 400 naming it.")
    def post(self, request, phase_id):
        phase = self.get_scoped(Phase.objects.select_related("contract"), id=phase_id)
        item = services.price_item_create(phase=phase, data=request.data)
        return Response(selectors.item_document(item), status=status.HTTP_201_CREATED)


class PriceItemDetailView(OrganizationAPIView):
    def _item(self, item_id):
        return self.get_scoped(
            PriceItem.objects.select_related("phase__contract", "product"), id=item_id
        )

    @extend_schema(responses=PriceItemDocument, summary="Read a price item",
                   description="One price item as written in the contract document.")
    def get(self, request, item_id):
        return Response(selectors.item_document(self._item(item_id)))

    @extend_schema(request=PriceItemDocument, responses=PriceItemDocument,
                   summary="Change a draft's price item",
                   description="Fields left out keep their value; an active contract's items "
                               "change by amendment (400).")
    def patch(self, request, item_id):
        item = services.price_item_update(item=self._item(item_id), data=request.data)
        return Response(selectors.item_document(item))

    @extend_schema(request=None, responses={204: None},
                   summary="Delete a draft's price item",
                   description="An active contract's items change by amendment (400).")
    def delete(self, request, item_id):
        services.price_item_delete(item=self._item(item_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
