"""The entitlements API: the check (one feature, a batch, all of a customer's), the consuming
call, features, what products include, and prepaid balances.

The check and the batch check are the hot path: authenticated through the API-key cache,
throttled by a scope of their own (``entitlement_checks``, far above the general rate: a
product checks before every action), and answered from Redis without a database query
when the customer's grants and counters are cached.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from contracts.models import Customer, Product
from entitlements import selectors, services
from entitlements.models import BalanceLot, Feature, Notice, ProductFeature, Reconciliation
from zenskar.api.authentication import (
    CachedApiKeyAuthentication,
    DashboardSessionAuthentication,
)
from zenskar.api.schema import error_response
from zenskar.api.throttling import _WindowThrottle
from zenskar.api.views import OrganizationAPIView

MAX_REF = 255


class CheckThrottle(_WindowThrottle):
    """``entitlement_checks``: the checks of one API key (or one dashboard address)."""

    scope = selectors.CHECK_SCOPE

    def identity(self, request) -> str | None:
        key = getattr(request.auth, "api_key", None)
        return str(key.id) if key is not None else f"session:{request.auth.organization.id}"


NOT_FOUND = error_response("No customer has this external id (or id), or no feature this key.")


def _not_found(error: selectors.NotFound) -> exceptions.NotFound:
    return exceptions.NotFound(error.message)


def _ref(request, name: str) -> str:
    value = request.query_params.get(name, "")
    if not value.strip():
        raise exceptions.ValidationError({name: ["Is required."]})
    if len(value) > MAX_REF or "\x00" in value:
        raise exceptions.ValidationError({name: [f"At most {MAX_REF} characters, no NUL."]})
    return value


class CheckOut(serializers.Serializer):
    feature = serializers.CharField()
    kind = serializers.ChoiceField(choices=Feature.Kind.choices)
    allowed = serializers.BooleanField()
    limit = serializers.CharField(allow_null=True, help_text="The limit, number or balance.")
    used = serializers.CharField(allow_null=True, help_text="Usage counted in the window.")
    remaining = serializers.CharField(allow_null=True)
    resets_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(help_text="granted, disabled, not_granted, within_limit, "
                                             "limit_reached, balance_exhausted, soft_limit, "
                                             "overage, paused (and partial, for a consuming "
                                             "call)")
    policy = serializers.CharField(allow_null=True)
    message = serializers.CharField(required=False,
                                    help_text="Only when paused: \"Paused for non-payment: "
                                              "<reason>\".")


class PauseOut(serializers.Serializer):
    since = serializers.DateTimeField()
    reason = serializers.CharField()
    invoice = serializers.UUIDField(allow_null=True)


class CheckView(OrganizationAPIView):
    authentication_classes = [CachedApiKeyAuthentication, DashboardSessionAuthentication]
    throttle_classes = [CheckThrottle]
    lazy_tenant_context = True

    @extend_schema(
        summary="Check one feature for a customer",
        description="May the customer use `amount` more (default 1) of the feature? Answered "
                    "from the cached grants and usage counters, without reading the event "
                    "table.",
        parameters=[
            OpenApiParameter("customer", str, required=True,
                             description="The customer's external id (or id)."),
            OpenApiParameter("feature", str, required=True, description="The feature's key."),
            OpenApiParameter("amount", str, description="Units about to be used (default 1)."),
        ],
        responses={200: CheckOut, 404: NOT_FOUND},
    )
    def get(self, request):
        amount = Decimal(1)
        if "amount" in request.query_params:
            amount = services.quantity(request.query_params["amount"], "amount")
        try:
            body = selectors.check(organization_id=self.organization.id,
                                   customer_ref=_ref(request, "customer"),
                                   feature_key=_ref(request, "feature"), amount=amount)
        except selectors.NotFound as error:
            raise _not_found(error) from None
        return Response(body)


class BatchCheckView(CheckView):
    @extend_schema(
        summary="Check several features for a customer at once",
        description="The check of each feature key for the customer, in one call and in the "
                    "order asked; like the single check, answered from the cache.",
        parameters=[
            OpenApiParameter("customer", str, required=True),
            OpenApiParameter("features", str, required=True,
                             description="Feature keys separated by commas (at most 100)."),
        ],
        responses={200: inline_serializer("BatchCheck", {
            "customer": serializers.CharField(), "entitlements": CheckOut(many=True)}),
            404: NOT_FOUND},
    )
    def get(self, request):
        keys = [k for k in _ref(request, "features").split(",") if k.strip()]
        if not keys or len(keys) > selectors.MAX_BATCH:
            raise exceptions.ValidationError(
                {"features": [f"1 to {selectors.MAX_BATCH} feature keys."]})
        customer = _ref(request, "customer")
        try:
            answers = selectors.check_many(organization_id=self.organization.id,
                                           customer_ref=customer, feature_keys=keys)
        except selectors.NotFound as error:
            raise _not_found(error) from None
        return Response({"customer": customer, "entitlements": answers})


class CustomerEntitlementsView(OrganizationAPIView):
    @extend_schema(summary="Every feature as the customer has it",
                   description="Each feature the customer's contracts and products grant, as "
                               "a check would answer it now, and its pause for non-payment.",
                   responses=inline_serializer("CustomerEntitlements", {
                       "customer": serializers.CharField(),
                       "paused": PauseOut(allow_null=True, help_text="The customer's pause "
                                                                     "for non-payment, or "
                                                                     "null."),
                       "entitlements": CheckOut(many=True)}))
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        rows = selectors.customer_entitlements(organization=self.organization,
                                               customer=customer)
        pause = selectors.suspension_active(organization=self.organization, customer=customer)
        return Response({
            "customer": customer.external_id,
            "paused": None if pause is None else {
                "since": pause.paused_at.isoformat(), "reason": pause.reason,
                "invoice": str(pause.invoice_id) if pause.invoice_id else None},
            "entitlements": [row.answer for row in rows]})


class ConsumeIn(serializers.Serializer):
    customer = serializers.CharField(max_length=MAX_REF)
    feature = serializers.CharField(max_length=100)
    amount = serializers.JSONField(help_text='Units to reserve: "45" or 45.')
    key = serializers.CharField(max_length=200,
                                help_text="Idempotency key: a retry with it consumes nothing more.")
    partial = serializers.BooleanField(default=False,
                                       help_text="Hard limit: grant what is left instead of "
                                                 "nothing.")


class ConsumeOut(CheckOut):
    requested = serializers.CharField()
    granted = serializers.CharField()
    replayed = serializers.BooleanField()


class ConsumeView(OrganizationAPIView):
    @extend_schema(
        summary="Reserve units of a metered or prepaid feature",
        description="Atomic per customer and meter: concurrent calls against a hard limit "
                    "are never granted more than the limit. What is granted is recorded as "
                    "usage of the feature's meter (billed like any usage). Idempotent by "
                    "`key`.",
        request=ConsumeIn, responses={200: ConsumeOut, 404: NOT_FOUND},
    )
    def post(self, request):
        data = ConsumeIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            body = services.consume(organization=self.organization,
                                    customer_ref=data.validated_data["customer"],
                                    feature_key=data.validated_data["feature"],
                                    amount=data.validated_data["amount"],
                                    key=data.validated_data["key"],
                                    partial=data.validated_data["partial"])
        except selectors.NotFound as error:
            raise _not_found(error) from None
        return Response(body)


# --- Features ---------------------------------------------------------------------------------


class FeatureSerializer(serializers.ModelSerializer):
    notify_at = serializers.DecimalField(max_digits=5, decimal_places=4, required=False)

    class Meta:
        model = Feature
        fields = ["id", "key", "name", "description", "kind", "meter_key", "reset", "policy",
                  "notify_at", "unit", "archived_at", "created_at", "updated_at"]
        read_only_fields = ["id", "archived_at", "created_at", "updated_at"]
        validators = []


class FeatureListView(OrganizationAPIView):
    @extend_schema(summary="List features", responses=FeatureSerializer(many=True),
                   description="The features products and contracts grant (boolean, numeric, "
                               "metered, prepaid), archived ones included.")
    def get(self, request):
        return self.paginate(Feature.objects.for_organization(self.organization),
                             FeatureSerializer)

    @extend_schema(summary="Create a feature", request=FeatureSerializer,
                   description="A feature by its key (unique: 400 when taken); a metered "
                               "feature names the meter its usage is counted by.",
                   responses={201: FeatureSerializer})
    def post(self, request):
        data = FeatureSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feature = services.feature_create(organization=self.organization, **data.validated_data)
        return Response(FeatureSerializer(feature).data, status=status.HTTP_201_CREATED)


class FeatureDetailView(OrganizationAPIView):
    @extend_schema(summary="Get a feature", responses=FeatureSerializer,
                   description="One feature with its kind, meter, reset and policy.")
    def get(self, request, feature_id):
        return Response(FeatureSerializer(self.get_scoped(Feature.objects, id=feature_id)).data)

    @extend_schema(summary="Change a feature (key, kind and meter stay)",
                   description="Fields left out keep their value; checks use the change at "
                               "once.",
                   request=FeatureSerializer, responses=FeatureSerializer)
    def patch(self, request, feature_id):
        feature = self.get_scoped(Feature.objects, id=feature_id)
        data = FeatureSerializer(feature, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(FeatureSerializer(
            services.feature_update(feature=feature, **data.validated_data)).data)

    @extend_schema(summary="Archive a feature (no longer granted)", request=None,
                   description="The feature stays listed, archived; checks answer it as not "
                               "granted. Archiving it again is a no-op.",
                   responses={200: FeatureSerializer})
    def delete(self, request, feature_id):
        feature = self.get_scoped(Feature.objects, id=feature_id)
        return Response(FeatureSerializer(services.feature_archive(feature=feature)).data)


# --- What products include --------------------------------------------------------------------


class ProductFeatureSerializer(serializers.ModelSerializer):
    feature = serializers.SlugRelatedField(slug_field="key", read_only=True)
    value = serializers.DecimalField(max_digits=30, decimal_places=10, allow_null=True,
                                     read_only=True)

    class Meta:
        model = ProductFeature
        fields = ["id", "feature", "enabled", "value", "policy", "grant_on",
                  "expires_after_days", "updated_at"]
        read_only_fields = fields


class ProductFeatureIn(serializers.Serializer):
    feature = serializers.CharField(max_length=100, help_text="The feature's key.")
    value = serializers.JSONField(required=False, allow_null=True,
                                  help_text='Numeric, metered, prepaid: "1000".')
    enabled = serializers.BooleanField(default=True)
    policy = serializers.ChoiceField(choices=Feature.Policy.choices, required=False,
                                     allow_blank=True)
    grant_on = serializers.ChoiceField(choices=ProductFeature.GrantOn.choices, default="paid")
    expires_after_days = serializers.IntegerField(required=False, allow_null=True)


class ProductFeaturesView(OrganizationAPIView):
    @extend_schema(summary="The features a product includes",
                   description="What each feature the product grants is worth (cursor-"
                               "paginated).",
                   responses=ProductFeatureSerializer(many=True))
    def get(self, request, product_id):
        product = self.get_scoped(Product.objects, id=product_id)
        rows = ProductFeature.objects.for_organization(self.organization).filter(
            product=product).select_related("feature")
        return self.paginate(rows, ProductFeatureSerializer)

    @extend_schema(summary="Include a feature in a product (or change what it includes)",
                   description="Customers with the product get the feature with this value "
                               "and policy (when their invoice is paid, or at once, as "
                               "`grant_on` says). An unknown feature key is a 400.",
                   request=ProductFeatureIn, responses=ProductFeatureSerializer)
    def post(self, request, product_id):
        product = self.get_scoped(Product.objects, id=product_id)
        data = ProductFeatureIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        feature = Feature.objects.for_organization(self.organization).filter(
            key=fields.pop("feature")).first()
        if feature is None:
            raise exceptions.ValidationError({"feature": ["No feature has this key."]})
        row = services.product_feature_set(product=product, feature=feature, **fields)
        return Response(ProductFeatureSerializer(row).data)


class ProductFeatureDetailView(OrganizationAPIView):
    @extend_schema(summary="Stop including a feature in a product", request=None,
                   responses={204: None},
                   description="Customers no longer get the feature through this product.")
    def delete(self, request, product_id, feature_key):
        product = self.get_scoped(Product.objects, id=product_id)
        feature = self.get_scoped(Feature.objects, key=feature_key)
        services.product_feature_remove(product=product, feature=feature)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Prepaid balances, notices, reconciliation --------------------------------------------------


class LotSerializer(serializers.ModelSerializer):
    feature = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = BalanceLot
        fields = ["id", "feature", "units", "source", "invoice_id", "reason", "granted_at",
                  "expires_at", "expired_at", "forfeited"]
        read_only_fields = fields


class LotIn(serializers.Serializer):
    feature = serializers.CharField(max_length=100)
    units = serializers.JSONField(help_text='"100"')
    reason = serializers.CharField(max_length=300)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class CustomerBalancesView(OrganizationAPIView):
    @extend_schema(summary="A customer's prepaid lots", responses=LotSerializer(many=True),
                   description="Each lot of prepaid units with its source and expiry, newest "
                               "first (cursor-paginated).")
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        lots = BalanceLot.objects.for_organization(self.organization).filter(
            customer=customer).select_related("feature").order_by("-granted_at", "id")
        return self.paginate(lots, LotSerializer)

    @extend_schema(summary="Give a customer prepaid units", request=LotIn,
                   description="Adds a lot of units of a prepaid feature to the customer's "
                               "balance; with an `Idempotency-Key` a retry adds nothing more.",
                   responses={201: LotSerializer})
    def post(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = LotIn(data=request.data)
        data.is_valid(raise_exception=True)
        feature = self.get_scoped(Feature.objects, key=data.validated_data["feature"])
        key = request.headers.get("Idempotency-Key") or ""
        source = f"grant:{key[:180]}" if key else f"grant:{uuid.uuid4()}"
        lot = services.balance_grant(customer=customer, feature=feature,
                                     units=data.validated_data["units"], source=source,
                                     reason=data.validated_data["reason"],
                                     expires_at=data.validated_data.get("expires_at"))
        return Response(LotSerializer(lot).data, status=status.HTTP_201_CREATED)


class NoticeSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    feature = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Notice
        fields = ["id", "kind", "customer", "feature", "window", "payload", "created_at"]
        read_only_fields = fields


class NoticeListView(OrganizationAPIView):
    @extend_schema(summary="Notifications sent about limits and balances",
                   description="Each notice sent when a customer neared or reached a limit or "
                               "a balance ran low, newest first.",
                   responses=NoticeSerializer(many=True))
    def get(self, request):
        return self.paginate(Notice.objects.for_organization(self.organization)
                             .select_related("customer", "feature"), NoticeSerializer)


class ReconciliationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reconciliation
        fields = ["id", "created_at", "finished_at", "since", "counters_checked",
                  "database_repaired", "cache_repaired", "drift", "error"]
        read_only_fields = fields


class ReconciliationListView(OrganizationAPIView):
    @extend_schema(summary="Reconciliations of the usage counters",
                   description="Each comparison of the cached counters with the events, "
                               "with what was repaired, newest first.",
                   responses=ReconciliationSerializer(many=True))
    def get(self, request):
        return self.paginate(Reconciliation.objects.for_organization(self.organization),
                             ReconciliationSerializer)

    @extend_schema(summary="Reconcile the usage counters now", request=None,
                   description="Recounts the usage counters from the events and repairs the "
                               "database and the cache where they drifted; safe to run again.",
                   responses={201: ReconciliationSerializer})
    def post(self, request):
        run = services.reconcile(organization=self.organization)
        return Response(ReconciliationSerializer(run).data, status=status.HTTP_201_CREATED)

