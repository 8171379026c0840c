"""A real SMTP server on loopback (aiosmtpd) for the e-mail tests, and readers of what it
was given."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from tests.support import free_port

PUBLIC_URL = "https://billing.zenskar.test"  # the links in the security suite's e-mails


class Collecting:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        return [email.message_from_bytes(e.content, policy=email.policy.default)
                for e in self.envelopes]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free loopback port, Django's e-mail pointed at it; the
    messages it was given (``envelopes``, parsed: ``messages``)."""
    from aiosmtpd.controller import Controller

    handler = Collecting()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield handler
    controller.stop()


def body(message) -> str:
    """The plain-text body of an e-mail, with Unix line ends."""
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def link(message) -> str:
    """The path of the first link to the platform (``PUBLIC_URL``) in an e-mail."""
    found = re.search(re.escape(PUBLIC_URL) + r"(/\S*)", body(message))
    assert found, body(message)
    return found.group(1)
