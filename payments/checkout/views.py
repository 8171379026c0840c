"""The hosted checkout pages: what a tenant's customer sees when they open a payment link.

Public entry points -- they bypass the signed-in organization (no session, no API key) and are
the only views here, each named ``public_...``:

- ``public_checkout_page``     GET  /pay/<token>/         the invoice or purchase, the card form
- ``public_checkout_confirm``  POST /pay/<token>/confirm  the confirmed card: charge it once
- ``public_checkout_done``     GET  /pay/<token>/done     the outcome
- ``public_checkout_pdf``      GET  /pay/<token>/pdf      the invoice's PDF

How they find the organization: from the link's token alone (``links.read_token``: signed
with the installation's secret, timestamped). It names the organization and the checkout
session; ``public_checkout`` (the decorator of all four) resolves the session *with* that
organization -- ``CheckoutSession.objects.for_organization(organization)`` -- under that
organization's row-level security, and answers a tampered, expired or unknown link with a
friendly page (404/410), never a 500.

The card form is Stripe.js (the one external script, from the gateway's own address)
confirming a SetupIntent in the browser; our server then records the card and charges it once
(``payments.checkout.services``).
"""

from __future__ import annotations

import functools
import json
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from invoicing import selectors as invoicing_selectors
from invoicing import services as invoicing
from invoicing.delivery import invoice_pdf
from invoicing.rendering import TemplateError, customer_locale, invoice_context
from payments import services
from payments.checkout import links as checkout
from payments.checkout import services as checkout_services
from payments.gateways import GatewayError, stripe_api_base
from payments.models import CheckoutSession, GatewayAccount, Payment
from zenskar.formatting import format_date, format_money, format_period, format_quantity
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Organization

STRIPE_API = "https://api.stripe.com"
STRIPE_FRAMES = "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"


class Unavailable(Exception):
    """The link leads nowhere: shown as a page with ``status``, never raised further."""

    def __init__(self, status: int, title: str, message: str, organization=None):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message
        self.organization = organization


# --- Resolving a link -------------------------------------------------------------------------


def _resolve(token: str) -> tuple[Organization, uuid.UUID]:
    try:
        organization_id, session_id = checkout.read_token(token)
        organization_id, session_id = uuid.UUID(organization_id), uuid.UUID(session_id)
    except checkout.LinkError as error:
        if "expired" in str(error):
            raise Unavailable(410, "This payment link has expired",
                              "Payment links stay valid for a limited time. Ask the sender "
                              "for a new link.") from None
        raise _not_found() from None
    except (KeyError, TypeError, ValueError):
        raise _not_found() from None
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        raise _not_found()
    return organization, session_id


def _not_found(organization=None) -> Unavailable:
    return Unavailable(404, "This payment link is not valid",
                       "The address may be incomplete or mistyped. Copy the whole link from "
                       "the e-mail or invoice again, or ask the sender for a new one.",
                       organization)


def public_checkout(view):
    """Resolve the token, then run ``view(request, session)`` as the link's organization.
    Anything that leads nowhere becomes the error page (or a JSON error for the API-like
    confirm endpoint)."""

    @functools.wraps(view)
    def wrapper(request, token: str):
        wants_json = request.method == "POST"
        try:
            organization, session_id = _resolve(token)
            with tenant_context(organization):
                session = CheckoutSession.objects.for_organization(organization).select_related(
                    "organization", "customer", "invoice", "payment",
                ).filter(id=session_id).first()
                if session is None:
                    raise _not_found()
                if checkout_services.checkout_expired(session):
                    raise Unavailable(410, "This payment link has expired",
                                      f"Ask {organization.name} for a new payment link.",
                                      organization)
                response = view(request, session, token)
        except Unavailable as error:
            if wants_json:
                return JsonResponse({"status": "unavailable", "message": error.message},
                                    status=error.status)
            organization = error.organization
            response = render(request, "payments/checkout_error.html", {
                "title": error.title, "message": error.message,
                "organization": {"name": organization.name,
                                 "initial": organization.name[:1].upper()}
                if organization else None}, status=error.status)
        return _protect(response)

    return wrapper


