"""The dashboard's global search: the box in every page's header GETs ``/search/?q=``.

What is searched belongs to the apps (customers to contracts, invoices to invoicing, payments
to payments), which this module cannot import: the page shows the panels of the slot
``panels.SEARCH``, each given the query, and each app registers one that lists what it found
(``results_panel`` draws them alike). A panel reads through ``request.organization``, matches
in any case, and shows at most its limit of each kind.

The query is bounded at the door: 1 to ``MAX_QUERY`` characters once trimmed, no NUL, no lone
surrogate; anything else is a message on the page (a 400), and no panel runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from zenskar import bounds
from zenskar.dashboard import panels
from zenskar.dashboard.views import member_required

MAX_QUERY = 100


@dataclass(frozen=True)
class Result:
    """One thing found: where it leads, what it is called, a line about it."""

    url: str
    title: str
    detail: str = ""


def query_problem(query: str) -> str | None:
    """Why ``query`` (trimmed) cannot be searched, in words for people, or None."""
    if not query:
        return "Type a name, an external id, an e-mail address or a number to search for."
    if len(query) > MAX_QUERY:
        return f"Search for at most {MAX_QUERY} characters (this was {len(query)})."
    problem = bounds.text_problem(query)
    if problem is not None:
        return f"The search {problem}."
    return None


@member_required  # type: ignore[untyped-decorator]  # the dashboard's decorator is untyped
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    problem = query_problem(query)
    sections = [] if problem else panels.render(panels.SEARCH, request, query)
    return render(request, "dashboard/search.html", {
        # a refused query is not written back into the box: it may be what was refused
        "q": query if problem is None else "", "problem": problem, "sections": sections,
        "active": "search",
    }, status=400 if problem and query else 200)


def results_panel(request: HttpRequest, *, title: str, kind: str, results: list[Result],
                  limit: int) -> str:
    """One kind of result as a section of the search page, "" when nothing was found.
    ``results`` may hold one more than ``limit``: then the first ``limit`` are shown, and
    that there are more is said."""
    if not results:
        return ""
    return render_to_string("dashboard/partials/search_results.html", {
        "title": title, "kind": kind, "results": results[:limit],
        "more": len(results) > limit, "limit": limit,
    }, request=request)
