"""The roles every organisation starts with. Runs in the template schema, so every new
organisation's clone has them; existing organisations get them on migrate_schemas."""

from django.db import migrations

DEFAULT_ROLES = [
    (
        "National organiser",
        "Runs the whole organisation: every capability, on every chapter.",
        [
            "chapters.export_members",
            "chapters.invite_members",
            "chapters.manage_chapters",
            "chapters.manage_members",
            "chapters.manage_roles",
            "chapters.post_announcements",
            "chapters.share_documents",
            "chapters.view_audit_log",
            "chapters.view_contact_details",
            "chapters.view_members",
        ],
        False,
    ),
    (
        "Chapter coordinator",
        "Runs a chapter and those below it: members, invitations, announcements, documents.",
        [
            "chapters.invite_members",
            "chapters.manage_members",
            "chapters.manage_roles",
            "chapters.post_announcements",
            "chapters.share_documents",
            "chapters.view_contact_details",
            "chapters.view_members",
        ],
        False,
    ),
    ("Moderator", "Keeps conversations civil.", ["chapters.view_members"], False),
    (
        "Logistics manager",
        "Handles material and orders for a chapter.",
        ["chapters.view_contact_details", "chapters.view_members"],
        False,
    ),
    ("Member", "What every active member may do in their own chapters.", ["chapters.view_members"], True),
]


def create_roles(apps, schema_editor):
    Role = apps.get_model("chapters", "Role")
    for name, description, capabilities, is_members_role in DEFAULT_ROLES:
        Role.objects.get_or_create(
            name=name,
            defaults={"description": description, "capabilities": capabilities, "is_members_role": is_members_role},
        )


class Migration(migrations.Migration):
    dependencies = [("chapters", "0001_initial")]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
