"""Test settings: the real stack (PostgreSQL, Daphne, the database task backend), made fast."""

import tempfile

from config.settings import *  # noqa: F403 (RELAIS_ENV is "test" by default under this module)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if not env.str("EMAIL_URL", default=""):  # a test that starts a worker process may give one
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if not MAILINGS_PROVIDER:  # noqa: F405
    MAILINGS_EMAIL_BACKEND = EMAIL_BACKEND
LANGUAGE_CODE = "en"

# Uploaded files of the whole test session go to a temporary folder, still one folder per schema;
# the processes a test starts (the web stack, a worker) are given the test's own (tests/helpers.py).
MEDIA_ROOT = env.str("MEDIA_ROOT", default="") or tempfile.mkdtemp(prefix="relais-test-media-")

# Wagtail logs every page it creates at INFO: the starter sites and chapter pages of every test.
LOGGING["loggers"]["wagtail"] = {"level": "WARNING"}  # noqa: F405

# A worker a test starts runs what the test enqueues, nothing of its own (tests/test_schedule.py
# sets jobs where it needs them).
SCHEDULED_TASKS = []
