import json
import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_is_404_in_the_error_shape(tenant):
    response = tenant.client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"type": "not_found", "message": "No resource at /api/v1/no-such-thing."}
    }


def test_a_wrong_method_is_405_in_the_error_shape(tenant):
    response = tenant.client().put("/api/v1/organization", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_400(tenant):
    response = tenant.client().post(
        "/api/v1/api-keys", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request"


def test_validation_errors_name_each_field(tenant):
    response = tenant.client().post(
        "/api/v1/members", {"email": "not-an-email", "role": "emperor"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert set(error["fields"]) == {"email", "role"}
    assert error["message"].startswith("email: ")


def test_lists_are_cursor_paginated(tenant):
    client = tenant.client()
    for i in range(3):
        client.post("/api/v1/api-keys", {"name": f"k{i}"}, format="json")
    first = client.get("/api/v1/api-keys?limit=2").json()
    assert len(first["results"]) == 2 and first["next"] and "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    # 3 created here + the admin key the client itself uses = 4
    names = [r["name"] for r in first["results"] + second["results"]]
    assert len(names) == len(set(names)) == 4


def test_the_openapi_schema_is_public_and_describes_the_api():
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/api-keys" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_the_schema_answers_in_the_format_asked_for_each_time_the_same():
    client = APIClient()
    as_json = [client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
               for _ in range(2)]
    as_yaml = [client.get("/api/v1/schema/") for _ in range(2)]

    assert [r["Content-Type"] for r in as_json] == ["application/vnd.oai.openapi+json"] * 2
    assert as_json[0].content == as_json[1].content  # rendered once, served again
    assert as_yaml[0]["Content-Type"].startswith("application/vnd.oai.openapi")
    assert as_yaml[0].content == as_yaml[1].content
    assert as_yaml[0].content.startswith(b"openapi: 3.")
    assert json.loads(as_json[0].content)["info"]["title"] in as_yaml[0].content.decode()
    assert 'filename="' in as_yaml[0]["Content-Disposition"]


def test_the_api_docs_work_offline(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if u.startswith("http")]
    assert external == []
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
