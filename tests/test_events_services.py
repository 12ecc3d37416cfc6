"""Events' places: answers fill a timeslot's places, then wait, and are promoted in the order they
came (strictly: a party that does not fit holds back those behind it); cancelling, a promoted
person's cancelling, more places and walk-ins; who may see which event; and answers racing for the
last places on real parallel connections never overfill a timeslot and are never lost."""

import datetime
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.db.models import F, Sum
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.access import forget_grants
from chapters.models import AuditEntry, Chapter
from chapters.services import InvalidAction, NotAllowed
from events import services
from events.models import Event, Rsvp, Timeslot
from people.models import Activity, Person
from tests.events_fixtures import (
    BASE,
    confirmed,
    event_make,
    member_answer,
    outbox_to,
    slot_of,
    statuses,
    visitor,
    worker_runs,
)
from tests.helpers import race

GOING, WAITING, CANCELLED = Rsvp.Status.GOING, Rsvp.Status.WAITING, Rsvp.Status.CANCELLED


def held(slot):
    """(places taken, places held by "going" answers): the counter and what it counts."""
    slot.refresh_from_db()
    going = slot.rsvps.filter(status=GOING).exclude(source=Rsvp.Source.WALK_IN)
    return slot.taken, going.aggregate(places=Sum(F("guests") + 1))["places"] or 0


def small_event(tree, capacity, **fields):
    return slot_of(event_make(tree.people["coordinator"].user, tree.lille, capacity=capacity, **fields))


# The waiting list ----------------------------------------------------------------------------------


def test_answers_take_places_until_full_then_wait_and_freed_places_go_in_order(tree):
    with schema_context("alpha"):
        slot = small_event(tree, 4)
        ana = visitor(slot, "ana")
        bruno = visitor(slot, "bruno", guests=2)  # three places
        visitor(slot, "chloe"), visitor(slot, "dan", guests=2), visitor(slot, "eve")
        assert statuses(slot) == {"Ana": GOING, "Bruno": GOING, "Chloe": WAITING, "Dan": WAITING, "Eve": WAITING}
        assert held(slot) == (4, 4)

        services.rsvp_cancel(rsvp=ana)  # one place: Chloé's turn, she fits
        assert statuses(slot) == {"Ana": CANCELLED, "Bruno": GOING, "Chloe": GOING, "Dan": WAITING, "Eve": WAITING}
        services.rsvp_cancel(rsvp=bruno)  # three places: Dan and his two guests; none left for Eve
        assert statuses(slot) == {
            "Ana": CANCELLED, "Bruno": CANCELLED, "Chloe": GOING, "Dan": GOING, "Eve": WAITING,
        }  # fmt: skip
        assert held(slot) == (4, 4)
        promoted = dict(slot.rsvps.values_list("name", "promoted_at"))
        assert [name for name, when in sorted(promoted.items()) if when] == ["Chloe", "Dan"]


def test_a_waiting_party_that_does_not_fit_holds_back_those_behind_it(tree):
    """The implemented rule is strict order: nobody overtakes the head of the waiting list, even
    into a place it cannot use; a new answer waits too while anyone waits."""
    with schema_context("alpha"):
        slot = small_event(tree, 3)
        ana, bruno, chloe = visitor(slot, "ana"), visitor(slot, "bruno"), visitor(slot, "chloe")
        dan = visitor(slot, "dan", guests=2)  # needs three places
        visitor(slot, "eve")

        services.rsvp_cancel(rsvp=ana)
        assert statuses(slot)["Dan"] == statuses(slot)["Eve"] == WAITING, "one place: Dan does not fit, Eve waits"
        assert held(slot) == (2, 2)
        assert visitor(slot, "fred").status == WAITING, "a place is free, but people wait before Fred"

        services.rsvp_cancel(rsvp=bruno)
        assert held(slot) == (1, 1)
        services.rsvp_cancel(rsvp=chloe)
        assert statuses(slot) == {
            "Ana": CANCELLED, "Bruno": CANCELLED, "Chloe": CANCELLED, "Dan": GOING, "Eve": WAITING, "Fred": WAITING,
        }  # fmt: skip
        assert held(slot) == (3, 3)
        services.rsvp_cancel(rsvp=dan)
        assert statuses(slot)["Eve"] == statuses(slot)["Fred"] == GOING
        assert held(slot) == (2, 2)


