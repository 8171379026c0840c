"""The Python client is held to the API's published schema: its types are the schema's (a
change of the API without ``clients/python/generate.py`` run again fails here, as a model
change without its migration fails ``makemigrations --check``), and every operation it calls
exists with that method, path, parameters and bodies."""

from __future__ import annotations

import re

import pytest
from zenskar_client import models
from zenskar_client.operations import ERROR, OPERATIONS

from tests.support.client import generate_script

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def generate():
    return generate_script()


@pytest.fixture(scope="module")
def schema(generate):
    return generate.api_schema()


def test_the_generated_types_are_those_of_the_schema(generate, schema):
    written = generate.MODELS.read_text()

    assert written == generate.render(schema), (
        "zenskar_client/models.py is out of date: run python clients/python/generate.py")


def test_the_types_cover_every_body_the_client_sends_or_reads(schema):
    named = {ERROR} | {name for op in OPERATIONS for name in (op.request, op.response) if name}

    assert named <= set(models.__all__)
    assert named <= set(schema["components"]["schemas"])


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_operation_the_client_calls_is_in_the_schema(schema, operation):
    item = schema["paths"].get(operation.path)
    assert item is not None, f"no path {operation.path}"
    documented = item.get(operation.method.lower())
    assert documented is not None, f"{operation.path} has no {operation.method}"
    parameters = documented.get("parameters", [])

    path_names = {p["name"] for p in parameters if p["in"] == "path"}
    assert path_names == set(re.findall(r"{(\w+)}", operation.path))
    query_names = {p["name"] for p in parameters if p["in"] == "query"}
    assert operation.query <= query_names
    required = {p["name"] for p in parameters if p["in"] == "query" and p.get("required")}
    assert required <= operation.query  # the client can send every parameter it must

    body = documented.get("requestBody", {}).get("content", {}).get("application/json", {})
    expected_body = {"$ref": REF + operation.request} if operation.request else None
    assert body.get("schema") == expected_body
    for status in operation.statuses:
        answer = documented["responses"][str(status)]["content"]["application/json"]
        assert answer["schema"] == {"$ref": REF + operation.response}
    error = documented["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": REF + ERROR}


@pytest.mark.parametrize(("schema", "python"), [
    ({"type": "string", "nullable": True}, "str | None"),  # OpenAPI 3.0
    ({"type": ["string", "null"]}, "str | None"),  # 3.1
    ({"type": ["object", "null"], "additionalProperties": {}}, "dict[str, Any] | None"),
    ({"oneOf": [{"$ref": "#/components/schemas/Money"}, {"type": "null"}]}, "Money | None"),
    ({"type": ["integer", "string"]}, "Any"),  # two kinds: no single type
], ids=["3.0-nullable", "3.1-type-list", "3.1-object", "3.1-oneOf-null", "two-kinds"])
def test_a_value_that_may_be_null_is_typed_optional_in_either_openapi_version(
        generate, schema, python):
    assert generate.annotation(schema) == python
