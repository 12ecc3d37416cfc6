"""Events on the campaign site, under /events/ (and /en/events/): built by the public-pages work."""

from django.urls import path

from events import views_public

urlpatterns = [
    path("", views_public.event_list, name="events_public"),
    path("<int:pk>/", views_public.event_detail, name="event_public"),
    path("<int:pk>/calendar.ics", views_public.event_ics, name="event_ics"),
    path("rsvp/<str:token>/confirm/", views_public.rsvp_confirm, name="rsvp_confirm"),
    path("rsvp/<str:token>/cancel/", views_public.rsvp_cancel, name="rsvp_cancel"),
    path("feed/<str:token>.ics", views_public.calendar_feed, name="calendar_feed"),
]
