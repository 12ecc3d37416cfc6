"""What events answer when the core asks (chapters.signals)."""

from django.urls import reverse
from django.utils import timezone

from events.models import Event


def coming_events(sender, chapter, count, language=None, **kwargs):
    """The coming public events, of `chapter` and those below it (or all), soonest first."""
    events = Event.objects.filter(
        status=Event.Status.PUBLISHED, visibility=Event.Visibility.PUBLIC, end__gte=timezone.now()
    ).select_related("chapter")
    if chapter is not None:
        events = events.filter(chapter__path__startswith=chapter.path)
    return [
        {
            "title": event.title,
            "start": event.start,
            "end": event.end,
            "place": event.place or event.get_kind_display(),
            "chapter": event.chapter.name,
            "url": reverse("event_public", args=[event.pk]),
        }
        for event in events.order_by("start", "pk")[:count]
    ]
