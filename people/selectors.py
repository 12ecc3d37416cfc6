"""Reads of the supporter base."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q

from chapters.models import Chapter
from chapters.selectors import CappedPaginator
from people import access, capabilities
from people.models import Activity, Channel, Consent, PersonChapter, PersonEmail, PersonPhone, Purpose, Tag


def people_for(user, *, query="", chapter=None, tag=None, member=None):
    """The people the user may see, newest first, narrowed by a search (name, address, number,
    postcode, commune), a chapter and those below it, a tag, members or not."""
    people = access.within(user, capabilities.VIEW)
    query = " ".join(query.replace("\x00", "").split())[:200]
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = (
            Q(full_name__icontains=query)
            | Q(postcode__istartswith=query)
            | Q(commune__icontains=query)
            | Exists(PersonEmail.objects.filter(person=OuterRef("pk"), email__icontains=query))
        )
        if len(digits) >= 6:
            match |= Exists(PersonPhone.objects.filter(person=OuterRef("pk"), number__contains=digits[-9:]))
        people = people.filter(match)
    if chapter is not None:
        below = Chapter.objects.filter(path__startswith=chapter.path)
        people = people.filter(Exists(PersonChapter.objects.filter(person=OuterRef("pk"), chapter__in=below)))
    if tag is not None:
        people = people.filter(tags=tag)
    if member is not None:
        people = people.filter(user__isnull=not member)
    return people.order_by("-created", "-id")


def with_details(people):
    """What a list shows of each person, read in a fixed number of queries."""
    return people.prefetch_related(
        Prefetch("chapter_links", queryset=PersonChapter.objects.select_related("chapter")),
        Prefetch("emails", queryset=PersonEmail.objects.filter(is_primary=True), to_attr="primary_emails"),
        Prefetch("phones", queryset=PersonPhone.objects.filter(is_primary=True), to_attr="primary_phones"),
        "tags",
    )


def paginator(people, per_page=50):
    return CappedPaginator(people, per_page)


def consent_state(history):
    """For each channel and purpose, the latest consent row of `history` (newest first), or None."""
    latest = {}
    for consent in history:
        latest.setdefault((consent.channel, consent.purpose), consent)
    return [
        {"channel": channel, "purpose": purpose, "consent": latest.get((channel.value, purpose.value))}
        for channel in Channel
        for purpose in Purpose
    ]


def timeline(person):
    return Activity.objects.filter(person=person).select_related("actor").order_by("-created", "-id")


def consent_history(person):
    return Consent.objects.filter(person=person).select_related("recorded_by").order_by("-created", "-id")


def person_chapters(person):
    """The person's chapters, one line per chapter with every reason it is theirs."""
    found = {}
    for link in person.chapter_links.select_related("chapter").order_by("chapter__path"):
        found.setdefault(link.chapter, []).append(link.get_reason_display())
    return list(found.items())


def tag_counts(user):
    """Every tag, with how many of the people the user may see carry it."""
    visible = access.within(user, capabilities.VIEW).values("pk")
    return Tag.objects.annotate(people_count=Count("people", filter=Q(people__in=visible))).order_by("name")
