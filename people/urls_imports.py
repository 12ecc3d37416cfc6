"""Routes of the people import, under /app/people/imports/."""

from django.urls import path

from people import views_imports as views

urlpatterns = [
    path("", views.import_list, name="people_imports"),
    path("<int:pk>/", views.import_detail, name="people_import_detail"),
    path("<int:pk>/map/", views.import_map, name="people_import_map"),
    path("<int:pk>/progress/", views.import_progress, name="people_import_progress"),
    path("<int:pk>/rejected.csv", views.import_rejections, name="people_import_rejections"),
]
