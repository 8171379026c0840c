"""Random sequences of events written, a receiver that goes down and comes back, the clock
moved from a second to two days, endpoints disabled and enabled, replays and secret
rotations, with beat's two tasks run between them. Two endpoints on one receiver: ``/e0``
receives every event, ``/e1`` two types only. After every step:

- a message reaches an endpoint successfully at most once, plus once per replay;
- a message keeps its ``webhook-id`` and its body on every attempt, and each request is
  signed by a secret the endpoint had then (verified from the specification);
- no attempt is made before it is due, and each retry is due after the schedule's delay for
  its step (+-10 %); a run of attempts (from the first, or from a replay) plans at most the
  schedule's total and makes at most 10 attempts, the last of which ends the delivery;
- nothing is sent to an endpoint that is disabled;
- deliveries exist only for an endpoint's subscriptions.

At the end of each sequence (the receiver down for good in some), the clock is moved from
one due attempt to the next until no enabled endpoint has one left: every delivery ends,
succeeded or failed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.support.webhooks import verified_by
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context
from zenskar.webhooks import catalogue, schedule, services
from zenskar.webhooks.delivery import deliveries_send_due, outbox_dispatch
from zenskar.webhooks.models import Delivery, DeliveryAttempt, Endpoint, OutboxEvent
from zenskar.webhooks.outbox import outbox_write

pytestmark = pytest.mark.django_db

TYPES = [name for name in catalogue.NAMES if name != catalogue.TEST_EVENT]
E1_TYPES = ["invoice.created", "payment.succeeded"]
STEPS = [timedelta(seconds=s) for s in (1, 5, 6, 60, 330, 1800, 2000, 7200, 20000, 86400,
                                        172800)]
SEEN: Counter = Counter()  # what the sequences reached, over the whole run


class DeliveryMachine(RuleBasedStateMachine):
    receiver = None  # the test's, set before the run

    @initialize(outage_at_the_end=st.booleans())
    def setup(self, outage_at_the_end):
        from django.contrib.auth import get_user_model

        self.outage_at_the_end = outage_at_the_end
        email = f"owner-{uuid.uuid4().hex[:8]}@acme.test"
        owner = get_user_model().objects.create_user(username=email, email=email,
                                                     password="x" * 12)
        self.organization = tenancy.organization_create(
            name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}", owner=owner)
        self.now = datetime(2026, 5, 4, 9, tzinfo=UTC)
        timezone.now = lambda: self.now  # restored by the test
        self.receiver.requests.clear()
        self.receiver.answers.clear()
        self.receiver.status = 200
        with tenant_context(self.organization):
            self.endpoints = [
                services.endpoint_create(organization=self.organization,
                                         url=f"{self.receiver.url}?e={i}",
                                         event_types=types)[0]
                for i, types in enumerate(([], E1_TYPES))]
        # every secret an endpoint had: from which request on it is replaced (then it signs
        # until ``until``) and from which request on it no longer signs at all
        self.secrets: dict[int, dict[str, dict]] = {}
        for i, endpoint in enumerate(self.endpoints):
            with tenant_context(self.organization):
                found = services.endpoint_secret(endpoint=endpoint)
            self.secrets[i] = {found["secret"]: {"replaced": None, "until": None,
                                                 "dropped": None}}

    def _signing(self, index: int, position: int, request) -> list[str]:
        """The secrets of endpoint ``index`` that could sign its ``position``-th request."""
        found = []
        for secret, life in self.secrets[index].items():
            if life["replaced"] is None or position < life["replaced"]:
                found.append(secret)
            elif (life["dropped"] is None or position < life["dropped"]) and \
                    request.at < life["until"]:
                found.append(secret)
        return found

    def _context(self):
        return tenant_context(self.organization)

    def _deliveries(self) -> list[Delivery]:
        with self._context():
            return list(Delivery.objects.for_organization(self.organization)
                        .select_related("event"))

    def _endpoint(self, index: int) -> Endpoint:
        with self._context():
            return Endpoint.objects.for_organization(self.organization).get(
                pk=self.endpoints[index].pk)

    @staticmethod
    def _index(request) -> int:
        return int(request.path.rsplit("=", 1)[1])

    # --- what happens ---------------------------------------------------------------------

    @rule(types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=3))
    def events_written(self, types):
        with self._context():
            for event_type in types:
                outbox_write(organization=self.organization, event_type=event_type,
                             subject_id=uuid.uuid4(), payload={"note": "random"})

    @rule(status=st.sampled_from([200, 204, 500, 503, 404, 302]))
    def receiver_answers(self, status):
        self.receiver.status = status  # up (2xx) or down

    @rule(step=st.sampled_from(STEPS))
    def clock_moves(self, step):
        self.now += step

    @rule(step=st.sampled_from(STEPS))
    def clock_moves_and_beat_runs(self, step):
        self.now += step
        self.beat_runs()

    @rule()
    def beat_runs(self):
        before = len(self.receiver.requests)
        disabled = {i for i in range(2) if not self._endpoint(i).enabled}
        with self._context():
            if Delivery.objects.for_organization(self.organization).filter(
                    status="pending", next_attempt_at__lte=self.now,
                    endpoint__enabled=False).exists():
                SEEN["due while disabled"] += 1
        failing = {i: self._endpoint(i).failing_since for i in range(2)}
        with self._context():
            outbox_dispatch(organization=self.organization)
            deliveries_send_due(organization=self.organization)
        sent = self.receiver.requests[before:]
        SEEN["requests"] += len(sent)
        # nothing reaches an endpoint disabled before the run ...
        assert not [r for r in sent if self._index(r) in disabled], disabled
        # ... nor after it is disabled during the run (all its attempts failed for 5 days)
        for i in range(2):
            if i in disabled:
                continue
            mine = [r for r in sent if self._index(r) == i]
            since = failing[i]
            for position, request in enumerate(mine):
                if 200 <= request.answered < 300:
                    since = None
                    continue
                since = since or self.now
                if schedule.should_disable(failing_for=self.now - since):
                    assert position == len(mine) - 1, "sent after it was disabled"
                    assert not self._endpoint(i).enabled
                    SEEN["disabled by failures"] += 1
                    break

    @rule(index=st.sampled_from([0, 1]))
    def endpoint_toggled(self, index):
        endpoint = self._endpoint(index)
        with self._context():
            services.endpoint_update(endpoint=endpoint, enabled=not endpoint.enabled,
                                     actor="ana@acme.test")

    @rule(data=st.data())
    def delivery_replayed(self, data):
        found = self._deliveries()
        if not found:
            return
        delivery = data.draw(st.sampled_from(sorted(found, key=lambda d: str(d.id))))
        enabled = self._endpoint(self._position(delivery)).enabled
        with self._context():
            if enabled:
                services.delivery_replay(delivery=delivery)
                SEEN["replays"] += 1
            else:
                with pytest.raises(ValidationError):
                    services.delivery_replay(delivery=delivery)

    @rule(index=st.sampled_from([0, 1]), hours=st.sampled_from([0, 1, 24]))
    def secret_rotated(self, index, hours):
        with self._context():
            endpoint, secret = services.endpoint_secret_rotate(
                endpoint=self._endpoint(index), previous_valid_for=timedelta(hours=hours))
        boundary = len(self.receiver.requests)
        for life in self.secrets[index].values():
            if life["replaced"] is None:  # the current one: signs too until its expiry
                life.update(replaced=boundary, until=endpoint.previous_secret_expires_at)
            elif life["dropped"] is None:  # the one replaced before: stops at once
                life["dropped"] = boundary
        self.secrets[index][secret] = {"replaced": None, "until": None, "dropped": None}
        SEEN["rotations"] += 1

    def _position(self, delivery: Delivery) -> int:
        return next(i for i, e in enumerate(self.endpoints) if e.pk == delivery.endpoint_id)

    # --- what must always hold --------------------------------------------------------------

    @invariant()
    def one_success_per_message_and_endpoint_except_by_replay(self):
        successes = Counter((self._index(r), r.id) for r in self.receiver.requests
                            if 200 <= r.answered < 300)
        replays = {(self._position(d), d.message_id): d.replays for d in self._deliveries()}
        for key, count in successes.items():
            assert count <= 1 + replays[key], (key, count, replays[key])

    @invariant()
    def a_message_keeps_its_id_and_body_and_is_signed(self):
        bodies: dict[str, bytes] = {}
        with self._context():
            ids = {f"msg_{pk.hex}": event_type for pk, event_type in
                   OutboxEvent.objects.for_organization(self.organization)
                   .values_list("id", "event_type")}
        for position, request in enumerate(self.receiver.requests):
            assert ids[request.id] == request.type  # the id of the event it carries
            assert bodies.setdefault(request.id, request.body) == request.body
            valid = self._signing(self._index(request), position, request)
            assert verified_by(request, valid), request.headers

    @invariant()
    def attempts_follow_the_schedule(self):
        with self._context():
            attempts = list(DeliveryAttempt.objects.for_organization(self.organization)
                            .order_by("delivery_id", "number"))
        by_delivery: dict = {}
        for attempt in attempts:
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        for delivery in self._deliveries():
            mine = by_delivery.get(delivery.id, [])
            assert delivery.attempts_made == len(mine)
            failed, planned = 0, timedelta()
            for before, attempt in zip([None, *mine], mine, strict=False):
                assert attempt.attempted_at >= attempt.due_at  # never early
                if attempt.trigger == DeliveryAttempt.Trigger.REPLAY:
                    failed, planned = 0, timedelta()
                elif before is not None:
                    # a retry: due the schedule's delay after the attempt that failed
                    assert not before.succeeded
                    wait = attempt.due_at - before.attempted_at
                    delay = schedule.RETRY_DELAYS[failed - 1]
                    assert delay * 0.9 <= wait <= delay * 1.1, (failed, wait)
                    planned += wait
                failed = failed + 1 if not attempt.succeeded else failed
                assert failed <= schedule.MAX_ATTEMPTS
                assert planned <= schedule.TOTAL_WITH_JITTER
            if mine and not delivery.replay_pending:
                last = mine[-1]
                if last.succeeded:
                    assert delivery.status == "succeeded"
                elif failed == schedule.MAX_ATTEMPTS:
                    assert delivery.status == "failed"  # the last attempt ends it
                    SEEN["failed for good"] += 1
                else:
                    assert delivery.status == "pending"

    @invariant()
    def deliveries_only_for_subscriptions(self):
        for delivery in self._deliveries():
            if self._position(delivery) == 1 and delivery.event_type != catalogue.TEST_EVENT:
                assert delivery.event_type in E1_TYPES

    def teardown(self):
        """Every delivery of an enabled endpoint ends: the clock jumps from one due attempt
        to the next (at most 10 per delivery)."""
        if not hasattr(self, "organization"):
            return
        if self.outage_at_the_end:
            self.receiver.status = 503  # every delivery left runs out of retries
        self.beat_runs()  # the events written last are dispatched too
        for _ in range(schedule.MAX_ATTEMPTS * (len(self._deliveries()) + 1)):
            with self._context():
                due = (Delivery.objects.for_organization(self.organization)
                       .filter(status="pending", endpoint__enabled=True)
                       .order_by("next_attempt_at").values_list("next_attempt_at", flat=True)
                       .first())
            if due is None:
                break
            self.now = max(self.now, due)
            self.beat_runs()
        with self._context():
            left = Delivery.objects.for_organization(self.organization).filter(
                status="pending", endpoint__enabled=True).count()
        assert left == 0
        self.attempts_follow_the_schedule()


def test_deliveries_hold_over_random_sequences(monkeypatch, receiver):
    monkeypatch.setattr(timezone, "now", timezone.now)  # the machine moves it; put back after
    DeliveryMachine.receiver = receiver
    SEEN.clear()
    run_state_machine_as_test(DeliveryMachine, settings=settings(
        max_examples=25, stateful_step_count=40, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(HealthCheck)))
    # the sequences reached what the properties are about
    assert SEEN["requests"] > 0 and SEEN["replays"] > 0 and SEEN["rotations"] > 0, SEEN
    assert SEEN["failed for good"] > 0 and SEEN["due while disabled"] > 0, SEEN
