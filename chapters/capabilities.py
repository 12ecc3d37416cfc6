"""Every capability a role can carry, by its permission-style name.

The core's are declared here; a feature app declares its own from its AppConfig.ready() with
`register(...)`, so that the roles screen lists them and `can` accepts them.
"""

from django.utils.translation import gettext_lazy as _

CAPABILITIES = {}


def register(name, label):
    CAPABILITIES[name] = label


for _name, _label in [
    ("chapters.manage_chapters", _("Create, rename, move and archive chapters")),
    ("chapters.manage_roles", _("Edit roles and assign them")),
    ("chapters.manage_members", _("Approve, refuse, transfer and remove members")),
    ("chapters.invite_members", _("Invite people by email")),
    ("chapters.view_members", _("See the chapter's member list")),
    ("chapters.read_chapter_space", _("Read the chapter's announcements and documents")),
    ("chapters.view_contact_details", _("See members' contact details")),
    ("chapters.post_announcements", _("Post announcements")),
    ("chapters.share_documents", _("Share documents")),
    ("chapters.view_audit_log", _("Read the audit log")),
    ("chapters.export_members", _("Export and import members")),
]:
    register(_name, _label)
