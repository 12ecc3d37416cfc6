"""The website's capabilities on the default roles: national organisers edit the whole site,
coordinators their chapter's pages, and a new Communications role edits the whole site."""

from django.db import migrations

GRANTS = {"National organiser": ["cms.edit_site", "cms.publish_chapter_pages"], "Chapter coordinator": ["cms.publish_chapter_pages"]}


def grant(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = sorted(set(role.capabilities) | set(GRANTS[role.name]))
        role.save(update_fields=["capabilities"])
    Role.objects.get_or_create(
        name="Communications",
        defaults={
            "description": "Edits and publishes the campaign website.",
            "capabilities": ["cms.edit_site", "cms.publish_chapter_pages"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("cms", "0001_initial"), ("chapters", "0001_initial")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
