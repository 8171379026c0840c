"""Who is writing, and from where: the audit settings on the database connection, which the
audit trigger reads.

``audit_context(channel=..., actor=..., ip=..., request_id=...)`` sets the ``zenskar.audit_*``
settings on the application's connection for the duration of a block (a request, a task) and
restores the previous values on the way out, so a pooled connection never carries one
request's actor into the next. With none set, the trigger records the write as the system's
(a management command, a shell).

Set by the dashboard's middleware (``zenskar.audit.middleware``), the API's base view
(``zenskar.api.views``) and every Celery task (``zenskar.audit.task_context``).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from zenskar.audit.models import ActorType, Channel
from zenskar.core.db import connection_setting
from zenskar.tenancy.models import ApiKey

# The connection settings the trigger reads (``current_setting(name, true)``), in this order.
SETTINGS = ("zenskar.audit_channel", "zenskar.audit_actor_type", "zenskar.audit_actor_id",
            "zenskar.audit_actor_label", "zenskar.audit_ip", "zenskar.audit_request_id")
_SET = "SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(SETTINGS))

MAX_LABEL = 255  # the columns
MAX_ID = 64


@dataclass(frozen=True)
class Actor:
    """Who writes: a person (their id and e-mail), an API key (its id and name), or the
    system (a task's name, or nothing)."""

    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def user(cls, user: AbstractBaseUser) -> Actor:
        return cls(ActorType.USER, str(user.pk),
                   getattr(user, "email", "") or user.get_username())

    @classmethod
    def api_key(cls, key: ApiKey) -> Actor:
        return cls(ActorType.API_KEY, str(key.id), key.name)

    @classmethod
    def system(cls, label: str = "") -> Actor:
        return cls(ActorType.SYSTEM, "", label)


@dataclass(frozen=True)
class AuditContext:
    channel: str
    actor: Actor
    ip: str = ""
    request_id: str = ""

    def values(self) -> list[str]:
        return [self.channel, self.actor.type, self.actor.id[:MAX_ID],
                self.actor.label[:MAX_LABEL], self.ip, self.request_id[:MAX_ID]]


NONE = ["", "", "", "", "", ""]

_current: ContextVar[AuditContext | None] = ContextVar("zenskar_audit_context", default=None)


def current_audit_context() -> AuditContext | None:
    return _current.get()


def valid_ip(value: str | None) -> str:
    """``value`` if it is an IP address (the trigger stores it as ``inet``), else ""."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return ""


def _apply(context: AuditContext | None, using: str = "default") -> None:
    values = context.values() if context else NONE
    with connections[using].cursor() as cursor:
        cursor.execute(_SET, [item for pair in zip(SETTINGS, values, strict=True)
                              for item in pair])


def _context(channel: str, actor: Actor, ip: str | None, request_id: str) -> AuditContext:
    if channel not in Channel.values:
        raise ValueError(f"{channel!r} is not an audit channel.")
    return AuditContext(channel=channel, actor=actor, ip=valid_ip(ip), request_id=request_id)


@contextmanager
def audit_context(*, channel: str, actor: Actor, ip: str | None = None,
                  request_id: str = "") -> Iterator[None]:
    """Run a block's writes as ``actor`` through ``channel`` (with the client's address and
    the request's id when there is one)."""
    with connection_setting(_current, _context(channel, actor, ip, request_id), _apply):
        yield


@contextmanager
def lazy_audit_context(*, channel: str, actor: Actor, ip: str | None = None,
                       request_id: str = "") -> Iterator[None]:
    """``audit_context`` that touches the database only if the block does: the settings are
    applied before the block's first query (and restored after it, if it ran). For the API's
    hot read paths answered from Redis (``lazy_tenant_context``'s)."""
    with connection_setting(_current, _context(channel, actor, ip, request_id), _apply,
                            lazy=True):
        yield


def request_id(value: str | None) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token of at most 64 characters
    (letters, digits, ``-_.:``), else a new one."""
    value = (value or "").strip()
    if value and len(value) <= MAX_ID and all(c.isascii() and (c.isalnum() or c in "-_.:")
                                              for c in value):
        return value
    return uuid.uuid4().hex


@receiver(connection_created)
def _reapply_on_new_connection(sender: Any, connection: BaseDatabaseWrapper,
                               **kwargs: Any) -> None:
    """A connection opened inside an audit block (after a reconnect) gets the settings too."""
    if connection.alias != "default":
        return
    context = _current.get()
    if context is not None:
        values = context.values()
        with connection.cursor() as cursor:
            cursor.execute(_SET, [item for pair in zip(SETTINGS, values, strict=True)
                                  for item in pair])
