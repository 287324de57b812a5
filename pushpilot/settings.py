"""PushPilot settings: every value comes from the environment through ``pushpilot.env``.

``PUSHPILOT_ENV=production`` refuses to start on a missing secret or ``DEBUG=True``; development
(the default, what ``make run`` uses) generates its secrets into ``./.pushpilot/``.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from pushpilot.env import dev_secret, env, env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(env("PUSHPILOT_STATE_DIR", str(BASE_DIR / ".pushpilot")))

PUSHPILOT_ENV = env("PUSHPILOT_ENV", "development")
PRODUCTION = PUSHPILOT_ENV == "production"
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG=True is refused when PUSHPILOT_ENV=production")


def _secret(name: str, make) -> str:
    value = env(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when PUSHPILOT_ENV=production")
    return dev_secret(STATE_DIR, name.lower(), make)


SECRET_KEY = _secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))
PUSHPILOT_ENCRYPTION_KEYS = [
    key.strip()
    for key in _secret("PUSHPILOT_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode()).split(",")
    if key.strip()
]

HOST = env("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)
_DEV_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver", HOST]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else _DEV_HOSTS)
if PRODUCTION and ("*" in ALLOWED_HOSTS or not ALLOWED_HOSTS):
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the real host names in production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# ---------------------------------------------------------------------------------------------
# Tenancy: the one place that decides what lives in public and what in each workspace schema.
# ---------------------------------------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "social_django",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pushpilot",
    "tenants",
    "campaigns.library",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "integrations",
    "campaigns",
    "analytics",
    *env_list("PUSHPILOT_EXTRA_TENANT_APPS", []),
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "tenants.Workspace"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# The migrated template schema new workspaces are cloned from (kept migrated as a hidden tenant).
TENANT_BASE_SCHEMA = "tenant_base"
PUBLIC_SCHEMA_NAME = "public"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
# Host names never select a tenant here: routing is by header/API key (tenants.middleware).
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# One `SET search_path` per schema switch instead of one before every query. Safe because the
# backend forgets the cached path on rollback, savepoint rollback and reconnect.
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "pushpilot.api.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "pushpilot.api.middleware.BodySizeLimitMiddleware",
    "tenants.middleware.WorkspaceRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pushpilot.urls"
WSGI_APPLICATION = "pushpilot.wsgi.application"
APPEND_SLASH = False
AUTH_USER_MODEL = "tenants.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pushpilot")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
# Prefixes every Redis key and queue name of this deployment (`make test` uses its own).
PUSHPILOT_QUEUE_PREFIX = env("PUSHPILOT_QUEUE_PREFIX", "pp")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Cache keys carry the schema so two workspaces never read each other's entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": PUSHPILOT_QUEUE_PREFIX,
    },
    # Throttle counters are per user / key / IP across workspaces, so they must not be schema-scoped.
    "throttle": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{PUSHPILOT_QUEUE_PREFIX}-throttle",
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "tenants.social.GoogleBackend",
    "tenants.social.AppleBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = STATE_DIR / "static"
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at start-up when it is missing
STATICFILES_DIRS = [p for p in [BASE_DIR / "frontend" / "dist"] if p.exists()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"

# Requests over 1 MiB are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
PUSHPILOT_MAX_BODY_BYTES = env_int("PUSHPILOT_MAX_BODY_BYTES", 1024 * 1024)

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None

CORS_URLS_REGEX = r"^/sdk/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_HEADERS = ["content-type", "x-sdk-key"]

# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------
PUSHPILOT_THROTTLE_LOGIN = env("PUSHPILOT_THROTTLE_LOGIN", "10/min")
PUSHPILOT_THROTTLE_ANON = env("PUSHPILOT_THROTTLE_ANON", "60/min")
PUSHPILOT_THROTTLE_SDK = env("PUSHPILOT_THROTTLE_SDK", "1200/min")
PUSHPILOT_THROTTLE_API = env("PUSHPILOT_THROTTLE_API", "600/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API keys first: SimpleJWT raises on a `pp_live_` bearer instead of passing it on.
        "tenants.authentication.ApiKeyAuthentication",
        "tenants.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "pushpilot.api.throttling.AnonThrottle",
        "pushpilot.api.throttling.ApiThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": PUSHPILOT_THROTTLE_LOGIN,
        "anon": PUSHPILOT_THROTTLE_ANON,
        "sdk": PUSHPILOT_THROTTLE_SDK,
        "api": PUSHPILOT_THROTTLE_API,
    },
    "DEFAULT_PAGINATION_CLASS": "pushpilot.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "pushpilot.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "pushpilot.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": SECRET_KEY,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PushPilot API",
    "DESCRIPTION": "Push-notification campaigns for FCM HTTP v1 and Web Push. "
    "Workspace endpoints take `X-Workspace-ID: <id or slug>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "tenants.models.Role",
        "InvitableRoleEnum": [("admin", "admin"), ("member", "member"), ("viewer", "viewer")],
        "NotificationStatusEnum": "campaigns.pipeline_models.NotificationStatus",
    },
}

# ---------------------------------------------------------------------------------------------
# Social sign-in (social-auth-app-django). The token-verification URLs are settings so tests can
# point them at a local fake of the provider.
# ---------------------------------------------------------------------------------------------
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_USER_MODEL = AUTH_USER_MODEL
SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = env("GOOGLE_CLIENT_ID", "")
SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET = env("GOOGLE_CLIENT_SECRET", "")
SOCIAL_AUTH_APPLE_ID_CLIENT = env("APPLE_CLIENT_ID", "")
PUSHPILOT_GOOGLE_TOKENINFO_URL = env(
    "PUSHPILOT_GOOGLE_TOKENINFO_URL", "https://oauth2.googleapis.com/tokeninfo"
)
PUSHPILOT_GOOGLE_USERINFO_URL = env(
    "PUSHPILOT_GOOGLE_USERINFO_URL", "https://openidconnect.googleapis.com/v1/userinfo"
)
PUSHPILOT_APPLE_KEYS_URL = env("PUSHPILOT_APPLE_KEYS_URL", "https://appleid.apple.com/auth/keys")

# ---------------------------------------------------------------------------------------------
# Email (console in development, SMTP when EMAIL_HOST is set)
# ---------------------------------------------------------------------------------------------
EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "PushPilot <no-reply@pushpilot.local>")
PUSHPILOT_PUBLIC_URL = env("PUSHPILOT_PUBLIC_URL", f"http://{HOST}:{PORT}")
PUSHPILOT_INVITATION_DAYS = env_int("PUSHPILOT_INVITATION_DAYS", 7)

# ---------------------------------------------------------------------------------------------
# Celery: its own Redis database number and queue names per environment (`make test` uses
# PUSHPILOT_QUEUE_PREFIX=test), so a `make run` on the same machine never takes the tests' tasks.
# ---------------------------------------------------------------------------------------------
PUSHPILOT_QUEUE_DEFAULT = f"{PUSHPILOT_QUEUE_PREFIX}.default"
PUSHPILOT_QUEUE_SENDS = f"{PUSHPILOT_QUEUE_PREFIX}.sends"
PUSHPILOT_SCHEDULER_TICK_SECONDS = env_int("PUSHPILOT_SCHEDULER_TICK_SECONDS", 15)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = PUSHPILOT_QUEUE_DEFAULT
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless this is
# set: a new PostgreSQL backend (fork, authentication, cold catalog caches) per send batch.
# pushpilot.celery recycles connections between tasks the way Django does between requests
# (DB_CONN_MAX_AGE, health checks); the fixup then only closes them every this many tasks.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "global_keyprefix": f"{PUSHPILOT_QUEUE_PREFIX}:",
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ROUTES = {"campaigns.send_batch": {"queue": PUSHPILOT_QUEUE_SENDS}}
CELERY_BEAT_SCHEDULE = {
    # dispatch_due_jobs (every PUSHPILOT_SCHEDULER_TICK_SECONDS) joins here with the campaigns work.
    "expire-invitations": {"task": "tenants.expire_invitations", "schedule": 3600.0},
}

# ---------------------------------------------------------------------------------------------
# Plans (defaults; each a setting)
# ---------------------------------------------------------------------------------------------
PUSHPILOT_RESERVED_SLUGS = {
    "public",
    TENANT_BASE_SCHEMA,
    "base",
    "api",
    "sdk",
    "admin",
    "static",
    "www",
    "information_schema",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- campaigns ---
# Plan limits for schedules (DESIGN.md "Plans and limits"): the closest two runs of a recurring
# campaign may be, per plan, and how far ahead the first run may be.
PUSHPILOT_PLAN_MIN_INTERVAL_MINUTES = {
    "free": env_int("PUSHPILOT_PLAN_FREE_MIN_INTERVAL_MINUTES", 15),
    "pro": env_int("PUSHPILOT_PLAN_PRO_MIN_INTERVAL_MINUTES", 15),
    "enterprise": env_int("PUSHPILOT_PLAN_ENTERPRISE_MIN_INTERVAL_MINUTES", 5),
}
PUSHPILOT_MAX_SCHEDULE_AHEAD_DAYS = env_int("PUSHPILOT_MAX_SCHEDULE_AHEAD_DAYS", 366)
# Uploaded notification images: local files under MEDIA_ROOT by default; S3 (django-storages)
# when PUSHPILOT_S3_BUCKET is set. Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID
# / AWS_SECRET_ACCESS_KEY, an instance role, …). Devices fetch the images themselves, so the URLs
# are plain public URLs (no expiring signature) unless PUSHPILOT_S3_QUERYSTRING_AUTH=true.
PUSHPILOT_UPLOAD_MAX_BYTES = env_int("PUSHPILOT_UPLOAD_MAX_BYTES", 1024 * 1024)
MEDIA_ROOT = Path(env("PUSHPILOT_MEDIA_ROOT", str(STATE_DIR / "media")))
MEDIA_URL = env("PUSHPILOT_MEDIA_URL", "/media/")
PUSHPILOT_S3_BUCKET = env("PUSHPILOT_S3_BUCKET", "")
if PUSHPILOT_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": PUSHPILOT_S3_BUCKET,
            "endpoint_url": env("PUSHPILOT_S3_ENDPOINT_URL") or None,
            "region_name": env("PUSHPILOT_S3_REGION") or None,
            "custom_domain": env("PUSHPILOT_S3_PUBLIC_DOMAIN") or None,
            "location": env("PUSHPILOT_S3_PREFIX", ""),
            "querystring_auth": env_bool("PUSHPILOT_S3_QUERYSTRING_AUTH", False),
            "file_overwrite": False,
            "default_acl": env("PUSHPILOT_S3_DEFAULT_ACL") or None,
        },
    }

# --- integrations ---
# Connected apps, subscribers and the SSRF rules for the URLs we call on a customer's behalf.
PUSHPILOT_FCM_API_URL = env("PUSHPILOT_FCM_API_URL", "https://fcm.googleapis.com").rstrip("/")
# Push-service origins accepted as Web Push subscription endpoints (scheme://host[:port], `*.` host
# wildcards). Setting it *replaces* the list (tests name their loopback fake); unset or empty means
# https on 443 of the real push services (integrations/transports/urls.py DEFAULT_ALLOWED_ORIGINS).
PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = env_list("PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS", [])
# A service account's token_uri must be on Google's OAuth origins, the origin of
# PUSHPILOT_FCM_API_URL (a local FCM fake serves both), or one of these extra origins.
PUSHPILOT_FCM_TOKEN_URI_ALLOWED_ORIGINS = env_list("PUSHPILOT_FCM_TOKEN_URI_ALLOWED_ORIGINS", [])
# Row errors reported by one subscriber import before the report is cut short.
PUSHPILOT_IMPORT_MAX_ERRORS = env_int("PUSHPILOT_IMPORT_MAX_ERRORS", 1000)
# A PEM CA bundle that replaces the system CAs for FCM, its OAuth endpoint and Web Push services
# (tests and load tests: the local fakes' test CA). Empty: the system's trust store.
PUSHPILOT_PUSH_CA_BUNDLE = env("PUSHPILOT_PUSH_CA_BUNDLE", "")

# --- pipeline ---
# Scheduled jobs → runs → deliveries (campaigns.dispatch, campaigns.fanout). A run found later than
# the grace window after its due time (downtime) is recorded as skipped instead of sent.
PUSHPILOT_RUN_GRACE_SECONDS = env_int("PUSHPILOT_RUN_GRACE_SECONDS", 3600)
# Delivery rows are pruned after this many days; the counts live on in the Notification row.
PUSHPILOT_DELIVERY_RETENTION_DAYS = env_int("PUSHPILOT_DELIVERY_RETENTION_DAYS", 90)
# Messages per send task (FCM's send_each limit) and attempts per message before it is failed.
PUSHPILOT_SEND_BATCH_SIZE = env_int("PUSHPILOT_SEND_BATCH_SIZE", 500)
PUSHPILOT_SEND_MAX_ATTEMPTS = env_int("PUSHPILOT_SEND_MAX_ATTEMPTS", 5)
# Exponential backoff between attempts (milliseconds: tests shorten it), capped, with jitter;
# a provider's Retry-After wins when it is longer.
PUSHPILOT_SEND_RETRY_BASE_MS = env_int("PUSHPILOT_SEND_RETRY_BASE_MS", 5000)
PUSHPILOT_SEND_RETRY_MAX_SECONDS = env_int("PUSHPILOT_SEND_RETRY_MAX_SECONDS", 900)
# How long a worker's claim on a batch (and a run task's claim on a job) holds before the
# dispatcher presumes the worker dead and hands the work to another. Longer than a batch can take.
PUSHPILOT_SEND_LEASE_SECONDS = env_int("PUSHPILOT_SEND_LEASE_SECONDS", 120)
# A cancel request settles this many unsent messages itself and hands the rest of a big run to a
# task, so it answers at once whatever the run's size.
PUSHPILOT_CANCEL_INLINE_ROWS = env_int("PUSHPILOT_CANCEL_INLINE_ROWS", 5000)
# Due workspaces one tick visits (the rest wait for the next tick, earliest first).
PUSHPILOT_DISPATCH_MAX_WORKSPACES = env_int("PUSHPILOT_DISPATCH_MAX_WORKSPACES", 500)
# Recipients per send-now call, per plan (DESIGN.md "Plans and limits"); None = unlimited.
PUSHPILOT_PLAN_MAX_RECIPIENTS = {
    "free": env_int("PUSHPILOT_PLAN_FREE_MAX_RECIPIENTS", 10_000),
    "pro": env_int("PUSHPILOT_PLAN_PRO_MAX_RECIPIENTS", 1_000_000),
    "enterprise": env_int("PUSHPILOT_PLAN_ENTERPRISE_MAX_RECIPIENTS", 0) or None,
}
PUSHPILOT_IDEMPOTENCY_TTL_HOURS = env_int("PUSHPILOT_IDEMPOTENCY_TTL_HOURS", 24)
CELERY_BEAT_SCHEDULE["dispatch-due-jobs"] = {
    "task": "campaigns.dispatch_due_jobs",
    "schedule": float(PUSHPILOT_SCHEDULER_TICK_SECONDS),
    # A tick that could not run in time is worthless: the next one does its work.
    "options": {"expires": float(PUSHPILOT_SCHEDULER_TICK_SECONDS)},
}
CELERY_BEAT_SCHEDULE["pipeline-housekeeping"] = {"task": "campaigns.housekeeping", "schedule": 3600.0}
CELERY_TASK_ROUTES["campaigns.send_batch"] = {"queue": PUSHPILOT_QUEUE_SENDS}


# --- ai ---
def _ai_timeout_seconds(name: str, default: float, *, maximum: float) -> float:
    raw = (env(name, "") or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = math.nan
    if not 0 < value <= maximum:  # NaN and inf fail too
        raise ImproperlyConfigured(
            f"{name} must be a number of seconds above 0 and at most {maximum:g}, got {raw!r}"
        )
    return value


def _ai_generations(name: str, default: int | None) -> int | None:
    raw = env(name)
    if raw is None:
        return default
    if not raw.strip():
        return None
    value = env_int(name, 0)
    if value < 0:
        raise ImproperlyConfigured(f"{name} must be 0 or more (empty: unlimited), got {raw!r}")
    return value


def _check_ai_allowed_origins(value: list[str]) -> None:
    from integrations.transports.urls import parse_allowed_origins

    if not value:
        return  # none: unlike PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS, empty does not mean a default list
    try:
        parse_allowed_origins(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PUSHPILOT_AI_ALLOWED_ORIGINS: {exc}") from None


# AI-written campaign copy (campaigns.ai) through any OpenAI-compatible Chat Completions endpoint.
# Unset → the generate endpoint answers 503 ai_not_configured (a workspace may bring its own
# provider in /api/v1/ai/settings). Without OPENAI_BASE_URL an OPENAI_API_KEY means OpenAI itself.
OPENAI_BASE_URL = (env("OPENAI_BASE_URL", "") or "").rstrip("/")
OPENAI_API_KEY = env("OPENAI_API_KEY", "") or ""
OPENAI_MODEL = env("OPENAI_MODEL", "") or ""
# Seconds one generate-content request may spend on the provider in total (first call and repair
# round together; the client never retries on its own). At most 45: gunicorn's worker timeout is 60
# (pushpilot/launcher.py, infra/Dockerfile), and the request must end before its worker is killed.
PUSHPILOT_AI_TIMEOUT_SECONDS = _ai_timeout_seconds("PUSHPILOT_AI_TIMEOUT_SECONDS", 20.0, maximum=45.0)
# Retry-After (seconds) passed on when an upstream 429 carries none.
PUSHPILOT_AI_RETRY_AFTER_DEFAULT_SECONDS = env_int("PUSHPILOT_AI_RETRY_AFTER_DEFAULT_SECONDS", 30)
# A workspace's own base_url must be https on a public address (SSRF). These exact origins
# (scheme://host[:port]) are accepted besides, http and private addresses included: how tests
# name their loopback fake and how an operator allows an in-house vLLM/Ollama. A malformed entry
# stops startup (ImproperlyConfigured).
PUSHPILOT_AI_ALLOWED_ORIGINS = env_list("PUSHPILOT_AI_ALLOWED_ORIGINS", [])
_check_ai_allowed_origins(PUSHPILOT_AI_ALLOWED_ORIGINS)
# Generations per workspace per calendar month (in the workspace's timezone), per plan. For every
# plan alike: unset = the default below, empty = unlimited (None), 0 = none allowed. One request is
# one generation whatever its number of variants (DESIGN.md "Plans").
PUSHPILOT_PLAN_AI_GENERATIONS = {
    "free": _ai_generations("PUSHPILOT_PLAN_FREE_AI_GENERATIONS", 100),
    "pro": _ai_generations("PUSHPILOT_PLAN_PRO_AI_GENERATIONS", 2000),
    "enterprise": _ai_generations("PUSHPILOT_PLAN_ENTERPRISE_AI_GENERATIONS", None),
}

# --- analytics ---
# Raw SDK and pipeline events are pruned after this many days; the hourly rollups and the sent
# tally (every figure the API reports) are kept.
PUSHPILOT_ANALYTICS_RETENTION_DAYS = env_int("PUSHPILOT_ANALYTICS_RETENTION_DAYS", 90)
CELERY_BEAT_SCHEDULE["analytics-housekeeping"] = {"task": "analytics.housekeeping", "schedule": 3600.0}
