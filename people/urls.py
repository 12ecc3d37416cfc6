from django.urls import include, path

from people import views

urlpatterns = [
    path("", views.people, name="people"),
    path("new/", views.person_create, name="person_create"),
    path("tags/", views.people_bulk_tags, name="people_bulk_tags"),
    path("fields/", views.custom_fields, name="people_fields"),
    path("segments/", include("people.urls_segments")),
    path("imports/", include("people.urls_imports")),
    path("duplicates/", include("people.urls_duplicates")),
    path("fields/<int:pk>/", views.custom_fields, name="people_field_edit"),
    path("<int:pk>/", views.person_detail, name="person_detail"),
    path("<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("<int:pk>/notes/", views.person_note, name="person_note"),
    path("<int:pk>/consent/", views.person_consent, name="person_consent"),
    path("<int:pk>/tags/", views.person_tags, name="person_tags"),
]
