"""Reads that take more than a line."""

from django.db.models import Count, Q

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
