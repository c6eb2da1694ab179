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
    "ninja",  # serves the API docs' Swagger UI from its own static files (no CDN)
    "gridgov.core",
    "gridgov.geo",
    "gridgov.regions",
    "gridgov.orgs",
    "gridgov.accounts",
    "gridgov.events",
    "gridgov.analytics",
    "gridgov.patrol",
    "gridgov.console",
    "gridgov.mobile",
    "gridgov.public",
    "gridgov.channels.wechat",
    "gridgov.channels.open311",
    "gridgov.channels.exchange",
    "gridgov.channels.notify",
    "gridgov.ops",
    "gridgov.demo",
    "gridgov.bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gridgov.core.middleware.ApiJsonErrorsMiddleware",
    # Django's and the body limit's own errors under /open311/v2/ in the GeoReport format.
    "gridgov.channels.open311.middleware.Open311ErrorsMiddleware",
    "gridgov.core.middleware.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Session, CSRF, auth and messages: bearer-token API calls pass them by (core/lanes.py)
    "gridgov.core.lanes.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "gridgov.core.lanes.CsrfViewMiddleware",
    "gridgov.core.lanes.AuthenticationMiddleware",
    "gridgov.core.lanes.MessageMiddleware",
    "gridgov.accounts.middleware.SessionLimitMiddleware",
    "gridgov.accounts.middleware.ActivePostMiddleware",
    "gridgov.accounts.middleware.PasswordExpiryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gridgov.core.middleware.SecurityHeadersMiddleware",
    # Innermost, so its 429 pages get the security headers and it sees views' TooManyRequests.
    "gridgov.core.throttle.RateLimitMiddleware",
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
                "gridgov.console.context.work",
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
        # Django's backend with one writer queue per process (core/sqlite, ADR 0017)
        "ENGINE": "gridgov.core.sqlite",
        "NAME": env("SQLITE_PATH", str(DATA_DIR / "gridgov.sqlite3")),
        # One connection per thread, kept: opening one reads the schema and runs the PRAGMAs
        # again, and a fresh connection starts with a cold page cache.
        "CONN_MAX_AGE": 600,
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


# ---- Sign-in security (issue 6): lockout, rate limits, passwords, TOTP, session lifetime ----
# See docs/operations.md, "Sign-in security". Rates are "COUNT/PERIOD", PERIOD like 60s, m, 15m, h.