def test_a_promoted_person_who_cancels_frees_the_place_for_the_next_and_is_told_only_once(tree, committing):
    with schema_context("alpha"):
        slot = small_event(tree, 1)
        with committing():
            ana = confirmed(slot, "ana")
            bruno = confirmed(slot, "bruno")
            chloe = confirmed(slot, "chloe")
        worker_runs()
        assert sorted(message.to[0] for message in mail.outbox) == [
            "ana@example.org", "bruno@example.org", "chloe@example.org",
        ]  # fmt: skip
        mail.outbox.clear()
        with committing():
            services.rsvp_cancel(rsvp=ana)
        bruno.refresh_from_db()
        assert bruno.status == GOING
        assert bruno.promoted_at is not None
        worker_runs()
        (told,) = outbox_to("bruno@example.org")
        assert told.subject == "A place freed up for you: Public meeting"
        assert bruno.token in told.body  # his link to free the place again

        with committing():
            services.rsvp_cancel(rsvp=bruno)  # the promoted person cannot come after all
            services.rsvp_cancel(rsvp=bruno)  # a second click changes nothing
        assert statuses(slot) == {"Ana": CANCELLED, "Bruno": CANCELLED, "Chloe": GOING}
        assert held(slot) == (1, 1)
        worker_runs()
        assert [message.to for message in mail.outbox] == [["bruno@example.org"], ["chloe@example.org"]]
        assert mail.outbox[1].subject == "A place freed up for you: Public meeting"
        chloe.refresh_from_db()
        assert chloe.person.activities.filter(kind=Activity.Kind.RSVP).count() == 2  # answered, then promoted


def test_an_unconfirmed_visitor_promoted_keeps_the_place_but_gets_no_mail_until_confirmed(tree, committing):
    with schema_context("alpha"):
        slot = small_event(tree, 1)
        with committing():
            ana = visitor(slot, "ana")
            bruno = visitor(slot, "bruno")
        worker_runs()
        assert len(mail.outbox) == 2, "each visitor is asked to confirm their address"
        mail.outbox.clear()
        with committing():
            services.rsvp_cancel(rsvp=ana)
        bruno.refresh_from_db()
        assert bruno.status == GOING
        worker_runs()
        assert mail.outbox == [], "the address is not known to be theirs yet"


