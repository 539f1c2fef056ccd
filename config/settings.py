"""CAROCP Forum settings: one module, everything from environment variables.

The defaults run as they are for development and tests (the "embedded default": SQLite and
Channels' in-memory layer, one process). Production differs only through environment
variables; each one is commented below and listed in .env.example.
"""

from __future__ import annotations

import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# DATA_DIR: where the embedded default keeps its SQLite file, generated secret key and uploads.
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))

# DEBUG: on for local development only. Off in production (and production is strict below).
DEBUG = env.bool("DEBUG", default=False)
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

# PRODUCTION: set to 1 behind a TLS-terminating proxy; turns on HTTPS-only cookies, HSTS, etc.
PRODUCTION = env.bool("PRODUCTION", default=False)


def _local_secret_key() -> str:
    """The embedded default generates a key once and keeps it in DATA_DIR."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


# SECRET_KEY: required in production; never committed.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION=1.")
    SECRET_KEY = _local_secret_key()
elif PRODUCTION and (
    len(SECRET_KEY) < 50 or SECRET_KEY.startswith(("django-insecure", "change-me"))
):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: 50+ random characters, not the example's "
        "placeholder (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

# ALLOWED_HOSTS: comma-separated host names the site answers to. "*" is refused in production.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must not contain '*' in production.")

# CSRF_TRUSTED_ORIGINS: comma-separated origins (https://forum.example.org) for a proxy setup.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "channels",
    "markdownx",
    "csp",
    "accounts",
    "forum",
    "realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Database down: a 503 "temporarily unavailable" page instead of a 500 (config/middleware.py).
    "config.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.MemberActivityMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
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
                "forum.context_processors.forum",
            ],
            # {% url %} from cached patterns (forum/templatetags/fast_url.py)
            "builtins": ["forum.templatetags.fast_url"],
        },
    },
]

# DATABASE_URL: e.g. postgres://user:pass@127.0.0.1:5432/forum. Unset: SQLite in DATA_DIR.
_DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")
if env.str("DATABASE_URL", default=""):
    _scheme = env.str("DATABASE_URL").partition("://")[0]
    if "://" not in env.str("DATABASE_URL") or _scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            "DATABASE_URL must look like postgres://user:password@host:5432/name "
            f"(scheme one of {', '.join(_DATABASE_SCHEMES)}); got scheme {_scheme!r}."
        )
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "forum.sqlite3"}
    }

_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Under an ASGI server persistent connections pile up per thread; Django's pool (psycopg 3)
    # keeps the count bounded. DB_POOL_MAX: connections per process.
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_MAX", default=10),
        "timeout": 10,
    }
    _db["CONN_MAX_AGE"] = 0
    # With the pool this makes psycopg_pool check a connection before handing it out (one empty
    # round trip): after the database restarts or ends sessions, a dead pooled connection is
    # replaced instead of failing the next request (bench/faults.py, "database" scenario).
    _db["CONN_HEALTH_CHECKS"] = True
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the one embedded process read while it writes.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file (not in-memory) test database, so the real daphne processes that tests start
    # (tests/servers.py) see the same data.
    _db.setdefault("TEST", {}).setdefault("NAME", str(DATA_DIR / "test_forum.sqlite3"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "forum:index"
LOGOUT_REDIRECT_URL = "forum:index"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# REDIS_URL: e.g. redis://127.0.0.1:6379/0. Unset: in-memory channel layer and local cache
# (one process only). Set: channels-redis and a Redis cache shared by every daphne worker.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        "REDIS_URL must look like redis://127.0.0.1:6379/0 (or rediss:// or unix://); "
        f"got {REDIS_URL.partition('://')[0] if '://' in REDIS_URL else 'no scheme'}."
    )
if REDIS_URL:
    from redis.exceptions import ConnectionError as RedisConnectionError

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # Explicit pool size: the default (100) fails under a connect storm. Sockets join
                # groups once per process (realtime.hub), so the layer sees few connections.
                # Timeouts: a request publishing with Redis down waits 2 s at most (two connect
                # attempts, then the publisher pauses, realtime.publish); socket_timeout exceeds
                # BZPOPMIN's 5 s. retry_on_error: after a Redis restart every idle pooled
                # connection is dead; retried once, a command reconnects instead of failing
                # (test_channel_layer_pool_survives_redis_restart in tests/realtime).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": 500,
                        "socket_connect_timeout": 1,
                        "socket_timeout": 10,
                        "retry_on_error": [RedisConnectionError],
                    }
                ],
                # Per channel: one hub channel per process carries every event of that process.
                "capacity": 1000,
                "expiry": 30,
                "group_expiry": 86400,
                "prefix": env.str("CHANNEL_PREFIX", default="carocp"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="carocp"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/Los_Angeles"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
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
WHITENOISE_USE_FINDERS = not PRODUCTION
# MEDIA_ROOT: uploaded avatars and images (served by the app with nosniff + Content-Disposition).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"

# Email: EMAIL_URL (smtp+tls://user:pass@host:587 for STARTTLS, smtp+ssl://...:465 for TLS;
# django-environ ignores ?tls=True); unset prints mail to the console.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CAROCP Forum <forum@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Security headers. The CSP forbids inline scripts and styles: every script and style is a file.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Health checks come from the proxy over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Uploads and request sizes.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # 1 MB of form data (posts are far smaller)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# django-markdownx: our one renderer serves the preview; uploads go through our checked view.
MARKDOWNX_MARKDOWNIFY_FUNCTION = "forum.markdown.render_markdown"
MARKDOWNX_URLS_PATH = "/markdownx/markdownify/"
MARKDOWNX_UPLOAD_URLS_PATH = "/markdownx/upload/"
MARKDOWNX_MEDIA_PATH = "uploads/"
MARKDOWNX_UPLOAD_MAX_SIZE = 4 * 1024 * 1024
MARKDOWNX_UPLOAD_CONTENT_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
MARKDOWNX_IMAGE_MAX_SIZE = {"size": (1600, 1600), "quality": 85}
MARKDOWNX_SERVER_CALL_LATENCY = 400

# Forum policy (each overridable from the environment).
FORUM = {
    # New sign-ups read public boards but cannot post until staff approve them.
    "MEMBERSHIP_APPROVAL": env.bool("FORUM_MEMBERSHIP_APPROVAL", default=True),
    "POSTS_PER_PAGE": env.int("FORUM_POSTS_PER_PAGE", default=20),
    "THREADS_PER_PAGE": env.int("FORUM_THREADS_PER_PAGE", default=30),
    "TITLE_MIN": 5,
    "TITLE_MAX": 150,
    "BODY_MIN": 2,
    "BODY_MAX": 20000,
    "EDIT_GRACE": timedelta(minutes=5),
    "MAX_MENTIONS_NOTIFIED": env.int("FORUM_MAX_MENTIONS", default=10),
    # Daily notification caps (rolling 24 h; over-cap notifications are dropped and logged):
    # mention/quote notifications one member may cause, and notifications one member receives.
    "NOTIFY_SENDER_DAILY_CAP": env.int("FORUM_NOTIFY_SENDER_DAILY_CAP", default=50),
    "NOTIFY_RECIPIENT_DAILY_CAP": env.int("FORUM_NOTIFY_RECIPIENT_DAILY_CAP", default=200),
    "AUTO_HIDE_REPORTS": env.int("FORUM_AUTO_HIDE_REPORTS", default=3),
    "NEW_MEMBER_DAYS": env.int("FORUM_NEW_MEMBER_DAYS", default=3),
    "NEW_MEMBER_POSTS": env.int("FORUM_NEW_MEMBER_POSTS", default=5),
    # Rate limits and anti-spam (forum/limits.py). FORUM_RATE_LIMITS=0 turns them off (load
    # benchmarks); the test suite runs without them except tests/security, which turns them on.
    "RATE_LIMITS_ENABLED": env.bool("FORUM_RATE_LIMITS", default=not TESTING),
    # (count, seconds) per member unless noted; moderators and staff skip the posting limits.
    "RATE_LIMITS": {
        "post": (6, 60),  # threads and replies
        "post_new": (3, 60),  # ... for new members (see NEW_MEMBER_DAYS/POSTS)
        "thread": (20, 86400),
        "thread_new": (3, 86400),
        "edit": (12, 60),
        "react": (30, 60),
        "report": (10, 3600),
        "upload": (30, 3600),
        "preview": (60, 60),  # the editor previews while typing (debounced)
        "signup": (5, 3600),  # per address
        "login_account": (5, 900),  # failed sign-ins per account name
        "login_address": (20, 900),  # failed sign-ins per address
    },
    "NEW_MEMBER_MAX_LINKS": env.int("FORUM_NEW_MEMBER_MAX_LINKS", default=2),
    # The same text (normalized) posted again by one member within this window is refused.
    "DUPLICATE_WINDOW": timedelta(hours=24),
    "DUPLICATE_MIN_CHARS": 20,
    # PROXY_HOPS: how many proxies append to X-Forwarded-For in front of daphne (0: none).
    "PROXY_HOPS": env.int("FORUM_PROXY_HOPS", default=0),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Level and logger on every line (journald adds the time): "WARNING django.request: ...".
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "filters": {"quiet_refusals": {"()": "config.logfilters.QuietRefusals"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["quiet_refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
