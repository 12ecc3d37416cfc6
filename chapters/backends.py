"""`user.has_perm(capability, chapter)` answered by chapters.access.can, so that templates, the
Django admin and Wagtail agree with the rest of Relais."""

from chapters.access import can
from chapters.capabilities import CAPABILITIES
from chapters.models import Chapter


class CapabilityBackend:
    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        if perm not in CAPABILITIES:
            return False
        return can(user_obj, perm, obj if isinstance(obj, Chapter) else None)

    def has_module_perms(self, user_obj, app_label):
        return False
