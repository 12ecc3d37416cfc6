"""/healthz on every host: 200 when the database answers, 503 when it does not.

It runs first in the middleware stack, so it never resolves a tenant, reads a session or
checks the Host header: a load balancer probing any address gets an answer.
"""

from django.db import DatabaseError, connection
from django.http import JsonResponse


class HealthzMiddleware:
    path = "/healthz"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.rstrip("/") != self.path:
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except DatabaseError:
            # Drop the broken connection so the next probe connects afresh.
            connection.close_if_unusable_or_obsolete()
            return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
        return JsonResponse({"status": "ok", "database": "up"})
