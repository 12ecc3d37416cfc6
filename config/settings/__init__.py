"""Relais settings: one module, every value from the environment.

RELAIS_ENV selects the deployment kind: "development" (the default, what `make run` uses),
"test" (set by config.settings.test) or "production". Production refuses to start without a
SECRET_KEY and a PLATFORM_DOMAIN, and turns on every transport-security setting by default.
"""

import os
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()

# config.settings.test imports this package before its own body runs: it cannot set the default.
_TESTING = os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings.test"
RELAIS_ENV = env.str("RELAIS_ENV", default="test" if _TESTING else "development")
if RELAIS_ENV not in ("development", "test", "production"):
    raise ImproperlyConfigured(f"RELAIS_ENV must be development, test or production, not {RELAIS_ENV!r}")
PRODUCTION = RELAIS_ENV == "production"


def required_in_production(name, development_default, **kwargs):
    """The variable's value; in production a missing or empty one stops the process."""
    value = env.str(name, default="", **kwargs)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when RELAIS_ENV=production.")
    return development_default


DEBUG = env.bool("DEBUG", default=False)

# Not a secret: it signs nothing outside a developer's own machine, and production refuses it.
SECRET_KEY = required_in_production("SECRET_KEY", "relais-development-key-never-used-in-production-0123456789")
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production.")

# The platform lives at PLATFORM_DOMAIN; each organisation at <slug>.PLATFORM_DOMAIN.
PLATFORM_DOMAIN = required_in_production("PLATFORM_DOMAIN", "localhost").lower()
PLATFORM_SCHEME = env.str("PLATFORM_SCHEME", default="https" if PRODUCTION else "http")
# The port in links sent by mail ("" behind a proxy on the default port; `make run` serves on 8000).
PLATFORM_PORT = env.str("PLATFORM_PORT", default="8000" if RELAIS_ENV == "development" else "")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[PLATFORM_DOMAIN, f".{PLATFORM_DOMAIN}"])
if not PRODUCTION:
    ALLOWED_HOSTS += ["localhost", ".localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Applications. Which schema an app's tables live in is decided here, once: moving an app
# between the two lists after its migrations have shipped strands its data.
SHARED_APPS = [
    "tenancy",  # first: its migrate_schemas keeps the template schema current, its db_worker survives kills
    "tenants",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.admin",
    "accounts",  # public schema: platform operators only
    "allauth",
    "allauth.account",
    "django_tasks",
    "django_tasks_db",
    "channels",
    "operations",  # no models: org_export, org_restore, seed_demo
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.sitemaps",
    "accounts",  # tenant schema: this organisation's members
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "chapters",
    "people",
    "mailings",
    "events",
    "calls",
    "chat",
    "shop",
    "cms",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.settings",
    "wagtail.contrib.simple_translation",
    "wagtail.contrib.sitemaps",
    "wagtail.locales",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Organisation"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# New organisations are cloned from this schema, which migrate_schemas keeps current.
# It starts with an underscore, which no organisation slug may.
TENANT_BASE_SCHEMA = "_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
TENANT_LIMIT_SET_CALLS = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "config.health.HealthzMiddleware",  # before anything that reads the tenant or the session
    "django.middleware.security.SecurityMiddleware",
    "config.csp.PolicyMiddleware",  # Content-Security-Policy by kind of page: see config/csp.py
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenancy.middleware.OrganisationMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "chapters.mfa.RequireSecondFactorMiddleware",
    "cms.middleware.OrganisationRedirectMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenancy.context_processors.organisation",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

# Database: DATABASE_URL, else the embedded server that `make run` / `make test` start.
DATABASES = {"default": env.db_url("DATABASE_URL", default="postgresql://postgres@localhost/relais")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Connections are pooled per process: DATABASE_POOL_SIZE connections at most, which the process's
# threads borrow for a request and give back; a request that finds none free waits up to
# DATABASE_POOL_TIMEOUT seconds for one (then gets the outage page). config/serving.py sizes it for
# each server it starts (Granian: one per thread; Daphne: WS_DATABASE_POOL_SIZE). 0 (the default for
# commands, the tests and the worker) means no pool: a connection per thread, kept CONN_MAX_AGE
# seconds (0: closed after each request; under Daphne's HTTP path, where every request has a thread
# of its own, kept ones would pile up one per thread).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
# Which process a connection belongs to, in pg_stat_activity (config/serving.py names its servers').
DATABASES["default"]["OPTIONS"]["application_name"] = env.str("DATABASE_APPLICATION_NAME", default="relais")
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=0)
if DATABASE_POOL_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django gives pooled connections back after each request
    DATABASES["default"]["OPTIONS"]["pool"] = {
        # Opened all at once: growing the pool under a burst left the first requests waiting.
        "min_size": DATABASE_POOL_SIZE,
        "max_size": DATABASE_POOL_SIZE,
        # With a connection per thread (config/serving.py), nobody waits for one under load: a
        # wait means the database is unreachable, and the visitor gets the outage page at once.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3),
    }  # CONN_HEALTH_CHECKS makes Django check a pooled connection before a request gets it
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: rate limits live here, so several web processes need a shared one (Redis).
REDIS_URL = env.str("REDIS_URL", default="")
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif REDIS_URL:
    # While Redis is unreachable, reads miss and writes are dropped rather than every page failing.
    CACHES = {"default": {"BACKEND": "config.cache.ForgivingRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Primary keys repeat across schemas: every cache key carries the schema name.
CACHES["default"]["KEY_FUNCTION"] = "django_tenants.cache.make_key"
CACHES["default"]["REVERSE_KEY_FUNCTION"] = "django_tenants.cache.reverse_key"

if REDIS_URL:
    # redis-py reads with a 5 s socket timeout by default, as long as channels-redis waits for a
    # message: an idle socket's read timed out. A longer timeout still notices a dead server.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
    }
else:
    # HTTP (Granian) and websockets (Daphne) are separate processes (config/serving.py): without
    # Redis, messages cross between them through PostgreSQL. "memory" is for a single process that
    # serves everything (the tests' in-process sockets).
    CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="memory" if _TESTING else "postgres")
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": {
                "postgres": "config.channel_layers.PostgresBroadcastChannelLayer",
                "memory": "config.channel_layers.AmortisedInMemoryChannelLayer",
            }[CHANNEL_LAYER]
        }
    }

