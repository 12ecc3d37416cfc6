"""Coordinators and national organisers open topic rooms (default roles only, as in 0002)."""

from django.db import migrations

GRANTS = {"National organiser": ["chat.create_rooms"], "Chapter coordinator": ["chat.create_rooms"]}


def grant(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = sorted(set(role.capabilities) | set(GRANTS[role.name]))
        role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("chat", "0003_topics_conversations_moderation")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
