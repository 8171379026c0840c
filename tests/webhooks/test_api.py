"""The webhooks API as an integrator uses it: endpoints (bounded, checked, secrets shown to
admins only), the delivery log with its filters, replays, and another organization's
objects, which are never there (404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.webhooks import dispatch_and_send, endpoint
from zenskar.tenancy.models import Role
from zenskar.webhooks import services
from zenskar.webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def refusal(response, field: str) -> list[str]:
    assert response.status_code == 400, response.json()
    body = response.json()["error"]
    assert body["type"] == "invalid_request"
    return body["codes"][field]


def an_invoice(scenario, memo: str = "Setup") -> dict:
    return scenario.post("invoices", {"customer": "acme", "memo": memo, "lines": [
        {"description": memo, "quantity": "1", "unit_price": "10.00"}]})


@pytest.fixture
def acme(scenario, clock):
    clock.at(T0)
    scenario.customer("acme")
    return scenario


# --- Endpoints ------------------------------------------------------------------------------


def test_an_endpoint_is_created_and_its_secret_is_shown_to_admins_only(tenant, receiver):
    created = endpoint(tenant, receiver.url, event_types=["invoice.finalized",
                                                          "payment.succeeded"])
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["event_types"], created["enabled"]) == (
        receiver.url, ["invoice.finalized", "payment.succeeded"], True)

    admin, viewer = tenant.client(Role.ADMIN), tenant.client(Role.VIEWER)
    listed = viewer.get("/api/v1/webhook-endpoints").json()["results"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in viewer.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    secret_path = f"/api/v1/webhook-endpoints/{created['id']}/secret"
    for role in (Role.VIEWER, Role.FINANCE):
        refused = tenant.client(role).get(secret_path)
        assert refused.status_code == 403 and refused.json()["error"]["type"] == \
            "permission_denied"
    assert admin.get(secret_path).json()["secret"] == created["secret"]


def test_only_owners_and_admins_change_endpoints(tenant, receiver):
    created = endpoint(tenant, receiver.url)
    finance = tenant.client(Role.FINANCE)
    for call in (lambda: finance.post("/api/v1/webhook-endpoints", {"url": receiver.url},
                                      format="json"),
                 lambda: finance.patch(f"/api/v1/webhook-endpoints/{created['id']}",
                                       {"enabled": False}, format="json"),
                 lambda: finance.delete(f"/api/v1/webhook-endpoints/{created['id']}"),
                 lambda: finance.post(f"/api/v1/webhook-endpoints/{created['id']}/"
                                      "rotate-secret", {}, format="json")):
        assert call().status_code == 403
    with tenant.context():
        row = Endpoint.objects.for_organization(tenant.organization).get()
    assert row.enabled


@pytest.mark.parametrize(("body", "field", "code"), [
    pytest.param({"url": "ftp://hooks.acme.test/x"}, "url", "invalid_scheme", id="ftp"),
    pytest.param({"url": "https://user:pw@127.0.0.1/x"}, "url", "credentials_in_url",
                 id="credentials"),
    pytest.param({"url": "http://127.0.0.1:8000/x" + "a" * 2000}, "url", "max_length",
                 id="too-long"),
    pytest.param({"url": ""}, "url", "required", id="empty"),
    pytest.param({"url": "http://127.0.0.1/x", "event_types": ["invoice.paid"]},
                 "event_types", "unknown_event_type", id="unknown-event-type"),
    pytest.param({"url": "http://127.0.0.1/x", "description": "d" * 501}, "description",
                 "max_length", id="long-description"),
])
def test_a_bad_endpoint_is_refused_with_the_field_and_nothing_is_written(
        tenant, settings, body, field, code):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    response = tenant.client().post("/api/v1/webhook-endpoints", body, format="json")
    assert code in refusal(response, field)
    with tenant.context():
        assert not Endpoint.objects.for_organization(tenant.organization).exists()


def test_loopback_is_refused_when_private_networks_are_not_allowed(tenant, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    client = tenant.client()
    for url in ("http://127.0.0.1:8000/hooks", "http://localhost/hooks",
                "http://169.254.169.254/latest", "http://10.0.0.5/hooks"):
        response = client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
        assert refusal(response, "url") == ["address_not_allowed"], url
        assert "not a public address" in response.json()["error"]["fields"]["url"][0]
    with tenant.context():
        assert not Endpoint.objects.for_organization(tenant.organization).exists()


def test_an_endpoint_whose_dns_answer_changes_to_loopback_gets_a_failed_attempt(
        acme, tenant, settings, monkeypatch, receiver):
    """Saved while its name resolved to a public address; by the time of sending it
    resolves to loopback: the attempt is refused by the guard, recorded as failed, and
    nothing reaches the loopback receiver."""
    import socket

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    real = socket.getaddrinfo
    answer = {"address": "93.184.215.14"}  # a public address, at first

    def resolve(host, port, *args, **kwargs):
        if host == "hooks.acme.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = receiver.url.split(":")[2].split("/")[0]
    hook = endpoint(tenant, f"http://hooks.acme.test:{port}/hooks/zenskar")
    answer["address"] = "127.0.0.1"  # the DNS answer changes
    an_invoice(acme)

    dispatch_and_send(tenant)

    assert receiver.requests == []
    detail = tenant.client().get("/api/v1/webhook-deliveries", {"endpoint": hook["id"]})
    [row] = detail.json()["results"]
    attempt = tenant.client().get(f"/api/v1/webhook-deliveries/{row['id']}").json()[
        "attempts"][0]
    assert (row["status"], attempt["succeeded"], attempt["response_status"]) == (
        "pending", False, None)
    assert attempt["error"] == ("The address is not allowed: The host 'hooks.acme.test' "
                                "resolves to 127.0.0.1, which is not a public address.")


def test_an_organization_has_at_most_so_many_endpoints(tenant, receiver, monkeypatch):
    monkeypatch.setattr(services, "MAX_ENDPOINTS", 2)
    endpoint(tenant, receiver.url)
    endpoint(tenant, receiver.url)
    response = tenant.client().post("/api/v1/webhook-endpoints", {"url": receiver.url},
                                    format="json")
    assert refusal(response, "url") == ["too_many_endpoints"]


def test_the_event_types_are_listed_with_what_they_mean(tenant):
    listed = tenant.client(Role.VIEWER).get("/api/v1/webhook-event-types").json()["results"]
    names = [event["name"] for event in listed]
    assert names[:2] == ["invoice.created", "invoice.finalized"]
    assert "revenue.period_closed" in names and len(names) == len(set(names))
    assert all(event["title"] and event["description"] for event in listed)


# --- The log ---------------------------------------------------------------------------------


def test_the_delivery_log_filters_by_status_event_type_and_endpoint(acme, tenant, receiver,
                                                                    clock):
    ok = endpoint(tenant, receiver.url + "?ok")
    failing = endpoint(tenant, "http://127.0.0.1:9/nothing-listens")
    an_invoice(acme)
    acme.post(f"invoices/{an_invoice(acme, 'Second')['id']}/finalize", {}, status=200)
    dispatch_and_send(tenant)  # 3 events x 2 endpoints

    client = tenant.client(Role.VIEWER)

    def listed(**params):
        response = client.get("/api/v1/webhook-deliveries", params)
        assert response.status_code == 200, response.json()
        return response.json()["results"]

    assert len(listed()) == 6
    assert {d["endpoint"] for d in listed(status="succeeded")} == {ok["id"]}
    assert {d["endpoint"] for d in listed(status="pending")} == {failing["id"]}
    assert [d["event_type"] for d in listed(event_type="invoice.finalized")] == [
        "invoice.finalized"] * 2
    assert len(listed(endpoint=ok["id"], limit=2)) == 2
    page = client.get("/api/v1/webhook-deliveries", {"limit": 4}).json()
    assert len(page["results"]) == 4 and page["next"]
    assert "status" in client.get("/api/v1/webhook-deliveries", {"status": "lost"}).json()[
        "error"]["fields"]
    assert "event_type" in client.get("/api/v1/webhook-deliveries",
                                      {"event_type": "invoice.paid"}).json()["error"]["fields"]


def test_replaying_the_failed_deliveries_since_a_day_queues_each_once(acme, tenant, receiver,
                                                                      clock):
    hook = endpoint(tenant, receiver.url)
    receiver.status = 500
    an_invoice(acme)
    an_invoice(acme, "Second")
    dispatch_and_send(tenant)  # the first fails; the second waits for the next run
    with tenant.context():  # as if both had run out of retries
        Delivery.objects.for_organization(tenant.organization).filter(
            endpoint_id=hook["id"]).update(
            status="failed", next_attempt_at=None, ended_at=T0)
    receiver.status = 200
    client = tenant.client()
    path = f"/api/v1/webhook-endpoints/{hook['id']}/replay"

    first = client.post(path, {"since": "2026-05-04T00:00:00Z"}, format="json")
    again = client.post(path, {"since": "2026-05-04T00:00:00Z"}, format="json")

    assert (first.status_code, first.json()) == (202, {"replayed": 2})
    assert again.json() == {"replayed": 0}  # they are pending now: not queued twice
    assert dispatch_and_send(tenant) == 2
    assert [r.answered for r in receiver.requests] == [500, 200, 200]
    too_old = client.post(path, {"since": (T0 - timedelta(days=31)).isoformat()},
                          format="json")
    assert refusal(too_old, "since") == ["out_of_bounds"]
    with_succeeded = client.post(path, {"since": "2026-05-04T00:00:00Z",
                                        "include_succeeded": True}, format="json")
    assert with_succeeded.json() == {"replayed": 2}


def test_a_disabled_endpoint_cannot_be_replayed_or_tested(acme, tenant, receiver):
    hook = endpoint(tenant, receiver.url)
    an_invoice(acme)
    dispatch_and_send(tenant)
    client = tenant.client()
    client.patch(f"/api/v1/webhook-endpoints/{hook['id']}", {"enabled": False}, format="json")
    [row] = client.get("/api/v1/webhook-deliveries").json()["results"]
    for path in (f"/api/v1/webhook-deliveries/{row['id']}/replay",
                 f"/api/v1/webhook-endpoints/{hook['id']}/test"):
        assert refusal(client.post(path, {}, format="json"), "endpoint") == [
            "endpoint_disabled"]


# --- Disabled by its failures ------------------------------------------------------------------


def test_an_endpoint_failing_for_five_days_is_disabled_and_the_admins_are_told(
        acme, tenant, receiver, clock, smtp, make_user, django_capture_on_commit_callbacks):
    from zenskar.tenancy import services as tenancy

    admin = make_user("ops@acme.test")
    tenancy.membership_upsert(organization=tenant.organization, email=admin.email,
                              role=Role.ADMIN, actor_role=None)
    make_user("books@acme.test")
    tenancy.membership_upsert(organization=tenant.organization, email="books@acme.test",
                              role=Role.FINANCE, actor_role=None)
    hook = endpoint(tenant, receiver.url)
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        an_invoice(acme)  # 10 attempts over ~3 days: failed, the endpoint still enabled
        dispatch_and_send(tenant)
        for _ in range(9):
            with tenant.context():
                due = Delivery.objects.for_organization(tenant.organization).get(
                    endpoint_id=hook["id"]).next_attempt_at
            clock.at(due)
            dispatch_and_send(tenant)
        assert tenant.client().get(f"/api/v1/webhook-endpoints/{hook['id']}").json()[
            "enabled"] is True
        assert smtp.messages == []
        clock.at(T0 + timedelta(days=5, minutes=1))  # a new event 5 days after the first
        an_invoice(acme, "Later")  # failure: every attempt since T0 failed
        dispatch_and_send(tenant)

    after = tenant.client().get(f"/api/v1/webhook-endpoints/{hook['id']}").json()
    assert after["enabled"] is False
    assert after["disabled_reason"].startswith("Every attempt has failed since 2026-05-04 "
                                               "09:00 UTC (more than 5 days).")
    [mail] = smtp.messages
    owner = tenant.organization.memberships.get(role=Role.OWNER).user.email
    assert sorted(mail["To"].split(", ")) == sorted([owner, "ops@acme.test"])  # not finance
    assert mail["Subject"] == f"Webhook endpoint disabled: {receiver.url}"
    assert "Every attempt has failed since" in mail.get_content()


def test_an_endpoint_that_answers_410_gone_is_disabled_at_once(
        acme, tenant, receiver, smtp, django_capture_on_commit_callbacks):
    hook = endpoint(tenant, receiver.url)
    receiver.status = 410
    with django_capture_on_commit_callbacks(execute=True):
        an_invoice(acme)
        an_invoice(acme, "Second")
        dispatch_and_send(tenant)
    after = tenant.client().get(f"/api/v1/webhook-endpoints/{hook['id']}").json()
    assert after["enabled"] is False and "410 Gone" in after["disabled_reason"]
    assert len(receiver.requests) == 1  # the second was not sent: the endpoint is disabled
    assert len(smtp.messages) == 1


# --- Another organization --------------------------------------------------------------------


def test_another_organizations_endpoints_and_deliveries_are_not_found(
        acme, tenant, other_tenant, receiver):
    hook = endpoint(tenant, receiver.url)
    an_invoice(acme)
    dispatch_and_send(tenant)
    [row] = tenant.client().get("/api/v1/webhook-deliveries").json()["results"]
    globex = other_tenant.client(Role.ADMIN)

    assert globex.get("/api/v1/webhook-endpoints").json()["results"] == []
    assert globex.get("/api/v1/webhook-deliveries").json()["results"] == []
    assert globex.get("/api/v1/webhook-deliveries",
                      {"endpoint": hook["id"]}).json()["results"] == []
    base = f"/api/v1/webhook-endpoints/{hook['id']}"
    calls = [
        ("get", base, None), ("patch", base, {"enabled": False}), ("delete", base, None),
        ("get", f"{base}/secret", None), ("post", f"{base}/rotate-secret", {}),
        ("post", f"{base}/test", {}), ("post", f"{base}/replay", {"since": T0.isoformat()}),
        ("get", f"/api/v1/webhook-deliveries/{row['id']}", None),
        ("post", f"/api/v1/webhook-deliveries/{row['id']}/replay", {}),
    ]
    for method, path, body in calls:
        response = getattr(globex, method)(path, body, format="json") if body is not None \
            else getattr(globex, method)(path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["type"] == "not_found"
    mine = tenant.client().get(base).json()
    assert (mine["enabled"], mine["secret_rotated_at"]) == (True, None)  # nothing changed
    assert len(tenant.client().get("/api/v1/webhook-deliveries").json()["results"]) == 1
