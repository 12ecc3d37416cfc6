"""Routes of people.segments (filled in by that part of the app)."""

urlpatterns = []
