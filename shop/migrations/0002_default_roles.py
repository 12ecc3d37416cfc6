"""The shop's capabilities on the default roles, and the national warehouse.

National organisers hold them all; logistics managers run the catalogue, the stock and the
orders; chapter coordinators order for their chapter and look after its stock."""

from django.db import migrations

ALL = ["shop.manage_catalogue", "shop.manage_stock", "shop.manage_orders", "shop.order_for_chapter", "shop.manage_payments"]
GRANTS = {
    "National organiser": ALL,
    "Logistics manager": ["shop.manage_catalogue", "shop.manage_stock", "shop.manage_orders"],
    "Chapter coordinator": ["shop.order_for_chapter"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for role in Role.objects.filter(name__in=GRANTS):
        role.capabilities = sorted(set(role.capabilities) | set(GRANTS[role.name]))
        role.save(update_fields=["capabilities"])
    Location = apps.get_model("shop", "Location")
    if not Location.objects.filter(kind="warehouse").exists():
        Location.objects.create(kind="warehouse", name="National warehouse")


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial"), ("chapters", "0004_read_chapter_space")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
