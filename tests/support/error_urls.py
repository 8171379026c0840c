"""A URL table for the error-page tests: the project's, plus a page and an API path that fail
with a bug (``@pytest.mark.urls("tests.support.error_urls")``). Its handlers are the project's:
Django reads them from the root URL table."""

from django.urls import path

from zenskar.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("broken/", broken),
    path("api/v1/broken", broken),
    *urlpatterns,
]
