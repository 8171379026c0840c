from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "zenskar.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the dashboard (Settings, API keys) or POST /api-keys.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "zenskar.api.authentication.DashboardSessionAuthentication"
    name = "DashboardSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
