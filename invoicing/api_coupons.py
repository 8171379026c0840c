"""API for customer coupons: the catalogue (``/coupons``) and a customer's redemptions
(``/customers/{id}/coupons``: redeem by code, list with what is left, remove).

Thin adapters: parse, call ``invoicing.services.coupons`` or ``invoicing.coupon_selectors``,
render. Every object is fetched through ``get_scoped`` (this organization only, else 404)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from contracts.models import Customer
from invoicing import coupon_selectors as selectors
from invoicing.models import Coupon, CouponRedemption
from invoicing.services import coupons as services
from zenskar.api.fields import AmountInField, BoundedDateTimeField
from zenskar.api.views import OrganizationAPIView
from zenskar.money import minor_units

MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "150.00",
         "nullable": True}


def _money(value: Decimal | None, currency: str) -> str | None:
    if value is None or not currency:
        return None
    return str(Decimal(value).quantize(Decimal(1).scaleb(-minor_units(currency))))


class CouponSerializer(serializers.ModelSerializer):
    percent_off = serializers.DecimalField(max_digits=7, decimal_places=4, allow_null=True,
                                           help_text="A percentage coupon's, e.g. 20.0000.")
    amount_off = serializers.SerializerMethodField(
        help_text="A fixed coupon's amount, in its currency's digits; null for a percentage.")
    currency = serializers.SerializerMethodField(
        help_text="A fixed coupon's currency (it applies to invoices in it only); null for a "
                  "percentage.")
    products = serializers.SerializerMethodField(
        help_text="Scope: the SKUs of the products whose lines it discounts.")
    meters = serializers.ListField(source="meter_keys", child=serializers.CharField(),
                                   help_text="Scope: the meters whose lines it discounts. "
                                             "No product and no meter: every line.")
    redeemable = serializers.SerializerMethodField(
        help_text="Whether a customer may redeem it now (not archived, not expired, a slot "
                  "left).")

    class Meta:
        model = Coupon
        fields = ["id", "code", "name", "kind", "percent_off", "amount_off", "currency",
                  "duration", "duration_periods", "products", "meters", "max_redemptions",
                  "times_redeemed", "redeem_by", "archived", "redeemable", "created_at"]

    @extend_schema_field(MONEY)
    def get_amount_off(self, coupon: Coupon) -> str | None:
        return _money(coupon.amount_off, coupon.currency)

    @extend_schema_field({"type": "string", "nullable": True, "example": "USD"})
    def get_currency(self, coupon: Coupon) -> str | None:
        return coupon.currency or None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_products(self, coupon: Coupon) -> list[str]:
        skus = self.context.get("skus")
        if skus is None:
            skus = selectors.coupon_scope_skus(organization=coupon.organization_id,
                                               coupons=[coupon])
        return skus.get(coupon.id, [])

    def get_redeemable(self, coupon: Coupon) -> bool:
        return selectors.coupon_redeemable(coupon=coupon)


class CouponIn(serializers.Serializer):
    """Shapes only: the rules (the code's characters and uniqueness in any case, a percentage
    more than 0 and at most 100, an amount in its currency's digits, the products and meters
    exist, a future deadline) are ``invoicing.services.coupons``' -- the dashboard asks the
    same."""

    code = serializers.CharField(max_length=50, allow_blank=True,
                                 help_text="1 to 50 letters, digits, - and _; unique in any "
                                           "case. What customers type, e.g. SPRING20.")
    name = serializers.CharField(max_length=200, allow_blank=True,
                                 help_text="1 to 200 characters, shown on invoices.")
    kind = serializers.ChoiceField(choices=Coupon.Kind.values)
    percent_off = serializers.DecimalField(
        max_digits=7, decimal_places=4, required=False, allow_null=True,
        help_text="percent: more than 0, at most 100, at most 4 decimals.")
    amount_off = AmountInField(required=False, allow_null=True,
                               help_text="fixed: more than 0, at most 10^12, in the currency's "
                                         "digits. Used up over the customer's invoices.")
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3,
                                     help_text="fixed: ISO 4217; the coupon applies to invoices "
                                               "in it only.")
    duration = serializers.ChoiceField(
        choices=Coupon.Duration.values,
        help_text="once: the first invoice (a fixed amount: until used up); repeating: the "
                  "first duration_periods invoices of each contract; forever.")
    duration_periods = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=services.MAX_PERIODS,
        help_text=f"repeating: 1 to {services.MAX_PERIODS}.")
    products = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False,
        max_length=services.MAX_SCOPE,
        help_text="Scope: product SKUs (at most 100). With meters: lines of either.")
    meters = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False,
        max_length=services.MAX_SCOPE, help_text="Scope: meter keys (at most 100).")
    max_redemptions = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=services.MAX_REDEMPTIONS,
        help_text="Across customers; omitted: no limit.")
    redeem_by = BoundedDateTimeField(required=False, allow_null=True,
                                     help_text="No redemption after this instant.")


class CouponChangeIn(serializers.Serializer):
    """What may change of a coupon; its terms never do (a 400 ``immutable`` names them)."""

    name = serializers.CharField(required=False, max_length=200, allow_blank=True)
    max_redemptions = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=services.MAX_REDEMPTIONS,
        help_text="Not below times_redeemed; null: no limit.")
    redeem_by = BoundedDateTimeField(required=False, allow_null=True,
                                     help_text="A future instant, or null: no deadline.")
    archived = serializers.BooleanField(required=False,
                                        help_text="true: no longer redeemable (customers who "
                                                  "have it keep it).")

    def validate(self, attrs):
        fixed = sorted(set(self.initial_data) & set(CouponIn().fields) - set(self.fields))
        if fixed:
            raise serializers.ValidationError({name: serializers.ErrorDetail(
                "A coupon's terms never change: create another coupon (and archive this "
                "one).", code="immutable") for name in fixed})
        return attrs


class ContractUseSerializer(serializers.Serializer):
    contract = serializers.UUIDField(source="contract_id")
    name = serializers.CharField(source="contract_name")
    invoices_discounted = serializers.IntegerField()
    invoices_left = serializers.IntegerField()


class RedemptionSerializer(serializers.ModelSerializer):
    coupon = CouponSerializer()
    customer = serializers.CharField(source="customer.external_id")
    redeemed_at = serializers.DateTimeField(source="created_at")
    status = serializers.ChoiceField(source="use.status",
                                     choices=["active", "used_up", "removed"])
    invoices_discounted = serializers.IntegerField(
        source="use.invoices_discounted",
        help_text="Invoices it took something off that stand (a void one gave it back).")
    amount_used = serializers.SerializerMethodField(
        help_text="What it took off those invoices, in their currency.")
    amount_left = serializers.SerializerMethodField(
        help_text="A fixed coupon: what is left for the next invoices; null for a percentage.")
    invoices_left = serializers.IntegerField(
        source="use.invoices_left", allow_null=True,
        help_text="A percentage coupon once: 1 until it discounts an invoice, then 0. Null "
                  "otherwise (repeating: see contracts; forever: no count).")
    contracts = ContractUseSerializer(
        source="use.contracts", many=True,
        help_text="repeating: per contract of the customer, the invoices discounted and left.")

    class Meta:
        model = CouponRedemption
        fields = ["id", "coupon", "customer", "status", "redeemed_at", "redeemed_by",
                  "removed_at", "invoices_discounted", "amount_used", "amount_left",
                  "invoices_left", "contracts"]

    @extend_schema_field(MONEY)
    def get_amount_used(self, redemption: CouponRedemption) -> str | None:
        currency = redemption.coupon.currency or redemption.customer.currency
        return _money(redemption.use.amount_used, currency)

    @extend_schema_field(MONEY)
    def get_amount_left(self, redemption: CouponRedemption) -> str | None:
        return _money(redemption.use.amount_left, redemption.coupon.currency)


class RedeemIn(serializers.Serializer):
    code = serializers.CharField(max_length=50, allow_blank=True,
                                 help_text="The coupon's code, in any case.")


def _actor(request) -> str:
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.get_username()
    return f"api key {access.api_key.prefix}"


def _redemptions(organization, redemptions: list[CouponRedemption], *,
                 many: bool = True) -> dict | list:
    """The redemptions as the API shows them, with what each took and has left (a few
    queries whatever their number)."""
    uses = selectors.redemption_uses(organization=organization, redemptions=redemptions)
    for redemption in redemptions:
        redemption.use = uses[redemption.id]
    skus = selectors.coupon_scope_skus(organization=organization,
                                       coupons=[r.coupon for r in redemptions])
    data = RedemptionSerializer(redemptions, many=True, context={"skus": skus}).data
    return data if many else data[0]


ARCHIVED = OpenApiParameter("archived", bool,
                            description="true: only archived coupons; false: only the others.")


class CouponListView(OrganizationAPIView):
    @extend_schema(responses=CouponSerializer(many=True), parameters=[ARCHIVED],
                   summary="List coupons, newest first",
                   description="The organization's coupons (cursor-paginated), archived ones "
                               "too unless `archived` says otherwise.")
    def get(self, request):
        archived = request.query_params.get("archived")
        if archived not in (None, "true", "false"):
            raise ValidationError({"archived": ["Must be true or false."]})
        coupons = selectors.coupons_list(
            organization=self.organization,
            archived=None if archived is None else archived == "true")
        return self.paginate(coupons, render=lambda page: CouponSerializer(
            page, many=True, context={"skus": selectors.coupon_scope_skus(
                organization=self.organization, coupons=page)}).data)

    @extend_schema(request=CouponIn, responses={201: CouponSerializer},
                   summary="Create a coupon",
                   description="A percentage or a fixed amount off the lines in its scope, for "
                               "the first invoice, the first N invoices of each contract, or "
                               "every invoice. Customers get it by its code "
                               "(`POST /customers/{id}/coupons`).")
    def post(self, request):
        data = CouponIn(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = services.coupon_create(organization=self.organization, **data.validated_data)
        return Response(CouponSerializer(coupon).data, status=status.HTTP_201_CREATED)


class CouponDetailView(OrganizationAPIView):
    @extend_schema(responses=CouponSerializer, summary="A coupon",
                   description="One coupon with its terms, scope and redemptions so far.")
    def get(self, request, coupon_id):
        coupon = self.get_scoped(Coupon.objects, id=coupon_id)
        return Response(CouponSerializer(coupon).data)

    @extend_schema(request=CouponChangeIn, responses=CouponSerializer,
                   summary="Rename, limit, set the deadline of, archive or restore a coupon",
                   description="Fields left out keep their value. Its terms (code, kind, "
                               "amounts, duration, scope) never change: customers keep what "
                               "they were given. Archived: no longer redeemable; customers who "
                               "have it keep it.")
    def patch(self, request, coupon_id):
        coupon = self.get_scoped(Coupon.objects, id=coupon_id)
        data = CouponChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = services.coupon_update(coupon=coupon, **data.validated_data)
        return Response(CouponSerializer(coupon).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a coupon never redeemed",
                   description="A coupon a customer redeemed is refused (`in_use`): archive it "
                               "instead.")
    def delete(self, request, coupon_id):
        services.coupon_delete(coupon=self.get_scoped(Coupon.objects, id=coupon_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerCouponsView(OrganizationAPIView):
    @extend_schema(responses=RedemptionSerializer(many=True),
                   summary="The customer's coupons, with what is left of each",
                   description="Every coupon redeemed by the customer, removed ones too "
                               "(cursor-paginated, newest first): its status, what it took off "
                               "invoices that stand, what is left (a fixed amount; the "
                               "invoices left of each contract).")
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        redemptions = selectors.customer_redemptions(organization=self.organization,
                                                     customer=customer)
        return self.paginate(redemptions,
                             render=lambda page: _redemptions(self.organization, page))

    @extend_schema(request=RedeemIn, responses={201: RedemptionSerializer},
                   summary="Apply a coupon to the customer, by its code",
                   description="The customer's next invoices (drafts as they are rated) are "
                               "discounted. Refused (400, under `code`): no such code "
                               "(`unknown_coupon`), `archived`, `expired`, "
                               "`max_redemptions_reached`, `already_redeemed`, a fixed coupon "
                               "in a currency the customer is not billed in "
                               "(`currency_mismatch`).")
    def post(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = RedeemIn(data=request.data)
        data.is_valid(raise_exception=True)
        redemption = services.coupon_redeem(organization=self.organization, customer=customer,
                                            code=data.validated_data["code"],
                                            actor=_actor(request))
        return Response(_redemptions(self.organization, [redemption], many=False),
                        status=status.HTTP_201_CREATED)


class CustomerCouponDetailView(OrganizationAPIView):
    def _redemption(self, customer_id, redemption_id) -> CouponRedemption:
        customer = self.get_scoped(Customer.objects, id=customer_id)
        return self.get_scoped(CouponRedemption.objects.select_related("coupon", "customer"),
                               id=redemption_id, customer=customer)

    @extend_schema(responses=RedemptionSerializer, summary="One of the customer's coupons",
                   description="The redemption with what it took and what is left.")
    def get(self, request, customer_id, redemption_id):
        redemption = self._redemption(customer_id, redemption_id)
        return Response(_redemptions(self.organization, [redemption], many=False))

    @extend_schema(request=None, responses={200: RedemptionSerializer},
                   summary="Remove a coupon from the customer",
                   description="It no longer applies: drafts lose it when next rated (at the "
                               "latest when finalized); finalized invoices keep what it took "
                               "off. Idempotent; answers the removed redemption.")
    def delete(self, request, customer_id, redemption_id):
        redemption = services.coupon_redemption_remove(
            redemption=self._redemption(customer_id, redemption_id), actor=_actor(request))
        return Response(_redemptions(self.organization, [redemption], many=False))


__all__ = ["CouponDetailView", "CouponListView", "CustomerCouponDetailView",
           "CustomerCouponsView"]
