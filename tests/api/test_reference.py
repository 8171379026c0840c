"""The published API reference is one engineers can build against: generated without a warning,
every operation summarised and described (with the roles that may call it), every body
documented, every 4xx an operation answers listed with the one error body, and every list
filter a view reads declared."""

from __future__ import annotations

import inspect
import re

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from rest_framework.test import APIClient

from zenskar.api.docs import SchemaView
from zenskar.api.schema import EXPLICITLY_BODYLESS, ROLES_MARK

METHODS = {"get", "post", "put", "patch", "delete"}
BODIES = {"post", "put", "patch"}
WRITES = BODIES | {"delete"}


@pytest.fixture(scope="module")
def generation():
    """The schema, and the warnings and errors drf-spectacular emitted while generating it."""
    GENERATOR_STATS.reset()
    EXPLICITLY_BODYLESS.clear()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    found = {"warnings": list(GENERATOR_STATS._warn_cache),
             "errors": list(GENERATOR_STATS._error_cache)}
    GENERATOR_STATS.reset()
    return schema, found


@pytest.fixture(scope="module")
def schema(generation):
    return generation[0]


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _missing(schema, wanted) -> list[str]:
    return [f"{method.upper()} {path}" for path, method, operation in _operations(schema)
            if wanted(path, method, operation)]


def test_the_schema_generates_without_a_warning_or_an_error(generation):
    _, found = generation
    assert found == {"warnings": [], "errors": []}


def test_the_reference_covers_the_whole_api(schema):
    assert len(list(_operations(schema))) >= 150


def test_every_operation_has_a_summary(schema):
    assert _missing(schema, lambda p, m, op: not op.get("summary", "").strip()) == []


def test_every_operation_says_what_it_does_and_who_may_call_it(schema):
    def lacking(path, method, operation):
        description = operation.get("description", "")
        what, mark, _ = description.partition(ROLES_MARK)
        return not what.strip() or not mark

    assert _missing(schema, lacking) == []


def test_every_write_documents_its_body_unless_its_view_says_it_takes_none(schema):
    bodyless = set(EXPLICITLY_BODYLESS)  # recorded by the generation of ``schema``

    def lacking(path, method, operation):
        if method not in BODIES or (path, method) in bodyless:
            return False
        content = operation.get("requestBody", {}).get("content", {})
        return not any(media.get("schema") for media in content.values())

    assert _missing(schema, lacking) == []
    assert ("/api/v1/contracts/{contract_id}/activate", "post") in bodyless  # the check bites


def _documents(operation, status: str) -> bool:
    response = operation["responses"].get(status)
    if response is None:
        return False
    body = response.get("content", {}).get("application/json", {}).get("schema", {})
    return body == {"$ref": "#/components/schemas/Error"}


def test_every_operation_documents_401_403_and_429_with_the_error_body(schema):
    for status in ("401", "403", "429"):
        assert _missing(schema, lambda p, m, op, s=status: not _documents(op, s)) == [], status


def test_every_write_documents_400(schema):
    assert _missing(schema, lambda p, m, op: m in WRITES and not _documents(op, "400")) == []


def test_every_operation_naming_an_object_documents_404(schema):
    assert _missing(schema, lambda p, m, op: "{" in p and not _documents(op, "404")) == []


def test_an_operation_without_an_object_documents_404_only_when_it_can_answer_it(schema):
    unexpected = _missing(schema, lambda p, m, op: "{" not in p and "404" in op["responses"])
    assert sorted(unexpected) == [
        "GET /api/v1/entitlements/batch-check", "GET /api/v1/entitlements/check",
        "GET /api/v1/gateway", "POST /api/v1/checkout-sessions",
        "POST /api/v1/entitlements/consume",
    ]


def test_every_post_documents_409_and_the_idempotency_key(schema):
    def lacking(path, method, operation):
        names = {p["name"] for p in operation.get("parameters", [])}
        return method == "post" and (not _documents(operation, "409")
                                     or "Idempotency-Key" not in names)

    assert _missing(schema, lacking) == []
    # the code raises a conflict only for a reused Idempotency-Key: never on another method
    assert _missing(schema, lambda p, m, op: m != "post" and "409" in op["responses"]) == []


