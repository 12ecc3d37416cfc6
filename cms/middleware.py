from django.db import connection
from django_tenants.utils import get_public_schema_name
from wagtail.contrib.redirects.middleware import RedirectMiddleware


class OrganisationRedirectMiddleware(RedirectMiddleware):
    """Wagtail's redirects (per organisation, in its schema); the platform's own site has none."""

    def process_response(self, request, response):
        if connection.schema_name == get_public_schema_name():
            return response
        return super().process_response(request, response)
