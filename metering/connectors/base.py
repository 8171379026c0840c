"""What every connector offers the sync service, and the helpers they share.

A connector reads rows from one tenant system in ascending order of the source's cursor field,
strictly after a cursor value. Cursor values cross the boundary as JSON (that is what the
source's ``watermark`` stores); each connector turns them back into its own types.

Errors a tenant can act on (wrong password, unknown table, HTTP 401) are raised as
:class:`ConnectorError` with a readable message. Messages may still quote what the remote
system said, so the sync service passes them through :func:`redact` before storing or logging.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from zenskar import outbound

Row = dict[str, Any]
JSON = Any  # a value json.dumps accepts

# Header and setting names whose values are credentials.
SECRET_WORDS = ("password", "secret", "token", "key", "auth", "cookie", "session", "credential")


class ConnectorError(Exception):
    """A failure the tenant can understand and fix (credentials, query, network)."""


class Connector(ABC):
    """One open session with a tenant's system; use as a context manager."""

    def __init__(self, settings: Mapping[str, Any], query: Mapping[str, Any], cursor_field: str):
        self.settings = settings
        self.query = query
        self.cursor_field = cursor_field

    @abstractmethod
    def test_connection(self) -> None:
        """Connect and check the query; raise :class:`ConnectorError` when it cannot work."""

    @abstractmethod
    def fetch(self, after_cursor: JSON | None, limit: int) -> list[Row]:
        """Up to ``limit`` rows whose cursor is greater than ``after_cursor`` (all rows when it
        is None), ascending by cursor. Rows whose cursor is null are never returned."""

    def cursor_value(self, row: Row) -> JSON:
        """The row's cursor as JSON, as it will be stored in the watermark."""
        return json_safe(lookup(row, self.cursor_field))

    def close(self) -> None:  # noqa: B027 -- optional hook: most connectors hold a connection
        """Release the connection, if any."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class MissingField(KeyError):
    pass


def lookup(row: Mapping[str, Any], path: str) -> Any:
    """``row[path]``; for nested documents (MongoDB, JSON APIs), ``a.b`` reads ``row["a"]["b"]``
    when no field is literally named ``a.b``."""
    if path in row:
        return row[path]
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise MissingField(path)
        value = value[part]
    return value


def to_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (as PostgreSQL ``timestamp`` and
    MongoDB dates are)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def json_safe(value: Any) -> JSON:
    """A value JSON can carry: Decimal -> str (exact), datetimes -> ISO 8601 in UTC, dates and
    times -> ISO 8601, UUIDs, ObjectIds and other objects -> str, bytes -> hex."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, UUID):
        return str(value)
    return str(value)


def secrets_of(settings: Mapping[str, Any]) -> list[str]:
    """The credential strings inside a source's settings: passwords, secret headers, the
    password of a connection URI."""
    found: list[str] = []

    def visit(name: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                visit(str(key), item)
            return
        if not isinstance(value, str) or not value:
            return
        lowered = name.lower()
        if any(word in lowered for word in SECRET_WORDS):
            found.append(value)
            # "Bearer abc" also leaks as "abc" alone
            found.extend(part for part in value.split() if len(part) >= 8)
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.extend({password, unquote(password)})

    visit("", dict(settings))
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so a secret that
    contains another is removed whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def public_address(host: str, port: int) -> str:
    """Resolve ``host`` and return the address to connect to, refusing the platform's own
    networks: :func:`zenskar.outbound.public_address`, the one guard every outbound call a
    tenant can aim goes through, with its refusal as a :class:`ConnectorError`."""
    try:
        return outbound.public_address(host, port)
    except outbound.OutboundRefused as error:
        raise ConnectorError(str(error)) from None
