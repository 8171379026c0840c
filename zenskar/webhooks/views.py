"""The Webhooks pages under Settings: the endpoints (add, edit, disable and enable, rotate and
reveal the secret, send a test message, replay), and the delivery log with each attempt.
Thin: every write is a service of ``zenskar.webhooks.services``, the ones the API calls.
Every member reads; owners and admins write and see the secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from zenskar.dashboard.forms import errors_onto
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import MANAGE_ROLES
from zenskar.webhooks import catalogue, schedule, selectors, services
from zenskar.webhooks.delivery import message_body
from zenskar.webhooks.models import MAX_URL_LENGTH, Delivery, Endpoint

PAGE_SIZE = 25
STATUS_TABS = ["all", *Delivery.Status.values]
SECRET_SESSION_KEY = "created_webhook_secret"


def _picker_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalogue's event types by group, for the picker (the test message is sent on
    request only: nothing to subscribe to)."""
    return [(group, [(event.name, event.name) for event in events
                     if event.name != catalogue.TEST_EVENT])
            for group, events in catalogue.groups() if group != "webhook"]


class EndpointForm(forms.Form):
    """Fields only: ``endpoint_create`` and ``endpoint_update`` hold the rules (the API asks
    the same); their errors land on these fields."""

    url = forms.CharField(label="URL", max_length=MAX_URL_LENGTH, strip=True,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/"
                                                                      "webhooks/zenskar"}),
                          help_text="Where the events are posted (http:// or https://).")
    description = forms.CharField(required=False, max_length=500)
    event_types = forms.MultipleChoiceField(
        required=False, label="Events", widget=forms.CheckboxSelectMultiple,
        choices=_picker_choices,
        help_text="None ticked: every event, those added later too.")


class RotateForm(forms.Form):
    previous_secret_valid_hours = forms.IntegerField(
        min_value=0, max_value=168, initial=24, label="Old secret still signs for (hours)")


class ReplayForm(forms.Form):
    since = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                            label="Failed deliveries since (UTC)")
    include_succeeded = forms.BooleanField(required=False,
                                           label="The succeeded ones too")


def _can_manage(request) -> bool:
    return request.membership.role in MANAGE_ROLES


def _endpoint(request, endpoint_id) -> Endpoint:
    return get_object_or_404(Endpoint.objects.for_organization(request.organization),
                             id=endpoint_id)


def _actor(request) -> str:
    return request.user.email or request.user.username


