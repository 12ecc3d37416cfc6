"""What Django raises when the database cannot be reached (restarting, failing over, out of
connections), wherever the caller was: the worker waits it out, the web's error page answers 503."""

from django.db import InterfaceError, OperationalError

DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
