"""Who writes through a page: every request gets an id (the caller's ``X-Request-Id`` when it
is a plain token, else a new one), and every page outside /api/ runs its writes as the
signed-in person, channel "dashboard", with the client's address. (The id is not added to the
response: the entitlement checks answered in front of Django answer byte for byte as Django
does, and a caller that wants to find its request sends its own id.) The hosted payment page and the gateway's webhooks write as the system,
through channels of their own. The API sets its own context once it has authenticated the
caller (``zenskar.api.views``).

After ``AuthenticationMiddleware`` and ``DashboardOrganizationMiddleware`` in the settings.
"""

from __future__ import annotations

from zenskar.audit.context import Actor, audit_context, request_id
from zenskar.audit.models import Channel
from zenskar.core.ratelimit import client_address

HEADER = "X-Request-Id"
CHECKOUT_PREFIX = "/pay/"
WEBHOOK_PREFIX = "/webhooks/"


def page_context(request) -> dict:
    """The audit context of a page request: who (the signed-in person, else the system) and
    through which channel."""
    user = getattr(request, "user", None)
    if request.path.startswith(CHECKOUT_PREFIX):
        channel, actor = Channel.CHECKOUT, Actor.system("customer on the payment page")
    elif request.path.startswith(WEBHOOK_PREFIX):
        channel, actor = Channel.WEBHOOK, Actor.system("payment gateway")
    elif user is not None and user.is_authenticated:
        channel, actor = Channel.DASHBOARD, Actor.user(user)
    else:
        channel, actor = Channel.DASHBOARD, Actor.system("signed-out visitor")
    return {"channel": channel, "actor": actor, "ip": client_address(request),
            "request_id": request.request_id}


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id(request.headers.get(HEADER))
        if request.path.startswith("/api/"):
            return self.get_response(request)
        with audit_context(**page_context(request)):
            return self.get_response(request)