def test_more_places_on_edit_promote_the_waiting_list_in_order_and_fewer_than_taken_are_refused(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        event = event_make(coordinator, tree.lille, capacity=2)
        slot = slot_of(event)
        visitor(slot, "ana"), visitor(slot, "bruno")
        visitor(slot, "chloe", guests=1), visitor(slot, "dan"), visitor(slot, "eve")
        assert held(slot) == (2, 2)

        event = event_make(coordinator, tree.lille, event=event, capacity=4)  # two more: Chloé and her guest
        assert statuses(slot) == {"Ana": GOING, "Bruno": GOING, "Chloe": GOING, "Dan": WAITING, "Eve": WAITING}
        assert held(slot) == (4, 4)
        assert slot_of(event).pk == slot.pk, "the timeslot people answered is kept"

        with pytest.raises(InvalidAction):
            event_make(coordinator, tree.lille, event=event, capacity=3)
        assert Event.objects.get(pk=event.pk).capacity == 4

        event_make(coordinator, tree.lille, event=event, capacity=None)  # no limit: everyone comes
        assert set(statuses(slot).values()) == {GOING}
        assert held(slot) == (6, 6)


def test_walk_ins_are_present_and_take_no_place(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        slot = small_event(tree, 1)
        ana = confirmed(slot, "ana")
        forget_grants(coordinator)
        walk_in = services.walk_in_add(actor=coordinator, timeslot=slot, name="Gabi Roux", email="gabi@example.org")
        assert (walk_in.status, walk_in.source) == (GOING, Rsvp.Source.WALK_IN)
        assert walk_in.checked_in_at is not None
        assert held(slot) == (1, 1), "the room was full; the walk-in came anyway, and took no answer's place"
        assert visitor(slot, "bruno").status == WAITING
        assert walk_in.person.activities.filter(kind=Activity.Kind.ATTENDED).count() == 1

        services.rsvp_cancel(rsvp=walk_in, actor=coordinator)  # a wrong entry, removed
        assert statuses(slot)["Bruno"] == WAITING, "removing a walk-in frees no place"
        services.rsvp_cancel(rsvp=ana)
        assert statuses(slot)["Bruno"] == GOING
        assert held(slot) == (1, 1)


def test_answering_again_keeps_one_answer_and_bad_answers_change_nothing(tree):
    with schema_context("alpha"):
        slot = small_event(tree, 5)
        member = tree.people["lille_member"].user
        first = member_answer(member, slot)
        assert member_answer(member, slot, guests=2).pk == first.pk
        ana = visitor(slot, "ana")
        assert services.rsvp_public(timeslot=slot, name="Ana", email="ANA@example.org ")[0].pk == ana.pk
        before = (Rsvp.objects.count(), held(slot))
        for bad in (-1, 4, True, "2"):
            with pytest.raises(InvalidAction):
                services.rsvp_public(timeslot=slot, name="Zoé", email="zoe@example.org", guests=bad)
        with pytest.raises(InvalidAction):
            services.rsvp_public(timeslot=slot, name=" ", email="zoe@example.org")
        assert (Rsvp.objects.count(), held(slot)) == before == (2, (2, 2))


def test_unconfirmed_visitors_lapse_after_the_delay_and_their_places_go_to_those_waiting(tree, settings):
    settings.EVENTS_UNCONFIRMED_HOURS = 48
    with schema_context("alpha"):
        slot = small_event(tree, 2)
        ana = visitor(slot, "ana")
        bruno = confirmed(slot, "bruno")
        chloe = visitor(slot, "chloe")
        assert services.release_unconfirmed(now=timezone.now() + datetime.timedelta(hours=47)) == 0
        assert services.release_unconfirmed(now=timezone.now() + datetime.timedelta(hours=49)) == 2  # Ana, Chloé
        assert statuses(slot) == {"Ana": CANCELLED, "Bruno": GOING, "Chloe": CANCELLED}
        assert held(slot) == (1, 1)
        assert Rsvp.objects.get(pk=bruno.pk).cancelled_at is None
        assert {Rsvp.objects.get(pk=r.pk).cancelled_at is not None for r in (ana, chloe)} == {True}


# Who may see which event ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("public", {"anonymous": True, "lille_member": True, "other_chapter_member": True, "coordinator": True}),
        ("organisation", {"anonymous": False, "lille_member": True, "other_chapter_member": True, "coordinator": True}),
        ("chapter", {"anonymous": False, "lille_member": True, "other_chapter_member": False, "coordinator": True}),
        ("proposed", {"anonymous": False, "lille_member": True, "other_chapter_member": False, "coordinator": True}),
    ],
)
def test_who_may_see_an_event(tree, kind, expected):
    with schema_context("alpha"):
        coordinator, lille_member = tree.people["coordinator"].user, tree.people["lille_member"].user
        if kind == "proposed":  # a member's proposal, waiting for a coordinator: its author sees it
            services.settings_save(actor=tree.people["organiser"].user, members_propose=True)
            event = event_make(lille_member, tree.lille, visibility="public")
            assert event.status == Event.Status.PROPOSED
        else:
            event = event_make(coordinator, tree.lille, visibility=kind)
        users = {name: tree.people[name].user for name in ("lille_member", "other_chapter_member", "coordinator")}
        users["anonymous"] = AnonymousUser()
        for user in users.values():
            if user.is_authenticated:
                forget_grants(user)
        assert {name: services.may_see(user, event) for name, user in users.items()} == expected
        # Only who may see an event may answer it.
        other = tree.people["other_chapter_member"].user
        if not expected["other_chapter_member"]:
            with pytest.raises((NotAllowed, InvalidAction)):
                member_answer(other, slot_of(event))


def test_a_proposal_opens_for_answers_only_once_a_coordinator_publishes_it(tree):
    with schema_context("alpha"):
        services.settings_save(actor=tree.people["organiser"].user, members_propose=True)
        lille_member, coordinator = tree.people["lille_member"].user, tree.people["coordinator"].user
        event = event_make(lille_member, tree.lille, capacity=5)
        with pytest.raises(InvalidAction):
            visitor(slot_of(event), "ana")
        with pytest.raises(NotAllowed):
            services.event_publish(actor=lille_member, event=event)
        forget_grants(coordinator)
        services.event_publish(actor=coordinator, event=event)
        assert visitor(slot_of(event), "ana").status == GOING


