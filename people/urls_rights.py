"""Routes of people.rights (filled in by that part of the app)."""

urlpatterns = []
