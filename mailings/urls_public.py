"""The links of every message, under /mailings/ on the organisation's site (no sign-in)."""

from django.urls import path

from mailings import sms_webhooks, views_public, webhooks

app_name = "mailings"
urlpatterns = [
    path("unsubscribe/<str:token>/", views_public.unsubscribe_view, name="unsubscribe"),
    path("preferences/<str:token>/", views_public.preferences_view, name="preferences"),
    path("o/<str:token>.gif", views_public.opened_view, name="opened"),
    path("c/<str:token>/<int:rank>/", views_public.click_view, name="click"),
    path("webhooks/brevo/tracking/", webhooks.BrevoTracking.as_view(), name="brevo_tracking"),
    path("webhooks/brevo/sms/", sms_webhooks.brevo_sms, name="brevo_sms"),
    path("webhooks/mailgun/tracking/", webhooks.MailgunTracking.as_view(), name="mailgun_tracking"),
]
