"""camcare settings, read from the environment (12-factor, like healthchecks).

Every knob has a development default so `make run` works on a fresh machine;
production sets CAMCARE_PRODUCTION=1, which turns on the secure defaults that
`manage.py check --deploy` looks for.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


PRODUCTION = env_flag("CAMCARE_PRODUCTION")
# Off unless asked for: users see the friendly error page with its reference, never a trace.
DEBUG = env_flag("CAMCARE_DEBUG") and not PRODUCTION
SECRET_KEY = os.environ.get(
    "CAMCARE_SECRET_KEY",
    "dev-only-insecure-key-change-me-" if not PRODUCTION else "",
)
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("CAMCARE_SECRET_KEY must be set (50+ random characters) in production")

ALLOWED_HOSTS = os.environ.get("CAMCARE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
SITE_URL = os.environ.get("CAMCARE_SITE_URL", "http://127.0.0.1:8000")

# Where SQLite files, uploaded clips and other generated state live (git-ignored).
DATA_DIR = Path(os.environ.get("CAMCARE_DATA_DIR", BASE_DIR / "var"))

# Test clocks (API.md): per-account frozen clocks for demos and tests. Never in production:
# anyone with an account could move their own time and be billed, or keep clips, by it.
TEST_CLOCKS = env_flag("CAMCARE_TEST_CLOCKS")
if PRODUCTION and TEST_CLOCKS:
    raise ImproperlyConfigured(
        "CAMCARE_TEST_CLOCKS=1 is refused with CAMCARE_PRODUCTION=1: test clocks let an account "
        "move its own time. Unset CAMCARE_TEST_CLOCKS to serve production."
    )

# The address gunicorn listens on (scripts/serve, camcare/gunicorn_conf.py): host:port.
BIND = os.environ.get("CAMCARE_BIND", "127.0.0.1:8000")


def bind_is_loopback(bind: str) -> bool:
    """True for 127.x.x.x:port, [::1]:port and localhost:port; False for anything else
    (0.0.0.0, a public address, a unix socket), which the outside world may reach."""
    host = bind.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# LOOPBACK TESTS ONLY: production settings served over plain http://127.0.0.1:PORT, so that
# tests and local load tests can drive the real server (gunicorn, hashed static, SMTP, no
# test clocks) without TLS. Turns off the SSL redirect, HSTS and secure cookies, which is
# why it is refused unless CAMCARE_BIND is a loopback address.
PLAIN_HTTP = PRODUCTION and env_flag("CAMCARE_PLAIN_HTTP")
if PLAIN_HTTP and not bind_is_loopback(BIND):
    raise ImproperlyConfigured(
        f"CAMCARE_PLAIN_HTTP=1 is for loopback tests only, but CAMCARE_BIND is {BIND!r}; "
        "bind 127.0.0.1:PORT, or serve production over HTTPS without CAMCARE_PLAIN_HTTP."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks_db",
    "camcare.audit",
    "camcare.notices",
    "camcare.accounts",
    "camcare.cameras",
    "camcare.billing",
    "camcare.stores",
    "camcare.api",
    "camcare.portal",
    "camcare.support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "camcare.portal.middleware.refuse_nul_in_path",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the console's second factor
    "camcare.portal.middleware.AccountTimeZone",  # pages in the account's zone (POLICY.md 16)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "camcare.api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "camcare.urls"
WSGI_APPLICATION = "camcare.wsgi.application"
AUTH_USER_MODEL = "accounts.Account"
LOGIN_URL = "portal:login"
CSRF_FAILURE_VIEW = "camcare.portal.views.errors.csrf_failure"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]


def database_config() -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=60)
    else:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "camcare.sqlite3"}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE: a write transaction takes the write lock at BEGIN, so two writers
        # queue on busy_timeout instead of failing with "database is locked" mid-way.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            ),
        }
        config.setdefault("TEST", {})
    return config


DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Collected by scripts/serve (collectstatic) at every start, into the data folder: servers
# that share a checkout (parallel tests) then each have their own, since two collectstatic
# runs writing one folder at once can leave a manifest that names the other's files.
STATIC_ROOT = Path(os.environ.get("CAMCARE_STATIC_ROOT", DATA_DIR / "static"))
MEDIA_ROOT = Path(os.environ.get("CAMCARE_MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "/media-not-served/"  # clips are served by an authenticated view, never publicly

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}


def s3_clip_storage(env) -> dict:
    """STORAGES["default"] on S3-compatible object storage (AWS, MinIO, R2...) through
    django-storages, from CAMCARE_S3_* in `env`. The clip tests build theirs with it too,
    so they run against exactly these options."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env["CAMCARE_S3_BUCKET"],
            "endpoint_url": env.get("CAMCARE_S3_ENDPOINT_URL"),
            "region_name": env.get("CAMCARE_S3_REGION"),
            "access_key": env.get("CAMCARE_S3_ACCESS_KEY_ID"),
            "secret_key": env.get("CAMCARE_S3_SECRET_ACCESS_KEY"),
            # Clips are private: only the authenticated view reads them, never a public URL.
            "default_acl": "private",
            "querystring_auth": True,
            # Never replace a stored object: a name already taken gets a suffix, as on disk.
            "file_overwrite": False,
        },
    }


