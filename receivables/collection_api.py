"""The collection API: customer segments with their live member count, the reminder policy of
each segment, the preview of a reminder as it would go out, the reminder log, "Request
payment" by hand, and the holds that pause reminders (a disputed invoice, a promise to pay, a
customer paused).

Thin, like every API here: an input serializer checks shapes and bounds, a service of
``receivables.services`` writes (and validates: its ``ValidationError`` names the field and
becomes a 400), ``receivables.collection`` reads. Writes need a write role; reads, and the two
previews (which write nothing), any member. An object of another organization is a 404.
"""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, status
from rest_framework.response import Response

from contracts.models import Customer
from invoicing.models import Invoice
from receivables import collection, services
from receivables.collection_serializers import (
    MAX_REF,
    MEMBERS,
    CustomerPauseIn,
    CustomerPauseOut,
    InvoiceHoldIn,
    InvoiceHoldOut,
    OrderIn,
    PolicyIn,
    PolicyOut,
    PreviewIn,
    PreviewOut,
    ReminderDetailOut,
    ReminderOut,
    RulesIn,
    SegmentBrief,
    SegmentDetailOut,
    SegmentIn,
    SegmentOut,
    actor,
    policy_of,
    valid,
)
from receivables.models import Reminder, ReminderPolicy, Segment
from zenskar.api.pagination import CreatedCursorPagination
from zenskar.api.views import OrganizationAPIView
from zenskar.tenancy.models import Role

ANY_ROLE = frozenset(Role.values)  # a preview is a read, sent as a POST for its body



# --- Segments ---------------------------------------------------------------------------------


class SegmentPagination(CreatedCursorPagination):
    """The segments in the team's order (first match first)."""

    ordering = ("position", "id")


