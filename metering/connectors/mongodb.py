"""MongoDB sources, through pymongo.

Query: ``{"collection": "usage", "filter": {...}}``; the connector reads
``find({"$and": [filter, {cursor: {"$gt": after}}]}).sort(cursor).limit(n)``.

Cursor values that JSON cannot carry are stored in the watermark as MongoDB Extended JSON
(``{"$date": ...}``, ``{"$oid": ...}``, ``{"$numberDecimal": ...}``) and turned back into
BSON types for the next query, so a date cursor is compared as a date, not as a string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pymongo
from bson import Decimal128, ObjectId
from pymongo import uri_parser
from pymongo.errors import ConfigurationError, ConnectionFailure, InvalidURI, PyMongoError

from metering.connectors.base import (
    JSON,
    Connector,
    ConnectorError,
    Row,
    json_safe,
    lookup,
    public_address,
    to_utc,
)

TIMEOUT_MS = 10_000

# Builds the client from (uri, **options). Tests swap in ``mongomock.MongoClient``.
ClientFactory = Callable[..., Any]
client_factory: ClientFactory = pymongo.MongoClient


def validate(settings: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, list[str]]:
    """Why these settings and query cannot work, by field (empty when they can)."""
    errors: dict[str, list[str]] = {}
    uri = settings.get("uri")
    if not isinstance(uri, str) or not uri.startswith(("mongodb://", "mongodb+srv://")):
        errors["settings.uri"] = ["Required: a mongodb:// or mongodb+srv:// URI."]
    if not isinstance(settings.get("database"), str) or not settings["database"]:
        errors["settings.database"] = ["Required (text)."]
    if not isinstance(query.get("collection"), str) or not query["collection"]:
        errors["query.collection"] = ["Required (text)."]
    if not isinstance(query.get("filter", {}), dict):
        errors["query.filter"] = ["Must be a MongoDB filter document (a JSON object)."]
    unknown = set(query) - {"collection", "filter"}
    if unknown:
        errors["query"] = [f"Unknown keys: {', '.join(sorted(unknown))}."]
    return errors


def encode_cursor(value: Any) -> JSON:
    if isinstance(value, datetime):
        return {"$date": to_utc(value).isoformat()}
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, Decimal128):
        return {"$numberDecimal": str(value)}
    return json_safe(value)


def decode_cursor(value: JSON) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "$date" in value:
            # naive UTC: what pymongo stores and returns without tz_aware
            return datetime.fromisoformat(value["$date"]).astimezone(UTC).replace(tzinfo=None)
        if "$oid" in value:
            return ObjectId(value["$oid"])
        if "$numberDecimal" in value:
            return Decimal128(value["$numberDecimal"])
    return value


def _failure(error: PyMongoError) -> ConnectorError:
    if isinstance(error, ConnectionFailure):
        # drop the driver's topology dump that follows the reason
        return ConnectorError(f"Cannot reach MongoDB: {str(error).split(', Timeout: ')[0]}")
    return ConnectorError(f"MongoDB refused the query: {error}")


def _check_hosts(uri: str) -> None:
    """Refuse non-public hosts (see ``public_address``). ``mongodb+srv`` names are resolved by
    the driver; the SRV name itself is checked."""
    if uri.startswith("mongodb+srv://"):
        host = uri.removeprefix("mongodb+srv://").rsplit("@", 1)[-1].split("/")[0].split("?")[0]
        public_address(host, 27017)
        return
    try:
        nodes = uri_parser.parse_uri(uri, validate=False)["nodelist"]
    except (InvalidURI, ConfigurationError, ValueError) as error:
        raise ConnectorError(f"The MongoDB URI is not valid: {error}") from None
    for host, port in nodes:
        public_address(host, port)


class MongoDBConnector(Connector):
    def __init__(
        self, settings: Mapping[str, Any], query: Mapping[str, Any], cursor_field: str,
        *, client_factory: ClientFactory | None = None,
    ):
        super().__init__(settings, query, cursor_field)
        self._factory = client_factory
        self._client: Any = None

    def _collection(self) -> Any:
        if self._client is None:
            uri = str(self.settings["uri"])
            _check_hosts(uri)
            factory = self._factory or client_factory  # read at call time: tests patch it
            try:
                self._client = factory(
                    uri, serverSelectionTimeoutMS=TIMEOUT_MS, connectTimeoutMS=TIMEOUT_MS,
                    socketTimeoutMS=5 * 60 * 1000,
                )
            except PyMongoError as error:
                raise _failure(error) from None
            except (TypeError, ValueError) as error:  # an option in the URI the driver refuses
                raise ConnectorError(f"The MongoDB URI is not valid: {error}") from None
        return self._client[self.settings["database"]][self.query["collection"]]

    def test_connection(self) -> None:
        try:
            self._collection().find_one(dict(self.query.get("filter") or {}))
        except PyMongoError as error:
            raise _failure(error) from None

    def fetch(self, after_cursor: JSON | None, limit: int) -> list[Row]:
        if after_cursor is None:
            bound: dict[str, Any] = {"$ne": None, "$exists": True}
        else:
            bound = {"$gt": decode_cursor(after_cursor)}
        conditions = [dict(self.query.get("filter") or {}), {self.cursor_field: bound}]
        try:
            found = (
                self._collection().find({"$and": conditions})
                .sort(self.cursor_field, pymongo.ASCENDING).limit(limit)
            )
            return [dict(document) for document in found]
        except PyMongoError as error:
            raise _failure(error) from None

    def cursor_value(self, row: Row) -> JSON:
        return encode_cursor(lookup(row, self.cursor_field))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
