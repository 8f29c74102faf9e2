"""PayOps settings: one module, every value from the environment.

With no variables set it runs on the embedded defaults of DESIGN.md: a SQLite
file, Celery on an atomic filesystem broker, console email, the local Stripe
and Checkfront stand-ins. The README lists every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from payops.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PAYOPS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", True)
DATABASE_URL = env_str("DATABASE_URL")
# The embedded defaults (a laptop or CI with nothing configured) get the
# local stand-ins' well-known credentials. A deployment that configures a
# database never does, even if it forgot DJANGO_DEBUG=false.
EMBEDDED = DEBUG and not DATABASE_URL

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Where customers and staff reach this PayOps: the base of links in emails and
# Checkfront notes (pay links, card-update links).
PAYOPS_PUBLIC_URL = env_str("PAYOPS_PUBLIC_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "simple_history",
    "django_celery_beat",
    "djstripe",
    "payops",
    "audit",
    "bookings",
    "fraud",
    "dunning",
    "payments",
    "refunds",
    "disputes",
    "console",
    "csp",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "payops.login_throttle.user_agent_without_nul",
    # Content-Security-Policy on every answer; the admin's relaxation is set
    # on its answers by the next one, before this one writes the header.
    "csp.middleware.CSPMiddleware",
    "payops.csp_scopes.AdminStylesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Everything needs a login except views marked @login_not_required
    # (the webhook endpoints and the login page).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "payops.urls"
WSGI_APPLICATION = "payops.wsgi.application"

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
    }
]

# --- Database -------------------------------------------------------------

_SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock at BEGIN so the busy timeout queues
    # writers instead of failing them with "database is locked"
    # (measured in shared/reference/console-and-queue.md).
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
}

if DATABASE_URL:
    # Health checks: a reused connection the server dropped (a restart, a failover, an idle timeout) is
    # replaced when a request or task first uses it, instead of failing that request or task.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = dict(_SQLITE_OPTIONS)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "payops.sqlite3"),
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a Celery worker started by a test can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-payops.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes, counted in the database so every gunicorn
# worker sees the same count): this many failed logins for one username, or
# from one client address, lock that username or address out for the
# lockout time, even with the right password. A failure while locked out
# starts the lockout again. Unlock early with `manage.py axes_reset_username`
# / `axes_reset_ip` or by deleting the attempt in the admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("PAYOPS_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PAYOPS_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "payops.login_throttle.locked_out"
AXES_USERNAME_CALLABLE = "payops.login_throttle.counted_username"
# REMOTE_ADDR, or behind the TLS proxy the address it appended to
# X-Forwarded-For: a client cannot spoof its way around the count.
AXES_CLIENT_IP_CALLABLE = "payops.client_ip.client_ip"

# --- Security headers and cookies -----------------------------------------

# With DEBUG off PayOps assumes HTTPS: secure cookies, a redirect from plain
# HTTP and HSTS for a year, each of which the environment can turn down.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: pages carry the token in the form and in hx-headers.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
# On by default: the console's subdomains are not expected to serve plain HTTP.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is a commitment that outlives this setting (anyone may submit a
# domain that sends it; removal takes months): opt in explicitly.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    # The proxy terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    PAYOPS_BEHIND_PROXY = True
else:
    PAYOPS_BEHIND_PROXY = False

# Content-Security-Policy: scripts and styles only from our own static files,
# no inline code, no eval; the same in DEBUG so the browser tests and the demo
# see any violation. The pay page adds Stripe.js's origins (STRIPE_JS_CSP)
# when it loads Stripe.js; the admin's few inline styles are allowed on
# /admin/ only (payops/csp_scopes.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({} if DEBUG else {"upgrade-insecure-requests": True}),
    },
}
# What Stripe.js needs on the pay page (Stripe's published CSP list, without
# the Google Maps address autocomplete the page does not use).
STRIPE_JS_CSP = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}

# --- I18n and time --------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("PAYOPS_DISPLAY_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Email ----------------------------------------------------------------

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "payops@localhost")

# --- Celery ---------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_QUEUE_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: a folder every process on this host shares.
    CELERY_BROKER_TRANSPORT = "payops.fs_transport:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_QUEUE_DIR / "out"),
        "data_folder_out": str(_QUEUE_DIR / "out"),
        "control_folder": str(_QUEUE_DIR / "control"),
        "processed_folder": str(_QUEUE_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    for _folder in ("out", "control", "processed"):
        (_QUEUE_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task taken by a worker that dies is redelivered after this long.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=30),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "inbox-sweep": {
        "task": "payops.tasks.sweep_inbox",
        "schedule": env_int("INBOX_SWEEP_INTERVAL_SECONDS", 30, minimum=1),
    },
    "executor-sweep": {
        "task": "payops.tasks.sweep_executions",
        "schedule": env_int("INBOX_SWEEP_INTERVAL_SECONDS", 30, minimum=1),
    },
    "audit-seal": {"task": "audit.tasks.seal_decisions", "schedule": 30},
}

# --- Webhook inbox --------------------------------------------------------

WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 256 * 1024, minimum=1024)
# An event still "received" this long after arrival was never picked up
# (lost enqueue, dead worker): the sweep queues it again.
INBOX_STUCK_AFTER_SECONDS = env_int("INBOX_STUCK_AFTER_SECONDS", 120, minimum=1)
# A claim older than this belongs to a worker that died mid-event.
INBOX_PROCESSING_LEASE_SECONDS = env_int("INBOX_PROCESSING_LEASE_SECONDS", 600, minimum=60)
INBOX_MAX_ATTEMPTS = env_int("INBOX_MAX_ATTEMPTS", 8, minimum=1)
INBOX_RETRY_BASE_SECONDS = env_int("INBOX_RETRY_BASE_SECONDS", 10, minimum=1)
EXECUTOR_LEASE_SECONDS = env_int("EXECUTOR_LEASE_SECONDS", 600, minimum=60)
# A task is killed before its claim's lease runs out, so a hung worker never
# overlaps with the worker the sweep hands its work to.
TASK_TIME_LIMIT_SECONDS = min(INBOX_PROCESSING_LEASE_SECONDS, EXECUTOR_LEASE_SECONDS) - 30
QUEUE_MAX_COUNTDOWN_SECONDS = env_int("QUEUE_MAX_COUNTDOWN_SECONDS", 300, minimum=1)

# --- Stripe ---------------------------------------------------------------

_LOCAL_STRIPE_KEY = "sk_test_localstripe0000000000000000"
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", _LOCAL_STRIPE_KEY if EMBEDDED else "")
STRIPE_LIVE_MODE = env_bool("STRIPE_LIVE_MODE", False)
_LIVE_KEY = STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))
if STRIPE_SECRET_KEY and _LIVE_KEY != STRIPE_LIVE_MODE:
    _kind, _mode = ("live" if _LIVE_KEY else "test"), str(STRIPE_LIVE_MODE).lower()
    raise ImproperlyConfigured(f"STRIPE_SECRET_KEY is a {_kind} key but STRIPE_LIVE_MODE={_mode}")
if STRIPE_LIVE_MODE:
    STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY
else:
    STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY
# STRIPE_API_BASE points every Stripe call (ours and dj-stripe's) at the local
# stand-in. Empty means Stripe itself: the default outside the embedded
# defaults, and `STRIPE_API_BASE=` (set, empty) inside them.
STRIPE_SIM_PORT = env_int("STRIPE_SIM_PORT", 8420, minimum=1)
STRIPE_API_BASE = env_str("STRIPE_API_BASE", f"http://127.0.0.1:{STRIPE_SIM_PORT}" if EMBEDDED else "").rstrip("/")
if STRIPE_API_BASE:
    _base = urlsplit(STRIPE_API_BASE)
    if not _base.hostname or not (
        _base.scheme == "https" or (_base.scheme == "http" and _base.hostname in ("127.0.0.1", "localhost", "::1"))
    ):
        raise ImproperlyConfigured("STRIPE_API_BASE must be https://…, or http:// on loopback for the stand-in")
    if _LIVE_KEY:
        raise ImproperlyConfigured(
            "a live Stripe key is never sent to a stand-in: set STRIPE_API_BASE= (empty) to use Stripe itself"
        )
    STRIPE_API_HOST = STRIPE_API_BASE
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 30, minimum=1)
STRIPE_MAX_ATTEMPTS = env_int("STRIPE_MAX_ATTEMPTS", 4, minimum=1)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
# Several secrets at once so a rotation never drops events.
STRIPE_WEBHOOK_SECRETS = env_list("STRIPE_WEBHOOK_SECRETS", ["whsec_payops_local_development_only"] if EMBEDDED else [])
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env_int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
# The pay page confirms payments in the browser with Stripe.js (pk_test_… or
# pk_live_…); with the stand-in it offers Stripe's test cards instead.
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
# A pay link in a Checkfront note stops working after this many days.
PAY_LINK_MAX_AGE_DAYS = env_int("PAY_LINK_MAX_AGE_DAYS", 30, minimum=1)

# --- Failed-payment recovery (dunning) --------------------------------------

DUNNING_MAX_RETRIES = env_int("DUNNING_MAX_RETRIES", 4, minimum=0)
# Money must be in this long before the activity starts: no retry is planned later.
DUNNING_SERVICE_MARGIN_HOURS = env_int("DUNNING_SERVICE_MARGIN_HOURS", 48, minimum=0)
# The booking is held in Checkfront this long after the first failure; recovery ends with it.
DUNNING_HOLD_HOURS = env_int("DUNNING_HOLD_HOURS", 48, minimum=1)
DUNNING_MIN_GAP_HOURS = env_int("DUNNING_MIN_GAP_HOURS", 4, minimum=1)
# At or above this (in minor units of the booking's currency), a person decides before a booking is cancelled.
DUNNING_HIGH_VALUE_MINOR = env_int("DUNNING_HIGH_VALUE_MINOR", 50_000, minimum=0)
# A returning customer's saved card is charged for a new booking at once (off-session).
PAYMENTS_CHARGE_CARD_ON_FILE = env_bool("PAYMENTS_CHARGE_CARD_ON_FILE", True)
# The Checkfront booking-form field that holds the customer's language (en, fr, de, es).
DUNNING_LANGUAGE_FIELD = env_str("DUNNING_LANGUAGE_FIELD", "language")
# A last-chance email this many hours before the hold ends (0: none).
DUNNING_LAST_CHANCE_HOURS = env_int("DUNNING_LAST_CHANCE_HOURS", 0, minimum=0)
CELERY_BEAT_SCHEDULE["dunning-end-holds"] = {"task": "dunning.tasks.end_holds", "schedule": 60}

# --- Fraud scoring --------------------------------------------------------

# A MaxMind-format City or Country database (GeoLite2-City.mmdb); empty: no IP geolocation features.
FRAUD_GEOIP_DB = env_str("FRAUD_GEOIP_DB", "")
# Where train_fraud_model writes its skops files (each is named on its FraudModelVersion with a digest).
FRAUD_MODEL_DIR = Path(env_str("FRAUD_MODEL_DIR", str(VAR_DIR / "models")))
# A booking scored this long ago with no fraud label (dispute, warning, review) trains as legitimate.
FRAUD_LABEL_MATURITY_DAYS = env_int("FRAUD_LABEL_MATURITY_DAYS", 60, minimum=1)
CELERY_BEAT_SCHEDULE["fraud-unanswered-reviews"] = {"task": "fraud.tasks.settle_unanswered_reviews", "schedule": 60}

# --- Checkfront -----------------------------------------------------------

# CHECKFRONT_HOST is the account's host (your-company.checkfront.com);
# CHECKFRONT_API_BASE overrides the whole base URL (the local simulator).
CHECKFRONT_HOST = env_str("CHECKFRONT_HOST")
CHECKFRONT_SIM_PORT = env_int("CHECKFRONT_SIM_PORT", 8020, minimum=1)
CHECKFRONT_API_BASE = env_str(
    "CHECKFRONT_API_BASE",
    f"https://{CHECKFRONT_HOST}/api/3.0/"
    if CHECKFRONT_HOST
    else (f"http://127.0.0.1:{CHECKFRONT_SIM_PORT}/api/3.0/" if EMBEDDED else ""),
)
_SIM_CREDENTIALS = EMBEDDED and not CHECKFRONT_HOST
CHECKFRONT_API_KEY = env_str("CHECKFRONT_API_KEY", "payops-sim-key" if _SIM_CREDENTIALS else "")
CHECKFRONT_API_SECRET = env_str("CHECKFRONT_API_SECRET", "payops-sim-secret" if _SIM_CREDENTIALS else "")
CHECKFRONT_TIMEOUT_SECONDS = env_int("CHECKFRONT_TIMEOUT_SECONDS", 20, minimum=1)
CHECKFRONT_MAX_ATTEMPTS = env_int("CHECKFRONT_MAX_ATTEMPTS", 4, minimum=1)
# Checkfront webhooks carry no signature: each configured URL ends in one of
# these unguessable tokens (several at once for rotation).
CHECKFRONT_WEBHOOK_TOKENS = env_list(
    "CHECKFRONT_WEBHOOK_TOKENS", ["local-development-only-checkfront-token"] if EMBEDDED else []
)
for _token in CHECKFRONT_WEBHOOK_TOKENS:
    if len(_token) < 24 or not all(c.isalnum() or c in "-_" for c in _token):
        raise ImproperlyConfigured("each CHECKFRONT_WEBHOOK_TOKENS entry needs 24+ letters, digits, - or _")
CHECKFRONT_SYNC_INTERVAL_SECONDS = env_int("CHECKFRONT_SYNC_INTERVAL_SECONDS", 300, minimum=10)
# Each incremental sync asks for changes since the previous run's start minus
# this much, so a booking changed while a run was paging is never missed.
CHECKFRONT_SYNC_OVERLAP_SECONDS = env_int("CHECKFRONT_SYNC_OVERLAP_SECONDS", 300, minimum=0)
CHECKFRONT_DETAIL_WORKERS = env_int("CHECKFRONT_DETAIL_WORKERS", 4, minimum=1)
CELERY_BEAT_SCHEDULE["checkfront-sync"] = {
    "task": "bookings.tasks.sync_checkfront",
    "schedule": CHECKFRONT_SYNC_INTERVAL_SECONDS,
}

# --- Secrets in production --------------------------------------------------

# With DEBUG off no development or stand-in credential applies (see EMBEDDED),
# so a secret left unset would fail only later, at the first call or delivery.
# Refuse to start instead, naming every one that is missing. Checkfront's are
# needed once PayOps is pointed at a Checkfront; SMTP's password once a user is.
if not DEBUG:
    _required = {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRETS": STRIPE_WEBHOOK_SECRETS,
    }
    if CHECKFRONT_API_BASE:
        _required |= {
            "CHECKFRONT_API_KEY": CHECKFRONT_API_KEY,
            "CHECKFRONT_API_SECRET": CHECKFRONT_API_SECRET,
            "CHECKFRONT_WEBHOOK_TOKENS": CHECKFRONT_WEBHOOK_TOKENS,
        }
    if EMAIL_HOST_USER:
        _required["EMAIL_HOST_PASSWORD"] = EMAIL_HOST_PASSWORD
    _missing = [name for name, value in _required.items() if not value]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG=false needs these from the environment (or NAME_FILE): " + ", ".join(_missing)
        )

# --- Logging --------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"trace": {"()": "payops.trace.TraceIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(trace_id)s %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["trace"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "stripe": {"level": "WARNING"},
    },
}
