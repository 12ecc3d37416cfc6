"""URLs of an organisation's site (its own schema, at <slug>.PLATFORM_DOMAIN)."""

from django.contrib import admin
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from chapters import views as chapter_views

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    # Accepting an invitation may make the newcomer a member of a chapter: the chapters app's view.
    path("accounts/invitation/<str:token>/", chapter_views.invitation_accept, name="invitation_accept"),
    path("accounts/", include("allauth.urls")),
    path("app/chat/", include("chat.urls")),
    path("app/", include("chapters.urls")),
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
]
# Last: the campaign website owns every other path.
urlpatterns += [path("", include(wagtail_urls))]
