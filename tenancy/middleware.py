"""Resolve the organisation from the Host header and refuse what cannot be served.

The platform host (PLATFORM_DOMAIN) is the public schema and needs no database lookup. Any other
host must be an organisation's domain: an unknown one gets a plain 404 page, a suspended
organisation (the tenant model's `is_active` is false) a 403 page that says so. Neither ever
reaches a view or a session.
"""

from django.conf import settings
from django.db import connection
from django.shortcuts import render
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import remove_www

from tenancy.hosts import organisation_for


def platform_hostnames():
    return {settings.PLATFORM_DOMAIN, f"www.{settings.PLATFORM_DOMAIN}"}


def render_host_error(request, template, status, context=None):
    """A standalone error page, in the visitor's language (LocaleMiddleware has not run yet)."""
    with translation.override(translation.get_language_from_request(request)):
        return render(request, template, context or {}, status=status)


class OrganisationMiddleware(TenantMainMiddleware):
    @staticmethod
    def hostname_from_request(request):
        # get_host() validates against ALLOWED_HOSTS; an unlisted host is simply unknown here.
        host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
        return remove_www(host.rsplit(":", 1)[0] if not host.endswith("]") else host).lower()

    def process_request(self, request):
        connection.set_schema_to_public()
        hostname = self.hostname_from_request(request)
        if hostname in platform_hostnames():
            request.tenant = connection.tenant
            self.setup_url_routing(request, force_public=True)
            return None
        organisation = organisation_for(hostname)
        if organisation is None:
            return render_host_error(request, "tenancy/unknown_host.html", 404, {"hostname": hostname})
        if not organisation.is_active:
            return render_host_error(request, "tenancy/suspended.html", 403, {"organisation": organisation})
        organisation.domain_url = hostname
        request.tenant = organisation
        connection.set_tenant(organisation)
        self.setup_url_routing(request)
        return None
