"""Who may do what. Every permission check in Relais goes through `can`.

Until the role model lands (roles, assignments on the chapter tree), a national organiser (the
founder's group) holds every capability and nobody else holds any.
"""

from django.http import Http404

from accounts.services import NATIONAL_ORGANISERS

CAPABILITIES = {
    "chapters.invite_members",
}


def can(user, capability, chapter=None):
    if capability not in CAPABILITIES:
        raise ValueError(f"Unknown capability {capability!r}")
    if not user.is_authenticated or not user.is_active:
        return False
    # One query per request at most: the answer is kept on the request's user object.
    groups = getattr(user, "_relais_groups", None)
    if groups is None:
        groups = user._relais_groups = frozenset(user.groups.values_list("name", flat=True))
    return NATIONAL_ORGANISERS in groups


def require(user, capability, chapter=None):
    """Refuse with a 404, never a 403: an outsider learns nothing about what exists."""
    if not can(user, capability, chapter):
        raise Http404
