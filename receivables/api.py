"""The receivables API: the aging report and the customer statement (more of the receivables
app comes with segments and reminders)."""

from __future__ import annotations

from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from contracts.models import Customer
from receivables import selectors
from receivables.statement import statement
from zenskar import bounds
from zenskar.api.views import OrganizationAPIView
from zenskar.core.dates import local_date

AS_OF = OpenApiParameter("as_of", OpenApiTypes.DATE,
                         description="The day (YYYY-MM-DD); default today in the "
                                     "organization's time zone")


def as_of_param(request, organization) -> date:
    """The ``as_of`` query parameter: a day within the bounds (400 naming the field
    otherwise), or today in the organization's time zone when absent."""
    raw = request.query_params.get("as_of")
    if not raw:
        return local_date(organization.time_zone)
    try:
        as_of = date.fromisoformat(raw)
    except ValueError:
        raise exceptions.ValidationError({"as_of": ["A date: YYYY-MM-DD."]}) from None
    if not bounds.MIN_DATE <= as_of <= bounds.MAX_DATE:
        raise exceptions.ValidationError(
            {"as_of": [f"Between {bounds.MIN_DATE} and {bounds.MAX_DATE}."]})
    return as_of


class AgingView(OrganizationAPIView):
    @extend_schema(
        summary="Aging of open invoices at a date",
        description="Per customer and currency, and per currency in total: what was due at "
                    "the end of `as_of` (default today in the organization's time zone), in "
                    "buckets of days past due (current, 1-30, 31-60, 61-90, 91-120, over 120); and "
                    "per currency over the 90 days to `as_of`: DSO, best possible DSO, "
                    "average days delinquent and the collection effectiveness index.",
        parameters=[AS_OF],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        as_of = as_of_param(request, self.organization)
        body = selectors.aging(organization=self.organization, as_of=as_of).as_dict()
        body["collection"] = {currency: figures.as_dict() for currency, figures in
                              selectors.collection(organization=self.organization,
                                                   as_of=as_of).items()}
        return Response(body)


class StatementView(OrganizationAPIView):
    @extend_schema(
        summary="A customer's statement at a date",
        description="Per currency, the customer's invoices open at the end of `as_of` (default "
                    "today in the organization's time zone) as the aging counts them -- number, "
                    "dates, days past due, bucket, total, paid or credited, amount due, payment "
                    "link -- with the credit balance at that moment, the credit notes that put "
                    "money on it, and the totals: total due, overdue, credit available and net "
                    "(total due less credit). Amounts are decimal strings in their currency; two "
                    "currencies are never added.",
        parameters=[AS_OF],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        as_of = as_of_param(request, self.organization)
        return Response(statement(organization=self.organization, customer=customer,
                                  as_of=as_of).as_dict())