def _refused(request, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


# --- The list --------------------------------------------------------------------------------


@member_required
def endpoint_list(request):
    """Every endpoint with its state and what waits; owners and admins add one here."""
    form = None
    status = 200
    if request.method == "POST":
        if not _can_manage(request):
            raise PermissionDenied("Your role does not allow this.")
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, secret = services.endpoint_create(
                    organization=request.organization, **form.cleaned_data)
            except ValidationError as error:
                errors_onto(form, error)
            else:
                request.session[SECRET_SESSION_KEY] = {"endpoint": str(endpoint.id),
                                                       "secret": secret}
                messages.success(request, "Endpoint added. Its signing secret is below: "
                                          "verify every message with it.")
                return redirect("webhooks:endpoint", endpoint.id)
        status = 400
    return render(request, "webhooks/endpoint_list.html", {
        "endpoints": selectors.endpoints_list(organization=request.organization),
        "form": form or EndpointForm(), "can_manage": _can_manage(request),
        "show_form": form is not None, "active": "settings",
    }, status=status)


# --- One endpoint ----------------------------------------------------------------------------


def _endpoint_page(request, endpoint: Endpoint, *, form=None, secret=None, status=200):
    tab = request.GET.get("status", "all")
    tab = tab if tab in STATUS_TABS else "all"
    deliveries = selectors.deliveries_list(organization=request.organization, endpoint=endpoint)
    counts = dict(deliveries.order_by().values_list("status").annotate(n=Count("id")))
    counts["all"] = sum(counts.values())
    if tab != "all":
        deliveries = deliveries.filter(status=tab)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    created = request.session.pop(SECRET_SESSION_KEY, None)
    if created and created.get("endpoint") == str(endpoint.id) and _can_manage(request):
        secret = secret or {"secret": created["secret"], "previous_secret": None,
                            "previous_secret_expires_at": None}
    tabs = [{"name": name, "label": name.capitalize(), "count": counts.get(name, 0)}
            for name in STATUS_TABS]
    return render(request, "webhooks/endpoint_detail.html", {
        "endpoint": endpoint, "page": page, "tab": tab, "tabs": tabs,
        "form": form or EndpointForm(initial={
            "url": endpoint.url, "description": endpoint.description,
            "event_types": endpoint.event_types}),
        "rotate_form": RotateForm(), "replay_form": ReplayForm(initial={
            "since": (timezone.now() - timedelta(days=1)).date()}),
        "secret": secret, "can_manage": _can_manage(request), "active": "settings",
        "max_attempts": schedule.MAX_ATTEMPTS,
    }, status=status)


@member_required
def endpoint_detail(request, endpoint_id):
    """The endpoint, its actions, and its delivery log (by status, newest first)."""
    endpoint = _endpoint(request, endpoint_id)
    if request.method != "POST":
        return _endpoint_page(request, endpoint)
    if not _can_manage(request):
        raise PermissionDenied("Your role does not allow this.")
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.endpoint_update(endpoint=endpoint, actor=_actor(request),
                                     **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhooks:endpoint", endpoint.id)
    return _endpoint_page(request, endpoint, form=form, status=400)


def _action(func):
    """A POST button of the endpoint's page, for owners and admins."""
    return member_required(roles=MANAGE_ROLES)(require_POST(func))


@_action
def endpoint_toggle(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    enable = not endpoint.enabled
    services.endpoint_update(endpoint=endpoint, actor=_actor(request), enabled=enable)
    messages.success(request, "Endpoint enabled: the deliveries that waited are sent now."
                     if enable else "Endpoint disabled: nothing is sent to it until it is "
                                    "enabled again.")
    return redirect("webhooks:endpoint", endpoint.id)


@_action
def endpoint_rotate(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Hours from 0 to 168.")
        return redirect("webhooks:endpoint", endpoint.id)
    hours = form.cleaned_data["previous_secret_valid_hours"]
    endpoint, _ = services.endpoint_secret_rotate(endpoint=endpoint,
                                                  previous_valid_for=timedelta(hours=hours))
    messages.success(request, f"New secret made. The old one signs too for {hours} h." if hours
                     else "New secret made. The old one no longer signs.")
    return _endpoint_page(request, endpoint, secret=services.endpoint_secret(endpoint=endpoint))


@_action
def endpoint_reveal(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    return _endpoint_page(request, endpoint, secret=services.endpoint_secret(endpoint=endpoint))


@_action
def endpoint_test(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    try:
        services.endpoint_test(endpoint=endpoint)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, "Test message queued: it shows in the log below.")
    return redirect("webhooks:endpoint", endpoint.id)


@_action
def endpoint_replay(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a day within the last 30 days.")
        return redirect("webhooks:endpoint", endpoint.id)
    day = form.cleaned_data["since"]
    try:
        count = services.endpoint_replay_since(
            endpoint=endpoint, since=datetime(day.year, day.month, day.day, tzinfo=UTC),
            include_succeeded=form.cleaned_data["include_succeeded"])
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, f"{count} deliveries queued again.")
    return redirect("webhooks:endpoint", endpoint.id)


@_action
def endpoint_delete(request, endpoint_id):
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:list")


# --- One delivery ----------------------------------------------------------------------------


@member_required
def delivery_detail(request, delivery_id):
    """The message as posted, and every attempt: when, the headers, the status, the answer's
    first 500 characters, how long, what went wrong."""
    delivery = selectors.delivery_get(organization=request.organization,
                                      delivery_id=delivery_id)
    if delivery is None:
        raise Http404
    return render(request, "webhooks/delivery_detail.html", {
        "delivery": delivery, "endpoint": delivery.endpoint,
        "message": message_body(delivery.event).decode(),
        "attempts": delivery.attempts.all(), "can_manage": _can_manage(request),
        "active": "settings",
    })


@_action
def delivery_replay(request, delivery_id):
    delivery = get_object_or_404(Delivery.objects.for_organization(request.organization),
                                 id=delivery_id)
    try:
        services.delivery_replay(delivery=delivery)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, "Replay queued: the same message is sent again now.")
    target = request.POST.get("next")
    if target == "endpoint":
        return redirect(reverse("webhooks:endpoint", args=[delivery.endpoint_id]))
    return redirect("webhooks:delivery", delivery.id)