def _protect(response: HttpResponse, *, js_url: str = "", api_base: str = ""):
    """Headers of every hosted page: never cached (the link is a credential), never indexed,
    and a Content-Security-Policy under which the only foreign script is Stripe.js."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    if not response.has_header("Content-Security-Policy"):
        response["Content-Security-Policy"] = csp(js_url=js_url, api_base=api_base)
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csp(*, js_url: str = "", api_base: str = "") -> str:
    """Only our own scripts, plus Stripe.js and the addresses it talks to when a card form is
    shown (Stripe's own, or the emulator's in tests and the demo)."""
    script, connect, frame = ["'self'"], ["'self'"], []
    if js_url:
        script.append(_origin(js_url))
        if api_base:
            connect.append(_origin(api_base))
            frame.append(_origin(api_base))
        else:
            script.append("https://*.js.stripe.com")
            connect.append(STRIPE_API)
            frame.append(STRIPE_FRAMES)
    return "; ".join([
        "default-src 'self'", f"script-src {' '.join(script)}",
        f"connect-src {' '.join(connect)}", f"frame-src {' '.join(frame) or 'none'}",
        "img-src 'self' data: https:", "style-src 'self' 'unsafe-inline'",
        "form-action 'self'", "base-uri 'none'", "object-src 'none'",
        "frame-ancestors 'none'",
    ])


# --- What the page shows ----------------------------------------------------------------------


def _organization(session: CheckoutSession) -> dict:
    settings = invoicing.invoice_settings(organization=session.organization)
    name = session.organization.name
    return {"name": name, "initial": (name[:1] or "?").upper(), "logo_url": settings.logo_url,
            "address_lines": [line.strip() for line in settings.address.splitlines()
                              if line.strip()],
            "footer": settings.footer.strip(), "support_email": settings.support_email}


def _invoice_view(invoice, locale: str) -> dict:
    """The invoice as the page shows it: the same facts the PDF prints, formatted."""
    context = invoice_context(invoice, locale=locale)
    currency = invoice.currency

    def money(amount: Decimal) -> str:
        return format_money(amount, currency, locale)

    def period(start, end) -> str:
        return "" if start is None else format_period(start, end, locale=locale)

    facts = context["invoice"]
    return {
        "number": invoice.number, "status": invoice.status,
        "status_label": facts["status_label"],
        "issue_date": format_date(invoice.issue_date, locale=locale, style="long")
        if invoice.issue_date else "",
        "due_date": format_date(invoice.due_date, locale=locale, style="long")
        if invoice.due_date else "",
        "period": period(invoice.period_start, invoice.period_end),
        "lines": [{"description": line["description"],
                   "period": period(line["period_start"], line["period_end"]),
                   "quantity": line["quantity"], "amount": money(line["amount"])}
                  for line in context["lines"]],
        "subtotal": money(facts["subtotal"]),
        "taxes": [{"label": f"{tax['name']} ({format_quantity(tax['rate'], locale)}%)",
                   "amount": money(tax["amount"])}
                  for tax in context["taxes"]],
        "tax_total": money(facts["tax_total"]), "has_tax": facts["tax_total"] != 0,
        "total": money(facts["total"]),
        # the same rows as the PDF, so they add up to the amount due
        "amount_credited": money(facts["amount_credited"]) if facts["amount_credited"] else "",
        "credit_applied": money(facts["credit_applied"]) if facts["credit_applied"] else "",
        "amount_paid": money(facts["amount_received"]) if facts["amount_received"] else "",
        "amount_refunded": money(facts["amount_refunded"]) if facts["amount_refunded"] else "",
        "amount_due": money(facts["amount_due"]),
    }


def _is_paid(session: CheckoutSession) -> bool:
    if session.status == CheckoutSession.Status.COMPLETE:
        return True
    return session.invoice is not None and \
        invoicing_selectors.invoice_is_paid(invoice=session.invoice)


def _page_context(session: CheckoutSession, token: str) -> dict:
    locale = customer_locale(session.customer)
    due = checkout_services.checkout_amount_due(session)
    account = services.gateway_account(organization=session.organization)
    return {
        "session": session, "token": token, "locale": locale,
        "organization": _organization(session),
        "customer": session.customer,
        "invoice": _invoice_view(session.invoice, locale) if session.invoice else None,
        "amount": format_money(session.amount, session.currency, locale),
        "amount_due": format_money(due, session.currency, locale), "due": due,
        "paid": _is_paid(session),
        "test_mode": account is not None and account.kind == GatewayAccount.Kind.STRIPE
        and account.mode == GatewayAccount.Mode.TEST,
        "pdf_url": reverse("payments:checkout-pdf", args=[token]) if session.invoice else "",
        "done_url": reverse("payments:checkout-done", args=[token]),
        "cancel_url": session.cancel_url,
    }


@require_GET
@public_checkout
def public_checkout_page(request, session: CheckoutSession, token: str):
    """The invoice (or prepaid amount) and, while money is due, the card form -- or the bank
    details of an organization that takes no cards."""
    context = _page_context(session, token)
    card_form, card_error = None, ""
    if not context["paid"] and context["due"] > 0:
        try:
            card_form = checkout_services.checkout_card_form(session=session)
        except GatewayError:
            card_error = ("Card payments are unavailable at the moment. Please try again in a "
                          "few minutes.")
    context.update(card_form=card_form, card_error=card_error,
                   config=_config(token, card_form, context["amount_due"]) if card_form else None)
    response = render(request, "payments/checkout.html", context)
    account = services.gateway_account(organization=session.organization)
    return _protect(response, js_url=card_form.js_url if card_form else "",
                    api_base=stripe_api_base(account) if card_form and account else "")


def _config(token: str, card_form: checkout_services.CardForm, amount_due: str) -> dict:
    return {**card_form.as_dict(), "confirm_url": reverse("payments:checkout-confirm",
                                                          args=[token]),
            "pay_label": f"Pay {amount_due}"}


def _return_url(session: CheckoutSession, token: str) -> str:
    if session.success_url:
        return session.success_url.replace("{CHECKOUT_SESSION_ID}", str(session.id))
    return reverse("payments:checkout-done", args=[token])


@require_POST
@public_checkout
def public_checkout_confirm(request, session: CheckoutSession, token: str):
    """The browser confirmed a SetupIntent: record the card and charge it. JSON in and out:
    ``{setup_intent, signature}`` -> 200 ``{status: "succeeded", redirect}``, 402
    ``{status: "failed", message, form}`` (a fresh card form), 409 ``{status: "closed",
    message, redirect}`` when nothing can be paid any more, 400 for a bad request."""
    try:
        body = json.loads(request.body or b"{}")
        setup_intent, signature = str(body["setup_intent"]), str(body["signature"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return JsonResponse({"status": "invalid", "message": "A setup_intent and its "
                             "signature are required."}, status=400)
    try:
        payment = checkout_services.checkout_pay(session=session, setup_intent_id=setup_intent,
                                                 signature=signature)
    except checkout_services.CheckoutRefused as refused:
        return JsonResponse({"status": "closed", "message": str(refused),
                             "redirect": reverse("payments:checkout", args=[token])},
                            status=409)
    except ValidationError as error:
        message = next(iter(error.message_dict.values()))[0]
        return JsonResponse({"status": "invalid", "message": message}, status=400)
    if payment.status == Payment.Status.SUCCEEDED:
        return JsonResponse({"status": "succeeded", "redirect": _return_url(session, token)})
    answer = {"status": "failed",
              "message": payment.failure_reason or "The payment did not go through."}
    try:
        form = checkout_services.checkout_card_form(session=session)
        answer["form"] = form.as_dict() if form else None
    except GatewayError:
        answer["form"] = None
    return JsonResponse(answer, status=402)


@require_GET
@public_checkout
def public_checkout_done(request, session: CheckoutSession, token: str):
    """The receipt: what was paid and that the invoice is now paid."""
    if not _is_paid(session):
        return redirect("payments:checkout", token=token)
    context = _page_context(session, token)
    payment = session.payment
    if payment is not None:
        context["payment"] = {
            "amount": format_money(payment.amount, payment.currency, context["locale"]),
            "date": format_date(payment.created_at.date(), locale=context["locale"], style="long"),
            "reference": payment.reference,
            "card": payment.card_label,  # "Visa •••• 4242", or "" (an older payment)
        }
    return render(request, "payments/checkout_done.html", context)


@require_GET
@public_checkout
def public_checkout_pdf(request, session: CheckoutSession, token: str):
    if session.invoice is None or invoicing_selectors.invoice_is_draft(invoice=session.invoice):
        raise Unavailable(404, "No document for this payment",
                          "This payment has no invoice to download.", session.organization)
    try:
        pdf = invoice_pdf(invoice=session.invoice)
    except TemplateError:  # the organization's invoice template is broken: not the customer's
        raise Unavailable(503, "The invoice document is not available right now",
                          f"Please try again later, or ask {session.organization.name} to send "
                          "it to you.", session.organization) from None
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{session.invoice.number}.pdf"'
    return response
