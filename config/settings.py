"""Onceslot settings: everything configurable comes from the environment through one Env.

Every variable read here is listed in README.md and .env.example. With DEBUG off, a
missing SECRET_KEY or a malformed value stops start-up with ImproperlyConfigured naming
the variable, instead of running half-configured.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.timezones import is_iana_timezone

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the running product writes on this machine (SQLite aside: DATABASE_URL) goes
# under var/: the Celery queue and beat schedule, collected static files, the demo password
# and the console emails. Nothing else appears in the working directory.
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _read(name: str, cast, default):
    """Read one variable, turning a parse error into a message that names it."""
    try:
        return cast(name, default=default)
    except (ValueError, TypeError, environ.ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name} has a malformed value: {exc}") from exc


_FALSE_STRINGS = ("false", "off", "no", "n", "0", "")


def _bool(name: str, *, default):
    # env.bool reads any unknown word ("maybe", "ture") as False: refuse it instead.
    value = env.str(name, default=None)
    if value is None:
        return default
    if value.strip().lower() in environ.Env.BOOLEAN_TRUE_STRINGS:
        return True
    if value.strip().lower() in _FALSE_STRINGS:
        return False
    raise ImproperlyConfigured(f"{name} has a malformed value {value!r}: use on/off, true/false")


DEBUG = _bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or .env (DEBUG=on allows a dev key)."
        )
    SECRET_KEY = "onceslot-insecure-development-key-do-not-use-in-production"  # noqa: S105
# Old keys keep tokens (one-time links, booking links, sessions) valid across a rotation.
SECRET_KEY_FALLBACKS = _read("SECRET_KEY_FALLBACKS", env.list, [])

ALLOWED_HOSTS = _read("ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost"] if DEBUG else [])

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://, got {SITE_URL!r}")

TIME_ZONE = env.str("TIME_ZONE", default="UTC")
if not is_iana_timezone(TIME_ZONE):
    # Not ZoneInfo(): it also loads "localtime" (the host's zone, whatever it is) and
    # anything else a distribution put in its zoneinfo folder.
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not an IANA timezone")
USE_TZ = True
# Public pages and invitee emails in these (config/i18n.py); staff pages stay English.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
FORMAT_MODULE_PATH = ["config.formats"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "calendars",
    "bookings",
    "contacts",
    "workflows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.CSPMiddleware",
]

# Sessions in the database, each row keyed by a digest of its cookie (accounts/sessions.py):
# a copy of the table signs nobody in, and logging out still ends the session everywhere.
SESSION_ENGINE = "accounts.sessions"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": _read("DATABASE_URL", env.db_url, f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if "." not in DATABASES["default"].get("ENGINE", ""):
    # db_url returns a config with no ENGINE (or the bare scheme) for a malformed URL.
    raise ImproperlyConfigured(
        "DATABASE_URL has a malformed value: use e.g. postgres://user:pass@host:5432/name "
        "or sqlite:////absolute/path.sqlite3"
    )
# Read whatever the engine, so a malformed value fails on SQLite too; applied to PostgreSQL only.
DATABASE_SERVER_SIDE_BINDING = _bool("DATABASE_SERVER_SIDE_BINDING", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks: BEGIN IMMEDIATE takes the write lock at the start of every
    # transaction, so two bookings for one slot are serialized instead of both reading
    # "free" and one failing later with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = _read("DATABASE_CONN_MAX_AGE", env.int, 60)
    # Off: the check costs a database round trip on every request (measured in make bench);
    # after a database restart each worker's first request fails once and reconnects.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    if DATABASE_SERVER_SIDE_BINDING:
        # psycopg 3 server-side binding: parameters travel apart from the SQL text, so a
        # statement's text is the same on every call and psycopg can prepare it on the
        # connection; PostgreSQL then skips parsing it and, once it settles on a generic
        # plan, planning it (make bench: PostgreSQL CPU per booking 1.2 -> 0.8 ms).
        # Django passes prepare_threshold=None (never prepare) unless it is set here.
        # 2: a statement is prepared on its third run on a connection. The hot ones (slot
        # and booking reads, booking and outbox writes) get there within a few requests on a
        # connection kept CONN_MAX_AGE seconds, while one-off statements (admin pages,
        # migrations) take no server-side slot and do not push hot ones out of psycopg's
        # 100-statement cache, as they would with 0. A rollback (to a savepoint too) makes
        # psycopg deallocate them all: they are prepared again on later runs.
        # Turn it off behind a pooler that cannot keep prepared statements across
        # transactions: PgBouncer in transaction pooling mode before 1.21 (or with
        # max_prepared_statements = 0), or another pooler without prepared-statement support.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 2}
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise serves from the finders too, so a server works before `collectstatic` has run.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Email: EMAIL_URL like smtp://user:pass@host:587 (add ?tls=1), consolemail://, dummymail://
EMAIL_CONFIG = _read("EMAIL_URL", env.email_url, "consolemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG.get("EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend":
    # Readable blocks on the console, the full messages in var/mail/ (config/mail.py).
    EMAIL_BACKEND = "config.mail.ConsoleBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Onceslot <noreply@localhost>")
EMAIL_TIMEOUT = 10

# Celery. With no broker configured, the filesystem transport under var/ lets `make run`
# execute tasks with a real worker process and no Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}


def filesystem_broker_options(folder: Path) -> dict:
    """Kombu's filesystem transport with its queue under `folder` (created: without it the
    worker dies)."""
    (folder / "celery-queue").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "celery-queue"),
        "data_folder_out": str(folder / "celery-queue"),
        "processed_folder": str(folder / "celery-processed"),
        "control_folder": str(folder / "celery-control"),  # else ./control
        "store_processed": False,
        # The worker looks for new messages this often (kombu's default is 1 s): a booking's
        # confirmation leaves well within 3 s of the booking under `make run`.
        "polling_interval": 0.2,
    }


if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR)
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True  # a worker crash mid-task redelivers it; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection before and after every task unless
# this is set, so each task opened a new PostgreSQL connection (make bench: 1,500 sessions
# for 1,000 workflow contacts). With it, a connection serves up to 2 x 100 tasks.
CELERY_DB_REUSE_MAX = 100
CELERY_TIMEZONE = "UTC"


def _seconds(name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = _read(name, env.int, default)
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(
            f"{name} must be between {minimum} and {maximum} seconds, got {value}"
        )
    return value


# Claims and recovery (docs/architecture.md, "Claims, leases and recovery"). A worker's
# claim on a workflow step or an outbox row lasts this long unless renewed; a claim whose
# lease ran out (its worker died) is free for any worker. At least 30 s: the slow I/O under
# a claim (an SMTP exchange, a webhook) is bounded well below it.
WORKFLOW_STEP_LEASE_SECONDS = _seconds(
    "WORKFLOW_STEP_LEASE_SECONDS", default=60, minimum=30, maximum=3600
)
OUTBOX_LEASE_SECONDS = _seconds("OUTBOX_LEASE_SECONDS", default=60, minimum=30, maximum=3600)
# A published task that has not started this long after it was due counts as lost with the
# broker and is published again; the sweeps that find lost work and ended leases run this
# often. Lost work is thus found within LOST_AFTER + SWEEP seconds (45 by default).
RECOVERY_LOST_AFTER_SECONDS = _seconds(
    "RECOVERY_LOST_AFTER_SECONDS", default=30, minimum=5, maximum=3600
)
RECOVERY_SWEEP_SECONDS = _seconds("RECOVERY_SWEEP_SECONDS", default=15, minimum=1, maximum=300)

# Beat keeps its state file here whatever the working directory (default: ./celerybeat-schedule).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}
# Outbox rows whose delivery task was lost (broker restart, dead worker) are re-enqueued.
CELERY_BEAT_SCHEDULE["sweep-outbox"] = {
    "task": "bookings.tasks.sweep_outbox",
    "schedule": float(RECOVERY_SWEEP_SECONDS),
}
# One-time links that expired unused are reported (once each) within a minute.
CELERY_BEAT_SCHEDULE["report-expired-links"] = {
    "task": "bookings.tasks.report_expired_links",
    "schedule": 30.0,
}
# Workflow waits live in the database (due_at), released here; the sweeper re-enqueues steps
# the broker lost and takes back steps whose worker's lease ran out.
# Every 10 s: a reminder "10 minutes before" should not arrive half a minute late, and
# the question (waiting steps due by now) is one indexed query.
CELERY_BEAT_SCHEDULE["workflows-release-waits"] = {
    "task": "workflows.tasks.release_due_waits",
    "schedule": 10.0,
}
CELERY_BEAT_SCHEDULE["workflows-sweep-steps"] = {
    "task": "workflows.tasks.sweep_steps",
    "schedule": float(RECOVERY_SWEEP_SECONDS),
}

# Connected calendars (calendars/connections.py): how often busy time is read again, and
# whether their URLs may reach loopback and private addresses (default off: public only).
CALENDAR_SYNC_INTERVAL_SECONDS = _read("CALENDAR_SYNC_INTERVAL_SECONDS", env.int, 300)
if not 30 <= CALENDAR_SYNC_INTERVAL_SECONDS <= 86400:
    raise ImproperlyConfigured(
        "CALENDAR_SYNC_INTERVAL_SECONDS must be between 30 and 86400, "
        f"got {CALENDAR_SYNC_INTERVAL_SECONDS}"
    )
CALENDAR_CONNECTION_ALLOW_PRIVATE = _bool("CALENDAR_CONNECTION_ALLOW_PRIVATE", default=False)
CELERY_BEAT_SCHEDULE["calendars-sync-connections"] = {
    "task": "calendars.tasks.sync_due_connections",
    # Each connection is due CALENDAR_SYNC_INTERVAL_SECONDS after its last sync (or later,
    # backing off after failures); this run only finds the due ones.
    "schedule": float(min(60, CALENDAR_SYNC_INTERVAL_SECONDS)),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.APITokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_THROTTLE_RATES": {},
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
THROTTLE_PUBLIC_RATE = env.str("THROTTLE_PUBLIC_RATE", default="120/min")
if THROTTLE_PUBLIC_RATE.lower() == "none":
    THROTTLE_PUBLIC_RATE = None
elif not re.fullmatch(r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", THROTTLE_PUBLIC_RATE):
    # DRF would only parse it on the first public request, and fail there with a 500.
    raise ImproperlyConfigured(
        f"THROTTLE_PUBLIC_RATE must look like 120/min (or none), got {THROTTLE_PUBLIC_RATE!r}"
    )
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["public"] = THROTTLE_PUBLIC_RATE

# The Send webhook action reaches only public addresses unless this is on (a receiver on
# this host or its private network): see workflows/actions/send_webhook.py.
WORKFLOW_WEBHOOK_ALLOW_PRIVATE = _bool("WORKFLOW_WEBHOOK_ALLOW_PRIVATE", default=False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Onceslot API",
    "DESCRIPTION": "Calendars, availability, bookings, one-time links and workflows.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema lists only the operations the requesting user may call: the public API for
    # anyone, the staff API after a staff login (session or token).
    "SERVE_PUBLIC": False,
    # Swagger UI assets come from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "type" or "status" with different choices: name them apart.
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.Booking.Status",
        "BookingAttendanceEnum": "bookings.models.Booking.Attendance",
        "WorkflowStatusEnum": "workflows.models.Workflow.Status",
        "EnrollmentStatusEnum": "workflows.models.Enrollment.Status",
        "StepRunStatusEnum": "workflows.models.StepRun.Status",
        "TriggerTypeEnum": "workflows.models.TriggerType",
        "ActionTypeEnum": "workflows.models.ActionType",
    },
}

# The public API's rate limit counts in this cache: per process with the default, shared
# by every gunicorn worker and host with CACHE_URL=redis://... in production.
CACHES = {"default": _read("CACHE_URL", env.cache_url, "locmemcache://")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "config.logging.RedactTokensFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # No handlers of its own: this drops those of Django's default logging (a console
        # handler with DEBUG on, mail_admins with it off) that would write "Not Found:
        # /l/<token>/" unfiltered; records go on to the root's redacting console.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
    CSRF_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_TRUSTED_ORIGINS = [SITE_URL]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy on every response (django-csp): scripts and styles only from our
# own static files, so markup injected anywhere (an invitee's name in the admin) cannot run.
# No inline script, no eval, no inline style attribute: templates keep theirs in static/.
# frame-ancestors 'none' matches X-Frame-Options: DENY; a view that may be framed (the embed)
# says so with xframe_options_exempt and config.middleware.CSPMiddleware opens both.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Swagger UI and the admin draw some icons as data: URIs.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