# Racing for the last places, on real parallel connections ----------------------------------------------


class CommittedMeeting:
    """A meeting of the national chapter and member accounts, committed in alpha for a race (the
    threads' connections cannot see a test's transaction), and their removal afterwards."""

    def __init__(self, capacity, members):
        self.started = timezone.now()
        self.tag = uuid.uuid4().hex[:8]
        self.counts = self._counts()
        self.founder = User.objects.get(email="founder@alpha.example")
        self.event = event_make(
            self.founder, Chapter.objects.get(slug="national"), title=f"Race {self.tag}", capacity=capacity
        )
        self.slot = slot_of(self.event)
        self.members = [
            User.objects.create_user(email=f"racer.{self.tag}.{n}@example.org", full_name=f"Racer {n}")
            for n in range(members)
        ]

    @staticmethod
    def _counts():
        return tuple(model.objects.count() for model in (Event, Rsvp, Person, User, AuditEntry))

    def remove(self):
        Event.objects.filter(pk=self.event.pk).delete()  # its timeslot, answers and reminders with it
        Person.objects.filter(user__in=self.members).delete()
        User.objects.filter(pk__in=[user.pk for user in self.members]).delete()
        AuditEntry.objects.filter(action__startswith="events.", created__gte=self.started).delete()
        DBTaskResult.objects.filter(task_path__startswith="events.tasks.", enqueued_at__gte=self.started).delete()
        assert self._counts() == self.counts, "the race left nothing behind"


def answer_as_visitor(slot_pk, number, guests):
    def call():
        slot = Timeslot.objects.select_related("event").get(pk=slot_pk)
        return services.rsvp_public(
            timeslot=slot, name=f"Visitor {number}", email=f"visitor.{number}@example.org", guests=guests,
            base_url=BASE,
        )  # fmt: skip

    return call


def answer_as_member(slot_pk, user_pk, guests):
    def call():
        slot = Timeslot.objects.select_related("event").get(pk=slot_pk)
        return services.rsvp_member(actor=User.objects.get(pk=user_pk), timeslot=slot, guests=guests, base_url=BASE)

    return call


def cancel(rsvp_pk):
    return lambda: services.rsvp_cancel(rsvp=Rsvp.objects.get(pk=rsvp_pk))


def guests_of(number):
    return 2 if number % 7 == 3 else 1 if number % 4 == 1 else 0


def expected_promotions(queue, capacity):
    """The waiting answers that strict order promotes into `capacity` free places."""
    promoted, free = [], capacity
    for rsvp in queue:
        if rsvp.places > free:
            break
        promoted.append(rsvp.pk)
        free -= rsvp.places
    return promoted


def test_forty_people_answering_ten_places_at_once_never_overfill_and_nobody_is_lost(organisations, django_db_blocker):
    capacity, visitors, members = 10, 28, 12
    with django_db_blocker.unblock(), schema_context("alpha"):
        committed = CommittedMeeting(capacity, members)
        try:
            slot_pk = committed.slot.pk
            calls = [answer_as_visitor(slot_pk, n, guests_of(n)) for n in range(visitors)]
            calls += [answer_as_member(slot_pk, user.pk, guests_of(n)) for n, user in enumerate(committed.members)]
            results = race(calls)
            errors = [result for result in results if not isinstance(result, tuple)]
            assert errors == [], "every answer was taken"
            assert all(created for _rsvp, created in results)

            slot = Timeslot.objects.get(pk=slot_pk)
            answers = list(slot.rsvps.order_by("created", "pk"))
            assert sorted(r.pk for r in answers) == sorted(rsvp.pk for rsvp, _created in results), "nothing lost"
            assert {r.status for r in answers} == {GOING, WAITING}
            taken, going_places = held(slot)
            assert taken == going_places <= capacity
            # Places are not wasted: the first answer to wait did not fit (3 places at most).
            assert capacity - taken < 3
            assert {r.status for r in answers if r.source == Rsvp.Source.MEMBER} <= {GOING, WAITING}
            assert sum(1 for r in answers if r.source == Rsvp.Source.MEMBER) == members
            # Each answer's confirmation is queued once.
            queued = DBTaskResult.objects.filter(
                task_path="events.tasks.rsvp_notice", enqueued_at__gte=committed.started
            ).values_list("args_kwargs", flat=True)
            assert sorted(row["args"][1] for row in queued) == sorted(r.pk for r in answers)

            # Every going answer cancels at once: the waiting list moves up in order.
            going = [r for r in answers if r.status == GOING]
            queue = [r for r in answers if r.status == WAITING]
            results = race([cancel(r.pk) for r in going])
            assert [result for result in results if not isinstance(result, Rsvp)] == []
            slot.refresh_from_db()
            now_going = list(slot.rsvps.filter(status=GOING).order_by("created", "pk").values_list("pk", flat=True))
            assert now_going == expected_promotions(queue, capacity)
            taken, going_places = held(slot)
            assert taken == going_places <= capacity
            assert slot.rsvps.filter(status=CANCELLED).count() == len(going)
        finally:
            committed.remove()


