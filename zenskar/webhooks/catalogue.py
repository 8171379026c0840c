"""The event catalogue: every event type a webhook endpoint can receive, what it means, the
schema of its ``data`` and an example. The one list: the API reference's webhooks
(``zenskar.webhooks.openapi``), the check of an endpoint's subscriptions and the dashboard's
event picker all read it. Pure (no Django).

Every message is the envelope ``{"type", "timestamp", "data"}``: ``type`` the event type,
``timestamp`` when the event happened (ISO 8601, UTC; the same on every attempt), ``data`` the
event's fields below plus ``id``, the id of the object it is about (the invoice, the payment,
the movement of credit...). Amounts are decimal strings with their currency's digits;
customers are named by their external id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


def _nullable(schema: Schema) -> Schema:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


def text(description: str, *, null: bool = False, enum: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "string", "description": description}
    if enum:
        schema["enum"] = enum
    return _nullable(schema) if null else schema


def ident(description: str, *, null: bool = False) -> Schema:
    schema: Schema = {"type": "string", "format": "uuid", "description": description}
    return _nullable(schema) if null else schema


def amount(description: str, *, null: bool = False) -> Schema:
    schema: Schema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$",
                      "description": description}
    return _nullable(schema) if null else schema


def day(description: str, *, null: bool = False) -> Schema:
    schema: Schema = {"type": "string", "format": "date", "description": description}
    return _nullable(schema) if null else schema


def instant(description: str, *, null: bool = False) -> Schema:
    schema: Schema = {"type": "string", "format": "date-time", "description": description}
    return _nullable(schema) if null else schema


def whole(description: str, *, null: bool = False) -> Schema:
    schema: Schema = {"type": "integer", "description": description}
    return _nullable(schema) if null else schema


@dataclass(frozen=True)
class EventType:
    name: str
    title: str
    description: str
    subject: str  # what ``data.id`` names
    fields: dict[str, Schema]
    example: dict[str, Any]
    optional: tuple[str, ...] = ()  # fields present in some messages of the type only

    def data_schema(self) -> Schema:
        """The JSON Schema of the message's ``data``."""
        properties = {"id": {"type": "string", "description": f"The id of {self.subject}."},
                      **self.fields}
        required = ["id", *(name for name in self.fields if name not in self.optional)]
        return {"type": "object", "properties": properties, "required": required,
                "additionalProperties": True}

    def message_schema(self) -> Schema:
        """The JSON Schema of the whole message (the request body an endpoint receives)."""
        return {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "enum": [self.name]},
                "timestamp": {"type": "string", "format": "date-time",
                              "description": "When the event happened (UTC)."},
                "data": self.data_schema(),
            },
        }

    def example_message(self) -> dict[str, Any]:
        return {"type": self.name, "timestamp": "2026-03-01T09:30:00.123456Z",
                "data": self.example}


# --- The fields events share -----------------------------------------------------------------

CUSTOMER = text("The customer's external id.")
CURRENCY = text("ISO 4217 currency code.")
INVOICE_STATUS = text("The invoice's status after the event: draft, finalized, paid, "
                      "uncollectible or void (deleted for invoice.deleted).")

INVOICE_FIELDS: dict[str, Schema] = {
    "invoice": ident("The invoice."),
    "number": text("Its number (null until finalized).", null=True),
    "status": INVOICE_STATUS,
    "customer": text("The customer's external id.", null=True),
    "currency": CURRENCY,
    "total": amount("The invoice's total."),
    "amount_due": amount("What is still due."),
    "billing_date": day("The billing date."),
}
INVOICE_ID = "6c1f0a9e-2f1b-4a57-9a0e-3d1f5b8c2e10"
INVOICE_EXAMPLE = {
    "id": INVOICE_ID, "invoice": INVOICE_ID, "number": "ACME-2026-000042",
    "status": "finalized", "customer": "acme", "currency": "USD", "total": "1300.00",
    "amount_due": "1300.00", "billing_date": "2026-03-01",
}


