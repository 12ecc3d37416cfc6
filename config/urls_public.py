"""URLs of the platform site (the public schema, at PLATFORM_DOMAIN)."""

from django.contrib import admin
from django.urls import include, path

# A database outage answers 503 "try again in a moment", any other error the 500 page.
handler500 = "config.errors.handler500"
# A request Django refused before a view read it: in JSON to who asked for JSON.
handler400 = "config.errors.handler400"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("tenants.urls")),
]
