"""The campaign site's own views: pages served through the per-organisation cache, the calls to
action (join and petition forms, their confirmation links, the live counter), search, robots.txt
and the public media of the site.

The join and petition forms post without a CSRF token: the pages that carry them are cached for
every visitor, and a forged submission can do nothing but mail a confirmation link to the address
it names (double opt-in), which is also all a direct submission can do.
"""

import mimetypes
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import connection
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from wagtail import views as wagtail_views
from wagtail.models import Locale, Page, Site

from cms import cache, services, spam
from cms.forms import SignupForm
from cms.models import OrganisationSettings, Signup
from tenancy.responses import serve_as_file

# Wagtail's public media: images and their renditions. Documents go through Wagtail's own view,
# which checks their privacy, and chapters' files through the member app's access-checked views.
PUBLIC_MEDIA = ("original_images", "images")


def serve(request, path):
    """Wagtail's page view, with the per-organisation cache in front of it."""
    cached = cache.get(request)
    if cached is not None:
        return cached
    response = wagtail_views.serve(request, path)
    route = getattr(request, "_wagtail_route_for_request", None)
    page = route[0] if route else None
    if page is not None and getattr(page.specific_deferred, "cache_for_visitors", False):
        cache.store(request, response)
    return response


def _absolute(request, path):
    return request.build_absolute_uri(path)


def _live_page(page_id):
    page = Page.objects.live().public().filter(pk=page_id).first()
    if page is None:
        raise Http404
    return page.specific


@csrf_exempt
@require_POST
def signup(request, page_id, kind):
    """A join request or a signature sent from a page's block."""
    if kind not in Signup.Kind.values:
        raise Http404
    page = _live_page(page_id)
    join = kind == Signup.Kind.JOIN
    form = SignupForm(request.POST, join=join)
    if spam.is_bot(request.POST):
        return TemplateResponse(request, "cms/signup_sent.html", {"page": page, "kind": kind})
    if not form.is_valid():
        return TemplateResponse(request, "cms/signup_form.html", {"page": page, "form": form, "kind": kind}, status=400)
    if spam.over_limit(request):
        return spam.too_many_response(request)
    try:
        services.signup_submit(
            kind=kind,
            page=page,
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            postcode=form.cleaned_data["postcode"],
            chapter_id=form.cleaned_data["chapter"].pk if join and form.cleaned_data.get("chapter") else None,
            build_url=lambda token: _absolute(request, reverse("cms_signup_confirm", args=[token])),
        )
    except services.SignupError as error:
        form.add_error(None, error.message)
        return TemplateResponse(request, "cms/signup_form.html", {"page": page, "form": form, "kind": kind}, status=400)
    return TemplateResponse(request, "cms/signup_sent.html", {"page": page, "kind": kind})


@require_http_methods(["GET", "POST"])
def signup_confirm(request, token):
    """The link in the confirmation mail. GET asks for a click (mail scanners follow links);
    POST confirms."""
    signup = Signup.objects.filter(token=token).select_related("page", "chapter").first()
    if signup is None:
        return TemplateResponse(request, "cms/signup_confirm.html", {"unknown": True}, status=404)
    if request.method == "GET" or signup.confirmed is not None:
        return TemplateResponse(request, "cms/signup_confirm.html", {"signup": signup})
    signup, invitation = services.signup_confirm(signup=signup)
    if invitation is not None:
        return redirect("invitation_accept", token=invitation.token)
    return TemplateResponse(request, "cms/signup_confirm.html", {"signup": signup, "done": True})


@require_GET
@cache_control(max_age=5)
def counter(request, page_id):
    page = _live_page(page_id)
    return JsonResponse({"page": page.pk, "count": services.signature_count(page.pk)})


@require_GET
def search(request):
    # Without NUL characters, which PostgreSQL cannot compare (a DataError) and no page holds.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    results = Page.objects.none()
    if query:
        results = Page.objects.live().public().filter(locale=Locale.get_active()).search(query)
    page = Paginator(results, 10).get_page(request.GET.get("page"))
    return TemplateResponse(request, "cms/search.html", {"query": query, "results": page})


@require_GET
def robots_txt(request):
    lines = ["User-agent: *", "Disallow: /app/", "Disallow: /cms/", "Disallow: /accounts/", "Disallow: /admin/"]
    lines.append(f"Sitemap: {_absolute(request, reverse('cms_sitemap'))}")
    return TemplateResponse(request, "cms/robots.txt", {"lines": lines}, content_type="text/plain")


@require_GET
@cache_control(max_age=86400, public=True)
def theme_css(request):
    """The organisation's colours as CSS variables: a stylesheet rather than an inline <style>,
    which the Content-Security-Policy would refuse. Pages link it with the colours in the query
    string, so a change of colours is a new URL and the day-long cache never shows old ones."""
    site = Site.find_for_request(request)
    org = OrganisationSettings.for_site(site) if site is not None else None
    return TemplateResponse(request, "cms/theme.css", {"org": org}, content_type="text/css; charset=utf-8")


@require_GET
@cache_control(max_age=86400, public=True)
def media(request, schema, path):
    """A public file of this organisation's site (/media/<schema>/images/…). Only the current
    organisation's schema is served, from its own folder: another organisation's files cannot be
    named from here."""
    if schema != connection.schema_name:
        raise Http404
    parts = PurePosixPath(path).parts
    if not parts or parts[0] not in PUBLIC_MEDIA or ".." in parts or path.startswith("/"):
        raise Http404
    if not default_storage.exists(path):
        raise Http404
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        raise Http404  # only images live here; nothing else is served from the organisation's domain
    return serve_as_file(FileResponse(default_storage.open(path), content_type=content_type))
