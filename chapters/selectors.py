"""Reads that take more than a line."""

from django.contrib.postgres.search import SearchQuery
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat
from django.utils.functional import cached_property

from accounts.models import Invitation, User, fold
from chapters import scope
from chapters.access import can, chapters_where
from chapters.models import AuditEntry, Chapter, Membership, RoleAssignment


def chapter_tree(*, include_archived=False):
    """Every chapter in tree order (treebeard's path order), with its active member count."""
    chapters = Chapter.objects.annotate(
        active_members=Count("memberships", filter=Q(memberships__status=Membership.Status.ACTIVE))
    ).order_by("path")
    return chapters if include_archived else chapters.filter(archived__isnull=True)


def with_membership_of(user):
    """Chapters annotated with the user's current membership of each (its status and whether it is
    their main chapter; None when they have none), for a page that reads one chapter."""
    current = Membership.objects.filter(user=user, chapter=OuterRef("pk"), status__in=Membership.CURRENT)
    return Chapter.objects.annotate(
        viewer_status=Subquery(current.values("status")[:1]),
        viewer_primary=Subquery(current.values("is_primary")[:1]),
    )


def around(chapter):
    """(the chapters above it, root first; the live chapters right below it), in one query."""
    steplen = Chapter.steplen
    above = [chapter.path[:end] for end in range(steplen, len(chapter.path), steplen)]
    below = Q(path__startswith=chapter.path, depth=chapter.depth + 1, archived__isnull=True)
    near = list(Chapter.objects.filter(Q(path__in=above) | below).order_by("path"))
    return [c for c in near if c.depth < chapter.depth], [c for c in near if c.depth > chapter.depth]


def memberships_of(user):
    """The user's current memberships (active and requested), primary first."""
    return (
        Membership.objects.filter(user=user, status__in=Membership.CURRENT)
        .select_related("chapter")
        .order_by("-is_primary", "status", "chapter__name")
    )


