"""Who may see and change which people.

A person belongs to the chapters linked to them (by area, by hand, as a member). A capability
held on a chapter covers the people of that chapter and of the chapters below it; a person linked
to no chapter is the organisation's own, for those who hold the capability organisation-wide.
Every answer comes from chapters.access (the user's grants, read once per request).
"""

from django.db.models import Exists, OuterRef
from django.http import Http404

from chapters import access as chapter_access
from chapters.models import Chapter
from chapters.services import NotAllowed
from people import capabilities
from people.models import Person, PersonChapter

CONTACTS = "chapters.view_contact_details"


def _chapters(person):
    return [link.chapter for link in person.chapter_links.all()]  # prefetched by lists


def can(user, capability, person):
    """Whether the user holds the capability on one of the person's chapters (or organisation-wide)."""
    if chapter_access.can(user, capability):
        return True
    return any(chapter_access.can(user, capability, chapter) for chapter in _chapters(person))


def require(user, capability, person):
    if not can(user, capability, person):
        raise NotAllowed(capability)


def can_edit_in(user, chapter):
    """Whether the user may put people into the chapter (None: the organisation's own)."""
    return chapter_access.can(user, capabilities.EDIT, chapter)


def may_see_contacts(user, person):
    """Addresses and numbers: for those who may see members' contact details where the person is."""
    return can(user, CONTACTS, person)


def within(user, capability, people=None):
    """The people the user holds the capability on: one EXISTS over the links, however many people."""
    people = (Person.objects.all() if people is None else people).filter(merged_into__isnull=True)
    if chapter_access.can(user, capability):
        return people
    chapters = Chapter.objects.filter(chapter_access.chapters_where(user, capability))
    return people.filter(Exists(PersonChapter.objects.filter(person=OuterRef("pk"), chapter__in=chapters)))


def get_person_for(user, pk, capability=capabilities.VIEW):
    """The person, if the user holds `capability` on them; the same 404 whether they do not exist
    or are another chapter's, so that ids cannot be probed."""
    if not user.is_authenticated:
        raise Http404
    person = within(user, capability).filter(pk=pk).select_related("user").first()
    if person is None:
        raise Http404
    return person


def chapter_reached_through(user, person):
    """The chapter of the person's through which the user reaches them (for audit entries)."""
    for chapter in sorted(_chapters(person), key=lambda chapter: -chapter.depth):
        if chapter_access.can(user, capabilities.VIEW, chapter):
            return chapter
    return None


def chapters_for_new_people(user):
    """The chapters where the user may add people, in tree order."""
    return Chapter.objects.filter(chapter_access.chapters_where(user, capabilities.EDIT), archived__isnull=True)
