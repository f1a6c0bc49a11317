"""Settings for OEE Live, read from the environment (see README, "Configuration")."""

from __future__ import annotations

from datetime import date
from importlib.util import find_spec
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from oee_site.env import env_bool, env_fernet_keys, env_int, env_list, env_log_level, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OEE_VAR_DIR", str(BASE_DIR / "var")))

# Off unless asked for: a production host that forgets DEBUG must not serve debug pages.
# `make run` (scripts/run.sh) turns it on for the demo when it is not set.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG=0 set SECRET_KEY to a long random value "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

# Secrets kept in the database (OPC UA passwords and private keys, webhook secrets) are encrypted
# with these keys (planning.encryption): the first encrypts, every one decrypts, so a key is
# rotated by putting the new one first. Apart from SECRET_KEY, which can then change on its own.
FIELD_ENCRYPTION_KEYS = env_fernet_keys("FIELD_ENCRYPTION_KEY")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is not set: with DEBUG=0 set it to a Fernet key, kept apart from the database "
            "backups (for example: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        )
    FIELD_ENCRYPTION_KEYS = ["b2VlLWxpdmUtZGV2ZWxvcG1lbnQtb25seS1rZXkhISE="]  # development only, like the key above

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not an IANA time zone such as Europe/Berlin") from None
USE_TZ = True
USE_I18N = True
# The operator's language: the user's saved choice (monitoring.language), else the language
# switcher's cookie, else the browser's Accept-Language, else the plant's LANGUAGE_CODE, which is
# also the language of what no one asked for in person (alert titles and e-mails).
LANGUAGES = [("en", "English"), ("fr", "Français"), ("de", "Deutsch")]
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE={LANGUAGE_CODE!r} is not one of {', '.join(dict(LANGUAGES))}")
# Catalogs are .po files in git; their .mo files are compiled by `make` (oee_site.catalogs).
LOCALE_PATHS = [BASE_DIR / "locale"]
# The plant's formats: a 24-hour clock in every language (Django's English one says "6:26 a.m.").
FORMAT_MODULE_PATH = ["oee_site.formats"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # The audit trail of configuration changes (planning.audit); before planning, whose admin
    # replaces auditlog's page of the trail.
    "auditlog",
    # planning first: monitoring builds on it (its admin extends the machine page planning registers).
    "planning",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "oee_site.middleware.RejectNulCharacters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The admin and the pages take and show times in the site's zone (stored times stay UTC).
    "oee_site.middleware.SiteTimeZone",
    # After authentication: a user's saved language wins over the cookie and the browser's.
    "monitoring.language.UserLanguageMiddleware",
    # After authentication: who made each configuration change of a request (a user or an API client).
    "planning.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "oee_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "oee_site.wsgi.application"
ASGI_APPLICATION = "oee_site.asgi.application"

# SQLite under var/ by default; DATABASE_URL (PostgreSQL) in production.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'oee.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the worker and the web process write side by side:
    # a writer waits for the lock (busy timeout) instead of failing on an upgrade deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

STATIC_URL = "/static/"
# Git keeps no empty folder: a fresh clone may have no static/ yet, which check --deploy warns about.
STATICFILES_DIRS = [path for path in [BASE_DIR / "static"] if path.is_dir()]
# Plotly.js from the installed plotly package: a plant network has no internet, so no CDN.
# find_spec locates the package without importing it (60 ms at every start).
STATICFILES_DIRS.append(("vendor/plotly", Path(find_spec("plotly").origin).parent / "package_data"))
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Redis: the Celery broker and the Channels layer. `make run` starts a private one and
# sets REDIS_URL; without it the default points at a local server.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ROUTES = {"monitoring.tasks.run_collector": {"queue": "collect"}}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Each worker also listens on its own direct queue, so supervision can start a collector on a
# given worker; a collector is one never-ending task, so a worker reserves one task at a time.
CELERY_WORKER_DIRECT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A collector is a task that runs for the worker's life and must outlive a broker outage: it
# keeps reading while Redis is away (Celery warns that a future default will cancel it).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE = {
    "supervise-collectors": {"task": "monitoring.tasks.supervise", "schedule": 10.0},
    # The figures of a shift move on while nothing changes: screens get fresh ones this often.
    "refresh-live-screens": {"task": "monitoring.tasks.refresh_live_screens", "schedule": 30.0},
    # Stops that have gone on long enough, and shifts that have closed, are told to the IT systems.
    "announce-stops-and-shifts": {"task": "monitoring.tasks.announce", "schedule": 15.0},
    # Webhooks are sent after each commit; this retries the ones that failed, when they are due.
    "deliver-webhooks": {"task": "planning.tasks.deliver_webhooks", "schedule": 10.0},
    # Hours closed since the last run are rolled up, so a long period reads few rows (monitoring.rollups).
    "roll-up-hours": {"task": "monitoring.tasks.roll_up", "schedule": 300.0},
    # Raw observations older than OBSERVATIONS_KEEP_DAYS go (nothing while it is unset).
    "prune-observations": {"task": "monitoring.tasks.prune_observations", "schedule": 3600.0},
    # Alert rules are evaluated: alerts open, are sent, escalate and end (monitoring.alerts).
    "evaluate-alerts": {"task": "monitoring.tasks.evaluate_alerts", "schedule": float(env_int("ALERTS_EVALUATE_S", 30))},
}
# A collector's lease on a device lasts this long without renewal (renewed every third of it):
# a dead worker's devices move to a live one within about this time plus one renewal round.
COLLECTOR_LEASE_TTL = env_int("COLLECTOR_LEASE_TTL_MS", 10_000) / 1000
# Observations are refused (per row, with the reason) when their time is before this date, or
# more than this many seconds ahead of this server's clock: a device with an unset or running-
# ahead clock would otherwise turn everything before its reading into a gap in the data.
OBSERVATIONS_NOT_BEFORE = env_str("OBSERVATIONS_NOT_BEFORE", "2000-01-01")
try:
    _not_before = date.fromisoformat(OBSERVATIONS_NOT_BEFORE)
