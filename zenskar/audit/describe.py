"""How an audit event reads to a person: the kind of object ("Invoice line"), the actor
("ann@acme.test", "API key CI", "System (invoicing.generate_invoices)"), where from
("Dashboard · 203.0.113.7"), and each change as ``field: old → new``.

The trail keeps the columns as the database wrote them (``to_jsonb``): numbers with their
scale ("500.0000"), instants in ISO 8601, JSON as JSON. Here they become short text; nothing
is looked up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zenskar.audit.models import ActorType, AuditEvent, Channel

# The object types the triggers write (zenskar/audit/migrations/0001_initial.py: AUDITED),
# as a person names them; a test holds the two lists together.
OBJECT_TYPES: dict[str, str] = {
    "organization": "Organization",
    "member": "Member",
    "api_key": "API key",
    "customer": "Customer",
    "product": "Product",
    "contract": "Contract",
    "contract_phase": "Contract phase",
    "price_item": "Price item",
    "discount": "Discount",
    "invoice": "Invoice",
    "invoice_line": "Invoice line",
    "credit_note": "Credit note",
    "invoice_template": "Invoice template",
    "invoice_settings": "Invoice settings",
    "tax_rate": "Tax rate",
    "payment": "Payment",
    "refund": "Refund",
    "gateway_account": "Payment gateway",
    "data_source": "Data source",
    "segment": "Customer segment",
    "reminder_policy": "Reminder policy",
    "reminder_step": "Reminder step",
    "ledger_account": "Ledger account",
    "period_close": "Period close",
    "webhook_endpoint": "Webhook endpoint",
    "coupon": "Coupon",
    "coupon_redemption": "Coupon redemption",
}

MAX_VALUE = 80  # characters of a value shown in a change
EMPTY = "—"


def object_name(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type, object_type.replace("_", " ").capitalize())


def plain(value: Any) -> Any:
    """A value of ``changes`` or ``snapshot`` for a JSON answer: exact numbers with a
    fraction as decimal strings ("500.0000"), never floats; the rest as it is."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def value_text(value: Any) -> str:
    """One value as short text: "—" for none or empty, lists joined, JSON compact, at most
    ``MAX_VALUE`` characters."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        text = ", ".join(str(item) for item in value)
    elif isinstance(value, dict | list):
        text = json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.field}: {self.old} → {self.new}"


def changes(event: AuditEvent) -> list[Change]:
    """The fields a change changed, in name order, each ``old → new``."""
    return [Change(name, value_text(pair[0]), value_text(pair[1]))
            for name, pair in sorted((event.changes or {}).items())]


def actor(event: AuditEvent) -> str:
    if event.actor_type == ActorType.API_KEY:
        return f"API key {event.actor_label}".strip()
    if event.actor_type == ActorType.USER:
        return event.actor_label or f"user {event.actor_id}"
    return f"System ({event.actor_label})" if event.actor_label else "System"


def origin(event: AuditEvent) -> str:
    """Where from: the channel, and the client's address when there was one ("" for the
    system's own writes: "by System" says it)."""
    if event.channel == Channel.SYSTEM and not event.ip:
        return ""
    channel = Channel(event.channel).label if event.channel in Channel.values else event.channel
    return f"{channel} · {event.ip}" if event.ip else str(channel)


def title(event: AuditEvent) -> str:
    """"Customer Acme Inc changed"."""
    name = f"{object_name(event.object_type)} {event.label}".strip()
    return f"{name} {event.get_action_display().lower()}"


def summary(event: AuditEvent) -> str:
    """One line: what, by whom, from where, and the changes: "Customer Acme Inc changed by
    ann@acme.test (Dashboard · 203.0.113.7): name: Acme → Acme Inc"."""
    where = origin(event)
    text = f"{title(event)} by {actor(event)}" + (f" ({where})" if where else "")
    changed = changes(event)
    return f"{text}: {'; '.join(str(change) for change in changed)}" if changed else text