def test_cancellations_waiting_answers_and_more_places_racing_leave_the_counts_right(organisations, django_db_blocker):
    """People going and people waiting cancel while an organiser adds places: whatever the order
    in which the locks are taken, nobody gets an error and the counter matches the answers."""
    capacity = 6
    with django_db_blocker.unblock(), schema_context("alpha"):
        committed = CommittedMeeting(capacity, 0)
        try:
            slot = committed.slot
            answers = [visitor(slot, f"queue.{committed.tag}.{n}", guests=n % 2) for n in range(16)]
            going = [r for r in answers if r.status == GOING]
            waiting = [r for r in answers if r.status == WAITING]
            event_pk, founder_pk = committed.event.pk, committed.founder.pk

            def more_places():
                event = Event.objects.get(pk=event_pk)
                return event_make(
                    User.objects.get(pk=founder_pk), event.chapter, event=event, title=event.title, capacity=12,
                    start=event.start,
                )  # fmt: skip

            calls = [cancel(r.pk) for r in going[:3]] + [cancel(r.pk) for r in waiting[::2]] + [more_places]
            results = race(calls)
            assert [result for result in results if isinstance(result, Exception)] == []
            slot.refresh_from_db()
            taken, going_places = held(slot)
            assert taken == going_places <= 12
            still_waiting = list(slot.rsvps.filter(status=WAITING).order_by("created", "pk"))
            if still_waiting:
                assert still_waiting[0].places > 12 - taken, "the head of the queue would have fitted"
        finally:
            committed.remove()


def test_a_timeslot_cannot_hold_more_than_its_places_whatever_the_code(meeting):
    from django.db import IntegrityError, transaction

    with schema_context("alpha"):
        slot = slot_of(meeting)
        with pytest.raises(IntegrityError), transaction.atomic():
            Timeslot.objects.filter(pk=slot.pk).update(taken=11)
        assert Timeslot.objects.get(pk=slot.pk).taken == 0


def test_a_coordinator_who_is_only_a_member_elsewhere_cannot_move_a_published_event_there(tree):
    """With proposals on, belonging to Roubaix lets Lille's coordinator propose there, not carry a
    published event of Lille's over to Roubaix as it is."""
    from chapters.models import Membership
    from events.models import EventSettings

    coordinator = tree.people["coordinator"].user
    with schema_context("alpha"):
        EventSettings.objects.update_or_create(pk=1, defaults={"members_propose": True})
        Membership.objects.create(user=coordinator, chapter=tree.roubaix, status="active", started=timezone.now())
        forget_grants(coordinator)
        event = event_make(coordinator, tree.lille, capacity=5)
        start = timezone.now() + datetime.timedelta(days=5)
        with pytest.raises(NotAllowed):
            services.event_save(
                actor=coordinator, event=event, chapter=tree.roubaix, title="Moved",
                slots=[(start, start + datetime.timedelta(hours=1))],
            )  # fmt: skip
        event.refresh_from_db()
        assert (event.chapter, event.title, event.status) == (tree.lille, "Public meeting", Event.Status.PUBLISHED)
        proposal = services.event_save(
            actor=coordinator,
            chapter=tree.roubaix,
            title="In Roubaix",
            slots=[(start, start + datetime.timedelta(hours=1))],
        )
        assert proposal.status == Event.Status.PROPOSED
