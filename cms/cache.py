"""Public pages cached per organisation, purged whenever anything on the site is published.

The cache's KEY_FUNCTION puts the schema name in every key, and the keys here add a generation
number that purge() moves on: one write empties the whole site's cache (menus, lists and the
chapter index show other pages, so purging only the published page would leave stale copies).
Only GET/HEAD requests without a session or messages cookie are served from or stored in the
cache, and only pages that used no CSRF token and set no cookie are stored: anyone signed in (an
editor, a member) and anyone with a form's errors gets a fresh page. Those pages, and only those,
also tell the proxy in front that it may keep them for CMS_PROXY_CACHE_SECONDS: on the night of a
debate, the campaign site's visitors are answered by the proxy, and Python serves the rest.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

GENERATION_KEY = "cms:generation"
PERSONAL_COOKIES = (settings.SESSION_COOKIE_NAME, "messages")


def purge():
    """Forget every cached page of the current organisation."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no generation yet (or evicted): any new value differs from a missing one
        cache.set(GENERATION_KEY, 1, timeout=None)


def _cacheable(request):
    return request.method in ("GET", "HEAD") and not any(name in request.COOKIES for name in PERSONAL_COOKIES)


def _key(request):
    generation = cache.get(GENERATION_KEY, 0)
    digest = hashlib.sha256(f"{request.get_host()}|{request.get_full_path()}".encode()).hexdigest()[:32]
    return f"cms:page:{generation}:{translation.get_language()}:{digest}"


def get(request):
    """The cached response for this request, or None."""
    if not _cacheable(request):
        return None
    response = cache.get(_key(request))
    if response is not None:
        response["X-Cache"] = "hit"
    return response


def store(request, response):
    """Keep the response for the next visitors if it is the same for all of them."""
    if (
        _cacheable(request)
        and response.status_code == 200
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not getattr(response, "streaming", False)
    ):
        key = _key(request)
        response["X-Cache"] = "miss"
        if settings.CMS_PROXY_CACHE_SECONDS:
            # The proxy in front (README, "Deploying") keeps this page as long, for everyone
            # without a session; nginx reads this header and does not pass it on to browsers.
            response["X-Accel-Expires"] = str(settings.CMS_PROXY_CACHE_SECONDS)

        def keep(rendered):
            cache.set(key, rendered, settings.CMS_PAGE_CACHE_SECONDS)

        if getattr(response, "is_rendered", True):
            keep(response)
        else:
            response.add_post_render_callback(keep)
    return response
