"""The public rights page of the organisation's site, at /my-data/ (people.views_rights)."""

from django.urls import path

from people import views_rights as views

urlpatterns = [
    path("", views.request_link, name="people_rights_request"),
    path("<str:token>/", views.home, name="people_rights_home"),
    path("<str:token>/download.json", views.download, name="people_rights_download"),
    path("<str:token>/consents/", views.consents, name="people_rights_consents"),
    path("<str:token>/erase/", views.erase, name="people_rights_erase"),
]
