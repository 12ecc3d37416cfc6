"""The error page of an outage: a 503, not a 500, when the database cannot be reached.

Django calls `handler500` for any exception that escaped a view or a middleware, from inside the
`except` block that caught it, so `sys.exc_info()` names the exception. A database that cannot
be reached (restarting, failing over, out of connections) raises OperationalError or
InterfaceError wherever the request was: finding the organisation by its host, reading the
session, in a view. That is an outage, not a bug: the visitor gets "try again in a moment" with
a 503 and Retry-After, which load balancers, crawlers and Stripe's webhook retries understand.
Every other exception keeps Django's own 500 page. Both pages are static templates: rendering
them needs no database (no context processor runs).

`handler400` answers a request Django refused before any view read it (a body over its read
limit, more fields than it reads: the CSRF check reads a form first) in JSON to a client that asked
for JSON, as our JSON endpoints answer their own refusals; others get Django's page.

Django still logs the exception with its traceback ("Service Unavailable: /path"). Nothing else
is needed for the next requests to succeed once the database is back: connections are not kept
between requests (CONN_MAX_AGE=0), and a kept one is checked before reuse (CONN_HEALTH_CHECKS).
"""

import sys

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views.defaults import bad_request, server_error

from tenancy.errors import DATABASE_UNREACHABLE, RETRY_AFTER_SECONDS


def handler500(request):
    if isinstance(sys.exc_info()[1], DATABASE_UNREACHABLE):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return server_error(request)


def handler400(request, exception=None):
    wants_json = "application/json" in request.headers.get("Accept", "") or request.content_type == "application/json"
    if not wants_json:
        return bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"error": {"code": "too_large", "message": _("This request is too large.")}}, status=413)
    return JsonResponse({"error": {"code": "bad_request", "message": _("This request cannot be read.")}}, status=400)
