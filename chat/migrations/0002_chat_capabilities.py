"""The chat's capabilities in the default roles (roles an organisation made itself are left for it
to decide)."""

from django.db import migrations

GRANTS = {
    "National organiser": ["chat.moderate", "chat.post", "chat.post_announcements"],
    "Chapter coordinator": ["chat.moderate", "chat.post"],
    "Moderator": ["chat.moderate", "chat.post"],
    "Logistics manager": ["chat.post"],
    "Member": ["chat.post"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = sorted(set(role.capabilities) | set(GRANTS[role.name]))
        role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial"), ("chapters", "0004_read_chapter_space")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
