"""The demo organisation's phone bank: "Rappel mobilisation", Lille calling the supporters of its
area who agreed to be phoned, with a script and three questions, open to the chapter's members and
partly called (by the demo coordinator and member, yesterday evening)."""

import datetime
import random

from django.db import transaction
from django.utils import timezone, translation

from calls import queue, services
from calls.models import Campaign, Outcome, Question
from chapters.models import Chapter
from people import segments
from people.models import Channel, Consent, Person, Purpose

PHONE_WORDING = "J'accepte d'être appelé·e par des bénévoles du mouvement."
SCRIPT = """Bonjour {first_name}, je m'appelle {caller}, je suis bénévole à {chapter}.

Vous avez signé notre pétition ou rejoint notre liste, et on vous en remercie ! Je vous appelle pour
vous inviter à notre **réunion publique de jeudi** et savoir ce qui compte pour vous à {commune}.

- Si la personne est pressée : proposez de rappeler plus tard (« Rappeler à… »).
- Si elle ne souhaite plus être appelée : choisissez « Ne plus appeler », c'est respecté partout.
"""
CALLED = 18


def _phone_consents(chapter, count, rng):
    """Some people of the chapter's area with a number agree to be phoned (as they would on a form)."""
    people = list(
        Person.objects.filter(phones__isnull=False, chapter_links__chapter__path__startswith=chapter.path)
        .exclude(consents__contains=[f"{Channel.PHONE}:{Purpose.NEWS}"])
        .order_by("pk")
        .distinct()[: count * 3]
    )
    chosen = rng.sample(people, min(count, len(people)))
    Consent.objects.bulk_create(
        [
            Consent(
                person=person,
                channel=Channel.PHONE,
                purpose=Purpose.NEWS,
                status=Consent.Status.GRANTED,
                basis=Consent.Basis.EXPLICIT_CONSENT,
                wording=PHONE_WORDING,
                source="Formulaire « Je veux aider »",
            )
            for person in chosen
        ]
    )
    for person in chosen:
        person.consents = sorted({*person.consents, f"{Channel.PHONE}:{Purpose.NEWS}"})
    Person.objects.bulk_update(chosen, ["consents"], batch_size=1000)
    return len(chosen)


def seed(organiser, *, coordinator=None, member=None, seed=2026):
    """Create the demo phone bank once (nothing happens if one exists). Returns how many calls
    it recorded."""
    if Campaign.objects.exists():
        return 0
    chapter = Chapter.objects.filter(slug="lille").first() or Chapter.objects.get(depth=1)
    rng = random.Random(seed)  # noqa: S311 - not security: the same demo every time
    with transaction.atomic(), translation.override("fr"):
        _phone_consents(chapter, 120, rng)
        segment = segments.segment_save(
            actor=organiser,
            name="Joignables par téléphone",
            description="Les personnes de l'antenne qui acceptent d'être appelées.",
            chapter=chapter,
            definition={
                "all": [
                    {"type": "chapters", "chapters": [chapter.pk]},
                    {"type": "consent", "channel": Channel.PHONE, "purpose": Purpose.NEWS},
                ]
            },
        )
        campaign = services.campaign_save(
            actor=organiser,
            chapter=chapter,
            segment=segment,
            title="Rappel mobilisation",
            description="On rappelle les sympathisant·es de l'antenne avant la réunion publique de jeudi. "
            "Merci à toutes et tous !\n\n(Démo : les horaires d'appel sont ouverts jour et nuit pour que vous puissiez "
            "essayer ; une vraie campagne appelle par exemple de 10 h à 20 h 30, heure de la personne appelée.)",
            purpose=Purpose.NEWS,
            script=SCRIPT,
            calling_from=datetime.time(0, 0),
            calling_until=datetime.time(23, 59),
            calling_days=[1, 2, 3, 4, 5, 6, 7],
            cooldown_hours=4,
            max_attempts=3,
            callers=Campaign.Callers.MEMBERS,
            starts=timezone.localdate() - datetime.timedelta(days=1),
        )
        meeting = services.question_add(
            actor=organiser, campaign=campaign, kind=Question.Kind.YES_NO,
            text="Viendrez-vous à la réunion publique de jeudi ?", tag="réunion publique",
        )  # fmt: skip
        topic = services.question_add(
            actor=organiser, campaign=campaign, kind=Question.Kind.CHOICE,
            text="Quel sujet compte le plus pour vous ?",
            choices=services.parse_choices("Logement -> logement\nTransports -> transports\nClimat -> climat\nAutre"),
        )  # fmt: skip
        helping = services.question_add(
            actor=organiser, campaign=campaign, kind=Question.Kind.SCALE,
            text="De 1 à 5, avez-vous envie de nous aider pendant la campagne ?",
        )  # fmt: skip
        services.campaign_open(actor=organiser, campaign=campaign)
        campaign.refresh_from_db()
        callers = [user for user in (coordinator, member, organiser) if user is not None]
        # Yesterday evening, in calling hours: the first calls of the list (opened just before).
        evening = timezone.make_aware(
            datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=1), datetime.time(18, 0))
        )
        campaign.targets.update(not_before=evening)
        outcomes = [Outcome.ANSWERED] * 8 + [Outcome.NO_ANSWER] * 4 + [Outcome.MESSAGE] * 2 + [
            Outcome.BUSY, Outcome.CALL_BACK, Outcome.WRONG_NUMBER, Outcome.DO_NOT_CALL,
        ]  # fmt: skip
        recorded = 0
        for index in range(CALLED):
            caller = callers[index % len(callers)]
            at = evening + datetime.timedelta(minutes=4 * index)
            call = queue.take_next(campaign, caller, at)
            if call is None:
                break
            outcome = outcomes[index % len(outcomes)]
            answers = {}
            if outcome == Outcome.ANSWERED:
                answers = {
                    str(meeting.pk): rng.choice(["yes", "no", "yes"]),
                    str(topic.pk): rng.choice(["Logement", "Transports", "Climat", "Autre"]),
                    str(helping.pk): str(rng.randint(1, 5)),
                }
            services.call_record(
                actor=caller, call=call, outcome=outcome, answers=answers,
                call_back_at=timezone.now() + datetime.timedelta(days=1) if outcome == Outcome.CALL_BACK else None,
                now=at + datetime.timedelta(minutes=3),
            )  # fmt: skip
            recorded += 1
    return recorded