def _invoice(name: str, title: str, description: str, **example: Any) -> EventType:
    return EventType(name, title, description, "the invoice", INVOICE_FIELDS,
                     {**INVOICE_EXAMPLE, **example})


PAYMENT_FIELDS: dict[str, Schema] = {
    "payment": ident("The payment."),
    "invoice": text("The invoice it pays (an empty string when it pays none).",),
    "amount": amount("The payment's amount."),
    "currency": CURRENCY,
    "status": text("The payment's status."),
    "reference": text("The gateway's or the bank's reference."),
}
PAYMENT_ID = "0b7d4c1e-8f2a-4c3b-9d5e-6a7b8c9d0e1f"
PAYMENT_EXAMPLE = {"id": PAYMENT_ID, "payment": PAYMENT_ID, "invoice": INVOICE_ID,
                   "amount": "1300.00", "currency": "USD", "status": "succeeded",
                   "reference": "pi_3N1x2y"}

CREDIT_FIELDS: dict[str, Schema] = {
    "movement": ident("The movement of credit."),
    "grant": ident("The lot of credit it moved."),
    "kind": text("granted, applied, expired, refunded or returned."),
    "grant_kind": text("How the lot came: grant, overpayment, prepaid, credit_note, invoice "
                       "or migrated."),
    "customer": CUSTOMER,
    "currency": CURRENCY,
    "amount": amount("The movement: positive adds credit, negative draws it."),
    "balance_left_in_lot": amount("What is left of the lot after it."),
    "invoice": ident("The invoice involved, if any.", null=True),
    "source": text("What caused it (e.g. ``credit_note:<id>``, ``manual:<id>``)."),
}
MOVEMENT_ID = "5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d1c"
CREDIT_EXAMPLE = {"id": MOVEMENT_ID, "movement": MOVEMENT_ID,
                  "grant": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "kind": "granted",
                  "grant_kind": "grant", "customer": "acme", "currency": "USD",
                  "amount": "50.00", "balance_left_in_lot": "50.00", "invoice": None,
                  "source": "manual:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}


def _credit(name: str, title: str, description: str, **example: Any) -> EventType:
    return EventType(name, title, description, "the movement of credit", CREDIT_FIELDS,
                     {**CREDIT_EXAMPLE, **example})


LIMIT_FIELDS: dict[str, Schema] = {
    "customer": CUSTOMER,
    "customer_id": ident("The customer's id."),
    "feature": text("The feature's key."),
    "window": text("The usage window the notice is about (start/end), or the balance "
                   "(``granted:<units>``): one notice per feature and window."),
    "limit": amount("The limit (or the units granted)."),
    "used": amount("What is used."),
    "remaining": amount("What is left (never below 0)."),
}
NOTICE_ID = "3f2e1d0c-9b8a-4796-8574-63524130f2e1"
CUSTOMER_ID = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
LIMIT_EXAMPLE = {"id": NOTICE_ID, "customer": "acme", "customer_id": CUSTOMER_ID,
                 "feature": "api_calls", "window": "2026-03-01T00:00:00+00:00/"
                 "2026-04-01T00:00:00+00:00", "limit": "1000", "used": "800",
                 "remaining": "200"}


def _limit(name: str, title: str, description: str, **example: Any) -> EventType:
    return EventType(name, title, description, "the notice", LIMIT_FIELDS,
                     {**LIMIT_EXAMPLE, **example})


PAUSE_FIELDS: dict[str, Schema] = {
    "customer": CUSTOMER,
    "customer_id": ident("The customer's id."),
    "reason": text("Why the entitlements were paused."),
    "invoice": ident("The overdue invoice behind the pause, if any.", null=True),
    "paused_at": instant("When the pause began."),
    "resumed_at": instant("When it ended (null while it lasts).", null=True),
}
PAUSE_ID = "2d3c4b5a-6978-4a1b-8c0d-9e8f7a6b5c4d"
PAUSE_EXAMPLE = {"id": PAUSE_ID, "customer": "acme", "customer_id": CUSTOMER_ID,
                 "reason": "Invoice ACME-2026-000042 is 30 days overdue.",
                 "invoice": INVOICE_ID, "paused_at": "2026-04-01T09:00:00+00:00",
                 "resumed_at": None}


EVENT_TYPES: tuple[EventType, ...] = (
    _invoice("invoice.created", "Invoice created",
             "A draft invoice was created: by the billing run for a contract's billing date, "
             "or by hand (a one-off invoice).", number=None, status="draft"),
    _invoice("invoice.finalized", "Invoice finalized",
             "An invoice got its number, issue and due dates and taxes; it will not change "
             "again (a credit note corrects it)."),
    _invoice("invoice.voided", "Invoice voided",
             "A finalized invoice was voided: nothing is owed for it.", status="void",
             amount_due="0.00"),
    _invoice("invoice.uncollectible", "Invoice written off",
             "A finalized, unpaid invoice was marked uncollectible.", status="uncollectible"),
    EventType(
        "invoice.deleted", "Draft deleted",
        "A one-off draft invoice was deleted (it never had a number nor money recorded "
        "against it).", "the invoice",
        {**INVOICE_FIELDS, "deleted_by": text("Who deleted it.")},
        {**INVOICE_EXAMPLE, "number": None, "status": "deleted", "amount_due": "0.00",
         "deleted_by": "ana@acme.test"}),
    EventType(
        "invoice.reminder", "Payment reminder",
        "A reminder step of the customer's segment policy with the webhook channel is due "
        "for an unpaid invoice: your system sends the reminder.", "the reminder",
        {"reminder": ident("The reminder."), "invoice": ident("The invoice."),
         "invoice_number": text("Its number."), "customer": CUSTOMER, "currency": CURRENCY,
         "amount_due": amount("What is due."), "due_date": day("Its due date.", null=True),
         "days_past_due": whole("Days past the due date (negative before it).", null=True),
         "segment": text("The segment whose policy sent it."),
         "offset_days": whole("The policy step: days from the due date.")},
        {"id": "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968",
         "reminder": "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968", "invoice": INVOICE_ID,
         "invoice_number": "ACME-2026-000042", "customer": "acme", "currency": "USD",
         "amount_due": "1300.00", "due_date": "2026-03-31", "days_past_due": 7,
         "segment": "Overdue a week", "offset_days": 7}),
    EventType(
        "payment.succeeded", "Payment succeeded",
        "A payment succeeded: a card charge the gateway confirmed, or money received "
        "outside it and recorded.", "the payment", PAYMENT_FIELDS, PAYMENT_EXAMPLE),
    EventType(
        "payment.failed", "Payment failed",
        "A card payment failed (the gateway declined it).", "the payment", PAYMENT_FIELDS,
        {**PAYMENT_EXAMPLE, "status": "failed"}),
    EventType(
        "payment.applied", "Payment applied",
        "Money received was applied to an invoice (what it paid) and, beyond what was due, "
        "kept as the customer's credit.", "the payment's source (e.g. ``payment:<id>``)",
        {"source": text("The payment's source."),
         "invoice": ident("The invoice paid.", null=True),
         "invoice_number": text("Its number.", null=True), "customer": CUSTOMER,
         "currency": CURRENCY, "applied": amount("What it paid of the invoice."),
         "to_credit": amount("What became customer credit."),
         "amount_due": amount("What the invoice still owes.", null=True),
         "status": text("The invoice's status after it.", null=True)},
        {"id": f"payment:{PAYMENT_ID}", "source": f"payment:{PAYMENT_ID}",
         "invoice": INVOICE_ID, "invoice_number": "ACME-2026-000042", "customer": "acme",
         "currency": "USD", "applied": "1300.00", "to_credit": "0.00", "amount_due": "0.00",
         "status": "paid"}),
    EventType(
        "payment.refunded", "Payment refunded",
        "Money was given back: from what a payment paid of an invoice (it owes it again; "
        "also a credit note refunding the invoice's payments) or from the credit a payment "
        "left.", "the settlement or the movement of credit refunded",
        {"source": text("The refund's source."), "payment": text("The payment refunded."),
         "from": text("invoice or credit.", enum=["invoice", "credit"]),
         "customer": CUSTOMER, "currency": CURRENCY, "amount": amount("The amount refunded."),
         "invoice": ident("The invoice (from invoice)."),
         "invoice_number": text("Its number (from invoice).", null=True),
         "amount_due": amount("What the invoice owes now (from invoice)."),
         "status": text("The invoice's status now (from invoice)."),
         "credit_note": ident("The credit note that refunded it, if one did."),
         "movement": ident("The movement of credit (from credit).")},
        {"id": "4c5d6e7f-8091-4a2b-8c3d-4e5f6a7b8c9d", "source": "refund:1f2e3d4c",
         "payment": f"payment:{PAYMENT_ID}", "from": "invoice", "customer": "acme",
         "currency": "USD", "amount": "100.00", "invoice": INVOICE_ID,
         "invoice_number": "ACME-2026-000042", "amount_due": "100.00", "status": "finalized"},
        optional=("invoice", "invoice_number", "amount_due", "status", "credit_note",
                  "movement")),
    EventType(
        "refund.created", "Refund created",
        "A refund of a payment was made (by staff, or by a credit note); for a card, the "
        "gateway is asked after it.", "the refund",
        {"refund": ident("The refund."), "payment": ident("The payment refunded."),
         "amount": amount("The amount refunded."),
         "from_credit": amount("The part taken from the credit the payment left."),
         "from_invoice": amount("The part taken from what it paid of the invoice."),
         "credit_note": text("The credit note that asked for it (an empty string when "
                             "none).")},
        {"id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b",
         "refund": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b", "payment": PAYMENT_ID,
         "amount": "100.00", "from_credit": "0.00", "from_invoice": "100.00",
         "credit_note": ""}),
    EventType(
        "credit_note.issued", "Credit note issued",
        "A credit note was issued against a finalized invoice: off the amount due, to the "
        "customer's credit, or refunded.", "the credit note",
        {"credit_note": ident("The credit note."), "number": text("Its number."),
         "invoice": ident("The invoice credited."), "invoice_number": text("Its number."),
         "customer": CUSTOMER, "currency": CURRENCY, "reason": text("Why."),
         "destination": text("reduce_due, customer_credit or refund.",
                             enum=["reduce_due", "customer_credit", "refund"]),
         "subtotal": amount("Credited before tax."), "tax_total": amount("Tax credited."),
         "total": amount("The note's total."),
         "amount_credited": amount("What it took off the amount due."),
         "to_customer_credit": amount("What became customer credit."),
         "to_refund": amount("What is refunded."),
         "refunds": {"type": "array", "description": "The payments refunded.",
                     "items": {"type": "object", "required": ["payment", "amount"],
                               "properties": {"payment": text("The payment."),
                                              "amount": amount("Refunded from it.")}}},
         "amount_due": amount("What the invoice owes now."),
         "status": INVOICE_STATUS},
        {"id": "aa1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
         "credit_note": "aa1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d", "number": "ACME-CN-2026-000001",
         "invoice": INVOICE_ID, "invoice_number": "ACME-2026-000042", "customer": "acme",
         "currency": "USD", "reason": "Goodwill", "destination": "reduce_due",
         "subtotal": "100.00", "tax_total": "0.00", "total": "100.00",
         "amount_credited": "100.00", "to_customer_credit": "0.00", "to_refund": "0.00",
         "refunds": [], "amount_due": "1200.00", "status": "finalized"}),
    _credit("credit.granted", "Credit granted",
            "Credit was added to the customer's balance: granted by staff, an overpayment, "
            "a prepaid purchase, a credit note, or credit a voided invoice gave back."),
    _credit("credit.applied", "Credit applied",
            "The customer's credit paid part of an invoice at its finalization.",
            kind="applied", amount="-50.00", balance_left_in_lot="0.00", invoice=INVOICE_ID),
    _credit("credit.expired", "Credit expired",
            "What was left of a lot of credit expired (breakage).", kind="expired",
            amount="-20.00", balance_left_in_lot="0.00"),
    _limit("entitlement.limit_approaching", "Limit approaching",
           "A customer's usage of a metered feature reached the feature's share of its limit "
           "(80 % unless set otherwise): once per window."),
    _limit("entitlement.limit_reached", "Limit reached",
           "A customer's usage of a metered feature reached its limit: once per window.",
           used="1000", remaining="0"),
    _limit("entitlement.balance_exhausted", "Balance exhausted",
           "A customer's prepaid balance of a feature is used up.", feature="compute_hours",
           window="granted:100", limit="100", used="100", remaining="0"),
    EventType(
        "entitlement.balance_topped_up", "Balance topped up",
        "Prepaid units were added to a customer's balance of a feature: bought on an "
        "invoice, or given by staff.", "the notice",
        {"customer": CUSTOMER, "customer_id": ident("The customer's id."),
         "feature": text("The feature's key."), "window": text("``lot:<id>``: one notice per "
                                                               "lot."),
         "units": amount("The units added."), "source": text("Where they came from."),
         "expires_at": instant("When they expire (null: never).", null=True)},
        {"id": NOTICE_ID, "customer": "acme", "customer_id": CUSTOMER_ID,
         "feature": "compute_hours", "window": "lot:5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
         "units": "100", "source": "grant:5a4b3c2d", "expires_at": None}),
    EventType(
        "customer.entitlements_paused", "Entitlements paused",
        "A customer's entitlements were paused for non-payment (a reminder step's action): "
        "every check answers not allowed until they resume.", "the pause", PAUSE_FIELDS,
        PAUSE_EXAMPLE),
    EventType(
        "customer.entitlements_resumed", "Entitlements resumed",
        "A customer's pause for non-payment ended: the invoices behind it are settled.",
        "the pause", PAUSE_FIELDS, {**PAUSE_EXAMPLE, "resumed_at": "2026-04-03T10:00:00+00:00"}),
    EventType(
        "revenue.period_closed", "Period closed",
        "The books were closed through a day: nothing posts on or before it any more (a "
        "later event posts on the first open day).", "the close",
        {"period_close": ident("The close."),
         "closed_through": day("The last day of the closed period."),
         "previous_lock_date": day("The day the books were closed through before.",
                                   null=True),
         "closed_by": text("Who closed it."), "forced": {
             "type": "boolean", "description": "Whether a failing check was overridden."},
         "note": text("The note left with it.")},
        {"id": "bb2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
         "period_close": "bb2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
         "closed_through": "2026-02-28", "previous_lock_date": "2026-01-31",
         "closed_by": "ana@acme.test", "forced": False, "note": "February closed."}),
    EventType(
        "webhook.test", "Test message",
        "Sent only when someone asks to test an endpoint (the dashboard's \"Send a test "
        "message\", ``POST /webhook-endpoints/{endpoint_id}/test``), to that endpoint, "
        "whatever it subscribes to.", "the test message",
        {"endpoint": ident("The endpoint tested."), "message": text("A sentence.")},
        {"id": "cc3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
         "endpoint": "dd4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a",
         "message": "A test message from Zenskar billing."}),
)

BY_NAME: dict[str, EventType] = {event.name: event for event in EVENT_TYPES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
TEST_EVENT = "webhook.test"


def groups() -> list[tuple[str, list[EventType]]]:
    """The event types by their first word (``invoice``, ``payment``...), in catalogue
    order: the dashboard's picker."""
    found: dict[str, list[EventType]] = {}
    for event in EVENT_TYPES:
        found.setdefault(event.name.split(".")[0], []).append(event)
    return list(found.items())


def unknown(names: list[str]) -> list[str]:
    """The names that are not event types of the catalogue."""
    return [name for name in names if name not in BY_NAME]