except ValueError:
    raise ImproperlyConfigured(f"OBSERVATIONS_NOT_BEFORE={OBSERVATIONS_NOT_BEFORE!r} is not a date (YYYY-MM-DD)") from None
if _not_before < date(1971, 1, 1):
    # Times before 1971 are refused whatever this says (planning.lib.instants): an earlier date would
    # promise what the product does not do.
    raise ImproperlyConfigured(f"OBSERVATIONS_NOT_BEFORE={OBSERVATIONS_NOT_BEFORE} must be 1971-01-01 or later")
OBSERVATIONS_MAX_AHEAD_S = env_int("OBSERVATIONS_MAX_AHEAD_S", 300)
if OBSERVATIONS_MAX_AHEAD_S < 0:
    raise ImproperlyConfigured(f"OBSERVATIONS_MAX_AHEAD_S={OBSERVATIONS_MAX_AHEAD_S} must not be negative")
# Raw observations older than this many days are deleted once their hours are rolled up (the
# projection stays: monitoring.retention); unset or 0 keeps them for ever.
OBSERVATIONS_KEEP_DAYS = env_int("OBSERVATIONS_KEEP_DAYS", 0) or None
if OBSERVATIONS_KEEP_DAYS is not None and OBSERVATIONS_KEEP_DAYS < 0:
    raise ImproperlyConfigured(f"OBSERVATIONS_KEEP_DAYS={OBSERVATIONS_KEEP_DAYS} must not be negative")

REDIS_SOCKET_TIMEOUT_S = 15
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits up to 5 s on a blocking read; redis-py 8's default socket timeout
        # is also 5 s, so an idle screen's read timed out and daphne closed it (1011). The socket
        # timeout must be longer than the blocking read (channels_redis #422).
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT_S,
                              "socket_connect_timeout": 5}],
                   "capacity": 1000, "expiry": 30},
    }
}
# A live screen gets at most one update per machine this often (seconds); the latest always arrives.
LIVE_MIN_INTERVAL = env_int("LIVE_MIN_INTERVAL_MS", 500) / 1000
# A screen that connects gets the line's last published messages while they are this young (seconds),
# so a thousand screens reconnecting at once cost one build per line, not a thousand.
LIVE_SNAPSHOT_MAX_AGE = env_int("LIVE_SNAPSHOT_MAX_AGE_S", 5)