def members_of(chapter):
    return (
        Membership.objects.filter(chapter=chapter, status=Membership.Status.ACTIVE)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def requests_for(chapter):
    return (
        Membership.objects.filter(chapter=chapter, status=Membership.Status.REQUESTED)
        .select_related("user")
        .order_by("requested")
    )


def pending_requests_where(condition):
    """Join requests waiting in the chapters matching `condition` (a Chapter filter)."""
    return (
        Membership.objects.filter(status=Membership.Status.REQUESTED, chapter__in=Chapter.objects.filter(condition))
        .select_related("user", "chapter")
        .order_by("requested")
    )


def assignments_where(condition):
    return (
        RoleAssignment.objects.filter(chapter__in=Chapter.objects.filter(condition))
        .select_related("user", "role", "chapter", "granted_by")
        .order_by("chapter__path", "role__name", "user__full_name")
    )


def audit_entries(*, condition=None):
    """The audit log, newest first; limited to the chapters matching `condition` when given
    (organisation-wide entries, such as role edits, have no chapter and need the whole log)."""
    entries = AuditEntry.objects.select_related("actor", "subject", "chapter")
    if condition is not None:
        entries = entries.filter(chapter__in=Chapter.objects.filter(condition))
    return entries


def directory_for(viewer, *, query="", chapter=None, skill="", interest=""):
    """The members the viewer may see, matching the search.

    A profile is visible to its owner; to everyone in the organisation if its owner chose so; to
    the members of the owner's chapters if they chose "my chapters"; and, whatever they chose, to
    whoever holds chapters.view_contact_details on one of the owner's chapters (see
    contact_visible_ids). Accent- and case-insensitive prefix search on name, city, skills and
    interests (fold() + a 'simple' tsvector with a GIN index).

    Visibility is written as `pk IN (…)` sets rather than per-row EXISTS: PostgreSQL hashes each
    set once, and the organisation-wide case needs no set at all.
    """
    users = User.objects.filter(is_active=True, erased__isnull=True)
    # Everyone is visible to whoever sees contact details organisation-wide, and everyone listed
    # under a chapter is visible to whoever sees them on that chapter (it covers the chapters below).
    sees_everyone = can(viewer, "chapters.view_contact_details", chapter)
    if not sees_everyone:
        active = Membership.objects.filter(status=Membership.Status.ACTIVE)
        mine = active.filter(user=viewer).values("chapter_id")
        visible = (
            Q(visibility=User.Visibility.ORGANISATION)
            | Q(pk=viewer.pk)
            | Q(visibility=User.Visibility.CHAPTERS, pk__in=active.filter(chapter_id__in=mine).values("user_id"))
        )
        coordinated = Chapter.objects.filter(chapters_where(viewer, "chapters.view_contact_details"))
        if chapter is not None:
            # Only the coordinated chapters inside the listed one can add anybody to the list.
            coordinated = coordinated.filter(path__startswith=chapter.path)
        if coordinated.exists():
            visible |= Q(pk__in=active.filter(chapter__in=coordinated).values("user_id"))
        users = users.filter(visible)
    tokens = fold(query).split()[:8]
    if tokens:
        users = users.filter(
            search_vector=SearchQuery(" & ".join(f"{token}:*" for token in tokens), search_type="raw", config="simple")
        )
    if chapter is not None:
        subtree = Chapter.objects.filter(path__startswith=chapter.path).values("pk")
        users = users.filter(
            pk__in=Membership.objects.filter(status=Membership.Status.ACTIVE, chapter_id__in=subtree).values("user_id")
        )
    if skill:
        users = users.filter(skills__contains=[skill])
    if interest:
        users = users.filter(interests__contains=[interest])
    if tokens:
        # Matches of a text search are few but bunched (every "thé…" sorts under T): reading them
        # through the GIN index and sorting beats walking the name index until 25 turn up, which
        # PostgreSQL would otherwise choose. An expression order keeps it off the name index.
        return users.order_by(Concat("full_name", Value("")), "pk")
    return users.order_by("full_name", "pk")


def contact_visible_ids(viewer, user_ids):
    """Among user_ids, those whose contact details the viewer sees whatever they chose: members of
    a chapter where the viewer holds chapters.view_contact_details (and the viewer themself)."""
    coordinated = chapters_where(viewer, "chapters.view_contact_details")
    ids = set(
        Membership.objects.filter(
            status=Membership.Status.ACTIVE, user_id__in=user_ids, chapter__in=Chapter.objects.filter(coordinated)
        ).values_list("user_id", flat=True)
    )
    return ids | ({viewer.pk} & set(user_ids))


class CappedPaginator(Paginator):
    """Pages of a long list whose total is counted up to `cap`: beyond it the page says "500+".

    Counting every match of a broad search costs as much as reading them all; nobody pages
    through more than a few hundred names."""

    cap = 500

    @cached_property
    def count(self):
        counted = self.object_list.order_by()[: self.cap + 1].count()
        self.capped = counted > self.cap
        return min(counted, self.cap)


class SearchPaginator(CappedPaginator):
    """CappedPaginator for text searches: one query reads the ordered ids of up to `cap` matches
    (which also gives the count), then the page's rows are read by id. The matches of a search
    are found through the GIN index and scattered over the table, so reading them twice (count,
    then page) would cost twice."""

    @cached_property
    def ids(self):
        ids = list(self.object_list.values_list("pk", flat=True)[: self.cap + 1])
        self.capped = len(ids) > self.cap
        return ids[: self.cap]

    @cached_property
    def count(self):
        return len(self.ids)

    def page(self, number):
        number = self.validate_number(number)
        start = (number - 1) * self.per_page
        page_ids = self.ids[start : start + self.per_page]
        rows = self.object_list.model.objects.in_bulk(page_ids)
        return self._get_page([rows[pk] for pk in page_ids if pk in rows], number, self)


def directory_paginator(members, query, per_page=25):
    paginator_class = SearchPaginator if fold(query).split() else CappedPaginator
    return paginator_class(members, per_page)


def role_holders(capability, chapter):
    """The active users whose role gives them `capability` on `chapter` (assigned on it or on a
    chapter above it): who to tell when something there needs them."""
    ancestor_paths = [chapter.path[:end] for end in range(Chapter.steplen, len(chapter.path) + 1, Chapter.steplen)]
    return User.objects.filter(
        is_active=True,
        role_assignments__chapter__path__in=ancestor_paths,
        role_assignments__role__capabilities__contains=[capability],
    ).distinct()


def pending_invitations():
    """Invitations not yet accepted (nor revoked: a revoked one is deleted)."""
    return Invitation.objects.filter(accepted__isnull=True).select_related("invited_by", "chapter_invitation__chapter")


def pending_invitations_for(user):
    """The pending invitations the user looks after: into the chapters where they may invite (and
    those below), and the organisation's own, into no chapter, for who may invite organisation-wide."""
    return scope.within(pending_invitations(), user, "chapters.invite_members").order_by("-created", "-pk")
