"""Python client of the Zenskar billing API.

    from zenskar_client import Client

    client = Client(api_key="zk_...", base_url="https://billing.example.com")
    client.customers.create(external_id="acme", name="Acme", currency="USD")
    summary = client.events.ingest(events, batch_size=1000)
    client.usage.current(customer_id)

Request and response bodies are typed (``zenskar_client.models``, generated from the API's
schema); errors are ``zenskar_client.errors.ApiError`` and its kinds, carrying the API's
error body.
"""

from zenskar_client.client import DEFAULT_BASE_URL, NO_RETRY, Client, Retry, __version__
from zenskar_client.errors import (
    ApiError,
    AuthenticationFailed,
    Conflict,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    ZenskarError,
)
from zenskar_client.ingest import IngestInterrupted, IngestSummary, NewEvent, Rejected
from zenskar_client.resources import Page

__all__ = [
    "DEFAULT_BASE_URL", "NO_RETRY", "ApiError", "AuthenticationFailed", "Client", "Conflict",
    "ConnectionFailed", "IngestInterrupted", "IngestSummary", "InvalidRequest", "NewEvent",
    "NotFound", "Page", "PayloadTooLarge", "PermissionDenied", "RateLimited", "Rejected",
    "Retry", "ServerError", "ZenskarError", "__version__",
]
