"""Django settings, read from the environment.

The variables (see README.md for the full list):

DATABASE_URL        PostgreSQL URL of the *owner* role: migrations and maintenance run with it.
                    Unset: the embedded PostgreSQL under .data/ (started by `make run`/`make test`).
DATABASE_APP_USER   the ordinary role the application connects as, under row-level security
                    (default ``zenskar_app``; created by the first migration when missing).
DATABASE_APP_PASSWORD  its password, where the server wants one.
REDIS_URL           Celery broker, result backend and cache. Unset: the embedded Redis.
SECRET_KEY, DEBUG, ALLOWED_HOSTS, EMAIL_URL, PUBLIC_URL
"""

from __future__ import annotations

import os
from pathlib import Path

from zenskar import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or embedded.local_secret_key()
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "zenskar.core",
    "zenskar.tenancy",
    "zenskar.api",
    "zenskar.dashboard",
    "zenskar.webhooks",
    "zenskar.audit",
    "contracts",
    "metering",
    "invoicing",
    "payments",
    "revrec",
    "receivables",
    "entitlements",
]

MIDDLEWARE = [
    "zenskar.core.middleware.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "zenskar.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "zenskar.tenancy.middleware.DashboardOrganizationMiddleware",
    "zenskar.audit.middleware.AuditContextMiddleware",
]

ROOT_URLCONF = "zenskar.urls"
WSGI_APPLICATION = "zenskar.wsgi.application"
ASGI_APPLICATION = "zenskar.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "zenskar.tenancy.middleware.organization_context",
            ],
            # The page kit -- formatting filters and partials -- in every template, unloaded.
            "builtins": ["zenskar.dashboard.templatetags.kit"],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# Two aliases on the same database. "default" is the application's connection: an ordinary role