class SegmentListView(OrganizationAPIView):
    pagination_class = SegmentPagination

    @extend_schema(summary="List segments in order, with their member counts",
                   description="First match first: an invoice follows the policy of the first "
                               "segment it matches. `count` is the number of customers in the "
                               "segment now (null when its saved rules no longer compile).",
                   responses=SegmentOut(many=True))
    def get(self, request):
        counts = {segment.id: count for segment, count in
                  collection.segments_with_counts(organization=self.organization)}
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            Segment.objects.for_organization(self.organization).select_related("policy"),
            request, view=self)
        for segment in page:
            segment.count = counts.get(segment.id)
        return paginator.get_paginated_response(SegmentOut(page, many=True).data)

    @extend_schema(summary="Create a segment (last in the order)", request=SegmentIn,
                   description="A segment of customers by rules on their open invoices and "
                               "attributes (each bad rule a 400 naming it: `rules.1.value`); "
                               "give it a reminder policy next.",
                   responses={201: SegmentDetailOut})
    def post(self, request):
        data = valid(SegmentIn, request.data)
        segment = services.segment_create(organization=self.organization, **data)
        return Response(SegmentDetailOut(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(OrganizationAPIView):
    @extend_schema(summary="A segment: its rules (and in words) and its policy",
                   description="One segment with its rules, the rules in words, and its "
                               "reminder policy (null when it has none).",
                   responses=SegmentDetailOut)
    def get(self, request, segment_id):
        segment = self.get_scoped(Segment.objects, id=segment_id)
        return Response(SegmentDetailOut(segment).data)

    @extend_schema(summary="Change a segment's name, description or rules",
                   description="Fields left out keep their value.", request=SegmentIn,
                   responses=SegmentDetailOut)
    def patch(self, request, segment_id):
        segment = self.get_scoped(Segment.objects, id=segment_id)
        data = valid(SegmentIn, request.data, partial=True)
        segment = services.segment_update(segment=segment, **data)
        return Response(SegmentDetailOut(segment).data)

    @extend_schema(summary="Delete a segment and its policy",
                   description="The reminders it sent stay in the log.", responses={204: None})
    def delete(self, request, segment_id):
        segment = self.get_scoped(Segment.objects, id=segment_id)
        services.segment_delete(segment=segment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentOrderView(OrganizationAPIView):
    @extend_schema(summary="Set the order of the segments",
                   description="`ids` lists every segment once, first match first.",
                   request=OrderIn,
                   responses=inline_serializer("SegmentOrder",
                                               {"results": SegmentBrief(many=True)}))
    def post(self, request):
        data = valid(OrderIn, request.data)
        ordered = services.segments_order(organization=self.organization, ids=data["ids"])
        return Response({"results": SegmentBrief(ordered, many=True).data})


class SegmentPreviewView(OrganizationAPIView):
    write_roles = ANY_ROLE

    @extend_schema(summary="Who rules would hold now (the live count)",
                   description="Rules checked as on save (a 400 names the rule: "
                               "`rules.1.value`), evaluated now: the customers they hold, a "
                               "sample of them, and the open invoices that match with what they "
                               "owe per currency. Writes nothing.",
                   request=RulesIn, responses=MEMBERS)
    def post(self, request):
        data = valid(RulesIn, request.data)
        return Response(collection.segment_members(organization=self.organization,
                                                   rules=data["rules"]).as_dict())


class SegmentMembersView(OrganizationAPIView):
    @extend_schema(summary="Who a segment holds now", responses=MEMBERS,
                   description="The segment's rules evaluated now: the customers it holds, a "
                               "sample of them, and the open invoices that match with what "
                               "they owe per currency. Writes nothing.")
    def get(self, request, segment_id):
        segment = self.get_scoped(Segment.objects, id=segment_id)
        return Response(collection.segment_members(organization=self.organization,
                                                   rules=segment.rules).as_dict())


class SegmentPolicyView(OrganizationAPIView):
    def _policy(self, segment_id) -> ReminderPolicy:
        segment = self.get_scoped(Segment.objects, id=segment_id)
        policy = policy_of(segment)
        if policy is None:
            raise exceptions.NotFound("This segment has no reminder policy.")
        return policy

    @extend_schema(summary="A segment's reminder policy", responses=PolicyOut,
                   description="Its steps (days from the due date, channel, templates) and "
                               "whether it is active; a segment without a policy is a 404.")
    def get(self, request, segment_id):
        return Response(PolicyOut(self._policy(segment_id)).data)

    @extend_schema(summary="Set a segment's reminder policy",
                   description="The steps are replaced by `steps` (saved in the order of their "
                               "offsets). A step given with its `id` keeps its identity: what it "
                               "already sent stays sent. A step left out is deleted; its "
                               "reminders stay in the log. An e-mail or task step's templates "
                               "must compile (a syntax error, an `include`: 400 naming the "
                               "step); what fails only when rendered (a loop past the limits) "
                               "shows in the preview and is recorded on the reminder.",
                   request=PolicyIn, responses=PolicyOut)
    def put(self, request, segment_id):
        segment = self.get_scoped(Segment.objects, id=segment_id)
        data = valid(PolicyIn, request.data)
        policy = services.policy_set(segment=segment, steps=[dict(s) for s in data["steps"]],
                                     active=data["active"], statement=data["statement"])
        return Response(PolicyOut(policy).data)

    @extend_schema(summary="Delete a segment's reminder policy", responses={204: None},
                   description="No more reminders go out for the segment; those sent stay in "
                               "the log. A segment without a policy is a 404.")
    def delete(self, request, segment_id):
        services.policy_delete(policy=self._policy(segment_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Reminders --------------------------------------------------------------------------------


class ReminderPreviewView(OrganizationAPIView):
    write_roles = ANY_ROLE

    @extend_schema(
        summary="A reminder as it would go out",
        description="Rendered in the template sandbox for `invoice`, else for the most overdue "
                    "open invoice the rules (or the segment's) match, else any open invoice, "
                    "else a made-up one. Never sends, never makes a payment link. **A template "
                    "that fails (a syntax error, an escape attempt, a loop or a number past the "
                    "limits, a render that takes too long) is a 200 with `error` set** -- the "
                    "editor shows it -- and `subject`, `html` and `text` empty. A `segment` or "
                    "`invoice` that is not this organization's is a 400 naming the field.",
        request=PreviewIn,
        responses={200: OpenApiResponse(PreviewOut, description="The rendered e-mail, or "
                                                                "`error`.")},
    )
    def post(self, request):
        data = valid(PreviewIn, request.data)
        rules, statement = data.get("rules"), data.get("statement")
        if data.get("segment"):
            segment = Segment.objects.for_organization(self.organization).filter(
                id=data["segment"]).first()
            if segment is None:
                raise exceptions.ValidationError({"segment": ["No segment has this id."]})
            if rules is None:
                rules = segment.rules
            if statement is None:
                policy = policy_of(segment)
                statement = bool(policy and policy.statement)
        invoice = None
        if data.get("invoice"):
            invoice = Invoice.objects.for_organization(self.organization).select_related(
                "customer", "organization").filter(id=data["invoice"]).first()
            if invoice is None:
                raise exceptions.ValidationError({"invoice": ["No invoice has this id."]})
        result = collection.preview(organization=self.organization,
                                    subject=data.get("subject", ""), body=data.get("body", ""),
                                    rules=rules, invoice=invoice, statement=bool(statement))
        return Response(result.as_dict())


def _log_filters(params) -> dict:
    filters: dict = {}
    if params.get("invoice"):
        try:
            filters["invoice"] = uuid.UUID(params["invoice"])
        except ValueError:
            raise exceptions.ValidationError({"invoice": ["Must be an invoice id."]}) from None
    if params.get("status"):
        if params["status"] not in Reminder.Status.values:
            raise exceptions.ValidationError(
                {"status": [f"Must be one of {', '.join(Reminder.Status.values)}."]})
        filters["status"] = params["status"]
    return filters


def _customer_ref(params) -> str | None:
    value = params.get("customer")
    if not value:
        return None
    if len(value) > MAX_REF or "\x00" in value:
        raise exceptions.ValidationError({"customer": [f"At most {MAX_REF} characters, no NUL."]})
    return value


class ReminderListView(OrganizationAPIView):
    @extend_schema(summary="The reminder log, newest first",
                   description="Every reminder: sent by a policy's step, skipped (and why), "
                               "failed (and why), a task, or asked for by hand. Without the "
                               "body (see one reminder).",
                   parameters=[
                       OpenApiParameter("invoice", OpenApiTypes.UUID, description="An invoice's "
                                                                                  "id."),
                       OpenApiParameter("customer", str, description="A customer's external "
                                                                     "id."),
                       OpenApiParameter("status", str, enum=Reminder.Status.values)],
                   responses=ReminderOut(many=True))
    def get(self, request):
        rows = collection.reminder_log(organization=self.organization,
                                       **_log_filters(request.query_params))
        customer = _customer_ref(request.query_params)
        if customer is not None:
            rows = rows.filter(customer__external_id=customer)
        return self.paginate(rows, ReminderOut)


class ReminderDetailView(OrganizationAPIView):
    @extend_schema(summary="A reminder, with the body that went out",
                   description="One reminder of the log with its subject and body as sent, "
                               "its status and why it was skipped or failed.",
                   responses=ReminderDetailOut)
    def get(self, request, reminder_id):
        reminder = self.get_scoped(Reminder.objects.select_related("invoice", "customer"),
                                   id=reminder_id)
        return Response(ReminderDetailOut(reminder).data)


class ReminderDoneView(OrganizationAPIView):
    @extend_schema(summary="Mark a task done",
                   description="Only an open task (a step on the task channel); who did it is "
                               "recorded in `requested_by`.",
                   request=None, responses=ReminderDetailOut)
    def post(self, request, reminder_id):
        reminder = self.get_scoped(Reminder.objects.select_related("invoice", "customer"),
                                   id=reminder_id)
        reminder = services.reminder_task_done(reminder=reminder, done_by=actor(request))
        return Response(ReminderDetailOut(reminder).data)


# --- An invoice's and a customer's collection -----------------------------------------------


class InvoiceRequestPaymentView(OrganizationAPIView):
    @extend_schema(summary="Request payment now (the reminder e-mail, by hand)",
                   description="The default reminder e-mail to the customer's addresses, "
                               "logged like the others; it is sent after the request (202), "
                               "its outcome in the reminder's `status`. Only a finalized "
                               "invoice with money due, of a customer with an e-mail address.",
                   request=None, responses={202: ReminderDetailOut})
    def post(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects.select_related("customer"), id=invoice_id)
        reminder = services.payment_request(invoice=invoice, requested_by=actor(request))
        return Response(ReminderDetailOut(reminder).data, status=status.HTTP_202_ACCEPTED)


def _invoice_hold(invoice: Invoice) -> dict:
    hold = collection.invoice_hold(invoice=invoice)
    return {"invoice": invoice.id, "disputed": bool(hold and hold.disputed),
            "dispute_reason": hold.dispute_reason if hold else "",
            "promised_on": hold.promised_on if hold else None,
            "note": hold.note if hold else "", "updated_at": hold.updated_at if hold else None}


class InvoiceCollectionHoldView(OrganizationAPIView):
    @extend_schema(summary="An invoice's collection hold (a dispute, a promise to pay)",
                   description="Whether the invoice is disputed (and why) or promised to be "
                               "paid by a date: its reminders wait meanwhile.",
                   responses=InvoiceHoldOut)
    def get(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        return Response(InvoiceHoldOut(_invoice_hold(invoice)).data)

    @extend_schema(summary="Set an invoice's collection hold",
                   description="Disputed: the invoice's reminders wait until the dispute is "
                               "cleared. A promise to pay by `promised_on`: they resume the day "
                               "after (null clears it). Fields left out keep their value.",
                   request=InvoiceHoldIn, responses=InvoiceHoldOut)
    def put(self, request, invoice_id):
        invoice = self.get_scoped(Invoice.objects, id=invoice_id)
        data = valid(InvoiceHoldIn, request.data)
        services.invoice_hold_set(invoice=invoice, **data)
        return Response(InvoiceHoldOut(_invoice_hold(invoice)).data)


def _customer_pause(customer: Customer) -> dict:
    hold = collection.customer_hold(customer=customer)
    return {"customer": customer.id, "paused": bool(hold and hold.paused),
            "reason": hold.reason if hold else "",
            "updated_at": hold.updated_at if hold else None}


class CustomerReminderPauseView(OrganizationAPIView):
    @extend_schema(summary="Whether a customer's reminders are paused",
                   description="The customer's pause of every reminder, and its reason.",
                   responses=CustomerPauseOut)
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        return Response(CustomerPauseOut(_customer_pause(customer)).data)

    @extend_schema(summary="Pause (or resume) every reminder to a customer",
                   description="Paused: no reminder goes to the customer until resumed "
                               "(`paused` false).",
                   request=CustomerPauseIn, responses=CustomerPauseOut)
    def put(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        data = valid(CustomerPauseIn, request.data)
        services.customer_hold_set(customer=customer, **data)
        return Response(CustomerPauseOut(_customer_pause(customer)).data)
