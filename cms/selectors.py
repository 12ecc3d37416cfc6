"""What the campaign site reads: chapters near a postcode, the chapters' coming events."""

from django.utils.translation import get_language

from chapters.models import Chapter
from chapters.signals import coming_events_wanted
from cms.models import ChapterPage


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


def coming_events(count, chapter=None):
    """The coming public events of `chapter` and the chapters below it (of every chapter when
    None), soonest first: the events app answers through chapters.signals.coming_events_wanted
    (the campaign site does not import it). Each is a dict: title, start, end, place, chapter, url."""
    answers = coming_events_wanted.send(sender=ChapterPage, chapter=chapter, count=count, language=get_language())
    events = [event for _receiver, listed in answers for event in listed or ()]
    return sorted(events, key=lambda event: event["start"])[:count]


def joinable_chapters():
    return Chapter.objects.filter(archived__isnull=True).exclude(joining=Chapter.Joining.CLOSED).order_by("path")
