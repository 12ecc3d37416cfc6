"""Events in the member app, under /app/events/."""

from django.urls import path

from events import views

urlpatterns = [
    path("", views.event_list, name="events"),
    path("new/", views.event_create, name="event_create"),
    path("stats/", views.events_stats, name="events_stats"),
    path("settings/", views.events_settings, name="events_settings"),
    path("calendar/", views.events_calendar, name="events_calendar"),
    path("<int:pk>/", views.event_detail, name="event"),
    path("<int:pk>/calendar.ics", views.event_member_ics, name="event_member_ics"),
    path("<int:pk>/edit/", views.event_edit, name="event_edit"),
    path("<int:pk>/cancel/", views.event_cancel, name="event_cancel"),
    path("<int:pk>/publish/", views.event_publish, name="event_publish"),
    path("<int:pk>/rsvp/", views.event_rsvp, name="event_rsvp"),
    path("<int:pk>/rsvp/cancel/", views.event_rsvp_cancel, name="event_rsvp_cancel"),
    path("<int:pk>/attendees/", views.event_attendees, name="event_attendees"),
    path("<int:pk>/attendees/walk-in/", views.event_walk_in, name="event_walk_in"),
    path("<int:pk>/attendees/<int:rsvp_pk>/checkin/", views.event_checkin, name="event_checkin"),
    path("<int:pk>/report/", views.event_report, name="event_report"),
]
