"""The demo organisation's supporter base: every member's record, and 20,000 people who are not
members, spread over the chapters' areas and twelve months, from realistic sources, with consents,
tags, custom fields, a timeline, and a few likely duplicates to review.

Written with bulk inserts (a few seconds for 20,000 people), the derived columns (the folded name,
the current consents) computed here as the services compute them.
"""

import datetime
import random

from django.utils import timezone

from chapters.models import Chapter, Membership
from people import services
from people.models import (
    Activity,
    Consent,
    CustomField,
    Person,
    PersonChapter,
    PersonEmail,
    PersonPhone,
    Source,
    Tag,
    name_key,
)

SUPPORTERS = 20_000
SOURCES = [  # (source, weight, what the timeline says)
    (Source.PETITION, 40, "Pétition : Pour des transports gratuits"),
    (Source.JOIN_FORM, 8, "Formulaire d'adhésion"),
    (Source.WEBSITE_FORM, 12, "Appel à bénévoles"),
    (Source.SHOP, 8, "Commande boutique"),
    (Source.IMPORT, 27, "Fichier de la campagne 2024"),
    (Source.MANUAL, 5, "Rencontre sur le marché"),
]
KIND_OF = {
    Source.PETITION: Activity.Kind.SIGNATURE,
    Source.JOIN_FORM: Activity.Kind.SIGNUP,
    Source.WEBSITE_FORM: Activity.Kind.FORM,
    Source.SHOP: Activity.Kind.ORDER,
    Source.IMPORT: Activity.Kind.IMPORT,
    Source.MANUAL: Activity.Kind.NOTE,
}
TAGS = ("bénévole", "tractage", "porte-à-porte", "donateur", "presse", "jeunes", "syndicaliste", "élu·e local·e")
WORDING = "J'accepte de recevoir les actualités et les campagnes du mouvement par e-mail."
SMS_WORDING = "J'accepte d'être prévenu·e des événements par SMS."
ELSEWHERE = ["75011", "75018", "69003", "13001", "44000", "67000", "33000"]  # no chapter covers these


