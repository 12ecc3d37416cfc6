"""Routes of people.duplicates (filled in by that part of the app)."""

urlpatterns = []
