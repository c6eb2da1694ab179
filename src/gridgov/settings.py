"""gridgov settings: one file, everything that differs per deployment comes from the environment.

GRIDGOV_DB=sqlite (default) or postgres; see docs/operations.md for every variable.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from gridgov.core import keyring

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"GRIDGOV_{name}", default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


# "production" refuses to start without its keys in place; "development" (the default, also
# for ./dev up and the demo) creates missing keys.
DEPLOYMENT = env("DEPLOYMENT", "development")
if DEPLOYMENT not in {"development", "production"}:
    raise ImproperlyConfigured("GRIDGOV_DEPLOYMENT must be development or production")


def _scratch_dirs_under_pytest() -> None:
    """Tests never touch the installation they run beside: under pytest, unless told
    otherwise, data and keys go to a fresh scratch directory (inherited by subprocesses)."""
    if "pytest" not in sys.modules:
        return
    scratch = None
    for name in ("DATA_DIR", "KEY_DIR"):
        if not env(name):
            scratch = scratch or Path(tempfile.mkdtemp(prefix="gridgov-test-"))
            os.environ[f"GRIDGOV_{name}"] = str(scratch / name.lower())


_scratch_dirs_under_pytest()

# Where the SQLite database, uploads and anchors live; `.var/` in a checkout.
DATA_DIR = Path(env("DATA_DIR", str(Path.cwd() / ".var"))).resolve()
# Where the keys live: apart from the data directory (core/keyring.py); `.keys/` in a checkout.
KEY_DIR = Path(env("KEY_DIR", str(Path.cwd() / ".keys"))).resolve()

DEBUG = env_bool("DEBUG")


def _keyring() -> keyring.KeyRing:
    if DEPLOYMENT == "production":
        if not env("KEY_DIR"):
            raise ImproperlyConfigured("production needs GRIDGOV_KEY_DIR (see docs/operations.md)")
        if KEY_DIR == DATA_DIR or DATA_DIR in KEY_DIR.parents:
            raise ImproperlyConfigured("GRIDGOV_KEY_DIR must lie outside GRIDGOV_DATA_DIR")
    else:
        keyring.ensure(KEY_DIR, legacy_secret_file=DATA_DIR / "secret-key")
    ring = keyring.KeyRing(KEY_DIR)
    try:
        ring.check()
    except keyring.KeyringError as exc:
        raise ImproperlyConfigured(f"keys: {exc}") from None
    return ring


KEYS = _keyring()
SECRET_KEY = env("SECRET_KEY") or KEYS.secret_key()
SECRET_KEY_FALLBACKS = KEYS.secret_fallbacks()
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "gridgov.core",
    "gridgov.geo",
    "gridgov.regions",
    "gridgov.orgs",
    "gridgov.accounts",
    "gridgov.events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gridgov.core.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "gridgov.urls"
WSGI_APPLICATION = "gridgov.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]


def _database() -> dict[str, object]:
    kind = env("DB", "sqlite")
    if kind == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env("PG_NAME", "gridgov"),
            "USER": env("PG_USER", "postgres"),
            "PASSWORD": env("PG_PASSWORD"),
            "HOST": env("PG_HOST", "127.0.0.1"),
            "PORT": env("PG_PORT", "5432"),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "TEST": {"NAME": env("PG_TEST_NAME", "test_gridgov")},
        }
    if kind != "sqlite":
        raise RuntimeError(f"GRIDGOV_DB must be sqlite or postgres, not {kind!r}")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("SQLITE_PATH", str(DATA_DIR / "gridgov.sqlite3")),
        "OPTIONS": {
            # Writers queue instead of failing; IMMEDIATE takes the write lock at BEGIN so a
            # read-then-write transaction cannot deadlock against another writer.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=20000;"
            ),
        },
        # A file, not memory: tests then run with WAL and real locking, like production.
        "TEST": {
            "NAME": env("SQLITE_TEST_PATH", str(DATA_DIR / f"test-gridgov-{os.getpid()}.sqlite3"))
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Staff session: idle 15 minutes, new session id at login (Django does that), cookie hardening.
SESSION_COOKIE_AGE = int(env("SESSION_IDLE_SECONDS", "900"))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# How often a process re-checks whether grids were redrawn by another process (seconds).
LOCATOR_STAMP_TTL = float(env("LOCATOR_STAMP_TTL", "5"))
TICKER_INTERVAL = float(env("TICKER_INTERVAL", "5"))
# How long a process may reuse centres, categories and time limits it has read (seconds).
REFERENCE_CACHE_SECONDS = float(env("REFERENCE_CACHE_SECONDS", "30"))
# Prefix of human case numbers (SJZ20260903000123); differs by city.
CASE_PREFIX = env("CASE_PREFIX", "SJZ")
# Upload limits (shared/reference/security.md)
UPLOAD_IMAGE_MAX_BYTES = 10 * 2**20
UPLOAD_IMAGE_MAX_PIXELS = 40_000_000
UPLOAD_AUDIO_MAX_BYTES = 5 * 2**20
UPLOAD_AUDIO_MAX_SECONDS = 120
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 2**20
FILE_UPLOAD_MAX_MEMORY_SIZE = 12 * 2**20

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