def test_the_error_body_is_one_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"type", "message", "fields", "codes", "retry_after"}
    assert set(detail["required"]) == {"type", "message"}


# --- The filters the views read ----------------------------------------------------------------

# Filters read by helpers outside the view's method (checked by hand against those helpers).
FILTERS = {
    "/api/v1/invoices": {"status", "customer", "contract", "from", "to", "overdue"},
    "/api/v1/billing-failures": {"status", "stage", "contract"},
    "/api/v1/usage": {"meter", "start", "end", "customer", "group_by", "granularity",
                      "time_zone"},
    "/api/v1/events": {"customer", "event_name"},
    "/api/v1/payments": {"customer", "invoice", "status"},
    "/api/v1/credit-notes": {"invoice", "customer"},
    "/api/v1/contracts": {"status", "customer"},
    "/api/v1/customers": {"external_id", "search"},
    "/api/v1/reminders": {"invoice", "customer", "status"},
    "/api/v1/receivables/aging": {"as_of"},
    "/api/v1/entitlements/check": {"customer", "feature", "amount"},
    "/api/v1/entitlements/batch-check": {"customer", "features"},
    "/api/v1/revenue/schedules": {"invoice"},
    "/api/v1/revenue/journal": {"from", "to", "account", "source_type", "currency", "invoice",
                                "customer", "payment", "credit_note", "product"},
}
PAGINATION = {"cursor", "limit"}

_READS = re.compile(r"""(?:query_params|params)(?:\.get\(|\[)\s*["'](\w+)["']|"""
                    r"""_(?:ref|moment)\(request,\s*["'](\w+)["']""")


def _declared(schema, path) -> set[str]:
    return {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])
            if p["in"] == "query"}


@pytest.mark.parametrize("path", sorted(FILTERS))
def test_the_filters_of_a_list_are_declared(schema, path):
    assert FILTERS[path] <= _declared(schema, path)


def test_every_filter_a_view_reads_itself_is_declared(schema):
    undeclared = []
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        if method != "GET" or path not in schema["paths"]:
            continue
        source = inspect.getsource(callback.cls.get)
        read = {a or b for a, b in _READS.findall(source)} - PAGINATION
        undeclared += [f"{path}?{name}" for name in read - _declared(schema, path)]
    assert undeclared == []


def test_the_invoice_and_billing_failure_lists_declare_their_contract_filter(schema):
    for path in ("/api/v1/invoices", "/api/v1/billing-failures"):
        contract = next(p for p in schema["paths"][path]["get"]["parameters"]
                        if p["name"] == "contract")
        assert contract["schema"] == {"type": "string", "format": "uuid"}


def test_a_list_that_is_not_paginated_declares_no_cursor(schema):
    for path in ("/api/v1/tax-rates", "/api/v1/contracts/{contract_id}/phases",
                 "/api/v1/customers/{customer_id}/payment-methods"):
        assert not PAGINATION & _declared(schema, path), path


# --- Usage events -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "component"), [("/api/v1/events", "EventInRequest"),
                                                  ("/api/v1/events/batch", "EventBatchInRequest")])
def test_the_event_endpoints_document_the_event_with_an_example(schema, path, component):
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": f"#/components/schemas/{component}"}
    assert body["examples"]
    event = schema["components"]["schemas"]["EventInRequest"]
    assert set(event["properties"]) == {"event_id", "customer", "event_name", "timestamp",
                                        "properties"}
    assert set(event["required"]) == {"event_id", "customer", "event_name", "timestamp"}


# --- Serving it -------------------------------------------------------------------------------


def test_the_schema_is_generated_once_per_process(monkeypatch):
    client = APIClient()
    first = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    def refuse(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr(SchemaView, "generator_class", refuse)
    again = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


def test_the_docs_page_links_back_to_the_dashboard(client):
    html = client.get("/api/docs/").content.decode()

    assert 'href="/"' in html and "Back to the dashboard" in html