# A work order's pace (its card's rate and ETA) is that of its last ORDER_RATE_MINUTES of run time.
ORDER_RATE_MINUTES = env_int("ORDER_RATE_MINUTES", 15)
if ORDER_RATE_MINUTES < 1:
    raise ImproperlyConfigured(f"ORDER_RATE_MINUTES={ORDER_RATE_MINUTES} must be at least 1 (minute)")
# The reason a changeover stop gets when an order of another product starts (a setup reason; when the
# plant has no such code, its first setup reason by code).
CHANGEOVER_REASON = env_str("CHANGEOVER_REASON", "changeover")

# The cache is shared by every process (the live snapshots the worker publishes, the API's throttles).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "oee",
        "TIMEOUT": 300,
    }
}

REST_FRAMEWORK = {
    # The key first: a request without credentials is answered 401 with `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "planning.api.keys.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["planning.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# Requests an API client may make, per second, minute, hour or day (429 with Retry-After beyond).
API_CLIENT_RATE = env_str("API_CLIENT_RATE", "1200/min")
# The longest period /api/v1/oee/ answers for (days): its cost grows with the period's length.
API_MAX_PERIOD_DAYS = env_int("API_MAX_PERIOD_DAYS", 366)
if API_MAX_PERIOD_DAYS < 1:
    raise ImproperlyConfigured(f"API_MAX_PERIOD_DAYS={API_MAX_PERIOD_DAYS} must be at least 1 (day)")
# Webhooks: how long a receiver has to answer, the first wait before a retry (doubling up to an
# hour), and how old an event may grow before its delivery is given up (seconds).
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT_S", 10)
WEBHOOK_FIRST_RETRY = env_int("WEBHOOK_FIRST_RETRY_S", 10)
WEBHOOK_MAX_AGE = env_int("WEBHOOK_MAX_AGE_S", 24 * 3600)

# Alerts (monitoring.alerts) go by e-mail through this SMTP server. Without EMAIL_HOST they are
# written to the log of the worker that evaluates them instead (the demo, a plant without mail).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_S", 10)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one of them")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "OEE Live <oee-live@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# How often beat evaluates the alert rules (seconds), how often a screen asks for its alert
# banner (seconds), and the site's address for the links in alert e-mails (none: no link).
ALERTS_EVALUATE_S = env_int("ALERTS_EVALUATE_S", 30)
ALERTS_BANNER_POLL_S = env_int("ALERTS_BANNER_POLL_S", 10)
ALERTS_BASE_URL = env_str("ALERTS_BASE_URL", "")
for _name in ("ALERTS_EVALUATE_S", "ALERTS_BANNER_POLL_S", "EMAIL_PORT", "EMAIL_TIMEOUT_S"):
    if env_int(_name, 1) < 1:
        raise ImproperlyConfigured(f"{_name}={env_int(_name, 1)} must be at least 1")

SPECTACULAR_SETTINGS = {
    "TITLE": "OEE Live API",
    "DESCRIPTION": (
        "Work orders and products in; OEE, shift, stop and work-order results out; observations in. "
        "Authenticate with `Authorization: Bearer <key>` (see docs/erp-integration.md)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOG_LEVEL = env_log_level("LOG_LEVEL", "INFO")
# The libraries' routine at INFO would bury the plant's own messages: asyncua logs each node a
# server adds (a thousand at the simulator's start) and each publish, pymodbus each connection,
# Celery each task received and done and beat each task sent. Their warnings and errors still
# show (a failed task is an ERROR); OEE_THIRD_PARTY_LOG_LEVEL=INFO or DEBUG brings the rest back.
THIRD_PARTY_LOG_LEVEL = env_log_level("OEE_THIRD_PARTY_LOG_LEVEL", "WARNING")
THIRD_PARTY_LOGGERS = ("asyncua", "pymodbus", "celery.worker.strategy", "celery.app.trace", "celery.beat")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"without_lost_connections": {"()": "oee_site.logfilters.WithoutLostConnections"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["without_lost_connections"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        **{name: {"level": THIRD_PARTY_LOG_LEVEL} for name in THIRD_PARTY_LOGGERS},
    },
}
