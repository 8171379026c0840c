from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """Newest first. A cursor stays valid while rows are added, unlike a page number.

    ``limit`` is 1 to 500 (default 50); anything else, or a cursor this API did not hand out,
    is a 400 naming the parameter rather than a silent fallback."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {"limit": [f"Must be a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {"cursor": ["Not a cursor from this list; use the next or previous link."]}
            ) from None
