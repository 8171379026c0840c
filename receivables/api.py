"""The receivables API: the aging report (more of the receivables app comes with segments
and reminders)."""

from __future__ import annotations

from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from receivables import selectors
from zenskar import bounds
from zenskar.api.views import OrganizationAPIView
from zenskar.core.dates import local_date


class AgingView(OrganizationAPIView):
    @extend_schema(
        summary="Aging of open invoices at a date",
        description="Per customer and currency, and per currency in total: what was due at "
                    "the end of `as_of` (default today in the organization's time zone), in "
                    "buckets of days past due (current, 1-30, 31-60, 61-90, 91-120, over 120); and "
                    "per currency over the 90 days to `as_of`: DSO, best possible DSO, "
                    "average days delinquent and the collection effectiveness index.",
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        raw = request.query_params.get("as_of")
        if raw:
            try:
                as_of = date.fromisoformat(raw)
            except ValueError:
                raise exceptions.ValidationError({"as_of": ["A date: YYYY-MM-DD."]}) from None
            if not bounds.MIN_DATE <= as_of <= bounds.MAX_DATE:
                raise exceptions.ValidationError(
                    {"as_of": [f"Between {bounds.MIN_DATE} and {bounds.MAX_DATE}."]})
        else:
            as_of = local_date(self.organization.time_zone)
        body = selectors.aging(organization=self.organization, as_of=as_of).as_dict()
        body["collection"] = {currency: figures.as_dict() for currency, figures in
                              selectors.collection(organization=self.organization,
                                                   as_of=as_of).items()}
        return Response(body)
