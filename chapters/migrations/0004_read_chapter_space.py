"""Reading a chapter's announcements and documents becomes a capability of its own, held by
every default role (roles an organisation made itself are left for it to decide)."""

from django.db import migrations

DEFAULT_ROLE_NAMES = ["National organiser", "Chapter coordinator", "Moderator", "Logistics manager", "Member"]


def add_capability(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=DEFAULT_ROLE_NAMES):
        if "chapters.read_chapter_space" not in role.capabilities:
            role.capabilities = sorted([*role.capabilities, "chapters.read_chapter_space"])
            role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("chapters", "0003_announcements_documents")]

    operations = [migrations.RunPython(add_capability, migrations.RunPython.noop)]
