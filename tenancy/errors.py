"""What Django raises when the database cannot be reached (restarting, failing over, out of
connections), wherever the caller was: the worker waits it out, the web's error page answers 503."""

from django.db import InterfaceError, OperationalError

DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
# How long whoever met an outage should wait before trying again (a 503's Retry-After).
RETRY_AFTER_SECONDS = 10