def rate(text: str) -> tuple[int, int]:
    """'20/10m' -> (20, 600): at most 20 in any fixed window of 10 minutes."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    count, _sep, period = text.strip().partition("/")
    factor = units.get(period[-1:], 1)
    number = period[:-1] if period[-1:] in units else period
    return int(count), int(number or 1) * factor


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# Client address for per-address limits and the audit: REMOTE_ADDR, or behind these reverse
# proxies the X-Forwarded-For entry they appended.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

AUTHENTICATION_BACKENDS = ["gridgov.accounts.signin.GuardedBackend"]
LOGIN_URL = "signin"

# Lockout: this many failures within the window lock the account (or, with PER_ADDRESS, the
# account from that address only) for LOCKOUT_SECONDS; the password is not checked while locked.
LOGIN_LOCKOUT_FAILURES = int(env("LOCKOUT_FAILURES", "5"))
LOGIN_LOCKOUT_WINDOW = int(env("LOCKOUT_WINDOW_SECONDS", "1800"))
LOGIN_LOCKOUT_SECONDS = int(env("LOCKOUT_SECONDS", "1800"))
LOGIN_LOCKOUT_PER_ADDRESS = env_bool("LOCKOUT_PER_ADDRESS")
# Failures of one account from all addresses together; beyond it the account locks everywhere.
LOGIN_ACCOUNT_FAILURE_RATE = rate(env("LOGIN_ACCOUNT_FAILURE_RATE", "100/h"))
# Failures from one address (all accounts); beyond it the address gets 429.
LOGIN_ADDRESS_FAILURE_RATE = rate(env("LOGIN_ADDRESS_FAILURE_RATE", "50/15m"))
# Unknown or revoked API bearer tokens from one address; beyond it 429.
API_BAD_TOKEN_RATE = rate(env("API_BAD_TOKEN_RATE", "20/10m"))
# Uploads per account (a grid worker documenting many events stays far below it).
UPLOAD_RATE = rate(env("UPLOAD_RATE", "120/10m"))
# Per-address limits on paths (core/throttle.py RateLimitMiddleware), whatever the outcome.
# Sign-in: generous enough for a centre of ~50 operators behind one NAT at shift start.
RATE_LIMIT_RULES = [
    {
        "name": "login",
        "methods": ["POST"],
        "path": r"^/(admin|accounts)/login/",
        "rate": rate(env("LOGIN_RATE", "60/m")),
    },
    {
        "name": "public",
        "methods": ["POST"],
        "path": r"^/api/v1/public/events/",
        "rate": rate(env("PUBLIC_RATE", "20/h")),
    },
]
# The citizens' door (api/public.py): its own limits, per device (a random id the page keeps)
# and per address. Only requests a device may make count against its address, so one flooding
# phone behind a carrier's NAT does not lock out its neighbours; a script that invents devices
# meets the address limit and the proof of work (core/challenge.py).
PUBLIC_REPORT_DEVICE_RATE = rate(env("PUBLIC_REPORT_DEVICE_RATE", "5/10m"))
PUBLIC_REPORT_DEVICE_DAILY = rate(env("PUBLIC_REPORT_DEVICE_DAILY", "20/d"))
PUBLIC_REPORT_ADDRESS_RATE = rate(env("PUBLIC_REPORT_ADDRESS_RATE", "60/10m"))
PUBLIC_UPLOAD_DEVICE_RATE = rate(env("PUBLIC_UPLOAD_DEVICE_RATE", "45/10m"))
PUBLIC_UPLOAD_ADDRESS_RATE = rate(env("PUBLIC_UPLOAD_ADDRESS_RATE", "300/10m"))
# Challenges (stateless, cheap): per device, then per address.
PUBLIC_CHALLENGE_DEVICE_RATE = rate(env("PUBLIC_CHALLENGE_DEVICE_RATE", "30/10m"))
PUBLIC_CHALLENGE_RATE = rate(env("PUBLIC_CHALLENGE_RATE", "600/10m"))
# Following a report with the phone's last four digits (10,000 guesses): every attempt counts,
# per address and per case number. Wrong receipt secrets count per address only (a secret
# cannot be guessed, and its holder is never locked out by others' attempts).
PUBLIC_LOOKUP_RATE = rate(env("PUBLIC_LOOKUP_RATE", "20/h"))
PUBLIC_LOOKUP_CASE_RATE = rate(env("PUBLIC_LOOKUP_CASE_RATE", "8/h"))
# A case number alone (what the square map shows of a public event): per address.
PUBLIC_OVERVIEW_RATE = rate(env("PUBLIC_OVERVIEW_RATE", "60/h"))
# Leading zero bits of the proof of work: 16 is about 65,000 hashes, well under a second in a
# phone's browser. Each challenge is valid this many seconds.
PUBLIC_CHALLENGE_BITS = int(env("PUBLIC_CHALLENGE_BITS", "16"))
PUBLIC_CHALLENGE_TTL = int(env("PUBLIC_CHALLENGE_TTL", "900"))
# The WeChat official account (channels/wechat). The door is closed (404) until a token is set.
# With an AES key the callback takes only safe-mode (encrypted) messages, never plain ones.
WECHAT_TOKEN = env("WECHAT_TOKEN")
WECHAT_AES_KEY = env("WECHAT_AES_KEY")  # EncodingAESKey, 43 characters
WECHAT_APPID = env("WECHAT_APPID")
WECHAT_SECRET = env("WECHAT_SECRET")  # AppSecret: the media API and template messages
# Where wechatpy's client sends API calls; empty: WeChat's own (tests point it at a fake).
WECHAT_API_BASE = env("WECHAT_API_BASE")
# The template message sent to a reporter at each public step (empty: none is sent).
WECHAT_TEMPLATE_PROGRESS = env("WECHAT_TEMPLATE_PROGRESS")
# A signed request older or newer than this many seconds is refused (replays).
WECHAT_CLOCK_SKEW = int(env("WECHAT_CLOCK_SKEW", "300"))
# A draft nobody touched for this many seconds is abandoned.
WECHAT_DRAFT_TTL = int(env("WECHAT_DRAFT_TTL", "1800"))
# Messages per openid (a flood gets one polite answer, then silence); reports per openid use the
# citizens' page limits (PUBLIC_REPORT_DEVICE_RATE and _DAILY), an openid being a device.
WECHAT_MESSAGE_RATE = rate(env("WECHAT_MESSAGE_RATE", "30/m"))
# Fetching a photo or voice: attempts before it is given up (from 10 s, doubling to at most
# 1 h between attempts: about 4 hours in all; WeChat keeps media 3 days).
WECHAT_MEDIA_ATTEMPTS = int(env("WECHAT_MEDIA_ATTEMPTS", "12"))
# The address the public reaches this platform at (links in messages), e.g. https://grid.example.
PUBLIC_URL = env("PUBLIC_URL").rstrip("/")
# Notifications beyond the console (channels/notify): which kinds of notice go by SMS or email
# to the people they concern, unless a person chose otherwise (accounts.NotificationPreference).
NOTIFY_SMS_TOPICS = env_list(
    "NOTIFY_SMS_TOPICS", "event.dispatched,event.overdue,event.escalated,event.reopened"
)
NOTIFY_EMAIL_TOPICS = env_list("NOTIFY_EMAIL_TOPICS", "")
# Email: an SMTP server (Django's settings of the same names). Empty host: no email is sent.
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", "gridgov@localhost")
NOTIFY_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# SMS through Tencent Cloud's SMS API (tencentcloud-sdk-python-sms). Empty secret id: no SMS.
SMS_SECRET_ID = env("SMS_SECRET_ID")
SMS_SECRET_KEY = env("SMS_SECRET_KEY")
SMS_APP_ID = env("SMS_APP_ID")  # SmsSdkAppId
SMS_SIGN = env("SMS_SIGN")  # the approved signature (签名), e.g. 某某市网格化服务管理中心
SMS_REGION = env("SMS_REGION", "ap-guangzhou")
SMS_ENDPOINT = env("SMS_ENDPOINT")  # empty: Tencent Cloud's own; host:port for a relay or a test
SMS_SCHEME = env("SMS_SCHEME", "https")
# The approved template per kind of notice ("event.dispatched=1234567,…"), and the one for the
# rest; each template takes two parameters: the case number and the kind of notice.
SMS_TEMPLATES = dict(item.split("=", 1) for item in env_list("SMS_TEMPLATES") if "=" in item)
SMS_TEMPLATE_DEFAULT = env("SMS_TEMPLATE_DEFAULT")
# Live notices to open consoles (channels/notify/stream.py): `gridgov stream` listens on
# STREAM_BIND; browsers reach it at STREAM_URL (by default the bind address itself; behind a
# reverse proxy, e.g. https://grid.example/live, with buffering off).
STREAM_BIND = env("STREAM_BIND", "127.0.0.1:8001")
STREAM_URL = env("STREAM_URL", f"http://{STREAM_BIND}").rstrip("/")
STREAM_POLL_SECONDS = float(env("STREAM_POLL_SECONDS", "1"))
# A ticket opens a stream for this long (reconnecting fetches a new one); an open stream is
# closed when its person is deactivated or their posts change (checked every RECHECK seconds).
STREAM_TICKET_SECONDS = int(env("STREAM_TICKET_SECONDS", "600"))
STREAM_RECHECK_SECONDS = float(env("STREAM_RECHECK_SECONDS", "30"))
STREAM_MAX_CONSOLES = int(env("STREAM_MAX_CONSOLES", "5000"))
STREAM_PER_USER = int(env("STREAM_PER_USER", "10"))  # a person's oldest beyond it is closed
# The square map: how long a tile may be cached (seconds), by the server and by browsers.
SQUARE_CACHE_SECONDS = int(env("SQUARE_CACHE_SECONDS", "60"))

# Password profiles: "assessor" (等保 assessors' expectation, the default) or "asvs" (OWASP ASVS:
# long passwords, no composition rule, no forced rotation).
PASSWORD_PROFILES: dict[str, dict[str, int]] = {
    "assessor": {"min_length": 8, "min_classes": 3, "history": 5, "expiry_days": 90},
    "asvs": {"min_length": 12, "min_classes": 0, "history": 5, "expiry_days": 0},
}
PASSWORD_PROFILE = env("PASSWORD_PROFILE", "assessor")
if PASSWORD_PROFILE not in PASSWORD_PROFILES:
    raise ImproperlyConfigured(f"GRIDGOV_PASSWORD_PROFILE must be one of {list(PASSWORD_PROFILES)}")
PASSWORD_HISTORY = PASSWORD_PROFILES[PASSWORD_PROFILE]["history"]
PASSWORD_EXPIRY_DAYS = int(
    env("PASSWORD_EXPIRY_DAYS", str(PASSWORD_PROFILES[PASSWORD_PROFILE]["expiry_days"]))
)


def password_validators(profile: str) -> list[dict[str, object]]:
    rules = PASSWORD_PROFILES[profile]
    django_v, ours = "django.contrib.auth.password_validation.", "gridgov.accounts.passwords."
    validators: list[dict[str, object]] = [
        {
            "NAME": django_v + "MinimumLengthValidator",
            "OPTIONS": {"min_length": rules["min_length"]},
        },
        {"NAME": ours + "NotContainingUsernameValidator"},
        {"NAME": django_v + "UserAttributeSimilarityValidator"},
        {"NAME": django_v + "CommonPasswordValidator"},
        {"NAME": ours + "HistoryValidator", "OPTIONS": {"count": rules["history"]}},
    ]
    if rules["min_classes"]:
        options = {"min_classes": rules["min_classes"]}
        validators.insert(1, {"NAME": ours + "CharacterClassesValidator", "OPTIONS": options})
    return validators


AUTH_PASSWORD_VALIDATORS = password_validators(PASSWORD_PROFILE)

# Second factor: accounts holding a post of these roles (and anyone enrolled) sign in with TOTP.
TOTP_REQUIRED_ROLES = env_list(
    "TOTP_REQUIRED_ROLES", "sys_admin,security_admin,audit_admin,centre_leader,leader"
)
TOTP_ISSUER = env("TOTP_ISSUER", "gridgov")

# A session ends this long after sign-in however active it is (idle expiry: SESSION_COOKIE_AGE).
SESSION_ABSOLUTE_SECONDS = int(env("SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
# ---- end of sign-in security ----

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
# The pages' own assets, and the browser libraries npm installed from frontend/package-lock.json
# (./dev runs `npm ci`): served from here, never from a CDN.
ASSETS_DIR = Path(env("ASSETS_DIR", str(BASE_DIR.parent.parent / "frontend" / "node_modules")))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", ASSETS_DIR / "htmx.org" / "dist"),
    ("vendor/leaflet", ASSETS_DIR / "leaflet" / "dist"),
    ("vendor/markercluster", ASSETS_DIR / "leaflet.markercluster" / "dist"),
    ("vendor/leaflet-heat", ASSETS_DIR / "leaflet.heat" / "dist"),
    ("vendor/echarts", ASSETS_DIR / "echarts" / "dist"),
]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Staff session: idle 15 minutes, new session id at login (Django does that), cookie hardening.
# A session is saved when it changes, not on every request: accounts.middleware moves its last
# activity forward at most once a minute, so the 800 consoles' polls and most page views of a
# centre read their session without a write transaction (ADR 0019).
SESSION_ENGINE = "gridgov.accounts.sessions"  # Django's database store, read by a fixed statement
SESSION_COOKIE_AGE = int(env("SESSION_IDLE_SECONDS", "900"))
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Audit log: where anchors of the chain's head go (outside the data directory in production),
# and how long rows stay before they may be moved out under a checkpoint (days, at least 184).
AUDIT_ANCHOR_FILE = env("AUDIT_ANCHOR_FILE")
AUDIT_RETENTION_DAYS = int(env("AUDIT_RETENTION_DAYS", "184"))
if AUDIT_RETENTION_DAYS < 184:
    raise ImproperlyConfigured("GRIDGOV_AUDIT_RETENTION_DAYS may not be below 184 (six months)")
if DEPLOYMENT == "production":
    _anchor = Path(AUDIT_ANCHOR_FILE).resolve() if AUDIT_ANCHOR_FILE else DATA_DIR
    if _anchor == DATA_DIR or DATA_DIR in _anchor.parents:
        raise ImproperlyConfigured(
            "production needs GRIDGOV_AUDIT_ANCHOR_FILE outside the data directory"
        )
# How often a process re-checks whether grids were redrawn by another process (seconds).
LOCATOR_STAMP_TTL = float(env("LOCATOR_STAMP_TTL", "5"))
TICKER_INTERVAL = float(env("TICKER_INTERVAL", "5"))
# Excel exports a person may start per hour (each may stream up to a million rows).
EXPORTS_PER_HOUR = int(env("EXPORTS_PER_HOUR", "30"))
# The map's tile source. None by default: an intranet reaches no map service, and the map
# draws grids and events on a blank background. A licensed source (e.g. Tianditu with its key)
# must show its approval number (审图号) in the attribution.
MAP_TILES_URL = env("MAP_TILES_URL", "")
MAP_TILES_ATTRIBUTION = env("MAP_TILES_ATTRIBUTION", "")
# The basemap's approval number (审图号), shown on every public map when set.
MAP_APPROVAL_NUMBER = env("MAP_APPROVAL_NUMBER", "")
# The coordinate system of the basemap's tiles: wgs84 (Tianditu, OpenStreetMap), gcj02 (Amap,
# Tencent) or bd09 (Baidu). A pin set on the public pages' map is sent in it, and converted.
MAP_TILES_CRS = env("MAP_TILES_CRS", "wgs84")
if MAP_TILES_CRS not in ("wgs84", "gcj02", "bd09"):
    raise ImproperlyConfigured("GRIDGOV_MAP_TILES_CRS must be wgs84, gcj02 or bd09")
# Where the public maps open (lon,lat,zoom) before a position is known.
PUBLIC_MAP_CENTRE = [float(v) for v in env("PUBLIC_MAP_CENTRE", "114.45,38.03,11").split(",")]
# How often the ticker re-checks the last two days' statistics (analytics.rollups).
STATS_REFRESH_SECONDS = float(env("STATS_REFRESH_SECONDS", "300"))
# How long a process may reuse centres, categories and time limits it has read (seconds).
REFERENCE_CACHE_SECONDS = float(env("REFERENCE_CACHE_SECONDS", "30"))
# Reports of the moment share one COMMIT, written by one thread per process (ADR 0017); a
# caller waits this long for its answer before answering 503 (a retry then replays).
GROUP_COMMIT = env("GROUP_COMMIT", "1") == "1"
GROUP_COMMIT_WAIT = float(env("GROUP_COMMIT_WAIT", "60"))
# Prefix of human case numbers (SJZ20260903000123); differs by city.
CASE_PREFIX = env("CASE_PREFIX", "SJZ")
# Upload limits (shared/reference/security.md)
UPLOAD_IMAGE_MAX_BYTES = 10 * 2**20
UPLOAD_IMAGE_MAX_PIXELS = 40_000_000
# Photos are stored at most this long on their long side (4096 px ≈ 12 MP is ample evidence), and
# decoded one at a time per process, so a burst of 40 MP photos cannot exhaust a worker.
UPLOAD_IMAGE_MAX_SIDE = int(env("UPLOAD_IMAGE_MAX_SIDE", "4096"))
UPLOAD_DECODES_PER_PROCESS = int(env("UPLOAD_DECODES_PER_PROCESS", "1"))
# The font of the stamp drawn on grid workers' photos; it must cover Chinese (Debian:
# fonts-noto-cjk). Missing or unreadable, Pillow's own font writes the stamp in English.
WATERMARK_FONT = env("WATERMARK_FONT", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
UPLOAD_AUDIO_MAX_BYTES = 5 * 2**20
UPLOAD_AUDIO_MAX_SECONDS = 120
# Open311 GeoReport v2 (channels/open311): the jurisdiction this endpoint serves (a client may
# send it as jurisdiction_id), the requests each API key may make (a key's own rate, set when
# it is issued, wins), requests without a key (reads) per address, and how long an identical
# POST of one client without an Idempotency-Key counts as a retry (seconds; see
# docs/integration.md).
OPEN311_JURISDICTION = env("OPEN311_JURISDICTION", "sjz.gov.cn")
OPEN311_KEY_RATE = rate(env("OPEN311_KEY_RATE", "600/h"))
OPEN311_ADDRESS_RATE = rate(env("OPEN311_ADDRESS_RATE", "300/h"))
OPEN311_REPLAY_WINDOW = int(env("OPEN311_REPLAY_WINDOW", "86400"))
# Upper-level exchange (channels/exchange): new events, their changes and daily statistics
# pushed to a parent platform (docs/integration.md). Empty parent URL: nothing is queued or sent.
# The URL is the parent's exchange base, e.g. https://province.example/exchange/v1. NODE names
# this instance to the parent (the city's region code); SECRET is the key the parent printed
# with `gridgov exchange node add NODE`. Items per request, bytes per request (at least one
# item), the request timeout (seconds), the longest wait between retries (seconds; doubling
# from 5 s), batches per tick, and, as a parent, the clock skew a signature may have (seconds).
EXCHANGE_PARENT_URL = env("EXCHANGE_PARENT_URL").rstrip("/")
EXCHANGE_NODE = env("EXCHANGE_NODE")
EXCHANGE_SECRET = env("EXCHANGE_SECRET")
EXCHANGE_BATCH = int(env("EXCHANGE_BATCH", "100"))
EXCHANGE_BATCH_BYTES = int(env("EXCHANGE_BATCH_BYTES", str(512 * 2**10)))
EXCHANGE_TIMEOUT = float(env("EXCHANGE_TIMEOUT", "10"))
EXCHANGE_BACKOFF_MAX = float(env("EXCHANGE_BACKOFF_MAX", "600"))
EXCHANGE_BATCHES_PER_TICK = int(env("EXCHANGE_BATCHES_PER_TICK", "20"))
EXCHANGE_CLOCK_SKEW = int(env("EXCHANGE_CLOCK_SKEW", "300"))
# Request bodies: refused from their Content-Length before anything is read (first matching
# path prefix wins). An upload is a photo (10 MB) plus the multipart envelope.
REQUEST_BODY_LIMITS = [
    ("/api/v1/attachments", UPLOAD_IMAGE_MAX_BYTES + 2**20),
    # A console action may carry up to 9 photos (each checked like an API upload).
    ("/console/events/", 9 * UPLOAD_IMAGE_MAX_BYTES + 2**20),
    ("/console/", 2**20),
    ("/open311/", 64 * 2**10),  # form-encoded reports, no files
    ("/wechat/", 64 * 2**10),  # one message: WeChat's text is at most 2048 characters
    ("/api/", 2**20),
    ("/admin/", 5 * 2**20),
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2**20  # everything in a body that is not a file
FILE_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_IMAGE_MAX_BYTES + 2**20

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
