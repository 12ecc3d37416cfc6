"""URLs of an organisation's site (its own schema, at <slug>.PLATFORM_DOMAIN)."""

import os

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.http import HttpResponse, HttpResponseNotFound
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from chapters import views as chapter_views
from cms import views as cms_views

# A database outage answers 503 "try again in a moment", any other error the 500 page.
handler500 = "config.errors.handler500"
# A request Django refused before a view read it: in JSON to who asked for JSON.
handler400 = "config.errors.handler400"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    # Accepting an invitation may make the newcomer a member of a chapter: the chapters app's view.
    path("accounts/invitation/<str:token>/", chapter_views.invitation_accept, name="invitation_accept"),
    path("accounts/", include("allauth.urls")),
    path("app/chat/", include("chat.urls")),
    path("app/shop/", include("shop.urls")),
    path("app/people/", include("people.urls")),
    path("app/mailings/", include("mailings.urls")),
    path("app/events/", include("events.urls")),
    path("app/calls/", include("calls.urls")),
    path("app/", include("chapters.urls")),
    # Wagtail's deliberate crash page answers a 500 to anyone: no such page here.
    path("cms/failwhale/", lambda request: HttpResponseNotFound(), name="cms_error_test_disabled"),
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("site/", include("cms.urls")),
    path("shop/", include("shop.urls_public")),
    # Anyone asks, by a link mailed to their address, what the organisation holds about them.
    path("my-data/", include("people.urls_rights")),
    # The unsubscribe and preferences links of every mailing (no sign-in).
    path("mailings/", include("mailings.urls_public")),
    path("media/<str:schema>/<path:path>", cms_views.media, name="cms_media"),
    path("robots.txt", cms_views.robots_txt, name="cms_robots"),
    path("sitemap.xml", sitemap, name="cms_sitemap"),
]
if os.environ.get("RELAIS_BENCH_SITE") == "1":  # bench/site.py's reference, never in production
    urlpatterns.append(path("bench-minimal/", lambda request: HttpResponse("ok", content_type="text/plain")))

# Last: the campaign website owns every other path, in the default language at / and in the
# other one under its prefix (/en/ when French is the default). Wagtail's serve view goes through
# the per-organisation page cache.
urlpatterns += i18n_patterns(
    path("search/", cms_views.search, name="cms_search"),
    path("events/", include("events.urls_public")),
    *[pattern for pattern in wagtail_urls.urlpatterns if getattr(pattern, "name", None) != "wagtail_serve"],
    re_path(wagtail_urls.serve_pattern, cms_views.serve, name="wagtail_serve"),
    prefix_default_language=False,
)
