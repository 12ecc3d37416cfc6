from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the platform: exporting and restoring an organisation (backup.py, org_export,
    org_restore) and seeding the demo (seed_demo, demo.py). It sits at the top beside config/ and
    may import every app; no app imports it."""

    name = "operations"
