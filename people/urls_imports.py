"""Routes of people.imports (filled in by that part of the app)."""

urlpatterns = []
