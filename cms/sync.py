"""Chapter pages follow the chapters.

chapters.services sends explicit domain signals (chapters never imports cms); the receivers here,
connected in CmsConfig.ready(), run inside the service's transaction, so a chapter and its page
change together or not at all. Every language version of a chapter page links the chapter: the
page in the default language is created and published, and each other language gets an alias that
follows it until someone translates it in /cms/.
"""

from django.db import transaction
from wagtail.log_actions import log
from wagtail.models import Locale

from cms import cache
from cms.models import ChapterIndexPage, ChapterPage


def _parents(chapter):
    """Where the chapter's pages go, by locale id: its parent chapter's pages, or the chapter
    indexes for a chapter right below the national one."""
    parent = chapter.get_parent()
    if parent is not None and not parent.is_root():
        pages = {page.locale_id: page for page in ChapterPage.objects.filter(chapter=parent)}
        if pages:
            return pages
    return {page.locale_id: page for page in ChapterIndexPage.objects.all()}


def _free_slug(parent, slug):
    taken = set(parent.get_children().values_list("slug", flat=True))
    candidate, number = slug, 2
    while candidate in taken:
        candidate, number = f"{slug}-{number}", number + 1
    return candidate


def page_create(chapter, actor=None):
    """The chapter's page (published unless the chapter is archived) and its aliases in the
    other languages. Nothing for the national chapter: the chapter index stands for it."""
    if chapter.is_root() or ChapterPage.objects.filter(chapter=chapter).exists():
        return
    parents = _parents(chapter)
    default = Locale.get_default()
    parent = parents.get(default.pk) or next(iter(parents.values()), None)
    if parent is None:  # the organisation removed its chapter index: nowhere to put it
        return
    page = ChapterPage(
        title=chapter.name, slug=_free_slug(parent, chapter.slug), chapter=chapter, live=not chapter.is_archived
    )
    parent.add_child(instance=page)
    page.save_revision(user=actor, log_action=False)
    log(instance=page, action="wagtail.create", user=actor)
    for locale in Locale.objects.exclude(pk=page.locale_id):
        target = parents.get(locale.pk)
        if target is not None:
            page.create_alias(
                parent=target,
                update_locale=locale,
                update_slug=_free_slug(target, page.slug),
                user=None,  # the chapters decided this, not the actor's Wagtail permissions
                reset_translation_key=False,
            )
    cache.purge()


def page_update(chapter, actor=None):
    """A renamed chapter renames its pages, live and draft, without publishing anyone's draft."""
    for page in ChapterPage.objects.filter(chapter=chapter):
        if page.title == chapter.name and page.draft_title == chapter.name:
            continue
        page.title = page.draft_title = chapter.name
        page.save(update_fields=["title", "draft_title"], clean=False)
        revision = page.latest_revision
        if revision is not None:
            revision.content["title"] = revision.content["draft_title"] = chapter.name
            revision.save(update_fields=["content"])
        log(instance=page, action="wagtail.rename", user=actor)
    cache.purge()


def page_move(chapter, actor=None):
    parents = _parents(chapter)
    for page in ChapterPage.objects.filter(chapter=chapter):
        target = parents.get(page.locale_id)
        if target is not None and page.get_parent().pk != target.pk:
            page.move(target, pos="last-child")
    cache.purge()


def _pages_below(chapter):
    return ChapterPage.objects.filter(chapter__path__startswith=chapter.path)


def pages_archive(chapter, actor=None):
    """Archiving unpublishes the pages of the chapter and of every chapter below it. Their live
    content is kept as it was, so that restoring the chapter puts the same pages back."""
    pages = list(_pages_below(chapter).filter(live=True))
    ChapterPage.objects.filter(pk__in=[page.pk for page in pages]).update(live=False)
    for page in pages:
        log(instance=page, action="wagtail.unpublish", user=actor)
    cache.purge()


def pages_unarchive(chapter, actor=None):
    pages = list(_pages_below(chapter).filter(live=False, chapter__archived__isnull=True))
    ChapterPage.objects.filter(pk__in=[page.pk for page in pages]).update(live=True)
    for page in pages:
        log(instance=page, action="wagtail.publish", user=actor)
    cache.purge()


def _after(function):
    def receiver(sender, chapter, actor=None, **kwargs):
        with transaction.atomic():
            function(chapter, actor)

    return receiver


on_chapter_created = _after(page_create)
on_chapter_updated = _after(page_update)
on_chapter_moved = _after(page_move)
on_chapter_archived = _after(pages_archive)
on_chapter_unarchived = _after(pages_unarchive)


def pages_create_missing(actor=None):
    """A page for every chapter that has none (a demo seeded before the site, a restored dump)."""
    from chapters.models import Chapter

    for chapter in Chapter.objects.filter(depth__gt=1).order_by("path"):
        page_create(chapter, actor)
