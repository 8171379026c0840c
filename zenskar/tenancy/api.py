"""API for the current organization, its members and its API keys."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from zenskar.api.views import OrganizationAPIView
from zenskar.tenancy import selectors, services
from zenskar.tenancy.models import MANAGE_ROLES, ApiKey, Membership, Organization, Role


class OrganizationOut(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "default_currency", "time_zone", "usage_window_days",
                  "created_at"]


class OrganizationIn(serializers.Serializer):
    """Shapes only: the rules are ``organization_update``'s (the dashboard's form asks the
    same). Fields left out keep their value."""

    name = serializers.CharField(required=False, allow_blank=True,
                                 help_text="1 to 200 characters.")
    default_currency = serializers.CharField(
        required=False, allow_blank=True,
        help_text="ISO 4217, e.g. EUR: what customers created from now on get unless given "
                  "another. Existing customers, contracts and invoices keep theirs.")
    time_zone = serializers.CharField(
        required=False, allow_blank=True,
        help_text="IANA, e.g. Europe/Berlin: the day of the dashboard and the reports. Each "
                  "customer and contract keeps its own.")
    usage_window_days = serializers.IntegerField(
        required=False, help_text="1 to 3650: usage events older than this are refused.")


class ApiKeyOut(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id", "name", "role", "prefix", "active", "created_at", "created_by",
            "last_used_at", "revoked_at",
        ]


class ApiKeyCreatedOut(ApiKeyOut):
    secret = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="Shown once, in this response; only a digest is stored (null when an "
                  "Idempotency-Key replays the response).",
    )

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "secret"]


class ApiKeyIn(serializers.Serializer):
    """Shapes only: the rules are ``api_key_create``'s (the dashboard's form asks the same)."""

    name = serializers.CharField(allow_blank=True, help_text="1 to 100 characters.")
    role = serializers.ChoiceField(
        choices=[Role.ADMIN, Role.FINANCE, Role.VIEWER], default=Role.ADMIN
    )


class MembershipOut(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created_at"]


class MembershipIn(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipUpdateIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class OrganizationView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(responses=OrganizationOut, summary="The organization of the credential",
                   description="The organization the API key (or the dashboard session) acts "
                               "for: its name, default currency, time zone and usage window.")
    def get(self, request):
        return Response(OrganizationOut(self.organization).data)

    @extend_schema(request=OrganizationIn, responses=OrganizationOut,
                   summary="Change the organization's name, default currency, time zone or "
                           "usage window (owners and admins)",
                   description="Fields left out keep their value; each bad one is a 400 naming "
                               "it. Existing customers, contracts and invoices keep their "
                               "currency and time zone.")
    def patch(self, request):
        data = OrganizationIn(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_update(organization=self.organization,
                                                    **data.validated_data)
        return Response(OrganizationOut(organization).data)


class ApiKeyListView(OrganizationAPIView):
    write_roles = MANAGE_ROLES
    idempotency_redact = ("secret",)

    @extend_schema(responses=ApiKeyOut(many=True), summary="List API keys",
                   description="Every key, active and revoked, newest first: its prefix, role "
                               "and last use -- never its secret.")
    def get(self, request):
        return self.paginate(selectors.api_keys_list(organization=self.organization), ApiKeyOut)

    @extend_schema(request=ApiKeyIn, responses={201: ApiKeyCreatedOut}, summary="Create a key",
                   description="The secret is in this response only (a digest is stored); a "
                               "replay by `Idempotency-Key` answers it as null. A key's role "
                               "is admin, finance or viewer.")
    def post(self, request):
        data = ApiKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user if getattr(request.auth, "user", None) else None
        key, secret = services.api_key_create(
            organization=self.organization, created_by=user, **data.validated_data
        )
        body = ApiKeyCreatedOut(key).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(responses=ApiKeyOut, summary="Read a key",
                   description="One key: its prefix, role, last use and revocation.")
    def get(self, request, key_id):
        return Response(ApiKeyOut(self.get_scoped(ApiKey.objects, id=key_id)).data)

    @extend_schema(request=None, responses={200: ApiKeyOut}, summary="Revoke a key",
                   description="The key stops working at once; it stays listed, revoked. "
                               "Revoking a revoked key is a no-op.")
    def delete(self, request, key_id):
        key = services.api_key_revoke(api_key=self.get_scoped(ApiKey.objects, id=key_id))
        return Response(ApiKeyOut(key).data)


class ApiKeyRevokeView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(request=None, responses=ApiKeyOut, summary="Revoke a key (as a POST)",
                   description="The same as DELETE /api-keys/{key_id}: the key stops working "
                               "at once; revoking a revoked key is a no-op.")
    def post(self, request, key_id):
        key = services.api_key_revoke(api_key=self.get_scoped(ApiKey.objects, id=key_id))
        return Response(ApiKeyOut(key).data)


class MembershipListView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(responses=MembershipOut(many=True), summary="List members",
                   description="The people of the organization with their roles.")
    def get(self, request):
        return self.paginate(
            selectors.memberships_list(organization=self.organization), MembershipOut
        )

    @extend_schema(
        request=MembershipIn, responses={201: MembershipOut},
        summary="Add a member (or change the role of an existing one)",
        description="The person with this e-mail joins with the role (a member already gets "
                    "it); only an owner makes an owner (403 otherwise).",
    )
    def post(self, request):
        data = MembershipIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_upsert(
            organization=self.organization, actor_role=self.role, **data.validated_data
        )
        return Response(MembershipOut(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailView(OrganizationAPIView):
    write_roles = MANAGE_ROLES

    @extend_schema(responses=MembershipOut, summary="Read a member",
                   description="One member: e-mail, role, since when.")
    def get(self, request, membership_id):
        return Response(MembershipOut(self._membership(membership_id)).data)

    @extend_schema(request=MembershipUpdateIn, responses=MembershipOut, summary="Change a role",
                   description="Only an owner gives or takes the owner role (403 otherwise); "
                               "the last owner stays an owner (400).")
    def patch(self, request, membership_id):
        membership = self._membership(membership_id)
        data = MembershipUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_update(
            membership=membership, actor_role=self.role, **data.validated_data
        )
        return Response(MembershipOut(membership).data)

    @extend_schema(
        request=None, responses={204: OpenApiResponse(description="Removed")},
        summary="Remove a member (the API keys they created are revoked)",
        description="They lose access at once. Only an owner removes an owner (403 "
                    "otherwise); the last owner cannot be removed (400).",
    )
    def delete(self, request, membership_id):
        services.membership_remove(
            membership=self._membership(membership_id), actor_role=self.role
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _membership(self, membership_id):
        return self.get_scoped(Membership.objects.select_related("user"), id=membership_id)
