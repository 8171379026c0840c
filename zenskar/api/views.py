"""The base of every tenant API view.

``OrganizationAPIView`` resolves the organization from the credential (API key or dashboard
session), checks the role, runs the handler under that organization's row-level security and
hands it ``self.organization``. A view cannot forget the tenant: it never sees a request without
one. POSTs honour ``Idempotency-Key``. The handler's writes are recorded in the audit trail as
the credential's: the API key (channel "api") or the dashboard session's person.
"""

from __future__ import annotations

from django.db import models
from django.shortcuts import get_object_or_404
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from zenskar.api import idempotency
from zenskar.audit.context import Actor, audit_context, lazy_audit_context, request_id
from zenskar.audit.models import Channel
from zenskar.core.ratelimit import client_address
from zenskar.tenancy.context import lazy_tenant_context, tenant_context
from zenskar.tenancy.models import Organization, TenantQuerySet


class OrganizationAPIView(APIView):
    organization: Organization
    role: str
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS
    # Response fields never kept for an idempotent replay (secrets shown once).
    idempotency_redact: tuple[str, ...] = ()
    # Hot read paths answered from Redis: the tenant setting is applied to the database
    # connection only if the handler queries it.
    lazy_tenant_context = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        self.organization = request.auth.organization
        self.role = request.auth.role
        if (request.method in ("POST", "PUT", "PATCH") and self.parser_classes
                and not isinstance(request.data, dict)):
            # every body of this API is a JSON object (a batch is {"events": [...]}); views
            # that read their own body (usage ingestion) check it themselves
            raise exceptions.ParseError("The body must be a JSON object.")

    def dispatch(self, request, *args, **kwargs):
        # DRF's dispatch, with the handler run inside the tenant and audit contexts and, for a
        # POST with an Idempotency-Key, inside the idempotency transaction.
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            context = lazy_tenant_context if self.lazy_tenant_context else tenant_context
            audit = lazy_audit_context if self.lazy_tenant_context else audit_context
            with context(self.organization), audit(**self.writes_as(request)):
                key = request.headers.get(idempotency.HEADER)
                if request.method == "POST" and key is not None:
                    response = self._idempotent(request, key, handler, *args, **kwargs)
                else:
                    response = handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - DRF's own dispatch does the same
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def writes_as(self, request) -> dict:
        """Who the handler writes as: the API key (channel "api"), or the person of the
        dashboard session (channel "dashboard": the dashboard's own pages call the API so, the
        contract editor for one)."""
        access = request.auth
        if access.api_key is not None:
            channel, actor = Channel.API, Actor.api_key(access.api_key)
        else:
            channel, actor = Channel.DASHBOARD, Actor.user(access.user)
        return {"channel": channel, "actor": actor, "ip": client_address(request),
                "request_id": getattr(request._request, "request_id", None)
                or request_id(request.headers.get("X-Request-Id"))}

    def _idempotent(self, request, key, handler, *args, **kwargs):
        key = key.strip()
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            raise exceptions.ValidationError(
                {"Idempotency-Key": [f"Must be 1 to {idempotency.MAX_KEY_LENGTH} characters."]}
            )
        body = request.body  # read before the parsers consume the stream

        def run():
            try:
                response = handler(request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - 4xx become responses and are stored
                response = self.handle_exception(exc)
            return self.finalize_response(request, response, *args, **kwargs)

        return idempotency.idempotent(
            organization=self.organization, key=key, method=request.method,
            path=request.get_full_path(), body=body, handler=run,
            redact=self.idempotency_redact,
        )

    def get_scoped(self, queryset: TenantQuerySet | models.Manager, **lookup):
        """The object of this organization matching ``lookup``, or 404 -- never another
        organization's object, and never a 403 that would confirm it exists."""
        return get_object_or_404(queryset.for_organization(self.organization), **lookup)

    def paginate(self, queryset, serializer_class=None, *, render=None):
        """One page of ``queryset``, rendered by ``serializer_class`` or by ``render(page)``
        (for a page that needs more than its rows, e.g. a lookup over the page)."""
        paginator = self.pagination_class()
        page = list(paginator.paginate_queryset(queryset, self.request, view=self))
        data = render(page) if render else serializer_class(page, many=True).data
        return paginator.get_paginated_response(data)
