"""The collection pages: the segments in their order (members now, the policy in a line), a
segment's page -- the rule builder with its live member count, and the reminder policy with a
preview of each step -- and the reminder log with the open tasks on top.

Thin adapters: reads through ``receivables.collection``, every write through
``receivables.services``, whose refusals are shown on the form (or the step) they name. A
segment, a step or a reminder is looked up in ``request.organization`` only: another
organization's is a 404. The builder and the preview talk JSON to ``segment_count`` and
``segment_preview`` (static/js/segments.js); neither writes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from receivables import collection, rendering, segments, services
from receivables.collection_forms import (
    PolicyForm,
    SegmentForm,
    StepFormSet,
    json_value,
)
from receivables.models import Reminder, ReminderPolicy, ReminderStep, Segment
from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.formatting import format_money
from zenskar.tenancy.models import WRITE_ROLES

CHANNELS = {"email": "e-mail", "webhook": "webhook", "task": "task"}
ACTIONS = {"retry_card": "retry the card", "mark_uncollectible": "mark uncollectible",
           "pause_entitlements": "pause entitlements"}
STATUS_TONES = {"sent": "ok", "done": "ok", "queued": "muted", "skipped": "muted",
                "failed": "danger", "open": "warn"}
NEW_RULES = {"match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": 7}]}
LOG_PAGE = 50
OPEN_TASKS_SHOWN = 50


# --- shared ----------------------------------------------------------------------------------


def _may_write(request) -> None:
    if request.membership.role not in WRITE_ROLES:
        raise PermissionDenied("Your role does not allow this.")


def _segment(request, segment_id) -> Segment:
    return get_object_or_404(Segment.objects.for_organization(request.organization),
                             id=segment_id)


def _policy(segment: Segment) -> ReminderPolicy | None:
    return ReminderPolicy.objects.for_organization(segment.organization_id).filter(
        segment=segment).first()


def step_text(step: ReminderStep) -> str:
    """A step in a few characters: "+7 e-mail", "+30 task → mark uncollectible"."""
    text = f"{step.offset_days:+d} {CHANNELS.get(step.channel, step.channel)}"
    return f"{text} → {ACTIONS[step.action]}" if step.action in ACTIONS else text


def policy_summary(steps: list[ReminderStep]) -> str:
    return ", ".join(step_text(step) for step in steps)


def _json_body(request) -> dict[str, Any]:
    value = json_value(request.body)
    if not isinstance(value, dict):
        raise ValueError("A JSON object.")
    return value


def members_text(found: collection.Members, about_invoices: bool) -> str:
    """ "2 customers · 2 open invoices · €2,380.00" """
    parts = [f"{found.count} customer{'' if found.count == 1 else 's'}"]
    if about_invoices:
        parts.append(f"{found.invoices} open invoice{'' if found.invoices == 1 else 's'}")
        if found.amount_due:
            parts.append(" + ".join(format_money(amount, currency) for currency, amount
                                    in sorted(found.amount_due.items())))
    return " · ".join(parts)


def _members(organization, rules: Any) -> dict[str, Any]:
    """What the count box shows: the members' figures in words and the first names, or why
    the rules cannot be counted (``error``, with the rule's ``path``)."""
    try:
        found = collection.segment_members(organization=organization, rules=rules)
    except ValidationError as error:
        message = " ".join(error.messages)
        return {"error": message, "path": message.split(":", 1)[0]}
    return {**found.as_dict(), "summary": members_text(
        found, segments.about_invoices(segments.parse(rules)))}


# --- the list --------------------------------------------------------------------------------


@member_required
def segment_list(request):
    organization = request.organization
    steps: dict[Any, list[ReminderStep]] = {}
    for step in ReminderStep.objects.for_organization(organization).order_by("position"):
        steps.setdefault(step.policy_id, []).append(step)
    rows = []
    for segment, count in collection.segments_with_counts(organization=organization):
        policy = getattr(segment, "policy", None)
        try:
            rules = segments.describe(segments.parse(segment.rules))
        except ValidationError:
            rules = ""
        rows.append({"segment": segment, "count": count, "policy": policy, "rules": rules,
                     "summary": policy_summary(steps.get(policy.id, [])) if policy else ""})
    return render(request, "receivables/segment_list.html", {
        "active": "receivables", "tab": "segments", "rows": rows,
        "columns": "Order?can_write, Segment, Members:num, Reminder policy"})


@member_required(roles=WRITE_ROLES)
@require_POST
def segment_move(request):
    """Move one segment a place up or down (``services.segments_order`` with every id)."""
    organization = request.organization
    ids = [str(s.id) for s in Segment.objects.for_organization(organization)]
    moved, direction = request.POST.get("segment", ""), request.POST.get("direction")
    if moved in ids and direction in ("up", "down"):
        at = ids.index(moved)
        to = at - 1 if direction == "up" else at + 1
        if 0 <= to < len(ids):
            ids[at], ids[to] = ids[to], ids[at]
            try:
                services.segments_order(organization=organization, ids=ids)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
    return redirect("receivables:segment-list")


# --- a segment: the builder and the policy ---------------------------------------------------


def _builder_config(rules: Any, errors: list[str]) -> dict[str, Any]:
    return {
        "fields": [{"name": name, "label": spec["label"], "of": spec["of"],
                    "kind": spec["kind"],
                    "ops": [[op, segments.OP_LABELS[op]] for op in spec["ops"]]}
                   for name, spec in segments.FIELDS.items()],
        "statuses": [["open", "open"], ["paid", "paid"], ["uncollectible", "uncollectible"]],
        "rules": rules, "errors": errors,
        "count_url": reverse("receivables:segment-count"),
    }


def _submitted_rules(form: SegmentForm, fallback: Any) -> Any:
    """The tree the builder sent (to draw it again with its errors), else ``fallback``."""
    try:
        tree = json_value(form.data.get("rules") or "")
    except ValueError:
        return fallback
    return tree if isinstance(tree, dict) else fallback


def _step_formset(policy: ReminderPolicy | None, data=None) -> Any:
    if data is not None:
        return StepFormSet(data, prefix="steps")
    if policy is None:  # a first step to start from: a week after the due date
        initial = [{"offset_days": 7, "channel": ReminderStep.Channel.EMAIL,
                    "subject": rendering.DEFAULT_SUBJECT, "body": rendering.DEFAULT_BODY}]
    else:
        initial = [{"id": s.id, "offset_days": s.offset_days, "channel": s.channel,
                    "subject": s.subject, "body": s.body, "action": s.action}
                   for s in policy.steps.all()]
    return StepFormSet(initial=initial, prefix="steps")


def _segment_page(request, segment: Segment | None, *, form: SegmentForm | None = None,
                  policy_form: PolicyForm | None = None, steps=None,
                  policy_errors: list[str] | None = None):
    organization = request.organization
    policy = _policy(segment) if segment else None
    stored = segment.rules if segment else NEW_RULES
    if form is None:
        form = SegmentForm(initial={"name": segment.name, "description": segment.description}
                           if segment else None)
        rules = stored
    else:
        rules = _submitted_rules(form, stored)
    errors = [str(m) for m in form.errors.get("rules", [])]
    described = ""
    if segment:
        try:
            described = segments.describe(segments.parse(segment.rules))
        except ValidationError:
            described = ""
    return render(request, "receivables/segment_detail.html", {
        "active": "receivables", "tab": "segments", "segment": segment, "form": form,
        "members": _members(organization, stored) if segment else None,
        "described": described, "policy": policy,
        "policy_form": policy_form or PolicyForm(
            initial={"active": policy.active, "statement": policy.statement}
            if policy else None, prefix="policy"),
        "steps": steps or _step_formset(policy),
        "policy_errors": policy_errors or [],
        "builder": _builder_config(rules, errors),
        "preview_url": reverse("receivables:segment-preview", args=[segment.id])
        if segment else "",
    })


def _save_segment(request, segment: Segment | None):
    form = SegmentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if segment is None:
                segment = services.segment_create(
                    organization=request.organization, name=data["name"],
                    description=data["description"], rules=data["rules"])
                messages.success(request, f"Segment “{segment.name}” saved. Give it a "
                                          "reminder policy below.")
            else:
                segment = services.segment_update(segment=segment, name=data["name"],
                                                  description=data["description"],
                                                  rules=data["rules"])
                messages.success(request, f"Segment “{segment.name}” saved.")
        except ValidationError as error:
            errors_onto(form, error)
        else:
            return redirect("receivables:segment-detail", segment_id=segment.id)
    return _segment_page(request, segment, form=form)


@member_required(roles=WRITE_ROLES)
def segment_new(request):
    if request.method == "POST":
        return _save_segment(request, None)
    return _segment_page(request, None)


@member_required
def segment_detail(request, segment_id):
    segment = _segment(request, segment_id)
    if request.method == "POST":
        _may_write(request)
        return _save_segment(request, segment)
    return _segment_page(request, segment)


@member_required(roles=WRITE_ROLES)
@require_POST
def segment_delete(request, segment_id):
    segment = _segment(request, segment_id)
    services.segment_delete(segment=segment)
    messages.success(request, f"Segment “{segment.name}” deleted; the reminders it sent stay "
                              "in the log.")
    return redirect("receivables:segment-list")


def _steps_refused(error: ValidationError, sent: list, problems: list[str]) -> None:
    """A refusal of ``policy_set`` on the step it names ("steps.1.subject"), else in
    ``problems`` at the top of the policy."""
    for key, found in error.message_dict.items():
        parts = key.split(".")
        if parts[0] == "steps" and len(parts) >= 2 and parts[1].isdigit() \
                and int(parts[1]) < len(sent):
            form = sent[int(parts[1])]
            name = parts[2] if len(parts) > 2 and parts[2] in form.fields else None
            form.add_error(name, found)
        else:
            problems.extend(found)


@member_required(roles=WRITE_ROLES)
@require_POST
def segment_policy(request, segment_id):
    """Save the segment's reminder policy: its steps replaced by those on the form (a step's
    hidden id keeps its identity); every step removed deletes the policy."""
    segment = _segment(request, segment_id)
    policy_form = PolicyForm(request.POST, prefix="policy")
    steps = StepFormSet(request.POST, prefix="steps")
    problems: list[str] = []
    if policy_form.is_valid() and steps.is_valid():
        # a step added and left untouched has no cleaned data: it is not one
        sent = [form for form in steps.forms
                if form not in steps.deleted_forms and form.cleaned_data]
        policy = _policy(segment)
        if not sent and policy is not None:
            services.policy_delete(policy=policy)
            messages.success(request, "Reminder policy removed: this segment's invoices get "
                                      "no reminders.")
            return redirect(reverse("receivables:segment-detail", args=[segment.id]))
        try:
            policy = services.policy_set(
                segment=segment, steps=[form.step() for form in sent],
                active=policy_form.cleaned_data["active"],
                statement=policy_form.cleaned_data["statement"])
        except ValidationError as error:
            _steps_refused(error, sent, problems)
        else:
            summary = policy_summary(list(policy.steps.all()))
            messages.success(request, f"Reminder policy saved: {summary}"
                                      f"{'' if policy.active else ' (not active)'}.")
            return redirect(reverse("receivables:segment-detail", args=[segment.id])
                            + "#policy")
    problems.extend(str(m) for m in steps.non_form_errors())
    return _segment_page(request, segment, policy_form=policy_form, steps=steps,
                         policy_errors=problems)


@member_required
@require_POST
def segment_count(request):
    """The live count of the builder: ``{"count", "invoices", "amount_due", "sample",
    "summary"}`` for the posted ``{"rules": ...}``, or 400 ``{"error", "path"}``."""
    try:
        rules = _json_body(request).get("rules")
    except ValueError as error:
        return JsonResponse({"error": str(error), "path": ""}, status=400)
    answer = _members(request.organization, rules)
    return JsonResponse(answer, status=400 if "error" in answer else 200)


@member_required(roles=WRITE_ROLES)
@require_POST
def segment_preview(request, segment_id):
    """A step's e-mail as it would go out, for the posted ``{"subject", "body",
    "statement"}``, rendered in the sandbox on an invoice of the segment (never sent):
    ``{"subject", "html", "text", "invoice", "error"}``. Runs a template that is not saved,
    so only those who may save one may preview it."""
    segment = _segment(request, segment_id)
    try:
        data = _json_body(request)
    except ValueError as error:
        return JsonResponse({"error": str(error)}, status=400)
    subject, body = data.get("subject", ""), data.get("body", "")
    statement = data.get("statement", False)
    if not isinstance(subject, str) or len(subject) > rendering.MAX_SUBJECT_SOURCE:
        return JsonResponse({"error": f"subject: text of at most "
                                      f"{rendering.MAX_SUBJECT_SOURCE} characters."}, status=400)
    if not isinstance(body, str) or len(body) > rendering.MAX_BODY_SOURCE:
        return JsonResponse({"error": f"body: text of at most {rendering.MAX_BODY_SOURCE:,} "
                                      "characters."}, status=400)
    if not isinstance(statement, bool):
        return JsonResponse({"error": "statement: true or false."}, status=400)
    found = collection.preview(organization=request.organization, subject=subject,
                               body=body.replace("\r\n", "\n"), rules=segment.rules,
                               statement=statement)
    return JsonResponse(found.as_dict())


# --- the reminder log ------------------------------------------------------------------------


def reminder_row(reminder: Reminder) -> dict[str, Any]:
    return {"reminder": reminder, "tone": STATUS_TONES.get(reminder.status, ""),
            "step": "by hand" if reminder.step_key.startswith("manual:") else (
                f"{reminder.offset_days:+d}" if reminder.offset_days is not None else "—"),
            "channel": CHANNELS.get(reminder.channel, reminder.channel)}


@member_required
def reminder_list(request):
    organization = request.organization
    status = request.GET.get("status", "")
    if status not in Reminder.Status.values:
        status = ""
    counts = collection.reminders_by_status(organization=organization)
    page = Paginator(collection.reminder_log(organization=organization, status=status or None),
                     LOG_PAGE).get_page(request.GET.get("page"))
    return render(request, "receivables/reminder_list.html", {
        "active": "receivables", "tab": "reminders", "status": status,
        "statuses": [{"value": "", "label": "All", "count": sum(counts.values())}] + [
            {"value": value, "label": label, "count": counts.get(value, 0)}
            for value, label in Reminder.Status.choices],
        "tasks": [reminder_row(r) for r in
                  collection.open_tasks(organization=organization)[:OPEN_TASKS_SHOWN]],
        "page": page, "rows": [reminder_row(r) for r in page],
    })


@member_required(roles=WRITE_ROLES)
@require_POST
def reminder_done(request, reminder_id):
    reminder = get_object_or_404(Reminder.objects.for_organization(request.organization),
                                 id=reminder_id)
    try:
        services.reminder_task_done(reminder=reminder,
                                    done_by=request.user.email or request.user.get_username())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Task about {reminder.invoice.number} done.")
    return redirect("receivables:reminder-list")
