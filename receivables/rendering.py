"""The reminder e-mail: its template context, and its subject and body rendered in the same
sandbox as invoices (``invoicing.sandbox``, run in the render worker under its limits).

A step's ``subject`` and ``body`` are Jinja2 templates. The body is HTML, autoescaped; the
e-mail carries it as HTML and as plain text made from it. The subject is rendered the same
way, then unescaped and folded to one line of at most ``MAX_SUBJECT`` characters. Whatever
goes wrong (a syntax error, a loop past the limits, an escape attempt) is a ``TemplateError``
with the template's line: the preview shows it, the run records it on the reminder.

The context (plain values only):

===================  =====================================================================
name                 value
===================  =====================================================================
``organization``     ``name``
``customer``         ``name``, ``external_id``, ``emails``, ``country``, ``attributes``
``invoice``          the invoice reminded about: ``number``, ``issue_date``, ``due_date``,
                     ``currency``, ``total``, ``amount_due``, ``days_past_due``,
                     ``payment_url`` (or None)
``invoices``         every invoice the message covers (one, or all of the customer's open
                     invoices for a statement-style policy), each as ``invoice``
``totals``           per currency: ``currency``, ``amount_due``, ``count``
``payment_url``      the hosted payment link of ``invoice`` (or None)
``days_past_due``    of ``invoice`` (negative before it is due)
``locale``           the customer's locale
===================  =====================================================================

Filters: those of invoice templates (``money``, ``date``, ``date_range``, ``quantity``).
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.mail import EmailMultiAlternatives

from invoicing import render_worker
from invoicing.models import Invoice
from invoicing.rendering import (
    RENDER_MEMORY_BYTES,
    RENDER_TIMEOUT_SECONDS,
    customer_locale,
)
from invoicing.sandbox import MAX_RENDER_SECONDS, TemplateError
from zenskar.money import round_money

__all__ = ["DEFAULT_BODY", "DEFAULT_SUBJECT", "TemplateError", "context", "email_message",
           "render", "template_check", "to_text"]

MAX_SUBJECT = 300
MAX_SUBJECT_SOURCE = 1000
MAX_BODY_SOURCE = 100_000

DEFAULT_SUBJECT = ("{% if days_past_due > 0 %}Reminder: invoice {{ invoice.number }} is "
                   "{{ days_past_due }} days overdue{% else %}Invoice {{ invoice.number }} is "
                   "due {{ invoice.due_date | date }}{% endif %}")
DEFAULT_BODY = """<p>Hello {{ customer.name }},</p>
{% if invoices | length > 1 %}<p>These invoices from {{ organization.name }} are open:</p>
<ul>{% for item in invoices %}<li>{{ item.number }}: {{ item.amount_due | money(item.currency) }}\
 due {{ item.due_date | date }}</li>{% endfor %}</ul>
{% else %}<p>Invoice {{ invoice.number }} from {{ organization.name }} for \
{{ invoice.amount_due | money(invoice.currency) }} was due {{ invoice.due_date | date }}.</p>
{% endif %}{% if payment_url %}<p>Pay online: <a href="{{ payment_url }}">{{ payment_url }}</a></p>
{% endif %}<p>If you have already paid, thank you, and please ignore this message.</p>
<p>{{ organization.name }}</p>
"""


def _invoice(invoice: Invoice, as_of: date, payment_url: str | None) -> dict[str, Any]:
    currency = str(invoice.currency)
    return {
        "number": str(invoice.number), "issue_date": invoice.issue_date,
        "due_date": invoice.due_date, "currency": currency,
        "total": round_money(invoice.total, currency),
        "amount_due": round_money(invoice.amount_due, currency),
        "days_past_due": (as_of - invoice.due_date).days if invoice.due_date else 0,
        "payment_url": payment_url or None,
    }


def context(*, invoice: Invoice, invoices: list[Invoice], as_of: date,
            links: dict[Any, str | None]) -> dict[str, Any]:
    """The documented context for a message about ``invoice`` covering ``invoices`` (which
    include it); ``links``: each invoice's hosted payment link by id."""
    customer = invoice.customer
    covered = [_invoice(item, as_of, links.get(item.id)) for item in invoices]
    sums: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for item in covered:
        sums[item["currency"]][0] += item["amount_due"]
        sums[item["currency"]][1] += 1
    main = _invoice(invoice, as_of, links.get(invoice.id))
    attributes = {str(k): v for k, v in (customer.attributes or {}).items()
                  if isinstance(v, str | int | bool) or v is None}
    return {
        "organization": {"name": invoice.organization.name},
        "customer": {"name": customer.name, "external_id": customer.external_id,
                     "emails": list(customer.emails or []), "country": customer.country,
                     "attributes": attributes},
        "invoice": main, "invoices": covered,
        "totals": [{"currency": currency, "amount_due": amount, "count": count}
                   for currency, (amount, count) in sorted(sums.items())],
        "payment_url": main["payment_url"], "days_past_due": main["days_past_due"],
        "locale": customer_locale(customer),
    }


