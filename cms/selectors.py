"""What the campaign site reads: chapters near a postcode, the chapters' coming events."""

from django.db.models.functions import Length, Substr
from django.utils import timezone
from django.utils.translation import get_language
from wagtail.models import Locale

from chapters.models import Chapter
from cms.models import ArticlePage, ChapterPage


def _closeness(chapter, postcode):
    """3: the chapter lists the postcode; 2: it lists a prefix of it (a department);
    1: it lists a postcode of the same department; 0: not near."""
    best = 0
    for token in chapter.area.replace(",", " ").split():
        if token == postcode:
            return 3
        if postcode.startswith(token):
            best = max(best, 2)
        elif len(postcode) >= 2 and token[:2] == postcode[:2]:
            best = max(best, 1)
    return best


def chapters_near(postcode, *, joinable=False):
    """Open chapters near a postcode, the closest and most local first."""
    postcode = "".join(postcode.split()).upper()[:10]
    if not postcode:
        return []
    chapters = Chapter.objects.filter(archived__isnull=True, depth__gt=1).exclude(area="")
    if joinable:
        chapters = chapters.exclude(joining=Chapter.Joining.CLOSED)
    scored = [(_closeness(chapter, postcode), chapter) for chapter in chapters]
    return [chapter for score, chapter in sorted(scored, key=lambda s: (-s[0], -s[1].depth, s[1].name)) if score]


def chapter_pages_near(index_page, postcode):
    """The live chapter pages, in the index page's language, of the chapters near `postcode`."""
    chapters = chapters_near(postcode)
    pages = {
        page.chapter_id: page
        for page in ChapterPage.objects.live().public().descendant_of(index_page).filter(chapter__in=chapters)
    }
    return [pages[chapter.pk] for chapter in chapters if chapter.pk in pages]


def upcoming_chapter_events(count):
    """Announcements published below chapter pages for events still to come, soonest first: in
    the visitor's language where translated, else as the chapter wrote them."""
    default = Locale.get_default()
    active = Locale.objects.filter(language_code=get_language()).first() or default
    events = (
        ArticlePage.objects.live()
        .public()
        .filter(locale__in=[active, default], event_start__gte=timezone.now())
        .annotate(parent_path=Substr("path", 1, Length("path") - ArticlePage.steplen))
        .filter(parent_path__in=ChapterPage.objects.values("path"))
        .select_related("image")
        .order_by("event_start", "pk")
    )
    chosen = {}
    for event in events[: count * 2]:
        if event.translation_key not in chosen or event.locale_id == active.pk:
            chosen[event.translation_key] = event
    return sorted(chosen.values(), key=lambda event: (event.event_start, event.pk))[:count]


def joinable_chapters():
    return Chapter.objects.filter(archived__isnull=True).exclude(joining=Chapter.Joining.CLOSED).order_by("path")