# Every task enqueued inside an organisation runs in its schema, Wagtail's included.
TASKS = {"default": {"BACKEND": "tenancy.task_backend.TenantDatabaseBackend"}}

# Accounts
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "chapters.backends.CapabilityBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/app/"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Failed logins: 10 a minute per IP address, 5 per 5 minutes per account.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    # Reset mails: a handful per address (no mailbox flooded), more per address of origin.
    "reset_password": env.str("RESET_PASSWORD_RATE_LIMIT", default="20/m/ip,3/10m/key"),
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_ADAPTER = "chapters.mfa.MFAAdapter"
# Whoever holds an administrative capability must use an authenticator app (chapters/mfa.py).
# Off outside production so that the demo's logins and the tests' personas sign in with a password.
MFA_REQUIRED_FOR_ADMINISTRATORS = env.bool("MFA_REQUIRED_FOR_ADMINISTRATORS", default=PRODUCTION)

# Shop. STRIPE_API_BASE points the Stripe library elsewhere (tests and `make run` can use the local
# fake, shop/stripe_fake.py); empty means Stripe itself. Each organisation enters its own keys.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Keys that encrypt organisations' Stripe secrets at rest, newest first; derived from SECRET_KEY
# when unset (then rotating SECRET_KEY means re-entering the Stripe keys).
RELAIS_ENCRYPTION_KEYS = env.list("RELAIS_ENCRYPTION_KEYS", default=[])
# How long a visitor has to pay on Stripe's page before the reserved stock returns (Stripe's minimum).
SHOP_CHECKOUT_MINUTES = env.int("SHOP_CHECKOUT_MINUTES", default=30)

