"""The e-mail that tells a person they were added to an organization.

A person with no usable password yet (invited by e-mail, never signed in) gets a link to set
one: the dashboard's password-reset confirmation page, with a token from Django's
``default_token_generator`` (valid for ``PASSWORD_RESET_TIMEOUT``, and for one use: setting
the password changes what the token was made from). A person who already has a password gets
a link to the sign-in page. Links start with ``PUBLIC_URL``, never with the host a request
named.

:func:`invitation_send` writes nothing; ``membership_upsert`` runs it after commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from zenskar.tenancy.models import Membership

__all__ = ["invitation_message", "invitation_send"]

logger = logging.getLogger(__name__)


def invitation_message(membership: Membership) -> EmailMessage:
    """The e-mail to ``membership``'s user: subject "You have been added to {organization}",
    the role, and the link (to set a password, or to sign in)."""
    user = membership.user
    organization = membership.organization.name
    context = {"organization": organization, "role": membership.get_role_display()}
    if user.has_usable_password():
        context["login_url"] = settings.PUBLIC_URL + reverse("dashboard:login")
    else:
        context["password_url"] = settings.PUBLIC_URL + reverse(
            "dashboard:password-reset-confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
        context["valid_for"] = timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    return EmailMessage(
        subject=f"You have been added to {organization}",
        body=render_to_string("tenancy/emails/invitation.txt", context),
        to=[user.email],
    )


def invitation_send(*, membership_id) -> bool:
    """Send the invitation for the membership ``membership_id``. False, and nothing sent, when
    the membership no longer exists or its user has no e-mail. Backend errors (SMTP down)
    raise; the caller's ``on_commit(robust=True)`` logs them, and the person can still ask
    for a password link on the sign-in page."""
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(id=membership_id)
        .first()
    )
    if membership is None or not membership.user.email:
        return False
    invitation_message(membership).send(fail_silently=False)
    logger.info("invitation sent for membership %s", membership_id)
    return True
