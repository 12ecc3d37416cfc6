"""The demo organisation's events: a leafleting in Lille with a limited number of places (full,
with someone waiting), a public meeting in Rennes on two evenings, an online training, a workshop
in Toulouse, and a meeting for the organisation's members only; answered by the demo member,
members of Lille and a few visitors."""

import datetime

from django.utils import timezone

from accounts.models import User
from chapters import signals as chapter_signals
from chapters.models import Chapter
from events import services
from events.models import Event


def _slot(days, hour, minute=0, hours=2):
    """A timeslot `days` from today at the given wall-clock time where the organisation is."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))
    return start, start + datetime.timedelta(hours=hours)


def _leaflets():
    """The first leaflet the shop lists, as an event's material (none without a shop)."""
    for _receiver, listed in chapter_signals.material_listed.send(sender=Event):
        for variant_id, label in listed or ():
            if "tract" in str(label).lower():
                return [(variant_id, 500)]
    return []


def seed(organiser, *, member=None, base_url=""):
    """Create the demo events once: nothing happens if there are events other than those moved
    from the old site's articles. Returns how many events it created."""
    if Event.objects.filter(article_page_id__isnull=True).exists():
        return 0
    chapters = {chapter.slug: chapter for chapter in Chapter.objects.filter(archived__isnull=True)}
    national = Chapter.objects.get(depth=1)
    created = []

    def event(slug, title, slots, **fields):
        chapter = chapters.get(slug, national) if slug else national
        created.append(services.event_save(actor=organiser, chapter=chapter, title=title, slots=slots, **fields))
        return created[-1]

    leafleting = event(
        "lille", "Tractage au marché de Wazemmes", [_slot(5, 10)],
        kind=Event.Kind.LEAFLETING, place="Marché de Wazemmes", address="Place de la Nouvelle Aventure\nLille",
        postcode="59000", capacity=12, max_guests=2, material=_leaflets(),
        description="On distribue le tract **« Climat, on agit »** et on discute avec les passants.\n\n"
        "Rendez-vous devant l'église, gilets fournis.",
    )  # fmt: skip
    meeting = event(
        "rennes", "Réunion publique : le logement à Rennes", [_slot(9, 19), _slot(16, 19)],
        kind=Event.Kind.MEETING, place="Maison de quartier Villejean", address="2 rue de Bourgogne\nRennes",
        postcode="35000", capacity=40,
        description="Deux soirées ouvertes à toutes et tous pour préparer notre contre-proposition sur les loyers.",
    )  # fmt: skip
    event(
        "", "Formation en ligne : animer une réunion publique", [_slot(12, 18, 30, hours=1)],
        kind=Event.Kind.ONLINE, online_url="https://visio.example.org/relais-demo-formation", capacity=100,
        description="Une heure pour apprendre à accueillir, donner la parole et conclure par une action.",
    )  # fmt: skip
    event(
        "toulouse", "Atelier affiches", [_slot(14, 18, 30)],
        kind=Event.Kind.MEETING, place="Local du groupe", address="12 rue des Lois\nToulouse", postcode="31000",
        description="Peinture, pochoirs et collage : venez comme vous êtes.",
    )  # fmt: skip
    event(
        "", "Assemblée des groupes locaux", [_slot(21, 10, hours=6)],
        kind=Event.Kind.MEETING, place="Bourse du Travail", address="3 rue du Château-d'Eau\nParis", postcode="75010",
        visibility=Event.Visibility.ORGANISATION, max_guests=0,
        description="Bilan de la saison et feuille de route : réservée aux membres de l'organisation.",
    )  # fmt: skip

    _answers(leafleting, meeting, member=member, base_url=base_url)
    return len(created)


def _answers(leafleting, meeting, *, member, base_url):
    """The leafleting fills up (the demo member brings a friend; a visitor waits); the meeting has
    visitors, one of whom confirmed their address and asked for news."""
    slot = leafleting.timeslots.get()
    lille = User.objects.filter(memberships__chapter__slug="lille", memberships__status="active", is_active=True)
    if member is not None:
        services.rsvp_member(actor=member, timeslot=slot, guests=1, base_url=base_url)
        lille = lille.exclude(pk=member.pk)
    for user in lille.distinct().order_by("pk")[:10]:
        services.rsvp_member(actor=user, timeslot=slot, base_url=base_url)
    services.rsvp_public(
        timeslot=slot, name="Nora Visiteuse", email="nora.visiteuse@demo.localhost", language="fr", base_url=base_url
    )
    first_evening = meeting.timeslots.order_by("start").first()
    confirmed, _created = services.rsvp_public(
        timeslot=first_evening, name="Paul Voisin", email="paul.voisin@demo.localhost", postcode="35000",
        guests=1, wants_news=True, language="fr", base_url=base_url,
    )  # fmt: skip
    services.rsvp_confirm(rsvp=confirmed)
    services.rsvp_public(
        timeslot=first_evening, name="Inès Curieuse", email="ines.curieuse@demo.localhost", language="fr",
        base_url=base_url,
    )  # fmt: skip
