"""Bulk actions on the invoices ticked in the list: finalize, send, delete drafts.

Each invoice is handled on its own, by the same service its own page calls
(``invoice_finalize``, ``delivery.invoice_send``, ``invoice_void``): one that is refused or
fails never stops the others, and one message says how many were done and why the others
were not. "Delete drafts" takes drafts only, through ``invoice_void`` (a draft has no number
yet: voided, it leaves the lists of drafts and its billing date stays taken, so the schedule
does not bill it again); a finalized invoice is voided from its own page, never in bulk.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from invoicing import delivery, failures, services
from invoicing.models import Invoice
from invoicing.rendering import TemplateError
from zenskar.dashboard.views import member_required
from zenskar.tenancy.models import WRITE_ROLES

logger = logging.getLogger(__name__)

MAX_SELECTED = 100  # invoices in one bulk action (two pages of the list)
REASONS_SHOWN = 10
SENDABLE = (Invoice.Status.FINALIZED, Invoice.Status.PAID)


class Refused(Exception):
    """This invoice is not one the action applies to; the words say why."""


def _actor(request) -> str:
    return request.user.email or request.user.get_username()


def _finalize(request, invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.DRAFT:
        raise Refused(f"already {invoice.status}")
    services.invoice_finalize(invoice=invoice)


def _send(request, invoice: Invoice) -> None:
    if invoice.status not in SENDABLE:
        raise Refused("a draft: finalize it first" if invoice.status == Invoice.Status.DRAFT
                      else f"{invoice.status}: only finalized or paid invoices are sent")
    if not invoice.customer.emails:
        raise Refused(f"{invoice.customer.name} has no billing e-mail address")
    delivery.invoice_send(invoice=invoice)


def _delete_draft(request, invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.DRAFT:
        raise Refused(f"not a draft ({invoice.status}): a finalized invoice is voided from "
                      "its own page")
    services.invoice_void(invoice=invoice, actor=_actor(request))


@dataclass(frozen=True)
class Action:
    run: Callable[..., None]
    done: str  # "3 invoices <done>."
    not_done: str  # "2 not <not_done>: ..."


ACTIONS = {
    "finalize": Action(_finalize, "finalized", "finalized"),
    "send": Action(_send, "sent", "sent"),
    "delete_drafts": Action(_delete_draft, "deleted (voided drafts)", "deleted"),
}


def _label(invoice: Invoice) -> str:
    return invoice.number or f"the draft of {invoice.customer.name} for {invoice.billing_date}"


def _reason(error: Exception) -> str:
    if isinstance(error, Refused):
        return str(error)
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, TemplateError):
        return f"the invoice template cannot be rendered: {error}"
    if isinstance(error, OSError | smtplib.SMTPException):
        return f"the e-mail could not be sent ({error}); try again"
    return failures.describe(error)


def _plural(count: int) -> str:
    return f"{count} invoice{'s' if count != 1 else ''}"


def _summary(action: Action, done: int, not_done: list[tuple[str, str]], missing: int) -> str:
    parts = [f"{_plural(done)} {action.done}."]
    if not_done:
        listed = "; ".join(f"{label} ({reason})" for label, reason in not_done[:REASONS_SHOWN])
        more = len(not_done) - REASONS_SHOWN
        parts.append(f"{len(not_done)} not {action.not_done}: {listed}"
                     + (f"; and {more} more." if more > 0 else "."))
    if missing:
        parts.append(f"{_plural(missing)} no longer found.")
    return " ".join(parts)


def _selected(request) -> list[uuid.UUID] | str:
    """The ticked invoices' ids, or why they cannot be read."""
    values = request.POST.getlist("invoice")
    if not values:
        return "Tick the invoices first."
    if len(values) > MAX_SELECTED:
        return f"At most {MAX_SELECTED} invoices at once ({len(values)} were ticked)."
    try:
        return list(dict.fromkeys(uuid.UUID(value) for value in values))
    except ValueError:
        return "That is not an invoice of the list."


@member_required(roles=WRITE_ROLES)
@require_POST
def invoice_bulk(request):
    query = request.POST.get("next_query", "")[:2000]
    back = reverse("invoicing:invoice-list") + (f"?{query}" if query else "")
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, "Choose Finalize, Send or Delete drafts.")
        return redirect(back)
    ids = _selected(request)
    if isinstance(ids, str):
        messages.error(request, ids)
        return redirect(back)
    # oldest billing date first (finalized, they number in date order), then as ticked
    ticked = {invoice_id: position for position, invoice_id in enumerate(ids)}
    invoices = sorted(Invoice.objects.for_organization(request.organization)
                      .filter(id__in=ids).select_related("customer", "contract"),
                      key=lambda invoice: (invoice.billing_date, ticked[invoice.id]))
    done, not_done = 0, []
    for invoice in invoices:
        try:
            action.run(request, invoice)
        except Exception as error:
            if not failures.isolated(error):
                raise
            if not isinstance(error, Refused | ValidationError | TemplateError | OSError
                              | smtplib.SMTPException):
                logger.exception("Bulk action on invoice %s failed", invoice.id)
            not_done.append((_label(invoice), _reason(error)))
        else:
            done += 1
    text = _summary(action, done, not_done, len(ids) - len(invoices))
    level = messages.SUCCESS if not not_done and len(invoices) == len(ids) else (
        messages.WARNING if done else messages.ERROR)
    messages.add_message(request, level, text)
    return redirect(back)
