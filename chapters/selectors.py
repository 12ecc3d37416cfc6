"""Reads that take more than a line."""

from django.contrib.postgres.search import SearchQuery
from django.db.models import Count, Exists, OuterRef, Q

from accounts.models import User, fold
from chapters.access import chapters_where
from chapters.models import AuditEntry, Chapter, Membership, RoleAssignment


def chapter_tree(*, include_archived=False):
    """Every chapter in tree order (treebeard's path order), with its active member count."""
    chapters = Chapter.objects.annotate(
        active_members=Count("memberships", filter=Q(memberships__status=Membership.Status.ACTIVE))
    ).order_by("path")
    return chapters if include_archived else chapters.filter(archived__isnull=True)


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
    """The members the viewer may see, matching the search, with what each shows.

    A profile is visible to its owner; to everyone in the organisation if its owner chose so; to
    the members of the owner's chapters if they chose "my chapters"; and, whatever they chose, to
    whoever holds chapters.view_contact_details on one of the owner's chapters (annotated
    `coordinated`: those also see the contact fields). Accent- and case-insensitive prefix search
    on name, city, skills and interests (fold() + a 'simple' tsvector with a GIN index).
    """
    active = Membership.objects.filter(status=Membership.Status.ACTIVE)
    mine = active.filter(user=viewer).values("chapter_id")
    coordinated = Chapter.objects.filter(chapters_where(viewer, "chapters.view_contact_details")).values("pk")
    users = User.objects.filter(is_active=True, erased__isnull=True).annotate(
        shares_chapter=Exists(active.filter(user=OuterRef("pk"), chapter_id__in=mine)),
        coordinated=Exists(active.filter(user=OuterRef("pk"), chapter_id__in=coordinated)),
    )
    users = users.filter(
        Q(visibility=User.Visibility.ORGANISATION)
        | Q(visibility=User.Visibility.CHAPTERS, shares_chapter=True)
        | Q(coordinated=True)
        | Q(pk=viewer.pk)
    )
    tokens = fold(query).split()[:8]
    if tokens:
        users = users.filter(
            search_vector=SearchQuery(" & ".join(f"{token}:*" for token in tokens), search_type="raw", config="simple")
        )
    if chapter is not None:
        subtree = Chapter.objects.filter(path__startswith=chapter.path).values("pk")
        users = users.filter(Exists(active.filter(user=OuterRef("pk"), chapter_id__in=subtree)))
    if skill:
        users = users.filter(skills__contains=[skill])
    if interest:
        users = users.filter(interests__contains=[interest])
    return users.order_by("full_name", "pk")
