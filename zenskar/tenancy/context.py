"""The tenant setting on the database connection, which row-level security reads.

``tenant_context(organization)`` sets ``zenskar.organization_id`` on the application's
connection for the duration of a block (a request, a task) and restores the previous value on
the way out, so a pooled connection never carries one organization's setting into the next
request. With no organization set, tenant tables return no rows at all.

This is the *second* wall. Code still passes ``organization`` explicitly and filters by it; the
context only makes a forgotten filter return nothing instead of another tenant's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from zenskar.core.db import TENANT_SETTING, connection_setting

_current: ContextVar[uuid.UUID | None] = ContextVar("zenskar_organization_id", default=None)


def current_organization_id() -> uuid.UUID | None:
    return _current.get()


def _apply(organization_id: uuid.UUID | None, using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, false)",
            [TENANT_SETTING, str(organization_id) if organization_id else ""],
        )


def _organization_id(organization) -> uuid.UUID | None:
    organization_id = getattr(organization, "id", organization)
    if organization_id is not None and not isinstance(organization_id, uuid.UUID):
        organization_id = uuid.UUID(str(organization_id))
    return organization_id


@contextmanager
def tenant_context(organization) -> Iterator[None]:
    """Run a block as ``organization`` (an Organization, its id, or None for "no tenant")."""
    with connection_setting(_current, _organization_id(organization), _apply):
        yield


@contextmanager
def lazy_tenant_context(organization) -> Iterator[None]:
    """``tenant_context`` that touches the database only if the block does: the setting is
    applied before the block's first query (and restored after it, if it ran). For hot read
    paths answered from Redis (entitlement checks), which would otherwise pay two database
    round trips per request for nothing."""
    with connection_setting(_current, _organization_id(organization), _apply, lazy=True):
        yield


@receiver(connection_created)
def _reapply_on_new_connection(sender, connection, **kwargs) -> None:
    """A connection opened inside a tenant block (after a reconnect) gets the setting too."""
    if connection.alias != "default":
        return
    organization_id = _current.get()
    if organization_id is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config(%s, %s, false)", [TENANT_SETTING, str(organization_id)]
            )
