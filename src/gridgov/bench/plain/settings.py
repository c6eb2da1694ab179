"""Settings of the plain baseline: the platform's database and its durability settings, stock
Django everywhere else, no middleware."""

import os

from gridgov import settings as platform

SECRET_KEY = "plain-bench-only"  # noqa: S105 - a throwaway project on loopback
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = platform.TIME_ZONE
INSTALLED_APPS = ["gridgov.bench.plain"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "gridgov.bench.plain.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_db = dict(platform.DATABASES["default"])
if "sqlite" in str(_db["ENGINE"]):
    # stock backend, the platform's PRAGMAs (WAL, synchronous=FULL), a file of its own
    _db["ENGINE"] = "django.db.backends.sqlite3"
    _db["NAME"] = os.environ.get("GRIDGOV_PLAIN_SQLITE_PATH", str(_db["NAME"]) + ".plain")
DATABASES = {"default": _db}
