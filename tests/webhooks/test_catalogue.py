"""The pure parts of webhooks, tested directly: the signer against the Standard Webhooks
reference vector, the retry schedule and its jitter (Hypothesis), and the event catalogue --
its examples match its own schemas, and the API reference publishes every event type with
its schema and example."""

from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import strategies as st

from tests.support.webhooks import Received, verified_by
from zenskar.webhooks import catalogue, schedule, signing

# The reference implementations' test vector (standard-webhooks, libraries' tests).
VECTOR = {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          "message_id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "timestamp": 1614265330,
          "body": b'{"test": 2432232314}',
          "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


def test_the_signer_gives_the_reference_signature():
    assert signing.signature(VECTOR["secret"], message_id=VECTOR["message_id"],
                             timestamp=VECTOR["timestamp"], body=VECTOR["body"]) == \
        VECTOR["signature"]


def test_the_tests_verifier_accepts_the_reference_signature_among_others():
    """The verifier the delivery tests rely on agrees with the reference too."""
    from datetime import UTC, datetime

    request = Received(
        headers={"webhook-id": VECTOR["message_id"],
                 "webhook-timestamp": str(VECTOR["timestamp"]),
                 "webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
                                      + VECTOR["signature"]},
        body=VECTOR["body"], at=datetime.fromtimestamp(VECTOR["timestamp"] + 60, tz=UTC),
        answered=200)
    assert verified_by(request, [VECTOR["secret"]]) == [VECTOR["secret"]]


def test_a_header_carries_one_signature_per_secret():
    other = signing.secret_generate()
    header = signing.signature_header([VECTOR["secret"], other],
                                      message_id=VECTOR["message_id"],
                                      timestamp=VECTOR["timestamp"], body=VECTOR["body"])
    first, second = header.split(" ")
    assert first == VECTOR["signature"] and second.startswith("v1,") and second != first


def test_the_schedule_is_the_standards():
    assert schedule.RETRY_DELAYS == (
        timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
        timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20),
        timedelta(hours=24))
    # 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 14 h + 20 h + 24 h = 75 h 35 min 5 s
    assert schedule.TOTAL == timedelta(hours=75, minutes=35, seconds=5)
    assert schedule.MAX_ATTEMPTS == 10
    assert schedule.retry_delay(9, spread=0) == timedelta(hours=24)
    assert schedule.retry_delay(10, spread=0) is None  # the tenth failure is the last


@given(failed=st.integers(1, 9), spread=st.floats(-1, 1))
def test_the_jitter_stays_within_ten_percent(failed, spread):
    delay = schedule.retry_delay(failed, spread=spread)
    planned = schedule.RETRY_DELAYS[failed - 1]
    assert planned * 0.9 <= delay <= planned * 1.1


def test_an_endpoint_is_disabled_after_five_days_of_failures_only():
    assert not schedule.should_disable(failing_for=timedelta(days=5) - timedelta(seconds=1))
    assert schedule.should_disable(failing_for=timedelta(days=5))
    assert schedule.DISABLE_AFTER > schedule.TOTAL_WITH_JITTER  # a whole schedule fits


@pytest.mark.parametrize("event", catalogue.EVENT_TYPES, ids=catalogue.NAMES)
def test_each_example_matches_its_schema(event):
    jsonschema.validate(event.example_message(), event.message_schema(),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert event.example["id"]  # the subject's id is always there


def test_the_catalogue_names_each_type_once_in_dotted_lower_case():
    assert len(set(catalogue.NAMES)) == len(catalogue.NAMES)
    assert all(name.count(".") == 1 and name == name.lower() for name in catalogue.NAMES)
    assert catalogue.unknown(["invoice.created", "invoice.paid"]) == ["invoice.paid"]


def test_the_api_reference_publishes_every_event_type_with_its_schema_and_example():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["openapi"].startswith("3.1")  # webhooks are OpenAPI 3.1's
    assert list(schema["webhooks"]) == list(catalogue.NAMES)
    for event in catalogue.EVENT_TYPES:
        operation = schema["webhooks"][event.name]["post"]
        body = operation["requestBody"]["content"]["application/json"]
        assert body["schema"] == event.message_schema()
        [example] = body["examples"].values()
        assert example["value"] == event.example_message()
        assert "webhook-signature" in operation["description"]
        assert operation["summary"] == event.title


def test_the_readmes_python_verifier_accepts_a_signed_message_and_refuses_a_changed_one():
    """The snippet a tenant copies from README.md ("Webhooks") works on what we send: the
    README shows docs/examples/verify_webhook.py as it is, and that module is tested here."""
    import importlib.util
    import re
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    example = root / "docs" / "examples" / "verify_webhook.py"
    readme = (root / "README.md").read_text()
    section = readme[readme.index("Verifying a message in Python"):]
    assert re.search(r"```python\n(.*?)```", section, re.S).group(1) == example.read_text()
    spec = importlib.util.spec_from_file_location("verify_webhook", example)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scope = vars(module)
    secret, body, stamp = signing.secret_generate(), b'{"type":"webhook.test"}', int(time.time())
    headers = signing.headers([signing.secret_generate(), secret], message_id="msg_1",
                              timestamp=stamp, body=body)
    assert scope["verify"](secret, headers, body) is True
    assert scope["verify"](secret, headers, body + b" ") is False
    old = signing.headers([secret], message_id="msg_1", timestamp=stamp - 600, body=body)
    assert scope["verify"](secret, old, body) is False  # signed, but 10 minutes old
