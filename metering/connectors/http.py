"""HTTP JSON API sources, through the standard library (no extra dependency).

Settings: ``{"base_url": "https://api.example.com/v1", "headers": {"Authorization": "..."}}``.
Query::

    {"path": "usage", "params": {...}, "items_path": "data",
     "pagination": {"type": "page", "param": "page", "size_param": "per_page", "size": 100}
                 | {"type": "cursor", "param": "cursor", "next_path": "meta.next_cursor"}
                 | null,
     "cursor_param": "since"}   # optional

Filtering by the cursor field happens HERE, client-side: most APIs cannot be asked for
"records after X", so each sync walks every page, keeps the items whose cursor is greater than
the watermark and sorts them (numbers as numbers, ISO 8601 strings as instants). Where the API
can filter, name its parameter in ``cursor_param``: the watermark is sent there, so only new
items come back (and the client-side filter still applies). One walk serves the whole sync run.
A walk of more than ``max_pages`` pages stops with an error rather than silently skip data.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from metering.connectors.base import (
    JSON,
    Connector,
    ConnectorError,
    MissingField,
    Row,
    lookup,
    public_address,
    to_utc,
)
from zenskar import outbound

TIMEOUT = 30  # seconds per request
MAX_BODY = 20 * 1024 * 1024
MAX_PAGES = 500
PAGINATION_KEYS = {
    "page": {"type", "param", "size_param", "size", "start"},
    "cursor": {"type", "param", "next_path"},
}


def validate(settings: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, list[str]]:
    """Why these settings and query cannot work, by field (empty when they can)."""
    errors: dict[str, list[str]] = {}
    base = settings.get("base_url")
    if not isinstance(base, str) or urlsplit(base).scheme not in ("http", "https") or not (
        urlsplit(base).hostname
    ):
        errors["settings.base_url"] = ["Required: an http:// or https:// URL."]
    headers = settings.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        errors["settings.headers"] = ["Must be an object of header names to text values."]
    if not isinstance(query.get("path", ""), str):
        errors["query.path"] = ["Must be text."]
    if not isinstance(query.get("params", {}), dict):
        errors["query.params"] = ["Must be an object of parameter names to values."]
    if not isinstance(query.get("items_path", ""), str):
        errors["query.items_path"] = ["Must be a dotted path such as data or result.items."]
    pagination = query.get("pagination")
    if pagination is not None:
        kind = pagination.get("type") if isinstance(pagination, dict) else None
        if kind not in PAGINATION_KEYS:
            errors["query.pagination"] = [
                'Must be {"type": "page", ...} or {"type": "cursor", ...}.'
            ]
        elif (not isinstance(pagination.get("param"), str)
              or set(pagination) - PAGINATION_KEYS[kind]):
            errors["query.pagination"] = [
                f"A {kind} pagination takes {', '.join(sorted(PAGINATION_KEYS[kind]))}; "
                "param is required."
            ]
        elif kind == "cursor" and not isinstance(pagination.get("next_path"), str):
            errors["query.pagination.next_path"] = ["Required: where the next cursor is."]
    unknown = set(query) - {"path", "params", "items_path", "pagination", "cursor_param",
                            "max_pages"}
    if unknown:
        errors["query"] = [f"Unknown keys: {', '.join(sorted(unknown))}."]
    return errors


def sort_key(value: Any) -> tuple[int, Any]:
    """Order cursor values: numbers, then ISO 8601 instants, then other text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        try:
            return (1, to_utc(datetime.fromisoformat(value)))
        except ValueError:
            return (2, value)
    return (3, str(value))


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same host (credentials in headers must not travel)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).hostname != urlsplit(req.full_url).hostname:
            raise ConnectorError(
                f"The API redirected to another host ({urlsplit(newurl).hostname})."
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpConnector(Connector):
    def __init__(self, settings: Mapping[str, Any], query: Mapping[str, Any], cursor_field: str):
        super().__init__(settings, query, cursor_field)
        self._opener = outbound.build_opener(_SameHostRedirects())
        self._walked: list[Row] | None = None
        self._walked_after: JSON | None = None

    def _url(self, params: Mapping[str, Any]) -> str:
        base = urlsplit(str(self.settings["base_url"]))
        path = base.path.rstrip("/")
        extra = str(self.query.get("path") or "").lstrip("/")
        if extra:
            path = f"{path}/{extra}"
        pairs = parse_qsl(base.query) + [
            (key, str(value)) for key, value in params.items() if value is not None
        ]
        return urlunsplit((base.scheme, base.netloc, path or "/", urlencode(pairs), ""))

    def _get(self, params: Mapping[str, Any]) -> Any:
        url = self._url(params)
        parts = urlsplit(url)
        # no user info and no query string: either may carry a credential
        host = str(parts.hostname)
        host = f"[{host}]" if ":" in host else host
        host = f"{host}:{parts.port}" if parts.port else host
        shown = urlunsplit((parts.scheme, host, parts.path, "", ""))
        if parts.scheme not in ("http", "https"):
            raise ConnectorError("Only http:// and https:// URLs can be read.")
        public_address(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        request = urllib.request.Request(  # noqa: S310 -- scheme checked: http or https only
            url, headers={"Accept": "application/json", **dict(self.settings.get("headers") or {})}
        )
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                body = response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as error:
            # the status only: what the remote answered is never echoed back
            raise ConnectorError(f"GET {shown} returned HTTP {error.code}.") from None
        except outbound.OutboundRefused as error:
            raise ConnectorError(str(error)) from None
        except urllib.error.URLError as error:
            raise ConnectorError(f"Cannot reach {shown}: {error.reason}") from None
        except (TimeoutError, OSError) as error:
            raise ConnectorError(f"Cannot reach {shown}: {error}") from None
        if len(body) > MAX_BODY:
            raise ConnectorError(f"GET {shown} returned more than {MAX_BODY // 2**20} MiB.")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ConnectorError(f"GET {shown} did not return JSON.") from None

    def _items(self, body: Any) -> list[Row]:
        path = str(self.query.get("items_path") or "")
        try:
            items = lookup(body, path) if path else body
        except (MissingField, TypeError):
            raise ConnectorError(f"The response has no {path!r} (query.items_path).") from None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ConnectorError(f"{path or 'The response'} is not a list of objects.")
        return items

    def _pages(self, after_cursor: JSON | None) -> list[Row]:
        """Every item of every page, in the API's order."""
        params = dict(self.query.get("params") or {})
        cursor_param = self.query.get("cursor_param")
        if cursor_param and after_cursor is not None:
            params[cursor_param] = after_cursor
        pagination = self.query.get("pagination")
        max_pages = int(self.query.get("max_pages") or MAX_PAGES)
        items: list[Row] = []
        if pagination is None:
            return self._items(self._get(params))
        if pagination["type"] == "page":
            size = pagination.get("size")
            if pagination.get("size_param"):
                size = size or 100
                params[pagination["size_param"]] = size
            page = int(pagination.get("start", 1))
            for _ in range(max_pages):
                batch = self._items(self._get({**params, pagination["param"]: page}))
                items.extend(batch)
                if not batch or (size and len(batch) < size):
                    return items
                page += 1
        else:
            token: Any = None
            for _ in range(max_pages):
                body = self._get({**params, pagination["param"]: token})
                items.extend(self._items(body))
                try:
                    following = lookup(body, pagination["next_path"])
                except (MissingField, TypeError):
                    following = None
                if following in (None, "") or following == token:
                    return items
                token = following
        raise ConnectorError(
            f"The API has more than {max_pages} pages; set query.cursor_param so it returns only "
            "new items, or raise query.max_pages."
        )

    def test_connection(self) -> None:
        params = dict(self.query.get("params") or {})
        pagination = self.query.get("pagination")
        if pagination and pagination["type"] == "page":
            params[pagination["param"]] = pagination.get("start", 1)
        self._items(self._get(params))

    def fetch(self, after_cursor: JSON | None, limit: int) -> list[Row]:
        if self._walked is None:
            # One walk per run; later pages of the same run are cut from it.
            after_key = None if after_cursor is None else sort_key(after_cursor)
            kept = []
            for item in self._pages(after_cursor):
                try:
                    value = lookup(item, self.cursor_field)
                except MissingField:
                    continue
                if value is not None and (after_key is None or sort_key(value) > after_key):
                    kept.append(item)
            kept.sort(key=lambda item: sort_key(lookup(item, self.cursor_field)))
            self._walked, self._walked_after = kept, after_cursor
        rows = self._walked
        if after_cursor is not None and after_cursor != self._walked_after:
            after_key = sort_key(after_cursor)
            rows = [r for r in rows if sort_key(lookup(r, self.cursor_field)) > after_key]
        return rows[:limit]
