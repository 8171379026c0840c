"""The collection API's serializers: shapes and bounds of what comes in, and what goes out
(``receivables.collection_api`` has the views)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers

from receivables import rendering, segments, services
from receivables.models import Reminder, ReminderPolicy, ReminderStep, Segment
from zenskar.api.fields import BoundedDateField

MAX_REF = 255  # a customer's external id in a query string

RULES_HELP = ("A rule tree: {\"match\": \"all\"|\"any\", \"rules\": [conditions or groups]}; "
              "a condition is {\"field\", \"op\", \"value\"} (see receivables.segments: fields "
              "country, currency, attribute, auto_collection, payment_terms_days, days_past_due, "
              "days_until_due, amount_due, total, status, balance, failed_payments). At most 3 "
              "levels and 30 conditions; amounts as decimal strings or numbers, never floats.")

def actor(request) -> str:
    """Who did it, as the reminder log shows it: the signed-in user's e-mail, or the API
    key's name (with its prefix, so two keys of one name can be told apart)."""
    access = request.auth
    if getattr(access, "user", None) is not None:
        return access.user.email or access.user.get_username()
    return f"{access.api_key.name} (api key {access.api_key.prefix})"


def policy_of(segment: Segment) -> ReminderPolicy | None:
    return ReminderPolicy.objects.for_organization(segment.organization_id).filter(
        segment=segment).first()


def in_words(rules) -> str:
    try:
        return segments.describe(segments.parse(rules))
    except DjangoValidationError:  # rules saved by an older version: shown as they are
        return ""


# --- Serializers ------------------------------------------------------------------------------


class StepOut(serializers.ModelSerializer):
    class Meta:
        model = ReminderStep
        fields = ["id", "position", "offset_days", "channel", "subject", "body", "action"]
        read_only_fields = fields


class PolicyOut(serializers.ModelSerializer):
    segment = serializers.UUIDField(source="segment_id", read_only=True)
    steps = StepOut(many=True, read_only=True)

    class Meta:
        model = ReminderPolicy
        fields = ["id", "segment", "active", "statement", "steps", "created_at", "updated_at"]
        read_only_fields = fields


class SegmentOut(serializers.ModelSerializer):
    """A segment in the list: its member count now (null when its saved rules no longer
    compile) and whether it has a policy."""

    count = serializers.IntegerField(allow_null=True, read_only=True,
                                     help_text="Customers in the segment now.")
    rules_description = serializers.SerializerMethodField()
    policy = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rules_description", "position", "count",
                  "policy", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_rules_description(self, segment) -> str:
        return in_words(segment.rules)

    @extend_schema_field(inline_serializer("SegmentPolicySummary", {
        "id": serializers.UUIDField(), "active": serializers.BooleanField(),
        "statement": serializers.BooleanField()}, allow_null=True))
    def get_policy(self, segment):
        try:
            policy = segment.policy
        except ReminderPolicy.DoesNotExist:
            return None
        return {"id": str(policy.id), "active": policy.active, "statement": policy.statement}


class SegmentDetailOut(SegmentOut):
    """A segment with its rules and its whole policy (no count: ``members`` has it)."""

    rules = serializers.JSONField(read_only=True, help_text=RULES_HELP)
    count = None  # type: ignore[assignment]

    class Meta(SegmentOut.Meta):
        fields = ["id", "name", "description", "rules", "rules_description", "position",
                  "policy", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(PolicyOut(allow_null=True))
    def get_policy(self, segment):
        policy = policy_of(segment)
        return None if policy is None else PolicyOut(policy).data


class SegmentIn(serializers.Serializer):
    """Shapes; the rules, the name's uniqueness and the text bounds are the services'."""

    name = serializers.CharField(max_length=services.TEXT_LIMITS["name"])
    description = serializers.CharField(required=False, allow_blank=True,
                                        max_length=services.TEXT_LIMITS["description"])
    rules = serializers.JSONField(encoder=DjangoJSONEncoder, help_text=RULES_HELP)


class RulesIn(serializers.Serializer):
    rules = serializers.JSONField(encoder=DjangoJSONEncoder, help_text=RULES_HELP)


class OrderIn(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), max_length=services.MAX_SEGMENTS,
                                help_text="Every segment's id once, first match first.")


class SegmentBrief(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "position"]
        read_only_fields = fields


MEMBERS = inline_serializer("SegmentMembers", {
    "count": serializers.IntegerField(help_text="Customers in the segment now."),
    "invoices": serializers.IntegerField(
        help_text="Open invoices that match (0 when no rule is about invoices)."),
    "amount_due": serializers.DictField(
        child=serializers.CharField(),
        help_text="What the matching invoices owe, per currency, as decimal strings."),
    "sample": inline_serializer("SegmentMember", {
        "id": serializers.UUIDField(), "external_id": serializers.CharField(),
        "name": serializers.CharField(), "country": serializers.CharField()}, many=True),
})


