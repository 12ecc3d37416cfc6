"""Routes of mailings in the member app, under /app/mailings/."""

from django.urls import path

from mailings import views

urlpatterns = [
    path("", views.mailing_list, name="mailings"),
    path("new/", views.mailing_create, name="mailing_create"),
    path("settings/", views.mailing_settings, name="mailing_settings"),
    path("<int:pk>/", views.mailing_detail, name="mailing"),
    path("<int:pk>/edit/", views.mailing_edit, name="mailing_edit"),
    path("<int:pk>/preview/", views.mailing_preview, name="mailing_preview"),
    path("<int:pk>/count/", views.mailing_count, name="mailing_count"),
    path("<int:pk>/test/", views.mailing_test, name="mailing_test"),
    path("<int:pk>/send/", views.mailing_send, name="mailing_send"),
    path("<int:pk>/cancel/", views.mailing_cancel, name="mailing_cancel"),
    path("<int:pk>/approve/", views.mailing_approve, name="mailing_approve"),
    path("<int:pk>/reject/", views.mailing_reject, name="mailing_reject"),
]
