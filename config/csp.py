"""The Content-Security-Policy of every response, chosen by what the response is.

Relais's own pages (member app, campaign site, public shop, sign-in) run no inline script or
style: scripts and stylesheets come from our own static files, the campaign site's colours from
/site/theme.css, confirmations from `data-confirm` read by relais/app.js. So their policy allows
our own origin and nothing inline: a script injected into a page does not run.

The two administration interfaces built on other projects, Wagtail's (/cms/) and Django's
(/admin/), still use inline scripts and styles; they get the same policy with those allowed, and
they are reached only by signed-in editors and operators. Uploaded files served back (campaign
images, shared documents) get a sandbox that runs nothing, whatever their content.
"""

from urllib.parse import urlsplit

from csp.constants import NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

ADMIN_PREFIXES = ("/cms/", "/admin/")
STRIPE_CHECKOUT = "https://checkout.stripe.com"


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def page_policy():
    # A checkout form posts to us and we redirect to Stripe's page: form-action covers redirects.
    checkout = [origin for origin in [STRIPE_CHECKOUT, _origin(settings.STRIPE_API_BASE)] if origin]
    return {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # 'self' covers the same host's ws:// and wss:// (chat, counters)
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF, *checkout],
        "frame-ancestors": [NONE],
    }


def admin_policy():
    policy = page_policy()
    policy["script-src"] = [SELF, UNSAFE_INLINE, UNSAFE_EVAL]
    policy["style-src"] = [SELF, UNSAFE_INLINE]
    policy["img-src"] = [SELF, "data:", "blob:"]
    policy["frame-ancestors"] = [SELF]  # Wagtail's preview panel frames our own pages
    return policy


def platform_policy():
    """The platform's own site hands a new organisation's founder over to its subdomain, which
    form-action must allow (it governs where a form's redirects lead too)."""
    policy = page_policy()
    policy["form-action"] = [*policy["form-action"], f"*.{settings.PLATFORM_DOMAIN}:*"]
    return policy


class PolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if not report_only and parts.config is None:
            if request.path_info.startswith(ADMIN_PREFIXES):
                parts.config = admin_policy()
            elif connection.schema_name == get_public_schema_name():
                parts.config = platform_policy()
            else:
                parts.config = page_policy()
        return parts
