"""Routes of people.segments, under /app/people/segments/."""

from django.urls import path, re_path

from people import views_segments as views

urlpatterns = [
    path("", views.segment_list, name="people_segments"),
    path("new/", views.segment_create, name="people_segment_create"),
    path("count/", views.segment_count, name="people_segment_count"),
    path("<int:pk>/", views.segment_detail, name="people_segment"),
    path("<int:pk>/edit/", views.segment_edit, name="people_segment_edit"),
    path("<int:pk>/delete/", views.segment_delete, name="people_segment_delete"),
    re_path(r"^(?P<pk>[0-9]+)/export\.(?P<file_format>csv|xlsx)$", views.segment_export, name="people_segment_export"),
]
