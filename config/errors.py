"""The error page of an outage: a 503, not a 500, when the database cannot be reached.

Django calls `handler500` for any exception that escaped a view or a middleware, from inside the
`except` block that caught it, so `sys.exc_info()` names the exception. A database that cannot
be reached (restarting, failing over, out of connections) raises OperationalError or
InterfaceError wherever the request was: finding the organisation by its host, reading the
session, in a view. That is an outage, not a bug: the visitor gets "try again in a moment" with
a 503 and Retry-After, which load balancers, crawlers and Stripe's webhook retries understand.
Every other exception keeps Django's own 500 page. Both pages are static templates: rendering
them needs no database (no context processor runs).

Django still logs the exception with its traceback ("Service Unavailable: /path"). Nothing else
is needed for the next requests to succeed once the database is back: connections are not kept
between requests (CONN_MAX_AGE=0), and a kept one is checked before reuse (CONN_HEALTH_CHECKS).
"""

import sys

from django.http import HttpResponse
from django.template import loader
from django.views.defaults import server_error

from tenancy.errors import DATABASE_UNREACHABLE, RETRY_AFTER_SECONDS


def handler500(request):
    if isinstance(sys.exc_info()[1], DATABASE_UNREACHABLE):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return server_error(request)