def seed(organiser, *, first_names, last_names, count=SUPPORTERS, seed=2026):
    """Records for the members, then `count` supporters. Safe to call once (the caller checks)."""
    rng = random.Random(seed)  # noqa: S311 - not security: the same demo every time
    members_recorded()
    fields = _custom_fields()
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    chapters = list(Chapter.objects.filter(depth=3).exclude(area=""))
    postcodes = [token for chapter in chapters for token in chapter.area.split() if len(token) == 5]
    now = timezone.now()
    people, emails, phones, consents, activities, links, tagged = [], [], [], [], [], [], []
    weights = [weight for _source, weight, _label in SOURCES]
    join_chapters = {chapter.area.split()[0]: chapter for chapter in chapters}
    for number in range(count):
        first, last = rng.choice(first_names), rng.choice(last_names)
        source, _weight, label = rng.choices(SOURCES, weights)[0]
        # More people joined recently: the campaign is growing.
        created = now - datetime.timedelta(days=365 * rng.random() ** 1.6, minutes=rng.randrange(1440))
        postcode = rng.choice(postcodes) if rng.random() < 0.85 else rng.choice(ELSEWHERE)
        person = Person(
            full_name=f"{first} {last}",
            name_key=name_key(f"{first} {last}"),
            postcode=postcode,
            commune="",
            language="fr" if rng.random() < 0.95 else "en",
            source=source,
            source_detail=label,
            created=created,
            fields=_field_values(rng, fields),
        )
        person.demo = {"number": number, "first": first, "last": last, "created": created, "label": label}
        people.append(person)
    # A few likely duplicates: the same name at the same postcode with another address, and the
    # same mobile number given with another address.
    for twin_of in rng.sample(people, 40):
        twin = Person(
            full_name=twin_of.full_name,
            name_key=twin_of.name_key,
            postcode=twin_of.postcode,
            source=Source.PETITION,
            source_detail="Pétition : Pour des transports gratuits",
            created=twin_of.demo["created"] + datetime.timedelta(days=3),
            fields={},
        )
        twin.demo = dict(twin_of.demo, number=f"{twin_of.demo['number']}b", twin_of=twin_of)
        people.append(twin)
    Person.objects.bulk_create(people, batch_size=2000)

    for person in people:
        info = person.demo
        email = f"{info['first']}.{info['last']}.{info['number']}@exemple.fr".lower().replace(" ", "").replace("'", "")
        emails.append(PersonEmail(person=person, email=email, is_primary=True, created=info["created"]))
        twin_of = info.get("twin_of")
        if twin_of is not None and rng.random() < 0.5:
            number = getattr(twin_of, "demo_phone", None)
        else:
            number = f"+336{rng.randrange(10**8):08d}" if rng.random() < 0.6 else None
        if number:
            person.demo_phone = number
            phones.append(PersonPhone(person=person, number=number, is_mobile=True, is_primary=True))
        held = []
        if rng.random() < 0.72:
            held.append(("email", "news", WORDING))
        if number and rng.random() < 0.35:
            held.append(("sms", "events", SMS_WORDING))
        for channel, purpose, wording in held:
            consents.append(
                Consent(
                    person=person,
                    channel=channel,
                    purpose=purpose,
                    status=Consent.Status.GRANTED,
                    basis=Consent.Basis.EXPLICIT_CONSENT,
                    wording=wording,
                    source=info["label"],
                    created=info["created"],
                )  # fmt: skip
            )
        person.consents = sorted(f"{channel}:{purpose}" for channel, purpose, _wording in held)
        if held and rng.random() < 0.06:  # unsubscribed since
            channel, purpose, _wording = held[0]
            consents.append(
                Consent(
                    person=person,
                    channel=channel,
                    purpose=purpose,
                    status=Consent.Status.WITHDRAWN,
                    basis=Consent.Basis.PERSON_REQUEST,
                    source="Lien de désinscription",
                    created=info["created"] + datetime.timedelta(days=rng.randrange(1, 60)),
                )  # fmt: skip
            )
            person.consents.remove(f"{channel}:{purpose}")
        activities.append(
            Activity(
                person=person,
                kind=Activity.Kind.CREATED,
                summary=services.source_label(person.source, info["label"]),
                created=info["created"],
            )
        )
        activities.append(
            Activity(person=person, kind=KIND_OF[person.source], summary=info["label"], created=info["created"])
        )
        if rng.random() < 0.08:
            activities.append(
                Activity(
                    person=person,
                    kind=Activity.Kind.NOTE,
                    actor=organiser,
                    summary="Rappelée : partante pour le tractage.",
                    created=info["created"] + datetime.timedelta(days=rng.randrange(1, 30)),
                )  # fmt: skip
            )
        if person.source == Source.JOIN_FORM and person.postcode in join_chapters:
            links.append(
                PersonChapter(
                    person=person, chapter=join_chapters[person.postcode], reason=PersonChapter.Reason.EXPLICIT
                )
            )
        for tag in rng.sample(tags, rng.choice([0, 0, 0, 1, 1, 2])):
            tagged.append(Person.tags.through(person_id=person.pk, tag_id=tag.pk))

    PersonEmail.objects.bulk_create(emails, batch_size=5000)
    PersonPhone.objects.bulk_create(phones, batch_size=5000)
    Consent.objects.bulk_create(consents, batch_size=5000)
    Person.objects.bulk_update(people, ["consents"], batch_size=2000)
    Activity.objects.bulk_create(activities, batch_size=5000)
    PersonChapter.objects.bulk_create(links, batch_size=5000, ignore_conflicts=True)
    Person.tags.through.objects.bulk_create(tagged, batch_size=5000, ignore_conflicts=True)
    for chapter in Chapter.objects.exclude(area=""):
        services.chapter_area_apply(chapter)
    return len(people)


def members_recorded():
    """Every active member's record (the members seeded in bulk have none yet)."""
    for membership in (
        Membership.objects.filter(status=Membership.Status.ACTIVE, user__person__isnull=True)
        .select_related("user")
        .distinct()
    ):
        services.person_for_member(membership.user)


def _custom_fields():
    definitions = [
        ("Disponibilités", "disponibilites", CustomField.Kind.CHOICE, ["Semaine", "Soirées", "Week-end"]),
        ("Donateur régulier", "donateur_regulier", CustomField.Kind.YES_NO, []),
        ("Date du premier contact", "premier_contact", CustomField.Kind.DATE, []),
    ]
    return [
        CustomField.objects.get_or_create(key=key, defaults={"name": name, "kind": kind, "choices": choices})[0]
        for name, key, kind, choices in definitions
    ]


def _field_values(rng, fields):
    values = {}
    availability, donor, first_contact = fields
    if rng.random() < 0.3:
        values[availability.key] = rng.choice(availability.choices)
    if rng.random() < 0.1:
        values[donor.key] = rng.random() < 0.5
    if rng.random() < 0.2:
        values[first_contact.key] = (timezone.localdate() - datetime.timedelta(days=rng.randrange(900))).isoformat()
    return values
