"""Every operation of the API this client calls: method, path, the query parameters it may
send, and the schema components of its body and answer.

The client makes no call that is not here (``Client.call`` takes an ``Operation`` and refuses
a query parameter it does not list); ``generate.py`` writes ``models.py`` for the components
named here; a test holds each operation to the API's published schema."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with {placeholders} for the path parameters
    query: frozenset[str] = frozenset()
    request: str | None = None  # the component of the JSON body
    response: str | None = None  # the component of a successful answer
    statuses: tuple[int, ...] = (200,)  # the successful answers

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


PAGE = frozenset({"limit", "cursor"})

CUSTOMERS_CREATE = Operation("POST", "/api/v1/customers", request="CustomerRequest",
                             response="Customer", statuses=(201,))
CUSTOMERS_GET = Operation("GET", "/api/v1/customers/{customer_id}", response="Customer")
CUSTOMERS_LIST = Operation("GET", "/api/v1/customers", query=PAGE | {"external_id", "search"},
                           response="PaginatedCustomerList")
EVENTS_SEND = Operation("POST", "/api/v1/events", request="EventInRequest",
                        response="IngestOut", statuses=(201, 200))
EVENTS_SEND_BATCH = Operation("POST", "/api/v1/events/batch", request="EventBatchInRequest",
                              response="IngestOut")
USAGE_GET = Operation("GET", "/api/v1/usage", query=frozenset({
    "meter", "start", "end", "customer", "group_by", "granularity", "time_zone"}),
    response="UsageOut")
UPCOMING_INVOICE = Operation("GET", "/api/v1/customers/{customer_id}/upcoming-invoice",
                             query=frozenset({"as_of"}), response="UpcomingInvoice")
CUSTOMER_CURRENT_USAGE = Operation("GET", "/api/v1/customers/{customer_id}/current-usage",
                                   query=frozenset({"as_of"}), response="CustomerUsage")
CONTRACT_CURRENT_USAGE = Operation("GET", "/api/v1/contracts/{contract_id}/current-usage",
                                   query=frozenset({"as_of"}), response="ContractUsage")
ENTITLEMENTS_CHECK = Operation("GET", "/api/v1/entitlements/check",
                               query=frozenset({"customer", "feature", "amount"}),
                               response="CheckOut")

OPERATIONS = (
    CUSTOMERS_CREATE, CUSTOMERS_GET, CUSTOMERS_LIST, EVENTS_SEND, EVENTS_SEND_BATCH, USAGE_GET,
    UPCOMING_INVOICE, CUSTOMER_CURRENT_USAGE, CONTRACT_CURRENT_USAGE, ENTITLEMENTS_CHECK,
)

# The one body of every 4xx and 5xx.
ERROR = "Error"
