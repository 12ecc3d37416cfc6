from django.urls import path

from tenants import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("create/", views.organisation_signup, name="organisation_signup"),
]