class StepIn(serializers.Serializer):
    id = serializers.UUIDField(required=False, allow_null=True,
                               help_text="A step of this policy to keep (what it sent stays "
                                         "sent); leave out for a new step.")
    offset_days = serializers.IntegerField(
        min_value=-services.MAX_OFFSET_DAYS, max_value=services.MAX_OFFSET_DAYS,
        help_text="Days from the due date (negative: before it is due).")
    channel = serializers.ChoiceField(choices=ReminderStep.Channel.choices,
                                      default=ReminderStep.Channel.EMAIL)
    subject = serializers.CharField(default="", allow_blank=True, trim_whitespace=False,
                                    max_length=rendering.MAX_SUBJECT_SOURCE,
                                    help_text="A Jinja2 template (empty: the default).")
    body = serializers.CharField(default="", allow_blank=True, trim_whitespace=False,
                                 max_length=rendering.MAX_BODY_SOURCE,
                                 help_text="An HTML Jinja2 template (empty: the default).")
    action = serializers.ChoiceField(choices=ReminderStep.Action.choices, default="",
                                     allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError({k[:50]: ["Unknown field."] for k in unknown[:5]})
        return super().to_internal_value(data)


class PolicyIn(serializers.Serializer):
    steps = serializers.ListField(child=StepIn(), min_length=1, max_length=services.MAX_STEPS,
                                  help_text="Ordered by offset when saved; two steps never share "
                                            "a day.")
    active = serializers.BooleanField(default=True)
    statement = serializers.BooleanField(
        default=False, help_text="One e-mail covers all of a customer's open invoices.")


class PreviewIn(serializers.Serializer):
    subject = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                    max_length=rendering.MAX_SUBJECT_SOURCE,
                                    help_text="Empty: the default subject.")
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                 max_length=rendering.MAX_BODY_SOURCE,
                                 help_text="Empty: the default body.")
    rules = serializers.JSONField(required=False, allow_null=True, encoder=DjangoJSONEncoder,
                                  help_text="Pick the sample invoice from these rules (rules "
                                            "that do not compile are ignored here).")
    segment = serializers.UUIDField(required=False, allow_null=True,
                                    help_text="Use this segment's rules (and its policy's "
                                              "statement setting) unless given.")
    invoice = serializers.UUIDField(required=False, allow_null=True,
                                    help_text="Render for this invoice.")
    statement = serializers.BooleanField(required=False, allow_null=True)


class PreviewOut(serializers.Serializer):
    subject = serializers.CharField()
    html = serializers.CharField()
    text = serializers.CharField()
    invoice = serializers.CharField(help_text="The number of the invoice it was rendered for "
                                              "(empty for the made-up sample).")
    error = serializers.CharField(help_text="Why the template failed, with its line (empty "
                                            "when it rendered).")


class ReminderOut(serializers.ModelSerializer):
    invoice = serializers.UUIDField(source="invoice_id", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    recipients = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Reminder
        fields = ["id", "invoice", "invoice_number", "customer", "segment_name", "offset_days",
                  "channel", "action", "status", "subject", "recipients", "detail", "attempts",
                  "requested_by", "sent_at", "created_at"]
        read_only_fields = fields


class ReminderDetailOut(ReminderOut):
    class Meta(ReminderOut.Meta):
        fields = [*ReminderOut.Meta.fields, "body", "message", "action_done_at", "updated_at"]
        read_only_fields = fields


class InvoiceHoldIn(serializers.Serializer):
    """Fields left out keep their value."""

    disputed = serializers.BooleanField(required=False)
    dispute_reason = serializers.CharField(required=False, allow_blank=True,
                                           max_length=services.TEXT_LIMITS["dispute_reason"])
    promised_on = BoundedDateField(required=False, allow_null=True,
                                   help_text="Reminders wait until the day after; null clears.")
    note = serializers.CharField(required=False, allow_blank=True,
                                 max_length=services.TEXT_LIMITS["note"])


class InvoiceHoldOut(serializers.Serializer):
    invoice = serializers.UUIDField()
    disputed = serializers.BooleanField()
    dispute_reason = serializers.CharField()
    promised_on = serializers.DateField(allow_null=True)
    note = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)


class CustomerPauseIn(serializers.Serializer):
    paused = serializers.BooleanField()
    reason = serializers.CharField(default="", allow_blank=True,
                                   max_length=services.TEXT_LIMITS["reason"])


class CustomerPauseOut(serializers.Serializer):
    customer = serializers.UUIDField()
    paused = serializers.BooleanField()
    reason = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)


def valid(serializer_class, data, **kwargs) -> dict:
    checked = serializer_class(data=data, **kwargs)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


