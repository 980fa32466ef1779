"""opssuite settings: every value that differs between machines is read here, from the
environment, and nowhere else (the README's configuration table lists them all).

Two runtime modes share this one module:
- embedded (default): SQLite under var/, in-process ticker, no Redis; DEBUG on unless
  told otherwise, SECRET_KEY generated once and kept in var/.
- stack: DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis) set; beat drives ticks.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from NAME, or from the file named by NAME_FILE (docker secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- where local state lives -------------------------------------------------------------
VAR_DIR = Path(os.environ.get("OPSSUITE_VAR_DIR") or BASE_DIR / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- database: SQLite in var/ unless DATABASE_URL says otherwise -------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'opssuite.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded ticker writes while pages read: WAL and a busy timeout keep SQLite
    # from answering "database is locked" under that mix.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
EMBEDDED_DATABASE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"

# --- debug and secrets -------------------------------------------------------------------
# Embedded (SQLite) runs are local development: DEBUG defaults on there, off elsewhere.
DEBUG = env_bool("DEBUG", default=EMBEDDED_DATABASE)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off")
    secret_file = VAR_DIR / "secret_key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(50))
        secret_file.chmod(0o600)
    SECRET_KEY = secret_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- applications ------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_prometheus",
    "opssuite",
    "book",
    "simulator",
    "recon",
    "ledger",
    "reporting",
    "risk",
    "dataquality",
    "documents",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "opssuite.auth.RoleRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "opssuite.urls"
WSGI_APPLICATION = "opssuite.wsgi.application"
ASGI_APPLICATION = "opssuite.asgi.application"

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
                "opssuite.context_processors.shell",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Embedded runs never call collectstatic: whitenoise serves straight from the finders.
# Production collects once (hashed, compressed names) and serves from STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG or env_bool("OPSSUITE_STATIC_FROM_FINDERS", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if WHITENOISE_USE_FINDERS
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- security (production mode = DEBUG off; passes `manage.py check --deploy`) ------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so an anonymous request is told `401 WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["opssuite.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "opssuite.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["opssuite.api.filters.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "opssuite.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "opssuite API",
    "DESCRIPTION": "Investment-operations back office: book, simulator, recon, ledger, "
    "reporting, risk, data quality and documents.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["opssuite.api.permissions.RolePermission"],
    # Swagger UI from the sidecar package: the suite must work with no network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name ("status", "source") get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "TradeStatusEnum": "book.models.TradeStatus",
        "TradeSourceEnum": "book.models.TradeSource",
        "EventSourceEnum": "book.events.Source",
        "TickStatusEnum": "simulator.models.TickStatus",
        # A trade's buy/sell keeps its name now that ledger lines have a D/C side too.
        "SideEnum": "book.models.Side",
        "DebitCreditEnum": "ledger.serializers.SIDE_CHOICES",
        "ReconKindEnum": "recon.models.ReconKind",
        "ReconRunSourceEnum": "recon.models.RunSource",
        "ReconRunStatusEnum": "recon.models.RunStatus",
        "BreakStatusEnum": "recon.models.BreakStatus",
        "BreakActionKindEnum": "recon.models.BreakAction.Kind",
        "AlertStatusEnum": "dataquality.models.AlertStatus",
        "AlertActionKindEnum": "dataquality.models.AlertAction.Kind",
        "JournalKindEnum": "ledger.models.EntryKind",
    },
}

# --- Celery (stack mode) and the tick --------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL or None
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "opssuite")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Wall-clock seconds between two ticks (embedded ticker and Celery beat alike).
OPSSUITE_TICK_SECONDS = env_float("OPSSUITE_TICK_SECONDS", 5.0)
if OPSSUITE_TICK_SECONDS <= 0:
    raise ImproperlyConfigured("OPSSUITE_TICK_SECONDS must be positive")
# A claimed tick whose worker died is reclaimable after this many seconds.
OPSSUITE_TICK_LEASE_SECONDS = env_int("OPSSUITE_TICK_LEASE_SECONDS", 300)
# Recon file uploads (POST /api/recon/runs, /recon/runs/): larger is a 413.
RECON_MAX_UPLOAD_BYTES = env_int("RECON_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
# Run the in-process ticker inside `manage.py serve` (embedded mode). Defaults on when no
# broker is configured; with a broker, Celery beat drives the ticks instead.
OPSSUITE_EMBEDDED_TICKER = env_bool("OPSSUITE_EMBEDDED_TICKER", not CELERY_BROKER_URL)

FRED_API_KEY = env_str("FRED_API_KEY")
# FRED CSV downloads (DATE,<ID> files) to load when no API key is set; else the offline
# subset of real series that ships in the arch package.
OPSSUITE_FRED_CSV_DIR = os.environ.get("OPSSUITE_FRED_CSV_DIR", "")
# What `manage.py bootstrap` (and so `make run`) sets up on a fresh database.
OPSSUITE_SEED = env_int("OPSSUITE_SEED", 20150102)
OPSSUITE_SCALE = os.environ.get("OPSSUITE_SCALE", "demo")
OPSSUITE_BACKFILL_DAYS = env_int("OPSSUITE_BACKFILL_DAYS", 2)
# Discretionary orders each mandate places per tick between rebalances (a Poisson mean).
OPSSUITE_ORDERS_PER_MANDATE_TICK = env_float("OPSSUITE_ORDERS_PER_MANDATE_TICK", 0.3)

# --- observability -------------------------------------------------------------------------
# /metrics: readable by the admin role, or without login from these networks.
OPSSUITE_METRICS_ALLOWED_NETWORKS = env_list(
    "OPSSUITE_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"]
)
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "opssuite.logging.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s tick=%(tick_id)s "
            "trade=%(trade_id)s %(message)s"
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}
