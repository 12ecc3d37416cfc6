"""Routes of likely duplicates and merges, under /app/people/duplicates/."""

from django.urls import path

from people import views_duplicates as views

urlpatterns = [
    path("", views.duplicates, name="people_duplicates"),
    path("find/", views.duplicates_find, name="people_duplicates_find"),
    path("<int:pk>/dismiss/", views.duplicate_dismiss, name="people_duplicate_dismiss"),
    path("<int:pk>/merge/", views.merge, name="people_merge"),
    path("merges/", views.merges, name="people_merges"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="people_merge_undo"),
]
