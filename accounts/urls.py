from django.urls import path

from accounts import views

urlpatterns = [
    path("welcome/<str:token>/", views.welcome, name="welcome"),
]