# The supporter base. Join and petition sign-ups never confirmed are deleted after this many days.
PEOPLE_UNCONFIRMED_SIGNUP_DAYS = env.int("PEOPLE_UNCONFIRMED_SIGNUP_DAYS", default=30)
# The largest file an import accepts, in bytes (refused before it is read).
PEOPLE_IMPORT_MAX_BYTES = env.int("PEOPLE_IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
# Requests for a link to one's data: per address (beyond it, no more mail, the same answer), and
# per connection (beyond it, 429), as "count/period" with period s, m, h or d.
PEOPLE_RIGHTS_RATE_LIMIT = env.str("PEOPLE_RIGHTS_RATE_LIMIT", default="3/h")
PEOPLE_RIGHTS_CLIENT_RATE_LIMIT = env.str("PEOPLE_RIGHTS_CLIENT_RATE_LIMIT", default="10/h")
# Work the task workers enqueue by themselves (tenancy/schedule.py): (tenant task, every N seconds).
SCHEDULED_TASKS = [
    ("cms.tasks.signups_purge_due", 86_400),
    ("people.merging.duplicates_find_task", 86_400),
    ("people.merging.merges_expire_task", 86_400),
    ("events.tasks.reminders_due", 300),
]
# Events: a visitor's answer whose address is not confirmed within this many hours gives its place up.
EVENTS_UNCONFIRMED_HOURS = env.int("EVENTS_UNCONFIRMED_HOURS", default=48)
# Visitors' answers to events accepted per hour from one client address, and for one email address.
EVENTS_RSVP_CLIENT_LIMIT = env.int("EVENTS_RSVP_CLIENT_LIMIT", default=20)
EVENTS_RSVP_ADDRESS_LIMIT = env.int("EVENTS_RSVP_ADDRESS_LIMIT", default=5)
# Phone banks: how long a caller holds the person they were given (their open page renews it every
# minute; a caller who vanishes gives the person back when it lapses), how far ahead a call back may
# be set, and how long after its time a call back stays reserved for the caller who promised it.
CALLS_LEASE_SECONDS = env.int("CALLS_LEASE_SECONDS", default=180)
CALLS_CALL_BACK_DAYS = env.int("CALLS_CALL_BACK_DAYS", default=60)
CALLS_CALL_BACK_KEPT_MINUTES = env.int("CALLS_CALL_BACK_KEPT_MINUTES", default=60)
# New people one caller may be given (in any campaign), as "count/period": more is collecting numbers.
CALLS_PEOPLE_RATE = env.str("CALLS_PEOPLE_RATE", default="120/h")

# Email: the console unless EMAIL_URL (smtp+tls://user:password@host:587, or smtps:// or smtp+ssl://) or an
# Anymail provider (ANYMAIL_PROVIDER=brevo plus its ANYMAIL_* settings) is given.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"Relais <no-reply@{PLATFORM_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL_PROVIDER = env.str("ANYMAIL_PROVIDER", default="")
# Every ANYMAIL_* variable, for the provider of all mail or of mailings only (below).
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in env.ENVIRON.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_PROVIDER"
}
if "REQUESTS_TIMEOUT" in ANYMAIL:  # seconds, a number for requests (a string fails every send)
    ANYMAIL["REQUESTS_TIMEOUT"] = env.float("ANYMAIL_REQUESTS_TIMEOUT")
