"""Serving the API reference: the OpenAPI schema and its docs page (Swagger UI).

Apart from ``zenskar.api.schema``, which the schema generation imports (as
``DEFAULT_SCHEMA_CLASS``) before these views can be defined."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """The schema, generated once per process (generating it takes seconds: every view and
    serializer is walked) and rendered once per format asked for (YAML or JSON; rendering a
    megabyte of YAML takes most of a second). It changes only with the code, which a new
    process brings."""

    authentication_classes: list = []
    permission_classes: list = []
    _generated: ClassVar[dict | None] = None
    _rendered: ClassVar[dict[str, tuple[bytes, str]]] = {}

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        renderer = request.accepted_renderer
        key = f"{renderer.format}|{request.accepted_media_type}"
        if key not in SchemaView._rendered:
            response = self.finalize_response(request, super().get(request, *args, **kwargs),
                                              *args, **kwargs)
            response.render()
            SchemaView._rendered[key] = (response.content, response["Content-Type"])
        content, content_type = SchemaView._rendered[key]
        answer = HttpResponse(content, content_type=content_type)
        answer["Content-Disposition"] = f'inline; filename="{self._get_filename(request, None)}"'
        return answer

    def _get_schema_response(self, request):
        if SchemaView._generated is None:
            generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
            SchemaView._generated = generator.get_schema(request=None, public=True)
        return Response(
            data=SchemaView._generated,
            headers={"Content-Disposition":
                     f'inline; filename="{self._get_filename(request, None)}"'})


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI over the schema, with a way back to the dashboard. Its start-up script is a
    file of its own: the page runs under the dashboard's Content-Security-Policy."""

    template_name = "api/docs.html"
    url_name = "api:schema"
    authentication_classes: list = []
    permission_classes: list = []