# that row-level security applies to. "owner" is the role that owns the tables: migrations and
# maintenance only (it bypasses row-level security, so request and task code never uses it).
OWNER_DB = embedded.database_settings(os.environ.get("DATABASE_URL") or embedded.postgres_url())
APP_DB_USER = os.environ.get("DATABASE_APP_USER", "zenskar_app")
APP_DB_PASSWORD = os.environ.get("DATABASE_APP_PASSWORD", "")
DATABASES = {
    "default": {
        **OWNER_DB,
        "USER": APP_DB_USER,
        "PASSWORD": APP_DB_PASSWORD,
        "CONN_MAX_AGE": int(os.environ.get("CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    },
    "owner": {**OWNER_DB, "CONN_MAX_AGE": 0},
}
DATABASE_ROUTERS = ["zenskar.core.db.OwnerMigratesRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery and the cache --------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL") or embedded.redis_url()
CACHES = {
    "default": {
        "BACKEND": "zenskar.core.cache.RedisCache",  # one Redis client per pool
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "zenskar",
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "zenskar")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.DATA_DIR / "celerybeat-schedule")

# --- Auth, sessions ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "dashboard:login"
SESSION_COOKIE_HTTPONLY = True

# --- HTTPS ------------------------------------------------------------------------------------
# HTTPS=true when the platform is served over HTTPS (docker-compose.yml's production shape):
# cookies only over HTTPS, HSTS for a year, plain HTTP redirected. Behind a proxy that ends TLS,
# the proxy must set X-Forwarded-Proto (and drop the client's own).
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600 if HTTPS else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's probe speaks plain HTTP
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- I18N, time -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static -----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = embedded.DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(embedded.DATA_DIR / "media")))

# --- E-mail -----------------------------------------------------------------------------------
# EMAIL_URL: smtp://user:password@host:port (smtps:// for TLS on connect, ?starttls=1 for
# STARTTLS). Unset: e-mails are written to the console (the web/worker log).
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@localhost")
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    from urllib.parse import parse_qs, unquote, urlsplit

    _email = urlsplit(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 25)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = parse_qs(_email.query).get("starttls", ["0"])[0] in ("1", "true")
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = os.environ.get(
        "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
    )

# --- Rate limits (README.md, "Environment variables") ----------------------------------------
# Counted in the cache (Redis), per fixed window; a rate is "<count>/<s|min|hour|day>", "off"
# for none. The client address is REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies, the
# address the outermost of them saw (zenskar.core.ratelimit.client_address).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Usage ingestion pushes ~50 batches/s with one key (bench/ingest.py): the per-key rate leaves
# room for that, and more.
API_RATE_LIMIT_PER_KEY = os.environ.get("API_RATE_LIMIT_PER_KEY", "6000/min")
API_RATE_LIMIT_PER_ADDRESS = os.environ.get("API_RATE_LIMIT_PER_ADDRESS", "600/min")
# Entitlement checks: a product checks before every action, so far above the general rate.
ENTITLEMENT_CHECK_RATE = os.environ.get("ENTITLEMENT_CHECK_RATE", "300000/min")
API_AUTH_FAILURES_PER_ADDRESS = os.environ.get("API_AUTH_FAILURES_PER_ADDRESS", "60/min")
# Dashboard sign-in: this many failures for one e-mail (from any address), or from one
# address (for any e-mail), within the window lock that e-mail or address out.
LOGIN_FAILURES_PER_EMAIL = int(os.environ.get("LOGIN_FAILURES_PER_EMAIL", "5"))
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "20"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900"))
PASSWORD_RESET_RATE_PER_ADDRESS = os.environ.get("PASSWORD_RESET_RATE_PER_ADDRESS", "10/hour")

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "zenskar.api.authentication.ApiKeyAuthentication",
        "zenskar.api.authentication.DashboardSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["zenskar.api.permissions.OrganizationRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "zenskar.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "zenskar.api.schema.ReferenceAutoSchema",
    "EXCEPTION_HANDLER": "zenskar.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["zenskar.api.parsers.DecimalJSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Read per request (zenskar.api.throttling), so a changed setting applies at once.
    "DEFAULT_THROTTLE_CLASSES": [
        "zenskar.api.throttling.ApiKeyRateThrottle",
        "zenskar.api.throttling.AddressRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": API_RATE_LIMIT_PER_KEY,
        "address": API_RATE_LIMIT_PER_ADDRESS,
        "entitlement_checks": ENTITLEMENT_CHECK_RATE,
        "auth_failures": API_AUTH_FAILURES_PER_ADDRESS,
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Zenskar billing API",
    "DESCRIPTION": (
        "Multi-tenant billing: contracts, usage metering, invoicing, payments, revenue. "
        "Authenticate with `Authorization: Bearer <api key>`. Every POST accepts an "
        "`Idempotency-Key` header. Errors share one body: "
        '`{"error": {"type", "message", "fields", "codes"}}` (the `Error` schema); every '
        "operation lists the 4xx it can answer. Amounts are decimal strings with their "
        "currency's minor digits. Lists are cursor-paginated (`limit`, `cursor`, `next`)."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "zenskar.api.schema.any_value_may_be_null",
    ],
    # The webhook event catalogue (zenskar/webhooks/catalogue.py): what endpoints receive.
    # Webhooks are OpenAPI 3.1's ("OAS_VERSION" above).
    "WEBHOOKS": "zenskar.webhooks.openapi.WEBHOOKS",
    # Choice sets that share a field name get names of their own (not a hash).
    "ENUM_NAME_OVERRIDES": {
        "MemberRoleEnum": "zenskar.tenancy.models.Role",
        "ApiKeyRoleEnum": ["admin", "finance", "viewer"],
        "FeatureKindEnum": "entitlements.models.Feature.Kind",
        "DataSourceKindEnum": "metering.models.DataSource.Kind",
        "InvoiceStatusEnum": "invoicing.models.Invoice.Status",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "ReminderStatusEnum": "receivables.models.Reminder.Status",
        "DeliveryStatusEnum": "zenskar.webhooks.models.Delivery.Status",
        "ErrorTypeEnum": "zenskar.api.schema.ERROR_TYPES",
        # a reminder step's channel and action keep their names beside the audit trail's
        "ChannelEnum": "receivables.models.ReminderStep.Channel",
        "ActionEnum": "receivables.models.ReminderStep.Action",
        "AuditChannelEnum": "zenskar.audit.models.Channel",
        "AuditActionEnum": "zenskar.audit.models.Action",
        "AuditActorTypeEnum": "zenskar.audit.models.ActorType",
    },
}

# Usage events: the largest body POST /events/batch accepts (10,000 events of a few hundred
# bytes fit well within it); Django's own limit follows.
EVENTS_MAX_BODY_BYTES = int(os.environ.get("EVENTS_MAX_BODY_BYTES", str(16 * 1024 * 1024)))
# Every other API request body (a 413 above it; see zenskar/core/middleware.py).
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = EVENTS_MAX_BODY_BYTES

# Calls to addresses a tenant chose (data-source connectors, webhook endpoints) refuse hosts on
# loopback, private and link-local networks: a tenant must not reach the platform's own services
# (zenskar/outbound.py). A self-hosted installation whose systems live on its private network
# turns this on. CONNECTORS_ALLOW_PRIVATE_NETWORKS is its earlier name, still read.
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env_bool(
    "OUTBOUND_ALLOW_PRIVATE_NETWORKS", env_bool("CONNECTORS_ALLOW_PRIVATE_NETWORKS", False))

# Where Stripe calls of gateways in test mode go instead of api.stripe.com: a Stripe emulator
# (localstripe) for the tests and the demo. The operator's setting, never a tenant's.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "").rstrip("/")

# Idempotency keys are kept this long, then purged by a periodic task.
IDEMPOTENCY_KEY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_KEY_TTL_HOURS", "24"))
# An API key's last use is written at most this often (seconds), not on every request.
API_KEY_LAST_USED_RESOLUTION = 60

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # paths are logged with their credentials removed (checkout and reset links)
    "filters": {"redact": {"()": "zenskar.core.access_log.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint narrates every rendering step at INFO; the Stripe library every request
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}