if ANYMAIL_PROVIDER:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_PROVIDER}.EmailBackend"
elif env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # seconds: a mail server that hangs must not hold a worker
# Mailings go through the same backend, unless MAILINGS_PROVIDER names an anymail provider of their
# own (`make run` points it at the local fake Brevo, mailings/brevo_fake.py, so that the demo's
# thousands of messages do not flood the console).
MAILINGS_PROVIDER = env.str("MAILINGS_PROVIDER", default="") or ANYMAIL_PROVIDER
# Backends that hand a whole batch of different messages over in one request (mailings/brevo.py).
MAILINGS_BATCH_BACKENDS = {"brevo": "mailings.brevo.EmailBackend"}
MAILINGS_EMAIL_BACKEND = (
    MAILINGS_BATCH_BACKENDS.get(MAILINGS_PROVIDER, f"anymail.backends.{MAILINGS_PROVIDER}.EmailBackend")
    if MAILINGS_PROVIDER
    else EMAIL_BACKEND
)
# The address mailings are sent from (the sender's name goes with it): a domain the provider has
# verified for the platform.
MAILINGS_FROM_EMAIL = env.str("MAILINGS_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)
# Messages per second an organisation sends at most, all its mailings together (Action
# Populaire's nuntius sends 50 a second by default).
MAILINGS_RATE_PER_SECOND = env.float("MAILINGS_RATE_PER_SECOND", default=50.0)
# SMS: the provider ("brevo") and its key and address, the price of a part shown before sending,
# and the sender's name when the organisation has not set one (3 to 11 letters or digits).
MAILINGS_SMS_PROVIDER = env.str("MAILINGS_SMS_PROVIDER", default="")
MAILINGS_SMS_API_KEY = env.str("MAILINGS_SMS_API_KEY", default="")
MAILINGS_SMS_API_URL = env.str("MAILINGS_SMS_API_URL", default="https://api.brevo.com/v3/")
MAILINGS_SMS_PRICE_PER_PART = env.str("MAILINGS_SMS_PRICE_PER_PART", default="0.045")
MAILINGS_SMS_SENDER = env.str("MAILINGS_SMS_SENDER", default="Relais")
# Messages one task hands to the provider: a worker killed in mid-batch leaves at most this many
# with an unknown outcome.
MAILINGS_BATCH_SIZE = env.int("MAILINGS_BATCH_SIZE", default=100)

# Internationalisation: every screen in French and English.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

# Static files are served by WhiteNoise; media per tenant, under MEDIA_ROOT/<schema>/.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=DATA_DIR / "media")
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production, serve straight from the apps' static folders: no collectstatic step.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    warnings.filterwarnings("ignore", message="No directory at")
WHITENOISE_AUTOREFRESH = DEBUG

# Transport security: on by default in production, each switch overridable.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front add the visitor's address to X-Forwarded-For (1 behind the README's
# nginx): rate limits count visitors, not the proxy (tenancy/clients.py, and allauth's sign-in limits).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# HSTS preload is a commitment to the browsers' list that an operator opts into
# (SECURE_HSTS_PRELOAD=true); not having it is not a weakness worth a warning.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Wagtail
WAGTAIL_SITE_NAME = "Relais"
WAGTAILADMIN_BASE_URL = f"{PLATFORM_SCHEME}://{PLATFORM_DOMAIN}"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Wagtail's own i18n: each page has a French and an English version (the second made with
# "Translate" in /cms/, or kept as an alias of the first until someone translates it).
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAILIMAGES_EXTENSIONS = ["gif", "jpg", "jpeg", "png", "webp"]
WAGTAILIMAGES_IMAGE_FORM_BASE = "cms.forms.ImageForm"
WAGTAIL_GRAVATAR_PROVIDER_URL = None  # no member's email hash sent to a third party (and no foreign images)
WAGTAILDOCS_SERVE_METHOD = "serve_view"  # through Wagtail's view, which checks privacy, never a raw media URL
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES
# Public pages are cached per organisation for this long, and purged whenever something is published.
CMS_PAGE_CACHE_SECONDS = env.int("CMS_PAGE_CACHE_SECONDS", default=600)
# How long the proxy in front may keep a public page (X-Accel-Expires): a publication reaches
# visitors at most this late, since the proxy's copies are not purged; 0: the proxy keeps nothing.
CMS_PROXY_CACHE_SECONDS = env.int("CMS_PROXY_CACHE_SECONDS", default=5)
# Campaign forms: at most this many submissions per address and per hour, per organisation.
CMS_SIGNUP_RATE_LIMIT = env.str("CMS_SIGNUP_RATE_LIMIT", default="5/h")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
