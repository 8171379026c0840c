"""Sign-in and password reset: Django's own views, throttled (``zenskar.dashboard.signin``),
with the dashboard's templates. The reset-confirm page is also where an invitation's "choose
your password" link leads (``zenskar.tenancy.invitations``)."""

from __future__ import annotations

import math
import unicodedata

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from zenskar.core.ratelimit import client_address
from zenskar.dashboard import signin


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class LoginView(auth_views.LoginView):
    """Django's sign-in, throttled (``zenskar.dashboard.signin``): a locked-out e-mail or
    address gets 429 and a message, and no password is checked."""

    template_name = "dashboard/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        email = request.POST.get("username", "")
        wait = signin.signin_locked(email=email, address=client_address(request))
        if wait is not None:
            form = self.get_form_class()(request=request, initial={"username": email})
            return self._locked(form, wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        email = self.request.POST.get("username", "")
        wait = signin.signin_failed(email=email, address=client_address(self.request))
        if wait is not None:
            return self._locked(form, wait)
        return super().form_invalid(form)

    def form_valid(self, form):
        signin.signin_succeeded(email=self.request.POST.get("username", ""))
        return super().form_valid(form)

    def _locked(self, form, wait: int):
        message = (
            f"Too many failed sign-in attempts. Try again in {_wait_text(wait)}, "
            "or reset your password."
        )
        context = self.get_context_data(form=form, locked_message=message)
        return self.render_to_response(context, status=429)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's, for people without a usable password too: a member invited by e-mail has
    none until they choose one, and asks here when the invitation's link has run out."""

    def get_users(self, email):
        def same(a: str, b: str) -> bool:
            return unicodedata.normalize("NFKC", a).casefold() == \
                unicodedata.normalize("NFKC", b).casefold()

        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return (u for u in users if same(email, u.email))


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an e-mail address and sends a link to choose a password. Limited per client
    address (``PASSWORD_RESET_RATE_PER_ADDRESS``); the link starts with ``PUBLIC_URL``, never
    with the host the request named."""

    template_name = "dashboard/password_reset_form.html"
    email_template_name = "dashboard/emails/password_reset.txt"
    subject_template_name = "dashboard/emails/password_reset_subject.txt"
    form_class = PasswordResetForm
    success_url = reverse_lazy("dashboard:password-reset-done")

    def post(self, request, *args, **kwargs):
        wait = signin.password_reset_throttled(address=client_address(request))
        if wait is not None:
            message = f"Too many password reset requests. Try again in {_wait_text(wait)}."
            context = self.get_context_data(form=self.form_class(), throttled_message=message)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        self.extra_email_context = {"public_url": settings.PUBLIC_URL}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "dashboard/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "dashboard/password_reset_confirm.html"
    success_url = reverse_lazy("dashboard:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "dashboard/password_reset_complete.html"