def _run(source: str, values: dict[str, Any]) -> str:
    result = render_worker.run("html", source, context=values, locale=values["locale"],
                               seconds=RENDER_TIMEOUT_SECONDS,
                               memory_bytes=RENDER_MEMORY_BYTES,
                               sandbox_seconds=MAX_RENDER_SECONDS)
    assert isinstance(result, str)
    return result


def render(subject: str, body: str, values: dict[str, Any]) -> tuple[str, str]:
    """``(subject, html_body)`` rendered with ``values``; raises ``TemplateError`` (its
    message says whether the subject or the body failed)."""
    try:
        rendered_subject = _run(subject, values) if subject.strip() else ""
    except TemplateError as error:
        raise _named("Subject", error) from None
    try:
        rendered_body = _run(body, values)
    except TemplateError as error:
        raise _named("Body", error) from None
    line = " ".join(html.unescape(rendered_subject).split())
    return line[:MAX_SUBJECT], rendered_body


def template_check(subject: str, body: str) -> None:
    """Raise ``TemplateError`` when either template does not compile (checked in the render
    worker, like invoice templates)."""
    for name, source, limit in (("Subject", subject, MAX_SUBJECT_SOURCE),
                                ("Body", body, MAX_BODY_SOURCE)):
        if len(source) > limit:
            raise TemplateError(f"{name}: at most {limit:,} characters.", None)
        try:
            render_worker.run("check", source, seconds=RENDER_TIMEOUT_SECONDS,
                              memory_bytes=RENDER_MEMORY_BYTES)
        except TemplateError as error:
            raise _named(name, error) from None


def _named(part: str, error: TemplateError) -> TemplateError:
    """The error with the part of the message it is in: "Body, line 3: ..." (the line is in
    the message, not repeated)."""
    where = f"{part}, line {error.line}" if error.line else part
    return TemplateError(f"{where}: {error.message}")


_BREAKS = re.compile(r"<\s*(br|/p|/li|/h[1-6]|/tr|/div)\s*/?>", re.IGNORECASE)
_LINKS = re.compile(r"<a\s[^>]*href=\"([^\"]*)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]*>")


def to_text(body: str) -> str:
    """The plain-text part made from the HTML body: line breaks kept, a link written as
    "text (url)" unless its text is the url, tags dropped, entities decoded."""
    def link(match: re.Match[str]) -> str:
        url, text = match.group(1), _TAGS.sub("", match.group(2))
        return text if html.unescape(text) == html.unescape(url) else f"{text} ({url})"

    text = _LINKS.sub(link, body)
    text = _BREAKS.sub(lambda m: "\n" if m.group(1).lower() != "/p" else "\n\n", text)
    text = html.unescape(_TAGS.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def email_message(*, subject: str, body: str, to: list[str],
                  reply_to: list[str] | None = None) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject=subject, body=to_text(body), to=to,
                                     reply_to=reply_to)
    message.attach_alternative(body, "text/html")
    return message
