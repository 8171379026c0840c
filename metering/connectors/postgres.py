"""PostgreSQL and Amazon Redshift sources, through psycopg 3.

Redshift speaks the PostgreSQL wire protocol (it descends from PostgreSQL 8.0), so one
connector serves both kinds; only the defaults differ: port 5439 and TLS required
(``sslmode=require``) for Redshift.

The tenant's SQL is wrapped, never edited::

    SELECT * FROM (<tenant sql>) AS src WHERE "<cursor>" > %s ORDER BY "<cursor>" LIMIT %s

inside a READ ONLY transaction with a ``statement_timeout``, so a query can neither write nor
run for ever. The extended protocol psycopg uses with parameters refuses a second statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from metering.connectors.base import JSON, Connector, ConnectorError, Row, public_address

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULTS: dict[str, dict[str, Any]] = {
    "postgres": {"port": 5432, "sslmode": "prefer"},
    "redshift": {"port": 5439, "sslmode": "require"},
}
CONNECT_TIMEOUT = 10  # seconds
STATEMENT_TIMEOUT = 300  # seconds
LABELS = {"postgres": "PostgreSQL", "redshift": "Redshift"}


def validate(kind: str, settings: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, list]:
    """Why these settings and query cannot work, by field (empty when they can)."""
    errors: dict[str, list[str]] = {}
    for name in ("host", "dbname", "user"):
        if not isinstance(settings.get(name), str) or not settings[name].strip():
            errors[f"settings.{name}"] = ["Required (text)."]
    if settings.get("password") is not None and not isinstance(settings["password"], str):
        errors["settings.password"] = ["Must be text."]
    for name in ("port", "connect_timeout", "statement_timeout"):
        value = settings.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not 0 < value < 65536):
            errors[f"settings.{name}"] = ["Must be a positive whole number."]
    if settings.get("sslmode") is not None and settings["sslmode"] not in SSL_MODES:
        errors["settings.sslmode"] = [f"Must be one of {', '.join(SSL_MODES)}."]
    text = query.get("sql")
    if not isinstance(text, str) or not text.strip():
        errors["query.sql"] = ["Required: a SELECT whose rows are the usage records."]
    elif "{cursor}" in text:
        errors["query.sql"] = [
            "Write the query without a {cursor} placeholder: rows are filtered by the cursor "
            "field automatically."
        ]
    unknown = set(query) - {"sql"}
    if unknown:
        errors["query"] = [f"Unknown keys: {', '.join(sorted(unknown))}."]
    return errors


def _message(error: psycopg.Error) -> str:
    primary = getattr(error.diag, "message_primary", None) if hasattr(error, "diag") else None
    return re.sub(r"\s+", " ", primary or str(error)).strip()


class PostgresConnector(Connector):
    """Reads a PostgreSQL or Redshift query; keeps one connection for the connector's life."""

    def __init__(
        self, settings: Mapping[str, Any], query: Mapping[str, Any], cursor_field: str,
        *, kind: str = "postgres",
    ):
        super().__init__(settings, query, cursor_field)
        self.kind = kind
        self._connection: psycopg.Connection[dict[str, Any]] | None = None

    def connect_kwargs(self) -> dict[str, Any]:
        """libpq parameters (without the resolved address), the kind's defaults filled in."""
        defaults = DEFAULTS[self.kind]
        params = {
            "host": self.settings["host"],
            "port": int(self.settings.get("port") or defaults["port"]),
            "dbname": self.settings["dbname"],
            "user": self.settings["user"],
            "password": self.settings.get("password") or None,
            "sslmode": self.settings.get("sslmode") or defaults["sslmode"],
            "connect_timeout": int(self.settings.get("connect_timeout") or CONNECT_TIMEOUT),
            "application_name": "zenskar-sync",
        }
        return {key: value for key, value in params.items() if value is not None}

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        if self._connection is not None:
            return self._connection
        params = self.connect_kwargs()
        address = public_address(params["host"], params["port"])
        if address != params["host"] and not address.startswith("/"):
            params["hostaddr"] = address  # connect to the address that was checked
        label = LABELS[self.kind]
        try:
            connection = psycopg.connect(**params, row_factory=dict_row)
        except psycopg.Error as error:
            raise ConnectorError(f"Cannot connect to {label}: {_message(error)}") from None
        try:
            connection.read_only = True
            timeout_ms = int(self.settings.get("statement_timeout") or STATEMENT_TIMEOUT) * 1000
            connection.execute(
                sql.SQL("SET statement_timeout TO {}").format(sql.Literal(timeout_ms))
            )
            connection.commit()
        except psycopg.Error as error:
            connection.close()
            raise ConnectorError(f"Cannot set up the {label} session: {_message(error)}") from None
        self._connection = connection
        return connection

    def _source(self) -> sql.Composable:
        text = str(self.query["sql"]).strip().rstrip(";").strip()
        # Parameters are passed, so a literal % in the tenant's SQL must be doubled.
        return sql.SQL(text.replace("%", "%%"))  # noqa: S608 -- wrapped, read-only, tenant's own db

    def _run(self, statement: sql.Composable, params: list[Any]) -> list[Row]:
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                rows = cursor.fetchall() if cursor.description else []
            connection.rollback()  # read only: nothing to keep, and no snapshot held open
        except psycopg.Error as error:
            try:
                connection.rollback()
            except psycopg.Error:
                self.close()
            raise ConnectorError(f"The query failed: {_message(error)}") from None
        return rows

    def test_connection(self) -> None:
        self._run(
            sql.SQL("SELECT {cursor} FROM ({source}) AS src LIMIT 0").format(
                cursor=sql.Identifier(self.cursor_field), source=self._source()
            ),
            [],
        )

    def fetch(self, after_cursor: JSON | None, limit: int) -> list[Row]:
        cursor = sql.Identifier(self.cursor_field)
        params: list[Any] = []
        if after_cursor is None:
            where = sql.SQL("{} IS NOT NULL").format(cursor)
        else:
            # ISO timestamps and decimal strings arrive untyped; the server casts them to the
            # column's type.
            where = sql.SQL("{} > %s").format(cursor)
            params.append(after_cursor)
        statement = sql.SQL(
            "SELECT * FROM ({source}) AS src WHERE {where} ORDER BY {cursor} LIMIT %s"
        ).format(source=self._source(), where=where, cursor=cursor)
        return self._run(statement, [*params, limit])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
