"""The dashboard shell: the organization switcher, home, settings, and the domain sections
(each app fills its own section as it lands). Sign-in and password reset: ``accounts``."""

from __future__ import annotations

import functools
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from zenskar.dashboard import overview, panels
from zenskar.dashboard.forms import errors_onto
from zenskar.tenancy import selectors, services
from zenskar.tenancy.middleware import SESSION_KEY
from zenskar.tenancy.models import MANAGE_ROLES, ApiKey, Membership, Role

# Sections still waiting for their app's pages: an empty state naming the API endpoint.
SECTIONS: dict[str, tuple[str, str, str]] = {}


def member_required(view=None, *, roles=None):
    """The user is signed in and a member of the current organization (with one of ``roles``
    when given)."""

    def decorate(func):
        @login_required
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            if request.membership is None:
                return render(request, "dashboard/no_organization.html", status=403)
            if roles is not None and request.membership.role not in roles:
                raise PermissionDenied("Your role does not allow this.")
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


@member_required
def home(request):
    """The organization's overview: each app's figures and charts (the panels of
    ``panels.HOME``: recurring revenue, usage, billed, collected, recognized, then what needs
    attention), every figure a link to the list behind it; the members and keys below."""
    organization = request.organization
    context = {
        "panels": panels.render(panels.HOME, request, organization),
        "today": overview.today(organization),
        "members_count": selectors.memberships_list(organization=organization).count(),
        "keys_count": selectors.api_keys_list(organization=organization)
        .filter(revoked_at__isnull=True)
        .count(),
        "active": "home",
    }
    return render(request, "dashboard/home.html", context)


@member_required
def section(request, slug: str):
    if slug not in SECTIONS:
        raise Http404
    title, text, endpoint = SECTIONS[slug]
    return render(
        request,
        "dashboard/section.html",
        {"active": slug, "title": title, "text": text, "endpoint": endpoint},
    )


@login_required
@require_POST
def switch_organization(request):
    try:
        organization_id = uuid.UUID(request.POST.get("organization", ""))
    except ValueError:
        raise Http404("No such organization.") from None
    membership = selectors.membership_for(user=request.user, organization_id=organization_id)
    if membership is None:
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = str(membership.organization_id)
    messages.success(request, f"Switched to {membership.organization.name}.")
    target = request.POST.get("next") or reverse("dashboard:home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dashboard:home")
    return HttpResponseRedirect(target)


class ApiKeyForm(forms.Form):
    name = forms.CharField(required=False)  # its rules are api_key_create's
    # The least privilege unless someone picks more, as for members.
    role = forms.ChoiceField(
        choices=[(r.value, r.label) for r in (Role.ADMIN, Role.FINANCE, Role.VIEWER)],
        initial=Role.VIEWER,
    )


class OrganizationForm(forms.Form):
    """Fields only: ``organization_update`` holds the rules (the API's ``PATCH
    /organization`` asks the same); its errors land on these fields."""

    name = forms.CharField(required=False)
    default_currency = forms.CharField(
        required=False, label="Default currency",
        help_text="ISO 4217, e.g. EUR. Only a default: customers created from now on get it "
                  "unless given another; existing customers, contracts and invoices keep "
                  "their own currency.")
    time_zone = forms.CharField(
        required=False, label="Time zone",
        help_text="IANA, e.g. Europe/Berlin: the day of the dashboard and the reports. Each "
                  "customer and contract keeps its own.")
    usage_window_days = forms.IntegerField(
        required=False, label="Usage window (days)",
        help_text="1 to 3650: usage events older than this many days are refused.")

    def clean(self):
        cleaned = super().clean()
        # an emptied number field is a refusal of the service's, not "keep the value"
        if cleaned.get("usage_window_days") is None and "usage_window_days" not in self.errors:
            cleaned["usage_window_days"] = ""
        return cleaned


class MemberForm(forms.Form):
    email = forms.EmailField()
    # The least privilege unless someone picks more: a slip never makes a new owner.
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


def _organization_form(organization, data=None) -> OrganizationForm:
    return OrganizationForm(data, initial={name: getattr(organization, name)
                                           for name in OrganizationForm.base_fields})


@member_required
def settings_page(request):
    return _settings(request)


def _settings(request, organization_form=None, status=200):
    organization = request.organization
    can_manage = request.membership.role in MANAGE_ROLES
    created_secret = request.session.pop("created_api_key_secret", None)
    context = {
        "is_owner": request.membership.role == Role.OWNER,
        "keys": selectors.api_keys_list(organization=organization),
        "members": selectors.memberships_list(organization=organization),
        "key_form": ApiKeyForm(),
        "member_form": MemberForm(),
        "organization_form": organization_form or _organization_form(organization),
        "created_secret": created_secret,
        "can_manage": can_manage,
        "active": "settings",
    }
    return render(request, "dashboard/settings.html", context, status=status)


@member_required(roles=MANAGE_ROLES)
@require_POST
def organization_save(request):
    form = _organization_form(request.organization, request.POST)
    if form.is_valid():
        try:
            organization = services.organization_update(organization=request.organization,
                                                        **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, f"{organization.name} saved.")
            return redirect(f"{reverse('dashboard:settings')}#organization")
    return _settings(request, organization_form=form, status=400)


@member_required(roles=MANAGE_ROLES)
@require_POST
def api_key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the key a name and a role.")
        return redirect("dashboard:settings")
    try:
        _, secret = services.api_key_create(
            organization=request.organization, created_by=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, _reason(exc))
    else:
        # Shown on the next page load only, then gone from the session.
        request.session["created_api_key_secret"] = secret
        messages.success(request, "API key created. Copy it now: it will not be shown again.")
    return redirect("dashboard:settings")


@member_required(roles=MANAGE_ROLES)
@require_POST
def api_key_revoke(request, key_id):
    key = get_object_or_404(ApiKey.objects.for_organization(request.organization), id=key_id)
    services.api_key_revoke(api_key=key)
    messages.success(request, f"Key {key.name} revoked.")
    return redirect("dashboard:settings")


def _reason(exc: ValidationError | PermissionDenied) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


@member_required(roles=MANAGE_ROLES)
@require_POST
def member_add(request):
    form = MemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter an e-mail address and a role.")
        return redirect("dashboard:settings")
    try:
        membership = services.membership_upsert(
            organization=request.organization, actor_role=request.membership.role,
            **form.cleaned_data,
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _reason(exc))
    else:
        messages.success(request, f"{membership.user.email} is now {membership.role}.")
    return redirect("dashboard:settings")


@member_required(roles=MANAGE_ROLES)
@require_POST
def member_remove(request, membership_id):
    membership = get_object_or_404(
        Membership.objects.for_organization(request.organization), id=membership_id
    )
    try:
        revoked = services.membership_remove(
            membership=membership, actor_role=request.membership.role
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _reason(exc))
    else:
        text = f"{membership.user.email} removed."
        if revoked:
            text += f" API keys they created, now revoked: {revoked}."
        messages.success(request, text)
    return redirect("dashboard:settings")