if os.environ.get("CAMCARE_STORAGE") == "s3":
    STORAGES["default"] = s3_clip_storage(os.environ)

# Largest clip a device may upload, in bytes.
CLIP_MAX_BYTES = int(os.environ.get("CAMCARE_CLIP_MAX_BYTES", 50 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

CATALOG_PATH = Path(os.environ.get("CAMCARE_CATALOG", BASE_DIR / "catalog.toml"))
PAYMENT_GATEWAY = os.environ.get("CAMCARE_PAYMENT_GATEWAY", "camcare.billing.gateway.SandboxGateway")

# E-mail (receipts, password resets): the console in development, SMTP in production.
MAILERS = {
    "default": {
        "BACKEND": os.environ.get(
            "CAMCARE_EMAIL_BACKEND",
            "django.core.mail.backends.smtp.EmailBackend"
            if PRODUCTION
            else "django.core.mail.backends.console.EmailBackend",
        ),
    }
}
if MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": os.environ.get("CAMCARE_EMAIL_HOST", "localhost"),
        "port": int(os.environ.get("CAMCARE_EMAIL_PORT", 25)),
        "username": os.environ.get("CAMCARE_EMAIL_USER", ""),
        "password": os.environ.get("CAMCARE_EMAIL_PASSWORD", ""),
        "use_tls": env_flag("CAMCARE_EMAIL_TLS"),
        # Notices are sent after the commit, often inside a web request: a hung SMTP server
        # must fail the attempt (the outbox retries it), not hang the request.
        "timeout": int(os.environ.get("CAMCARE_EMAIL_TIMEOUT", 10)),
    }
DEFAULT_FROM_EMAIL = os.environ.get("CAMCARE_FROM_EMAIL", "camcare <noreply@camcare.example>")

# Content Security Policy (Django 6 built-in): no third-party origin, no inline script.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION and not PLAIN_HTTP:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_flag("CAMCARE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("CAMCARE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = [SITE_URL]
elif PLAIN_HTTP:
    # Cookies stay HttpOnly/SameSite as above, only not Secure: a browser or test client on
    # http:// would drop Secure cookies, and every form would fail its CSRF check.
    SECURE_SSL_REDIRECT = False
    SECURE_HSTS_SECONDS = 0
    CSRF_TRUSTED_ORIGINS = sorted({SITE_URL, f"http://{BIND}", f"http://localhost:{BIND.rpartition(':')[2]}"})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "camcare": {"handlers": ["console"], "level": os.environ.get("CAMCARE_LOG_LEVEL", "INFO")},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# Development and tests serve static files straight from the apps (no collectstatic needed);
# production serves the collected, hashed, compressed files.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Pages name static files only through {% static %} (hashed names), so the unhashed copies
# are dead weight: dropping them halves what collectstatic compresses at every start.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True

# The support console (camcare/support/): an agent refunds at most this much per refund
# (minor units); billing admins have no limit. TOTP keys stay hidden in the admin.
CAMCARE_AGENT_REFUND_LIMIT_CENTS = int(os.environ.get("CAMCARE_AGENT_REFUND_LIMIT_CENTS", 5000))
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# The billing run's fan-out (README "Billing run"): batches are django.tasks tasks kept in
# this database and taken by `manage.py db_worker` processes. The database, not the
# queue, decides what is billed, so a batch taken twice or lost to a dead worker is
# harmless: the next run or worker finds what is still due.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
