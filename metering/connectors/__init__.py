"""Connectors: read usage rows from a tenant's own database or API (pull ingestion).

``connector_for(kind, settings, query, cursor_field)`` opens the right one; ``validate``
explains, by field, why a kind's settings and query cannot work. The sync service
(``metering.sync``) maps the rows to events and stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metering.connectors import http, mongodb, postgres
from metering.connectors.base import Connector, ConnectorError, redact, secrets_of

__all__ = ["Connector", "ConnectorError", "connector_for", "redact", "secrets_of", "validate"]

KINDS = ("postgres", "redshift", "mongodb", "http")


def connector_for(
    kind: str, settings: Mapping[str, Any], query: Mapping[str, Any], cursor_field: str
) -> Connector:
    if kind in ("postgres", "redshift"):
        return postgres.PostgresConnector(settings, query, cursor_field, kind=kind)
    if kind == "mongodb":
        return mongodb.MongoDBConnector(settings, query, cursor_field)
    if kind == "http":
        return http.HttpConnector(settings, query, cursor_field)
    raise ConnectorError(f"Unknown kind of data source: {kind!r}.")


def validate(
    kind: str, settings: Mapping[str, Any], query: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Why ``settings`` and ``query`` cannot work for ``kind``, by field (``settings.host``,
    ``query.sql``...); empty when they can."""
    if kind in ("postgres", "redshift"):
        return postgres.validate(kind, settings, query)
    if kind == "mongodb":
        return mongodb.validate(settings, query)
    return http.validate(settings, query)
