"""Every capability a role can carry, by its permission-style name.

The core's are declared here; a feature app declares its own from its AppConfig.ready() with
`register(...)`, so that the roles screen lists them and `can` accepts them.
"""

from django.utils.translation import gettext_lazy as _

CAPABILITIES = {}
# The capabilities that change who may do what, reach everyone's personal data or the
# organisation's money: whoever holds one must sign in with a second factor (chapters/mfa.py).
ADMINISTRATIVE = set()


def register(name, label, *, administrative=False):
    CAPABILITIES[name] = label
    if administrative:
        ADMINISTRATIVE.add(name)


for _name, _label, _administrative in [
    ("chapters.manage_chapters", _("Create, rename, move and archive chapters"), True),
    ("chapters.manage_roles", _("Edit roles and assign them"), True),
    ("chapters.manage_members", _("Approve, refuse, transfer and remove members"), True),
    ("chapters.invite_members", _("Invite people by email"), False),
    ("chapters.view_members", _("See the chapter's member list"), False),
    ("chapters.read_chapter_space", _("Read the chapter's announcements and documents"), False),
    ("chapters.view_contact_details", _("See members' contact details"), False),
    ("chapters.post_announcements", _("Post announcements"), False),
    ("chapters.share_documents", _("Share documents"), False),
    ("chapters.view_audit_log", _("Read the audit log"), True),
    ("chapters.export_members", _("Export and import members"), True),
]:
    register(_name, _label, administrative=_administrative)
