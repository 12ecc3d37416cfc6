"""The campaign site's own routes (under /site/), beside the pages Wagtail serves."""

from django.urls import path

from cms import views

urlpatterns = [
    path("signup/<int:page_id>/<str:kind>/", views.signup, name="cms_signup"),
    path("confirm/<str:token>/", views.signup_confirm, name="cms_signup_confirm"),
    path("theme.css", views.theme_css, name="cms_theme"),
    path("petition/<int:page_id>/count/", views.counter, name="cms_counter"),
]
