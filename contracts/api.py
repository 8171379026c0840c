"""API for customers, products, contracts (as documents), phases and price items."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from contracts import selectors, services
from contracts.models import Amendment, Contract, Customer, Phase, PriceItem, Product
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
        "cadence": serializers.CharField(required=False),
        "anchor": serializers.CharField(required=False),
        "phases": serializers.ListField(child=serializers.DictField()),
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
        "pricing": serializers.DictField(),
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
        parameters=[OpenApiParameter("external_id", str), OpenApiParameter("search", str)],
    )
    def get(self, request):
        customers = Customer.objects.for_organization(self.organization)
        if request.query_params.get("external_id"):
            customers = customers.filter(external_id=request.query_params["external_id"])
        if request.query_params.get("search"):
            customers = customers.filter(name__icontains=request.query_params["search"])
        return self.paginate(customers, CustomerSerializer)

    @extend_schema(request=CustomerSerializer, responses={201: CustomerSerializer})
    def post(self, request):
        data = CustomerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_create(organization=self.organization, **data.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(OrganizationAPIView):
    @extend_schema(responses=CustomerSerializer)
    def get(self, request, customer_id):
        return Response(CustomerSerializer(self.get_scoped(Customer.objects, id=customer_id)).data)

    @extend_schema(request=CustomerSerializer, responses=CustomerSerializer)
    def patch(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = CustomerSerializer(customer, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = services.customer_update(customer=customer, **data.validated_data)
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, customer_id):
        services.customer_delete(customer=self.get_scoped(Customer.objects, id=customer_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Products ---------------------------------------------------------------------------------


class ProductListView(OrganizationAPIView):
    @extend_schema(responses=ProductSerializer(many=True), summary="List products")
    def get(self, request):
        return self.paginate(Product.objects.for_organization(self.organization),
                             ProductSerializer)

    @extend_schema(request=ProductSerializer, responses={201: ProductSerializer})
    def post(self, request):
        data = ProductSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(organization=self.organization, **data.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(OrganizationAPIView):
    @extend_schema(responses=ProductSerializer)
    def get(self, request, product_id):
        return Response(ProductSerializer(self.get_scoped(Product.objects, id=product_id)).data)

    @extend_schema(request=ProductSerializer, responses=ProductSerializer)
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
        parameters=[OpenApiParameter("status", str), OpenApiParameter("customer", str,
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
    )
    def post(self, request):
        contract = services.contract_create(organization=self.organization, document=request.data)
        return Response(_document_of(contract), status=status.HTTP_201_CREATED)


class ContractDetailView(OrganizationAPIView):
    @extend_schema(responses=ContractDocument, summary="The contract as its document (export)")
    def get(self, request, contract_id):
        return Response(_document_of(self.get_scoped(Contract.objects, id=contract_id)))

    @extend_schema(request=ContractDocumentIn, responses=ContractDocument,
                   summary="Replace a draft contract's terms")
    def put(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        contract = services.contract_update(contract=contract, document=request.data)
        return Response(_document_of(contract))

    @extend_schema(request=None, responses={204: None},
                   summary="Delete a contract never invoiced (a draft, or one whose billing "
                           "failed from the start)")
    def delete(self, request, contract_id):
        services.contract_delete(contract=self.get_scoped(Contract.objects, id=contract_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContractActivateView(OrganizationAPIView):
    @extend_schema(request=None, responses=ContractDocument)
    def post(self, request, contract_id):
        contract = services.contract_activate(
            contract=self.get_scoped(Contract.objects, id=contract_id)
        )
        return Response(_document_of(contract))


class CancelIn(serializers.Serializer):
    effective_date = BoundedDateField(help_text="The first day no longer covered.")


class ContractCancelView(OrganizationAPIView):
    @extend_schema(request=CancelIn, responses=ContractDocument)
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
    @extend_schema(responses=AmendmentSerializer(many=True))
    def get(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        return self.paginate(contract.amendments.all(), AmendmentSerializer)

    @extend_schema(request=AmendIn, responses={201: AmendmentSerializer},
                   summary="Amend an active contract from a date")
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
                           "rewritten, an active contract amended)")
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
    @extend_schema(responses=PhaseSerializer(many=True))
    def get(self, request, contract_id):
        contract = self.get_scoped(Contract.objects, id=contract_id)
        return Response({"results": PhaseSerializer(contract.phases.all(), many=True).data})

    @extend_schema(request=PhaseSerializer, responses={201: PhaseSerializer})
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

    @extend_schema(responses=PhaseSerializer)
    def get(self, request, phase_id):
        return Response(PhaseSerializer(self._phase(phase_id)).data)

    @extend_schema(request=PhaseSerializer, responses=PhaseSerializer)
    def patch(self, request, phase_id):
        phase = self._phase(phase_id)
        data = PhaseSerializer(phase, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(PhaseSerializer(services.phase_update(phase=phase,
                                                               **data.validated_data)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, phase_id):
        services.phase_delete(phase=self._phase(phase_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PriceItemListView(OrganizationAPIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, phase_id):
        phase = self.get_scoped(Phase.objects, id=phase_id)
        items = phase.items.select_related("product").prefetch_related("discounts")
        return Response({"results": [selectors.item_document(i) for i in items]})

    @extend_schema(request=PriceItemDocument, responses={201: PriceItemDocument})
    def post(self, request, phase_id):
        phase = self.get_scoped(Phase.objects.select_related("contract"), id=phase_id)
        item = services.price_item_create(phase=phase, data=request.data)
        return Response(selectors.item_document(item), status=status.HTTP_201_CREATED)


class PriceItemDetailView(OrganizationAPIView):
    def _item(self, item_id):
        return self.get_scoped(
            PriceItem.objects.select_related("phase__contract", "product"), id=item_id
        )

    @extend_schema(responses=PriceItemDocument)
    def get(self, request, item_id):
        return Response(selectors.item_document(self._item(item_id)))

    @extend_schema(request=PriceItemDocument, responses=PriceItemDocument)
    def patch(self, request, item_id):
        item = services.price_item_update(item=self._item(item_id), data=request.data)
        return Response(selectors.item_document(item))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, item_id):
        services.price_item_delete(item=self._item(item_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
