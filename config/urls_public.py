"""URLs of the platform site (the public schema, at PLATFORM_DOMAIN)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("tenants.urls")),
]
