"""A segment's rules, checked and compiled to SQL.

A rule tree is a group ``{"match": "all" | "any", "rules": [...]}`` whose rules are
conditions or groups (at most ``MAX_DEPTH`` levels, ``MAX_CONDITIONS`` conditions in all).
A condition is ``{"field": ..., "op": ..., "value": ...}``; ``attribute`` also names its
``key``, ``failed_payments`` its ``days`` (default 30)::

    {"match": "all", "rules": [
        {"field": "days_past_due", "op": "gte", "value": 7},
        {"field": "country", "op": "eq", "value": "DE"}]}

Fields (``FIELDS``): of the customer -- ``country``, ``currency``, ``attribute`` (a custom
attribute; numbers compare as numbers, anything else as text), ``auto_collection`` (true when
the customer's invoices are charged to a saved card automatically), ``payment_terms_days``; of
the invoice -- ``days_past_due`` (negative before the due date), ``days_until_due``,
``amount_due``, ``total``, ``status``; of the customer's behaviour -- ``balance`` (what the
customer owes on open invoices in the invoice's currency; in the customer's currency for a
segment of customers only), ``failed_payments`` (failed payments in the last ``days`` days).

Days are counted at ``as_of``, a date in the organization's time zone. Everything becomes one
``Q`` over invoices (``invoice_filter``): a segment of customers (``members``) is the customers
with an open invoice that matches, or, when no condition is about an invoice, the customers
that match. Nothing is evaluated in Python: membership follows the data.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    In,
    LessThan,
    LessThanOrEqual,
    Regex,
)

from contracts.models import Customer
from invoicing.models import Invoice
from invoicing.selectors import OWING, invoice_is_owing
from payments.models import GatewayCustomer, Payment
from zenskar import bounds

MAX_DEPTH = 3
MAX_CONDITIONS = 30
MAX_VALUES = 100  # of an "in" list
MAX_DAYS = 36500
MAX_TEXT = 200
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
NUMBER = r"^-?[0-9]{1,18}(\.[0-9]{1,10})?$"

COMPARE = ("eq", "neq", "gt", "gte", "lt", "lte")
TEXT_OPS = ("eq", "neq", "in", "not_in")
FIELDS: dict[str, dict[str, Any]] = {
    "country": {"ops": TEXT_OPS, "kind": "country", "of": "customer",
                "label": "Country"},
    "currency": {"ops": TEXT_OPS, "kind": "currency", "of": "customer",
                 "label": "Currency"},
    "attribute": {"ops": (*COMPARE, "in", "not_in", "contains", "is_set", "not_set"),
                  "kind": "attribute", "of": "customer", "label": "Custom attribute"},
    "auto_collection": {"ops": ("eq",), "kind": "boolean", "of": "customer",
                        "label": "Auto-collection"},
    "payment_terms_days": {"ops": COMPARE, "kind": "days", "of": "customer",
                           "label": "Payment terms (days)"},
    "days_past_due": {"ops": COMPARE, "kind": "days", "of": "invoice",
                      "label": "Days past due"},
    "days_until_due": {"ops": COMPARE, "kind": "days", "of": "invoice",
                       "label": "Days until due"},
    "amount_due": {"ops": COMPARE, "kind": "amount", "of": "invoice", "label": "Amount due"},
    "total": {"ops": COMPARE, "kind": "amount", "of": "invoice", "label": "Invoice total"},
    "status": {"ops": TEXT_OPS, "kind": "status", "of": "invoice", "label": "Invoice status"},
    "balance": {"ops": COMPARE, "kind": "amount", "of": "behaviour",
                "label": "Balance owed"},
    "failed_payments": {"ops": COMPARE, "kind": "count", "of": "behaviour",
                        "label": "Failed payments in the last N days"},
}
OP_LABELS = {"eq": "is", "neq": "is not", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
             "in": "is one of", "not_in": "is none of", "contains": "contains",
             "is_set": "is set", "not_set": "is not set"}
STATUSES = (Invoice.Status.FINALIZED, Invoice.Status.PAID, Invoice.Status.UNCOLLECTIBLE)
_LOOKUPS = {"eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan,
            "lte": LessThanOrEqual}


# --- checking --------------------------------------------------------------------------------


def _problem(path: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({"rules": [ValidationError(f"{path}: {message}", code=code)]})


def parse(tree: Any) -> dict[str, Any]:
    """``tree`` checked and normalized (values in their clean types, keys in a fixed order),
    or a ValidationError naming the rule ("rules.1.value: ...")."""
    counted = [0]
    clean = _group(tree, "rules", 1, counted)
    if counted[0] == 0:
        raise _problem("rules", "Add at least one condition.", "empty")
    return clean


def _group(node: Any, path: str, depth: int, counted: list[int]) -> dict[str, Any]:
    if not isinstance(node, dict) or set(node) - {"match", "rules"}:
        raise _problem(path, "A group is {'match': 'all' or 'any', 'rules': [...]}.")
    if depth > MAX_DEPTH:
        raise _problem(path, f"Groups nest at most {MAX_DEPTH} levels.", "too_deep")
    match = node.get("match", "all")
    if match not in ("all", "any"):
        raise _problem(f"{path}.match", "'all' or 'any'.")
    rules = node.get("rules")
    if not isinstance(rules, list):
        raise _problem(f"{path}.rules", "A list of conditions or groups.")
    clean = []
    for index, rule in enumerate(rules):
        where = f"{path}.{index}"
        if isinstance(rule, dict) and "match" in rule:
            clean.append(_group(rule, where, depth + 1, counted))
        else:
            counted[0] += 1
            if counted[0] > MAX_CONDITIONS:
                raise _problem(where, f"At most {MAX_CONDITIONS} conditions.", "too_many")
            clean.append(_condition(rule, where))
    return {"match": match, "rules": clean}


def _condition(rule: Any, path: str) -> dict[str, Any]:
    if not isinstance(rule, dict):
        raise _problem(path, "A condition is {'field': ..., 'op': ..., 'value': ...}.")
    field = rule.get("field")
    if field not in FIELDS:
        raise _problem(f"{path}.field", "One of " + ", ".join(FIELDS) + ".", "unknown_field")
    spec = FIELDS[field]
    allowed = {"field", "op", "value"} | ({"key"} if field == "attribute" else set()) | (
        {"days"} if field == "failed_payments" else set())
    if set(rule) - allowed:
        raise _problem(path, "Unknown keys: " + ", ".join(sorted(map(str, set(rule) - allowed)))
                       + ".")
    op = rule.get("op")
    if op not in spec["ops"]:
        raise _problem(f"{path}.op", f"For {field}: one of " + ", ".join(spec["ops"]) + ".",
                       "unknown_op")
    clean: dict[str, Any] = {"field": field, "op": op}
    if field == "attribute":
        key = rule.get("key")
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            raise _problem(f"{path}.key", "An attribute name: 1 to 64 letters, digits, "
                                          "'_', '.' or '-'.")
        clean["key"] = key
    if field == "failed_payments":
        clean["days"] = _whole(rule.get("days", 30), f"{path}.days", 1, MAX_DAYS)
    if op in ("is_set", "not_set"):
        return clean
    raw = rule.get("value")
    if op in ("in", "not_in"):
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_VALUES:
            raise _problem(f"{path}.value", f"A list of 1 to {MAX_VALUES} values.")
        clean["value"] = [_value(spec["kind"], item, f"{path}.value.{i}", str(op))
                          for i, item in enumerate(raw)]
    else:
        clean["value"] = _value(spec["kind"], raw, f"{path}.value", str(op))
    return clean


def _whole(raw: Any, path: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise _problem(path, f"A whole number from {low} to {high}.")
    try:
        number = int(raw)
    except ValueError:
        raise _problem(path, f"A whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise _problem(path, f"A whole number from {low} to {high}.", "out_of_bounds")
    return number


def _text(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TEXT or bounds.text_problem(raw):
        raise _problem(path, f"Text of 1 to {MAX_TEXT} characters.")
    return raw


def _value(kind: str, raw: Any, path: str, op: str) -> Any:
    if kind == "country":
        try:
            return bounds.country_code(_text(raw, path).upper())
        except bounds.BoundError as error:
            raise _problem(path, str(error)) from None
    if kind == "currency":
        code = _text(raw, path).upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise _problem(path, "A currency code such as EUR.")
        return code
    if kind == "status":
        if raw == "open":
            return Invoice.Status.FINALIZED.value
        if raw not in STATUSES:
            raise _problem(path, "One of open (finalized), paid, uncollectible.")
        return raw
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise _problem(path, "true or false.")
        return raw
    if kind in ("days", "count"):
        return _whole(raw, path, -MAX_DAYS if kind == "days" else 0, MAX_DAYS)
    if kind == "amount":  # kept as a decimal string (the rules are JSON)
        try:
            return str(bounds.amount(raw, allow_negative=True))
        except bounds.BoundError as error:
            raise _problem(path, str(error)) from None
    # an attribute: text, or a number for the comparisons
    if op in ("gt", "gte", "lt", "lte"):
        try:
            return str(bounds.price_number(raw, allow_negative=True))
        except bounds.BoundError as error:
            raise _problem(path, f"A number to compare with: {error}") from None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        raw = str(raw)
    return _text(raw, path)


def about_invoices(tree: dict[str, Any]) -> bool:
    """Whether any condition is about an invoice (or the balance owed in its currency)."""
    return any(about_invoices(rule) if "match" in rule else
               FIELDS[rule["field"]]["of"] == "invoice" for rule in tree["rules"])


def describe(tree: dict[str, Any]) -> str:
    """The rules in words: "days past due ≥ 7 and country is DE"."""
    parts = []
    for rule in tree["rules"]:
        if "match" in rule:
            parts.append(f"({describe(rule)})")
            continue
        label = FIELDS[rule["field"]]["label"].lower()
        if rule["field"] == "attribute":
            label = f"attribute {rule['key']}"
        if rule["field"] == "failed_payments":
            label = f"failed payments in the last {rule['days']} days"
        value = rule.get("value")
        shown = ", ".join(map(str, value)) if isinstance(value, list) else (
            "" if value is None else str(value))
        parts.append(" ".join(filter(None, [label, OP_LABELS[rule["op"]], shown])))
    return f" {'and' if tree['match'] == 'all' else 'or'} ".join(parts)


# --- compiling -------------------------------------------------------------------------------


OPEN = OWING  # what reminders chase: invoicing's definition of an invoice that owes


def open_invoices(organization: Any) -> QuerySet[Invoice]:
    """Invoices reminders are about: finalized, with money due and a due date."""
    return Invoice.objects.for_organization(organization).filter(OPEN, due_date__isnull=False)


def is_open(invoice: Invoice) -> bool:
    """``OPEN`` for one invoice in hand (its status and amount due as loaded)."""
    return invoice_is_owing(invoice)


def invoice_filter(tree: dict[str, Any], *, organization: Any, as_of: date,
                   now: datetime) -> Q:
    """The rules as one ``Q`` over invoices (customer fields through ``customer``)."""
    return _compile(tree, _Scope(organization, as_of, now, on_invoice=True))


def members(tree: dict[str, Any], *, organization: Any, as_of: date,
            now: datetime) -> QuerySet[Customer]:
    """The customers in the segment, now: with an open invoice that matches when a condition
    is about invoices, else the customers that match."""
    customers = Customer.objects.for_organization(organization)
    if about_invoices(tree):
        matching = open_invoices(organization).filter(
            invoice_filter(tree, organization=organization, as_of=as_of, now=now),
            customer=OuterRef("pk"))
        return customers.filter(Exists(matching))
    return customers.filter(_compile(tree, _Scope(organization, as_of, now, on_invoice=False)))


class _Scope:
    def __init__(self, organization: Any, as_of: date, now: datetime, *, on_invoice: bool):
        self.organization, self.as_of, self.now = organization, as_of, now
        self.prefix = "customer__" if on_invoice else ""
        self.customer_ref = OuterRef("customer_id") if on_invoice else OuterRef("pk")
        self.on_invoice = on_invoice


def _compile(tree: dict[str, Any], scope: _Scope) -> Q:
    parts = [_compile(rule, scope) if "match" in rule else _leaf(rule, scope)
             for rule in tree["rules"]]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if tree["match"] == "all" else combined | part
    return combined


def _compare(left: Any, op: str, value: Any) -> Q:
    if op == "neq":
        return ~Q(Exact(left, value))
    return Q(_LOOKUPS[op](left, value))


def _leaf(rule: dict[str, Any], scope: _Scope) -> Q:
    field, op = rule["field"], rule["op"]
    value: Any = rule.get("value")
    p = scope.prefix
    if field in ("country", "currency", "status"):
        column = f"{p}{field}" if field != "status" else "status"
        if op in ("in", "not_in"):
            q = Q(**{f"{column}__in": value})
            return q if op == "in" else ~q
        return Q(**{column: value}) if op == "eq" else ~Q(**{column: value})
    if field == "payment_terms_days":
        return _compare(F(f"{p}payment_terms_days"), op, value)
    if field == "auto_collection":
        # auto-collected unless the customer's gateway record says otherwise
        manual = GatewayCustomer.objects.for_organization(scope.organization).filter(
            customer_id=scope.customer_ref, auto_collect=False)
        return ~Q(Exists(manual)) if value else Q(Exists(manual))
    if field == "attribute":
        return _attribute(rule, scope)
    if field in ("days_past_due", "days_until_due"):
        # days past due = as_of - due_date; compared as a date, so an index can serve it
        sign = 1 if field == "days_past_due" else -1
        flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq",
                   "neq": "neq"}[op] if sign == 1 else op
        return _compare(F("due_date"), flipped, scope.as_of - timedelta(days=sign * value))
    if field in ("amount_due", "total"):
        return _compare(F(field), op, Decimal(value))
    if field == "balance":
        owed = Invoice.objects.for_organization(scope.organization).filter(
            customer_id=scope.customer_ref,
            status=Invoice.Status.FINALIZED,
            currency=OuterRef("currency"),
        ).order_by().values("customer_id").annotate(owed=Sum("amount_due")).values("owed")
        amount = DecimalField(max_digits=20, decimal_places=4)
        return _compare(Coalesce(Subquery(owed, output_field=amount), Value(Decimal(0)),
                                 output_field=amount), op, Decimal(value))
    if field == "failed_payments":
        failed = Payment.objects.for_organization(scope.organization).filter(
            customer_id=scope.customer_ref,
            status=Payment.Status.FAILED, created_at__gte=scope.now - timedelta(days=rule["days"]),
        ).order_by().values("customer_id").annotate(n=Count("id")).values("n")
        return _compare(Coalesce(Subquery(failed), Value(0)), op, value)
    raise AssertionError(field)  # pragma: no cover -- parse() admits only FIELDS


def _attribute(rule: dict[str, Any], scope: _Scope) -> Q:
    op, key = rule["op"], rule["key"]
    value: Any = rule.get("value")
    text = KeyTextTransform(key, f"{scope.prefix}attributes")
    has = Q(**{f"{scope.prefix}attributes__has_key": key})
    if op == "is_set":
        return has
    if op == "not_set":
        return ~has
    if op in ("in", "not_in"):
        q = Q(In(text, value))
        return q if op == "in" else ~q | ~has
    if op == "contains":
        return Q(IContains(text, value))
    if op in ("gt", "gte", "lt", "lte"):
        # text that is not a number never matches (and never breaks the query)
        number = Case(When(Q(Regex(text, NUMBER)),
                           then=Cast(text, DecimalField(max_digits=30, decimal_places=10))),
                      default=None, output_field=DecimalField(max_digits=30, decimal_places=10))
        return Q(_LOOKUPS[op](number, Decimal(value)))
    equal = Q(Exact(text, value))
    return equal if op == "eq" else ~equal | ~has

