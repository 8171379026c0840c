"""Webhooks as a tenant's receiver sees them: a real HTTP server on loopback gets each event,
signed by the Standard Webhooks scheme (checked by a verifier written from the specification,
``tests.support.webhooks.verified_by``), retried on the schedule with the same
``webhook-id`` until it answers 2xx, never sent to a disabled endpoint, replayed with the
same id, signed with both secrets during a rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.webhooks import dispatch_and_send, endpoint, verified_by
from zenskar.webhooks import delivery as sending
from zenskar.webhooks import schedule
from zenskar.webhooks.models import Delivery, DeliveryAttempt, Endpoint, OutboxEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def acme(scenario, clock):
    """Acme's customer, and the clock at T0."""
    clock.at(T0)
    scenario.customer("acme")
    return scenario


def an_invoice(scenario, memo: str = "Setup") -> dict:
    """A one-off draft invoice made through the API: one ``invoice.created`` event."""
    return scenario.post("invoices", {"customer": "acme", "memo": memo, "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "250.00"}]})


def deliveries(tenant, **filters) -> list[Delivery]:
    with tenant.context():
        return list(Delivery.objects.for_organization(tenant.organization).filter(**filters)
                    .order_by("created_at"))


def attempts(tenant, delivery: Delivery) -> list[DeliveryAttempt]:
    with tenant.context():
        return list(DeliveryAttempt.objects.for_organization(tenant.organization).filter(
            delivery=delivery).order_by("number"))


def test_an_event_is_posted_signed_as_the_standard_says(acme, tenant, receiver):
    hook = endpoint(tenant, receiver.url)
    invoice = an_invoice(acme)

    assert dispatch_and_send(tenant) == 1

    [request] = receiver.requests
    assert verified_by(request, [hook["secret"]]) == [hook["secret"]]
    with tenant.context():
        event = OutboxEvent.objects.get(organization=tenant.organization,
                                        event_type="invoice.created")
    assert request.headers["webhook-id"] == f"msg_{event.id.hex}"
    assert request.headers["webhook-timestamp"] == str(int(T0.timestamp()))
    assert request.headers["content-type"] == "application/json"
    message = request.message
    assert (message["type"], message["timestamp"]) == ("invoice.created",
                                                       "2026-05-04T09:00:00Z")
    # data: the payload, with the id of the invoice it is about
    assert message["data"]["id"] == message["data"]["invoice"] == invoice["id"]
    assert (message["data"]["status"], message["data"]["total"]) == ("draft", "250.00")
    [row] = deliveries(tenant)
    assert (row.status, row.attempts_made, row.next_attempt_at) == ("succeeded", 1, None)


def test_the_secret_has_at_least_24_random_bytes_after_whsec(acme, tenant, receiver):
    import base64

    secrets = {endpoint(tenant, receiver.url)["secret"] for _ in range(3)}
    assert len(secrets) == 3
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24


def test_a_receiver_that_fails_three_times_gets_the_event_on_the_fourth_try(
        acme, tenant, receiver, clock):
    endpoint(tenant, receiver.url)
    receiver.fail_next(3, status=503)
    an_invoice(acme)

    dispatch_and_send(tenant)  # attempt 1 at T0: 503
    [row] = deliveries(tenant)
    # the first retry is 5 s later, +-10 %: between 4.5 s and 5.5 s
    assert T0 + timedelta(seconds=4.5) <= row.next_attempt_at <= T0 + timedelta(seconds=5.5)
    clock.at(row.next_attempt_at - timedelta(microseconds=1))
    assert dispatch_and_send(tenant) == 0  # not yet due: nothing is sent early
    for expected in (timedelta(minutes=5), timedelta(minutes=30)):  # attempts 2 and 3: 503
        clock.at(row.next_attempt_at)
        assert dispatch_and_send(tenant) == 1
        before = row.next_attempt_at
        [row] = deliveries(tenant)
        assert expected * 0.9 <= row.next_attempt_at - before <= expected * 1.1
    clock.at(row.next_attempt_at)
    assert dispatch_and_send(tenant) == 1  # attempt 4: 200

    assert [r.answered for r in receiver.requests] == [503, 503, 503, 200]
    assert len({r.id for r in receiver.requests}) == 1  # the same webhook-id every time
    assert len({r.body for r in receiver.requests}) == 1  # the same body
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4  # each attempt's own time
    [row] = deliveries(tenant)
    assert (row.status, row.attempts_made) == ("succeeded", 4)
    log = attempts(tenant, row)
    assert [(a.number, a.response_status, a.succeeded) for a in log] == [
        (1, 503, False), (2, 503, False), (3, 503, False), (4, 200, True)]
    assert log[0].error == "The endpoint answered HTTP 503."
    assert log[0].response_excerpt == "not now"
    assert all(a.attempted_at >= a.due_at for a in log)


def test_a_delivery_that_never_succeeds_fails_after_the_last_retry(acme, tenant, receiver,
                                                                   clock):
    endpoint(tenant, receiver.url)
    receiver.status = 500
    an_invoice(acme)
    dispatch_and_send(tenant)
    for _ in range(schedule.MAX_ATTEMPTS - 1):
        [row] = deliveries(tenant)
        clock.at(row.next_attempt_at)
        assert dispatch_and_send(tenant) == 1
    [row] = deliveries(tenant)
    assert (row.status, row.attempts_made, row.next_attempt_at) == ("failed", 10, None)
    # 10 attempts over the schedule's 75 h 35 min 5 s, each delay within +-10 %
    span = row.ended_at - T0
    assert schedule.TOTAL * 0.9 <= span <= schedule.TOTAL * 1.1
    clock.at(T0 + timedelta(days=10))
    assert dispatch_and_send(tenant) == 0  # failed is final (a replay may send it again)


def test_a_disabled_endpoint_receives_nothing(acme, tenant, receiver, clock):
    on = endpoint(tenant, receiver.url + "?to=on")
    off = endpoint(tenant, receiver.url + "?to=off")
    answer = tenant.client().patch(f"/api/v1/webhook-endpoints/{off['id']}",
                                   {"enabled": False}, format="json")
    assert answer.status_code == 200
    assert answer.json()["enabled"] is False
    assert answer.json()["disabled_reason"].startswith("Disabled by api key zk_")
    an_invoice(acme)

    dispatch_and_send(tenant)

    assert [r.path for r in receiver.requests] == ["/hooks/zenskar?to=on"]
    assert [str(d.endpoint_id) for d in deliveries(tenant)] == [on["id"]]


def test_pending_deliveries_of_an_endpoint_disabled_later_wait_until_it_is_enabled(
        acme, tenant, receiver, clock):
    hook = endpoint(tenant, receiver.url)
    receiver.fail_next(1)
    an_invoice(acme)
    dispatch_and_send(tenant)  # attempt 1 fails: the delivery is pending
    client = tenant.client()
    client.patch(f"/api/v1/webhook-endpoints/{hook['id']}", {"enabled": False}, format="json")
    clock.at(T0 + timedelta(hours=1))  # long past the retry's due time
    an_invoice(acme, memo="Second")  # written while disabled: no delivery for it

    assert dispatch_and_send(tenant) == 0
    assert len(receiver.requests) == 1
    assert len(deliveries(tenant)) == 1

    client.patch(f"/api/v1/webhook-endpoints/{hook['id']}", {"enabled": True}, format="json")
    assert dispatch_and_send(tenant) == 1  # the one that waited
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert receiver.requests[0].id == receiver.requests[1].id


def test_replay_sends_the_same_message_with_the_same_id(acme, tenant, receiver, clock):
    hook = endpoint(tenant, receiver.url)
    an_invoice(acme)
    dispatch_and_send(tenant)
    [row] = deliveries(tenant)

    clock.at(T0 + timedelta(hours=2))
    answer = tenant.client().post(f"/api/v1/webhook-deliveries/{row.id}/replay", {},
                                  format="json")
    assert answer.status_code == 202
    assert answer.json()["status"] == "pending"
    assert dispatch_and_send(tenant) == 1

    first, again = receiver.requests
    assert again.id == first.id and again.body == first.body
    assert int(again.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) \
        == 7200  # signed at its own time: two hours later
    assert verified_by(again, [hook["secret"]]) == [hook["secret"]]
    detail = tenant.client().get(f"/api/v1/webhook-deliveries/{row.id}").json()
    assert [(a["number"], a["trigger"], a["succeeded"]) for a in detail["attempts"]] == [
        (1, "schedule", True), (2, "replay", True)]
    assert (detail["status"], detail["replays"], detail["message_id"]) == (
        "succeeded", 1, first.id)


def test_a_rotation_signs_with_both_secrets_until_the_old_one_expires(acme, tenant, receiver,
                                                                      clock):
    hook = endpoint(tenant, receiver.url)
    old = hook["secret"]
    rotated = tenant.client().post(f"/api/v1/webhook-endpoints/{hook['id']}/rotate-secret",
                                   {"previous_secret_valid_hours": 24}, format="json")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret"] == old
    assert rotated.json()["previous_secret_expires_at"] == "2026-05-05T09:00:00Z"  # T0 + 24 h

    an_invoice(acme)
    dispatch_and_send(tenant)
    request = receiver.requests[-1]
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verified_by(request, [new]) == [new]  # each verifies on its own
    assert verified_by(request, [old]) == [old]

    clock.at(T0 + timedelta(hours=24, seconds=1))  # the old one has expired
    an_invoice(acme, memo="Later")
    dispatch_and_send(tenant)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert verified_by(request, [new, old]) == [new]
    secret = tenant.client().get(f"/api/v1/webhook-endpoints/{hook['id']}/secret").json()
    assert secret == {"secret": new, "previous_secret": None,
                      "previous_secret_expires_at": None}


def test_a_forged_or_stale_message_does_not_verify(acme, tenant, receiver, clock):
    """The verifier can fail: another secret, a changed body, an old timestamp."""
    hook = endpoint(tenant, receiver.url)
    an_invoice(acme)
    dispatch_and_send(tenant)
    [request] = receiver.requests
    assert verified_by(request, ["whsec_" + "A" * 44]) == []
    changed = type(request)(headers=request.headers, body=request.body.replace(b"250", b"251"),
                            at=request.at, answered=200)
    assert verified_by(changed, [hook["secret"]]) == []
    later = type(request)(headers=request.headers, body=request.body,
                          at=request.at + timedelta(minutes=6), answered=200)
    assert verified_by(later, [hook["secret"]]) == []


def test_dispatching_again_makes_no_second_delivery(acme, tenant, receiver):
    endpoint(tenant, receiver.url)
    an_invoice(acme)
    with tenant.context():
        assert sending.outbox_dispatch(organization=tenant.organization) == 1
        OutboxEvent.objects.for_organization(tenant.organization).update(dispatched_at=None)
        sending.outbox_dispatch(organization=tenant.organization)  # as if a run died
    assert len(deliveries(tenant)) == 1  # one per endpoint and event: a constraint


def test_each_delivery_is_on_its_own(acme, tenant, receiver, clock):
    """An endpoint that refuses connections fails its own attempt, and gets no other in that
    run (a dead endpoint costs a run one attempt); the other endpoint gets every event."""
    endpoint(tenant, "http://127.0.0.1:9/nothing-listens")
    endpoint(tenant, receiver.url)
    an_invoice(acme)
    an_invoice(acme, memo="Second")

    assert dispatch_and_send(tenant) == 3  # 2 received, 1 refused; the refused one's other waits

    assert len(receiver.requests) == 2
    with tenant.context():
        refused = list(Delivery.objects.for_organization(tenant.organization)
                       .filter(endpoint__url__contains=":9/").order_by("-attempts_made"))
        [attempt] = DeliveryAttempt.objects.for_organization(tenant.organization).filter(
            delivery__in=refused)
    assert [(d.status, d.attempts_made) for d in refused] == [("pending", 1), ("pending", 0)]
    assert (attempt.response_status, attempt.error) == (None, "The connection was refused.")
    clock.at(T0 + timedelta(minutes=1))  # the next run: the one that waited is tried
    assert dispatch_and_send(tenant) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(acme, tenant, receiver):
    endpoint(tenant, receiver.url)
    receiver.fail_next(1, status=302)
    an_invoice(acme)
    dispatch_and_send(tenant)
    assert len(receiver.requests) == 1  # not followed
    [row] = deliveries(tenant)
    [attempt] = attempts(tenant, row)
    assert attempt.response_status == 302 and not attempt.succeeded
    assert "redirect" in attempt.error


def test_an_event_written_with_an_endpoint_listening_is_sent_after_commit(
        acme, tenant, receiver, django_capture_on_commit_callbacks):
    from zenskar.celery import app

    endpoint(tenant, receiver.url)
    app.conf.task_always_eager = True  # the worker, in this process
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            an_invoice(acme)
    finally:
        app.conf.task_always_eager = False
    assert [r.type for r in receiver.requests] == ["invoice.created"]
    # one dispatch queued for the transaction, then one send run
    assert len(callbacks) == 2


def test_an_organization_without_endpoints_queues_nothing(
        acme, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        an_invoice(acme)
    assert callbacks == []
    with tenant.context():
        assert Endpoint.objects.for_organization(tenant.organization).count() == 0
