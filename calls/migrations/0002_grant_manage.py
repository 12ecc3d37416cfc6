"""The default roles get the capability to manage phone banks: national organisers everywhere, chapter
coordinators in their chapters."""

from django.db import migrations

GRANTS = {"National organiser": ["calls.manage"], "Chapter coordinator": ["calls.manage"]}


def forwards(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = sorted(set(role.capabilities) | set(GRANTS[role.name]))
        role.save(update_fields=["capabilities"])


def backwards(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = [c for c in role.capabilities if c not in GRANTS[role.name]]
        role.save(update_fields=["capabilities"])


class Migration(migrations.Migration):
    dependencies = [("calls", "0001_initial"), ("chapters", "0006_chapter_invitations")]

    operations = [migrations.RunPython(forwards, backwards)]
