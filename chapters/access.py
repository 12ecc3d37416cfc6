"""Who may do what, where. Every permission check in Relais goes through `can`.

A role assignment gives the role's capabilities on its chapter and on every chapter below it. An
active membership gives the capabilities of the organisation's members role on that chapter only.
The user's grants are read in one query and kept on the user object, which lives as long as the
request: `can` costs at most one query per request, however often it is asked.
"""

import functools

from django.db import connection
from django.db.models import Q
from django.http import Http404

from chapters.capabilities import ADMINISTRATIVE, CAPABILITIES
from chapters.models import Chapter, Membership, Role, RoleAssignment


class Grant:
    __slots__ = ("capabilities", "path", "subtree")

    def __init__(self, path, capabilities, subtree):
        self.path = path
        self.capabilities = frozenset(capabilities or ())
        self.subtree = subtree

    def covers(self, chapter):
        if chapter is None:  # the whole organisation: granted on a root chapter
            return self.subtree and len(self.path) == Chapter.steplen
        return chapter.path == self.path or (self.subtree and chapter.path.startswith(self.path))


def _grant_rows(user_ids):
    """(user id, path, capabilities, subtree) of every grant of these users, in one query. Written
    out in SQL: every signed-in request runs it, and compiling the ORM's union of two joins cost
    more than running it."""
    with connection.cursor() as cursor:
        cursor.execute(_GRANTS_SQL(), [list(user_ids), Membership.Status.ACTIVE, list(user_ids)])
        return cursor.fetchall()


@functools.cache
def _GRANTS_SQL():  # noqa: N802 - a constant, built once the models are ready
    assignment, membership = RoleAssignment._meta.db_table, Membership._meta.db_table
    chapter, role = Chapter._meta.db_table, Role._meta.db_table
    return f"""
        SELECT a.user_id, c.path, r.capabilities, TRUE
        FROM "{assignment}" a JOIN "{chapter}" c ON c.id = a.chapter_id JOIN "{role}" r ON r.id = a.role_id
        WHERE a.user_id = ANY(%s)
        UNION ALL
        SELECT m.user_id, c.path,
               (SELECT capabilities FROM "{role}" WHERE is_members_role ORDER BY name LIMIT 1), FALSE
        FROM "{membership}" m JOIN "{chapter}" c ON c.id = m.chapter_id
        WHERE m.status = %s AND m.user_id = ANY(%s)
    """


def grants(user):
    """The user's grants, from one query, cached on the user object."""
    cached = getattr(user, "_relais_grants", None)
    if cached is None:
        load_grants([user])
    return user._relais_grants


def load_grants(users):
    """Read the grants of several users at once (one query, however many), cached on each user
    object as grants() does: for a list that checks `can` for each person in it."""
    pending = {}
    for user in users:
        if getattr(user, "_relais_grants", None) is not None:
            continue
        if user.is_authenticated and user.is_active:
            pending.setdefault(user.pk, []).append(user)
        else:
            user._relais_grants = []
    if not pending:
        return
    found = {}
    for user_id, *row in _grant_rows(list(pending)):
        found.setdefault(user_id, []).append(Grant(*row))
    for user_id, same_person in pending.items():
        for user in same_person:
            user._relais_grants = list(found.get(user_id, []))


def forget_grants(user):
    """After changing someone's roles or memberships within a request (or a long-lived socket)."""
    target = getattr(user, "_wrapped", user)  # request.user and scope["user"] are lazy proxies
    vars(target).pop("_relais_grants", None)


def can(user, capability, chapter=None):
    """Whether `user` holds `capability` on `chapter` (or organisation-wide when chapter is None)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"Unknown capability {capability!r}")
    return any(capability in grant.capabilities and grant.covers(chapter) for grant in grants(user))


def can_anywhere(user, capability):
    """Whether the user holds the capability on at least one chapter (to show a menu entry)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"Unknown capability {capability!r}")
    return any(capability in grant.capabilities for grant in grants(user))


def holds_administrative_capability(user):
    """Whether any of the user's grants carries an administrative capability, anywhere."""
    return any(grant.capabilities & ADMINISTRATIVE for grant in grants(user))


def belongs_within(user, chapter):
    """Whether the user is an active member of, or holds a role on, the chapter or a chapter below
    it (who a room "open to the chapter and the chapters below it" is for)."""
    return any(grant.path.startswith(chapter.path) for grant in grants(user))


def chapters_above_grants(user):
    """The paths of the chapters the user belongs within (see belongs_within): every ancestor of
    a chapter where they are a member or hold a role, and those chapters themselves."""
    steplen = Chapter.steplen
    return {grant.path[:end] for grant in grants(user) for end in range(steplen, len(grant.path) + 1, steplen)}


def chapters_where(user, capability):
    """A filter on Chapter for the chapters where the user holds the capability."""
    condition = Q(pk__in=[])
    for grant in grants(user):
        if capability in grant.capabilities:
            condition |= Q(path__startswith=grant.path) if grant.subtree else Q(path=grant.path)
    return condition


def granted_at(user, capability):
    """The chapters where a role gives the user the capability, for them and every chapter below
    (not the chapters below): where another system's permissions (Wagtail's page tree) are rooted."""
    paths = {grant.path for grant in grants(user) if grant.subtree and capability in grant.capabilities}
    return Chapter.objects.filter(path__in=paths)


def require(user, capability, chapter=None):
    """Refuse with a 404, never a 403: an outsider learns nothing about what exists."""
    if not can(user, capability, chapter):
        raise Http404


def get_chapter_for(user, slug, capability=None, *, chapters=None):
    """The chapter, if it exists and the user may see it (or holds `capability` on it); else 404.

    Every member of the organisation may see the chapter tree (names, descriptions, how to join),
    as on a public map of local groups. `chapters` (a Chapter queryset) lets a page read what it
    needs of the chapter (annotations) in the same query.
    """
    if not user.is_authenticated:
        raise Http404
    chapter = (Chapter.objects if chapters is None else chapters).filter(slug=slug).first()
    if chapter is None or (capability is not None and not can(user, capability, chapter)):
        raise Http404
    return chapter
