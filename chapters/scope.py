"""What belongs to a chapter, declared by the app that owns it.

Each app registers its chapter-owned models in its AppConfig.ready(), with the lookup from the
model to its chapter (several when a row sits between two chapters, as a stock transfer does).
`within` narrows a queryset of such a model to what a user may act on: the rows of the chapters
where they hold the capability (which covers the chapters below), and the rows of no chapter (the
organisation's own) for whoever holds it organisation-wide. The chapter-scope suite
(tests/security/test_chapter_scope.py) refuses any model that leads to a chapter without being
registered here, and proves every route that reads or changes a registered model against people
who hold the capability on another chapter.
"""

from django.db.models import Q
from django.http import Http404

from chapters.access import can, chapters_where
from chapters.models import Chapter

OWNED = {}


def register(model, *paths):
    """Declare `model` chapter-owned; `paths` lead from it to its Chapter ("chapter" by default)."""
    OWNED[model._meta.label] = paths or ("chapter",)


def paths_of(model):
    return OWNED[model._meta.label]


def within(queryset, user, capability):
    """The rows of `queryset` (a registered model's) that `user` may act on with `capability`."""
    where = Chapter.objects.filter(chapters_where(user, capability))
    condition = Q()
    for path in paths_of(queryset.model):
        condition |= Q(**{f"{path}__in": where})
        if can(user, capability):
            condition |= Q(**{f"{path}__isnull": True})
    return queryset.filter(condition)


def get_within(queryset, user, capability, **lookup):
    """The one object of `queryset` matching `lookup` that `user` may act on with `capability`;
    the same 404 whether it does not exist or is another chapter's, so that ids cannot be probed."""
    found = within(queryset, user, capability).filter(**lookup).first()
    if found is None:
        raise Http404
    return found


def chapters_of(obj):
    """The chapters a registered object belongs to (for tests and audit entries)."""
    model = type(obj)
    found = []
    for path in paths_of(model):
        chapter = model.objects.filter(pk=obj.pk).values_list(f"{path}__pk", flat=True).first()
        if chapter is not None:
            found.append(chapter)
    return Chapter.objects.filter(pk__in=found)
