"""Who a mailing goes to: the people of its segment that the sender may write to, minus whoever
has not consented to the mailing's channel (email or SMS) for its purpose (an unsubscribe or a
STOP withdraws that consent), whoever has no address or mobile number, and, for email, addresses
that bounced hard or complained.

National organisers hold `mailings.send` everywhere and reach anyone; a coordinator holds it on
their chapters and reaches the people of those chapters and below, whatever the segment says.
A chapter's mailing never reaches beyond its chapter either.
"""

from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import Lower

from chapters import access as chapter_access
from chapters.services import NotAllowed
from mailings import capabilities
from mailings.models import Mailing, Suppression
from people import segments
from people.models import Channel, PersonChapter, PersonEmail, PersonPhone


def may_send_from(user, chapter):
    """Whether `user` may send a mailing in the name of `chapter` (None: the organisation)."""
    return chapter_access.can(user, capabilities.SEND, chapter)


def people(*, actor, segment, chapter, purpose, channel=Mailing.Channel.EMAIL, members_only=False):
    """The people the mailing reaches, as one queryset (raises NotAllowed when the actor may not
    send in the chapter's name or use the segment). `members_only`: the members of the chapter
    and of those below it, no one else."""
    if not may_send_from(actor, chapter):
        raise NotAllowed(capabilities.SEND)
    source = segment if segment is not None else {}
    found = segments.audience_for(actor, source, capabilities.SEND, chapter=chapter)
    if segment is not None and chapter is not None:
        found = segments.within_chapter(found, chapter)
    if members_only:
        links = PersonChapter.objects.filter(person=OuterRef("pk"), reason=PersonChapter.Reason.MEMBER)
        if chapter is not None:
            links = links.filter(chapter__path__startswith=chapter.path)
        found = found.filter(Exists(links))
    consent = Channel.SMS if channel == Mailing.Channel.SMS else Channel.EMAIL
    return found.filter(consents__contains=[f"{consent}:{purpose}"])


def addresses(*, actor, segment, chapter, purpose, channel=Mailing.Channel.EMAIL, members_only=False):
    """(person id, address) of each person reached: their primary email address unless it is
    suppressed, or for an SMS their mobile number (the primary one first)."""
    reached = people(
        actor=actor, segment=segment, chapter=chapter, purpose=purpose, channel=channel, members_only=members_only
    ).values("pk")
    if channel == Mailing.Channel.SMS:
        return (
            PersonPhone.objects.filter(is_mobile=True, person__in=reached)
            .order_by("person_id", "-is_primary", "pk")
            .distinct("person_id")
            .values_list("person_id", "number")
        )
    suppressed = Suppression.objects.filter(email=Lower(OuterRef("email")))
    return (
        PersonEmail.objects.filter(is_primary=True, person__in=reached)
        .exclude(Exists(suppressed))
        .order_by("person_id", "pk")
        .distinct("person_id")
        .values_list("person_id", "email")
    )


def count(*, actor, segment, chapter, purpose, channel=Mailing.Channel.EMAIL, members_only=False):
    """The exact number of messages the mailing would send if it were sent now: one per address
    or number (two records sharing one are one inbox, which gets the mailing once)."""
    found = addresses(
        actor=actor, segment=segment, chapter=chapter, purpose=purpose, channel=channel, members_only=members_only
    )
    if channel == Mailing.Channel.SMS:
        return PersonPhone.objects.filter(pk__in=found.values("pk")).aggregate(n=Count("number", distinct=True))["n"]
    return PersonEmail.objects.filter(pk__in=found.values("pk")).aggregate(n=Count(Lower("email"), distinct=True))["n"]


def of(mailing, actor):
    """The addresses of a mailing as `actor` would send it now."""
    return addresses(actor=actor, **_of(mailing))


def count_of(mailing, actor):
    return count(actor=actor, **_of(mailing))


def _of(mailing):
    return {
        "segment": mailing.segment,
        "chapter": mailing.chapter,
        "purpose": mailing.purpose,
        "channel": mailing.channel,
        "members_only": mailing.members_only,
    }
