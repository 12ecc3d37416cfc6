"""The phone bank's queue and what a call records: allocation among callers asking at the same
moment on real parallel connections (no one given twice), leases that lapse and are renewed,
calling hours in the called person's time zone (overseas, Nouméa, daylight saving time), the
cooldown and the maximum of attempts, call-backs kept for the caller who promised them, "do not
call again" and wrong numbers honoured by every campaign, consent, and the answers written into
the person's record once."""

import datetime
import time

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.models import User
from calls import queue, services, zones
from calls.models import Call, Campaign, Outcome, Question, Reveal, Target, WrongNumber
from chapters.services import InvalidAction, NotAllowed
from people import services as people_services
from people.models import Activity, Consent, CustomField, Person, Purpose, Tag
from tests.calls_fixtures import (
    PARIS,
    answers_of,
    campaign_make,
    opened,
    phoned,
    second_number,
    withdraw,
)
from tests.helpers import race

UTC = datetime.UTC
LEASE = datetime.timedelta(seconds=settings.CALLS_LEASE_SECONDS)
# A Wednesday noon, after every target's turn has come (their turn is the moment the list froze).
T0 = datetime.datetime(2030, 1, 9, 12, 0, tzinfo=PARIS)
LONG_AGO = datetime.datetime(2020, 1, 1, tzinfo=UTC)
TEN_TO_EIGHT = {"calling_from": datetime.time(10, 0), "calling_until": datetime.time(20, 0)}

DONE, QUEUED = Target.Status.DONE, Target.Status.QUEUED


def minutes(count):
    return datetime.timedelta(minutes=count)


def only(campaign, *people):
    """Leave only these people to call in the campaign's list (the others are done)."""
    campaign.targets.exclude(person__in=people).update(status=DONE)


def target_of(campaign, person):
    return Target.objects.get(campaign=campaign, person=person)


def listed(campaign):
    return set(campaign.targets.values_list("person_id", flat=True))


def call_everyone(campaign, caller, at):
    """Take every person the caller can be given at `at`, recording each as answered: who they were."""
    given = []
    for _turn in range(50):
        call = queue.take_next(campaign, caller, at)
        if call is None:
            return given
        given.append(call.person_id)
        services.call_record(actor=caller, call=call, outcome=Outcome.ANSWERED, now=at)
    raise AssertionError("the list never ends")


# Allocation on real parallel connections --------------------------------------------------------------


def asking(campaign_pk, user_pk):
    def ask():
        return queue.take_next(Campaign.objects.get(pk=campaign_pk), User.objects.get(pk=user_pk))

    return ask


def test_callers_asking_at_the_same_moment_each_get_someone_else_and_the_extra_ones_no_one(committed_bank):
    bank = committed_bank(8, 12)
    campaign = bank.campaign
    results = race([asking(campaign.pk, user.pk) for user in bank.callers])
    assert [result for result in results if isinstance(result, Exception)] == []
    given = [call for call in results if call is not None]
    assert len(given) == 8, "eight people, eight callers served"
    assert sorted(call.person_id for call in given) == sorted(person.pk for person in bank.people), "none twice"
    assert all(call.caller_id == user.pk for user, call in zip(bank.callers, results, strict=True) if call)
    assert results.count(None) == 4
    leases = {
        target.person_id: (target.leased_by_id, target.call_id) for target in Target.objects.filter(campaign=campaign)
    }
    assert leases == {call.person_id: (call.caller_id, call.pk) for call in given}
    assert Call.objects.filter(campaign=campaign).count() == 8

    # Each asks again at the same moment: those with a call get it back (their lease), the others none.
    again = race([asking(campaign.pk, user.pk) for user in bank.callers])
    assert [getattr(call, "pk", call) for call in again] == [getattr(call, "pk", call) for call in results]
    assert Call.objects.filter(campaign=campaign).count() == 8


def test_callers_working_through_the_list_together_call_everyone_exactly_once(committed_bank):
    bank = committed_bank(40, 10)
    campaign_pk = bank.campaign.pk

    def work(user_pk):
        def calls():
            user, given = User.objects.get(pk=user_pk), []
            while (call := queue.take_next(Campaign.objects.get(pk=campaign_pk), user)) is not None:
                given.append(call.person_id)
                services.call_record(actor=user, call=call, outcome=Outcome.ANSWERED)
            return given

        return calls

    results = race([work(user.pk) for user in bank.callers])
    assert [result for result in results if isinstance(result, Exception)] == []
    everyone = [person_id for given in results for person_id in given]
    assert sorted(everyone) == sorted(person.pk for person in bank.people), "each person called exactly once"
    assert sum(1 for given in results if given) >= 2, "the callers worked side by side"
    calls = Call.objects.filter(campaign_id=campaign_pk)
    assert calls.count() == 40
    assert set(calls.values_list("outcome", flat=True)) == {Outcome.ANSWERED}
    assert set(Target.objects.filter(campaign_id=campaign_pk).values_list("status", flat=True)) == {DONE}


def test_two_callers_recording_the_same_new_tag_at_once_both_keep_their_result(committed_bank):
    bank = committed_bank(2, 2)
    name = "brand new tag of the race"

    def record(person_pk, user_pk):
        def run():
            with transaction.atomic():
                person, user = Person.objects.get(pk=person_pk), User.objects.get(pk=user_pk)
                people_services.answers_record(person=person, actor=user, summary="Call", tags=[name])
                time.sleep(0.3)  # the new tag stays uncommitted while the other transaction inserts it too
            return True

        return run

    try:
        results = race([record(person.pk, user.pk) for person, user in zip(bank.people, bank.callers, strict=True)])
        assert results == [True, True]
        assert Tag.objects.filter(name=name).count() == 1
        assert sorted(Tag.objects.get(name=name).people.values_list("pk", flat=True)) == sorted(
            person.pk for person in bank.people
        )
    finally:
        Tag.objects.filter(name=name).delete()


# Leases -----------------------------------------------------------------------------------------------


def test_a_lapsed_lease_lets_another_caller_take_the_person_and_the_first_loses_them(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        first = queue.take_next(bank.campaign, coordinator, T0)
        assert first.person_id == bank.ana.pk
        assert queue.take_next(bank.campaign, member, T0 + LEASE - minutes(1)) is None, "held while the lease runs"
        assert queue.take_next(bank.campaign, coordinator, T0 + minutes(1)).pk == first.pk, "their own call again"
        assert services.call_reveal(actor=coordinator, call=first) == bank.NUMBERS["ana"]

        second = queue.take_next(bank.campaign, member, T0 + LEASE + minutes(1))
        assert second is not None, "the lease lapsed: the person is back in the queue"
        assert (second.person_id, second.caller_id) == (bank.ana.pk, member.pk)
        assert second.pk != first.pk
        target = target_of(bank.campaign, bank.ana)
        assert (target.leased_by_id, target.call_id) == (member.pk, second.pk)

        assert queue.renew(first, coordinator, T0 + LEASE + minutes(2)) is False
        assert queue.holds(first, coordinator) is False
        reveals = Reveal.objects.count()
        assert services.call_reveal(actor=coordinator, call=first) is None, "the number is no longer theirs to see"
        assert Reveal.objects.count() == reveals
        assert queue.take_next(bank.campaign, coordinator, T0 + LEASE + minutes(2)) is None
        assert queue.holds(second, member) is True
        assert services.call_reveal(actor=member, call=second) == bank.NUMBERS["ana"]


def test_renewing_before_the_lease_lapses_keeps_the_person(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        assert queue.renew(call, coordinator, T0 + LEASE - minutes(1)) is True
        target = target_of(bank.campaign, bank.ana)
        assert target.lease_until == T0 + 2 * LEASE - minutes(1)
        assert queue.take_next(bank.campaign, member, T0 + LEASE + minutes(1)) is None, "renewed: still held"
        assert queue.renew(call, member, T0 + LEASE) is False, "only the caller renews their call"
        assert queue.holds(call, coordinator) is True
        # The page closed: no more renewals, and the person goes back once the renewed lease lapses.
        later = queue.take_next(bank.campaign, member, T0 + 2 * LEASE)
        assert later.person_id == bank.ana.pk


def test_releasing_a_call_puts_the_person_back_at_once_and_counts_no_attempt(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        assert queue.release(call, member) is False, "not theirs to release"
        assert queue.release(call, coordinator) is True
        assert queue.release(call, coordinator) is False, "released already"
        call.refresh_from_db()
        assert call.ended is not None
        assert call.outcome == ""
        assert target_of(bank.campaign, bank.ana).attempts == 0
        assert queue.take_next(bank.campaign, member, T0 + minutes(1)).person_id == bank.ana.pk


# Calling hours in the called person's zone ---------------------------------------------------------------


def test_a_numbers_zone_is_read_from_its_prefix():
    assert zones.zone_of("+33611000001") == "Europe/Paris"
    assert zones.zone_of("+590690123456") == "America/Guadeloupe"
    assert zones.zone_of("+687751234") == "Pacific/Noumea"
    assert zones.zone_of("+262692123456") == "Indian/Reunion"
    assert zones.zone_of("0611000001") == settings.TIME_ZONE, "not E.164: the organisation's zone"
    assert zones.zone_of("+999999") == settings.TIME_ZONE


HOURS = {"calling_from": datetime.time(10, 0), "calling_until": datetime.time(20, 0), "days": [1, 2, 3, 4, 5, 6, 7]}


def at_utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "paris", "guadeloupe", "noumea"),
    [
        # A Wednesday in June: Paris is UTC+2, Guadeloupe UTC-4, Nouméa UTC+11.
        (at_utc(2026, 6, 10, 7, 0), False, False, True),  # 09:00, 03:00, 18:00
        (at_utc(2026, 6, 10, 8, 0), True, False, True),  # 10:00, 04:00, 19:00
        (at_utc(2026, 6, 10, 9, 0), True, False, False),  # 11:00, 05:00, 20:00
        (at_utc(2026, 6, 10, 15, 0), True, True, False),  # 17:00, 11:00, 02:00
        (at_utc(2026, 6, 10, 18, 0), False, True, False),  # 20:00, 14:00, 05:00
        (at_utc(2026, 6, 11, 0, 0), False, False, True),  # 02:00, 20:00, 11:00
    ],
)
def test_calling_hours_are_those_of_the_person_called(moment, paris, guadeloupe, noumea):
    found = [
        zones.is_open(zones.zone_of(number), moment, **HOURS)
        for number in ("+33611000001", "+590690123456", "+687751234")
    ]
    assert found == [paris, guadeloupe, noumea]


def test_calling_days_are_those_of_the_person_called():
    weekdays = {**HOURS, "days": [1, 2, 3, 4, 5, 6]}
    saturday_night = at_utc(2026, 6, 13, 23, 30)  # Sunday 10:30 in Nouméa
    assert zones.is_open("Pacific/Noumea", saturday_night, **HOURS) is True
    assert zones.is_open("Pacific/Noumea", saturday_night, **weekdays) is False
    sunday_night = at_utc(2026, 6, 14, 23, 30)  # Monday 10:30 in Nouméa, Monday 01:30 in Paris
    assert zones.is_open("Pacific/Noumea", sunday_night, **weekdays) is True
    sunday_noon = at_utc(2026, 6, 14, 10, 0)  # Sunday 12:00 in Paris
    assert zones.is_open("Europe/Paris", sunday_noon, **weekdays) is False
    assert zones.is_open("Europe/Paris", sunday_noon + datetime.timedelta(days=1), **weekdays) is True


def test_a_number_of_several_zones_is_called_only_when_every_one_is_in_hours():
    both = "Europe/Paris|America/Guadeloupe"
    assert zones.is_open(both, at_utc(2026, 6, 10, 15, 0), **HOURS) is True  # 17:00 and 11:00
    assert zones.is_open(both, at_utc(2026, 6, 10, 12, 0), **HOURS) is False  # 14:00 but 08:00
    assert zones.is_open(both, at_utc(2026, 6, 10, 18, 30), **HOURS) is False  # 20:30 but 14:30
    far = "Europe/Paris|Pacific/Noumea"
    assert zones.is_open(far, at_utc(2026, 6, 10, 8, 30), **HOURS) is True  # 10:30 and 19:30: the one hour
    assert zones.is_open(far, at_utc(2026, 6, 10, 9, 30), **HOURS) is False  # 11:30 but 20:30
    assert zones.is_open(far, at_utc(2026, 6, 10, 7, 30), **HOURS) is False  # 09:30 but 18:30


def test_out_of_hours_the_next_opening_is_the_first_zone_of_the_list_to_open():
    from calls.models import Campaign as Bank

    bank = Bank(calling_from=datetime.time(10, 0), calling_until=datetime.time(20, 0), calling_days=[1, 2, 3, 4, 5])
    bank.zones = ["Europe/Paris"]
    friday_evening = at_utc(2026, 6, 12, 19, 7)  # 21:07 in Paris, a Friday
    assert zones.next_opening(bank, friday_evening) == at_utc(2026, 6, 15, 8, 0), "Monday 10:00 in Paris"
    bank.zones = ["Europe/Paris", "America/Guadeloupe"]
    assert zones.next_opening(bank, friday_evening) == friday_evening, "it is 15:07 in Guadeloupe: open"
    bank.zones = ["Europe/Paris", "Pacific/Noumea"]
    assert zones.next_opening(bank, at_utc(2026, 6, 10, 19, 7)) == at_utc(2026, 6, 10, 23, 0), "Nouméa at 10:00"


def test_hours_until_23_59_run_to_midnight():
    late = {**HOURS, "calling_from": datetime.time(0, 0), "calling_until": datetime.time(23, 59)}
    assert zones.is_open("Europe/Paris", at_utc(2026, 6, 10, 21, 59, 30), **late) is True  # 23:59:30
    assert zones.is_open("Europe/Paris", at_utc(2026, 6, 10, 22, 0, 0), **late) is True  # 00:00, the next day
    until_23 = {**late, "calling_until": datetime.time(23, 0)}
    assert zones.is_open("Europe/Paris", at_utc(2026, 6, 10, 21, 30), **until_23) is False  # 23:30


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at_utc(2026, 3, 28, 8, 30), False),  # Saturday, winter time: 09:30 CET
        (at_utc(2026, 3, 29, 8, 30), True),  # Sunday, summer time from 02:00: 10:30 CEST
        (at_utc(2026, 3, 28, 18, 30), True),  # 19:30 CET
        (at_utc(2026, 3, 29, 18, 30), False),  # 20:30 CEST
        (at_utc(2026, 10, 24, 8, 30), True),  # Saturday, summer time: 10:30 CEST
        (at_utc(2026, 10, 25, 8, 30), False),  # Sunday, winter time from 03:00: 09:30 CET
        (at_utc(2026, 10, 25, 9, 30), True),  # 10:30 CET
        (at_utc(2026, 10, 24, 18, 30), False),  # 20:30 CEST
        (at_utc(2026, 10, 25, 18, 30), True),  # 19:30 CET
    ],
)
def test_calling_hours_follow_daylight_saving_time(moment, expected):
    assert zones.is_open("Europe/Paris", moment, **HOURS) is expected


def test_the_queue_gives_only_people_whose_calling_hours_are_open_now(tree):
    with schema_context("alpha"):
        coordinator, member = tree.people["coordinator"].user, tree.people["lille_member"].user
        paris = phoned("Paula Paris", "+33611000001", tree.lille)
        guadeloupe = phoned("Gwen Guadeloupe", "+590690123456", tree.lille)
        noumea = phoned("Nina Noumea", "+687751234", tree.lille)
        campaign = opened(coordinator, campaign_make(coordinator, tree.lille, **TEN_TO_EIGHT))
        assert sorted(campaign.zones) == ["America/Guadeloupe", "Europe/Paris", "Pacific/Noumea"]
        assert dict(campaign.targets.values_list("person_id", "zone")) == {
            paris.pk: "Europe/Paris", guadeloupe.pk: "America/Guadeloupe", noumea.pk: "Pacific/Noumea",
        }  # fmt: skip
        campaign.targets.update(not_before=LONG_AGO)

        morning = at_utc(2026, 6, 10, 7, 0)  # only Nouméa is in its hours (18:00)
        assert zones.open_zones(campaign, morning) == ["Pacific/Noumea"]
        assert queue.take_next(campaign, coordinator, morning).person_id == noumea.pk
        assert queue.take_next(campaign, member, morning) is None, "Paris (09:00) and Guadeloupe (03:00) wait"

        afternoon = at_utc(2026, 6, 10, 15, 0)  # Paris 17:00 and Guadeloupe 11:00; Nouméa 02:00
        queue.release(Call.objects.get(campaign=campaign, caller=coordinator), coordinator)
        given = {
            queue.take_next(campaign, coordinator, afternoon).person_id,
            queue.take_next(campaign, member, afternoon).person_id,
        }
        assert given == {paris.pk, guadeloupe.pk}
        third = tree.people["child_coordinator"].user
        assert queue.take_next(campaign, third, afternoon) is None, "Nouméa sleeps"

        evening = at_utc(2026, 6, 10, 22, 0)  # Paris 00:00, Guadeloupe 18:00, Nouméa 09:00
        assert zones.open_zones(campaign, evening) == ["America/Guadeloupe"]
        late = queue.take_next(campaign, third, evening)  # the afternoon's leases lapsed long ago
        assert late.person_id == guadeloupe.pk


def test_the_queue_follows_daylight_saving_time_in_the_persons_zone(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        paris = phoned("Paula Paris", "+33611000001", tree.lille)
        campaign = opened(coordinator, campaign_make(coordinator, tree.lille, **TEN_TO_EIGHT))
        campaign.targets.update(not_before=LONG_AGO)
        assert queue.take_next(campaign, coordinator, at_utc(2026, 3, 28, 8, 30)) is None, "09:30 CET"
        call = queue.take_next(campaign, coordinator, at_utc(2026, 3, 29, 8, 30))  # 10:30 CEST
        assert call.person_id == paris.pk
        queue.release(call, coordinator)
        assert queue.take_next(campaign, coordinator, at_utc(2026, 10, 25, 8, 30)) is None, "09:30 CET"
        assert queue.take_next(campaign, coordinator, at_utc(2026, 10, 24, 8, 30)).person_id == paris.pk


def test_a_target_of_several_zones_waits_until_every_one_is_in_hours(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        person = phoned("Paula Paris", "+33611000001", tree.lille)
        campaign = opened(coordinator, campaign_make(coordinator, tree.lille, **TEN_TO_EIGHT))
        both = "Europe/Paris|Pacific/Noumea"
        campaign.targets.update(not_before=LONG_AGO, zone=both)
        Campaign.objects.filter(pk=campaign.pk).update(zones=[both])
        campaign.refresh_from_db()
        assert queue.take_next(campaign, coordinator, at_utc(2026, 6, 10, 9, 30)) is None, "20:30 in Nouméa"
        assert queue.take_next(campaign, coordinator, at_utc(2026, 6, 10, 15, 0)) is None, "02:00 in Nouméa"
        assert queue.take_next(campaign, coordinator, at_utc(2026, 6, 10, 8, 30)).person_id == person.pk


# Cooldown, attempts, call-backs -----------------------------------------------------------------------


def test_after_no_answer_the_person_waits_the_cooldown_and_leaves_after_the_last_attempt(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        cooldown = datetime.timedelta(hours=bank.campaign.cooldown_hours)
        assert (bank.campaign.cooldown_hours, bank.campaign.max_attempts) == (4, 3)
        at = T0
        for attempt, outcome in enumerate([Outcome.NO_ANSWER, Outcome.BUSY, Outcome.MESSAGE], start=1):
            call = queue.take_next(bank.campaign, coordinator, at)
            assert call is not None, f"attempt {attempt}"
            assert call.person_id == bank.ana.pk
            services.call_record(actor=coordinator, call=call, outcome=outcome, now=at + minutes(2))
            target = target_of(bank.campaign, bank.ana)
            assert target.attempts == attempt
            assert target.last_outcome == outcome
            if attempt < 3:
                assert target.status == QUEUED
                assert target.not_before == at + minutes(2) + cooldown
                assert queue.take_next(bank.campaign, member, at + minutes(2) + cooldown - minutes(1)) is None
            at = at + minutes(2) + cooldown
        assert target.status == DONE, "three calls reached no one: she leaves the list"
        assert queue.take_next(bank.campaign, member, at + datetime.timedelta(days=2)) is None
        assert Call.objects.filter(campaign=bank.campaign).count() == 3


def test_an_answered_call_leaves_the_list(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        only(bank.campaign, bank.ana, bank.bruno)
        first = queue.take_next(bank.campaign, coordinator, T0)
        services.call_record(actor=coordinator, call=first, outcome=Outcome.ANSWERED, now=T0 + minutes(1))
        second = queue.take_next(bank.campaign, coordinator, T0 + minutes(2))
        assert {first.person_id, second.person_id} == {bank.ana.pk, bank.bruno.pk}
        services.call_record(actor=coordinator, call=second, outcome=Outcome.ANSWERED, now=T0 + minutes(3))
        assert queue.take_next(bank.campaign, coordinator, T0 + datetime.timedelta(days=30)) is None


def test_a_call_back_waits_for_its_time_then_goes_first_to_the_caller_who_promised_it(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        only(bank.campaign, bank.ana, bank.bruno)
        call = queue.take_next(bank.campaign, coordinator, T0)
        promised = call.person_id
        waiting = ({bank.ana.pk, bank.bruno.pk} - {promised}).pop()
        back_at = T0 + datetime.timedelta(hours=2)
        services.call_record(
            actor=coordinator, call=call, outcome=Outcome.CALL_BACK, call_back_at=back_at, now=T0 + minutes(1)
        )
        target = Target.objects.get(campaign=bank.campaign, person_id=promised)
        assert (target.status, target.not_before, target.preferred_caller_id) == (QUEUED, back_at, coordinator.pk)
        assert target.attempts == 0, "a call back is not a failed attempt"

        # Before the time: nobody gets the promised person, not even the caller who promised.
        early = queue.take_next(bank.campaign, coordinator, back_at - minutes(5))
        assert early.person_id == waiting
        queue.release(early, coordinator)
        # At the time, another caller asking first gets the one who waited, not the promised call-back...
        other = queue.take_next(bank.campaign, member, back_at)
        assert other.person_id == waiting
        third = bank.tree.people["child_coordinator"].user
        assert queue.take_next(bank.campaign, third, back_at + minutes(1)) is None, "kept for its caller"
        # ...which goes to the caller who promised it.
        again = queue.take_next(bank.campaign, coordinator, back_at + minutes(2))
        assert again.person_id == promised


def test_a_promised_call_back_comes_first_for_its_caller_even_before_who_waited_longer(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        only(bank.campaign, bank.ana, bank.bruno)
        call = queue.take_next(bank.campaign, coordinator, T0)
        promised = call.person_id
        back_at = T0 + datetime.timedelta(hours=2)
        services.call_record(
            actor=coordinator, call=call, outcome=Outcome.CALL_BACK, call_back_at=back_at, now=T0 + minutes(1)
        )
        # The other person's turn came long before (the list froze before T0): still, the promise first.
        assert queue.take_next(bank.campaign, coordinator, back_at).person_id == promised


def test_a_call_back_goes_to_anyone_once_its_caller_let_the_kept_window_pass(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    kept = datetime.timedelta(minutes=settings.CALLS_CALL_BACK_KEPT_MINUTES)
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        back_at = T0 + datetime.timedelta(hours=3)
        services.call_record(
            actor=coordinator, call=call, outcome=Outcome.CALL_BACK, call_back_at=back_at, now=T0 + minutes(1)
        )
        assert queue.take_next(bank.campaign, member, back_at + kept - minutes(1)) is None
        later = queue.take_next(bank.campaign, member, back_at + kept + minutes(1))
        assert (later.person_id, later.caller_id) == (bank.ana.pk, member.pk)


def test_a_call_back_needs_a_time_in_the_coming_weeks(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        too_far = T0 + datetime.timedelta(days=settings.CALLS_CALL_BACK_DAYS + 1)
        for when in (None, T0 - minutes(1), too_far):
            with pytest.raises(InvalidAction):
                services.call_record(actor=coordinator, call=call, outcome=Outcome.CALL_BACK, call_back_at=when, now=T0)
        call.refresh_from_db()
        assert call.outcome == ""
        assert target_of(bank.campaign, bank.ana).preferred_caller_id is None


# Do not call again, wrong numbers: every campaign of the organisation -----------------------------------


def test_do_not_call_again_withdraws_every_phone_consent_and_is_honoured_by_another_campaign(bank):
    coordinator, organiser = bank.coordinator, bank.tree.people["organiser"].user
    with schema_context("alpha"):
        other = opened(organiser, campaign_make(organiser, bank.tree.nord, title="Nord calls"))
        assert bank.ana.pk in listed(other)
        history = Consent.objects.filter(person=bank.ana).count()

        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        services.call_record(actor=coordinator, call=call, outcome=Outcome.DO_NOT_CALL, now=T0 + minutes(1))

        bank.ana.refresh_from_db()
        assert not [key for key in bank.ana.consents if key.startswith("phone:")]
        added = Consent.objects.filter(person=bank.ana).order_by("pk")[history:]
        assert sorted((row.channel, row.purpose, row.status) for row in added) == [
            ("phone", purpose, "withdrawn") for purpose in sorted(Purpose.values)
        ]
        assert Consent.objects.filter(person=bank.ana, status="granted", purpose="news").exists(), "appended"
        assert target_of(other, bank.ana).status == DONE
        assert target_of(other, bank.ana).last_outcome == Outcome.DO_NOT_CALL

        given = call_everyone(other, organiser, T0 + minutes(5))
        assert sorted(given) == sorted(p.pk for p in [bank.bruno, bank.chloe, bank.dan, bank.gaby])
        later = opened(organiser, campaign_make(organiser, bank.tree.nord, title="Nord calls again"))
        assert bank.ana.pk not in listed(later), "she is never listed again"


def test_a_wrong_number_is_never_dialled_again_but_a_second_good_number_is(bank):
    coordinator, organiser = bank.coordinator, bank.tree.people["organiser"].user
    with schema_context("alpha"):
        spare = "+33611000099"
        second_number(bank.chloe, spare)
        other = opened(organiser, campaign_make(organiser, bank.tree.lille, title="Other calls"))
        assert {bank.ana.pk, bank.chloe.pk} <= listed(other)

        only(bank.campaign, bank.ana, bank.chloe)
        for _turn in range(2):
            call = queue.take_next(bank.campaign, coordinator, T0)
            assert services.call_reveal(actor=coordinator, call=call) == primary_number(call)
            services.call_record(actor=coordinator, call=call, outcome=Outcome.WRONG_NUMBER, now=T0 + minutes(1))
        assert set(WrongNumber.objects.values_list("number", flat=True)) == {
            bank.NUMBERS["ana"], bank.NUMBERS["chloe"],
        }  # fmt: skip
        assert target_of(other, bank.ana).status == DONE, "her only number is wrong"
        assert target_of(other, bank.chloe).status == QUEUED, "she has another number"

        only(other, bank.chloe, bank.ana)
        call = queue.take_next(other, organiser, T0 + minutes(5))
        assert call.person_id == bank.chloe.pk
        assert services.call_reveal(actor=organiser, call=call) == spare
        assert Reveal.objects.filter(call=call).get().number == spare
        services.call_record(actor=organiser, call=call, outcome=Outcome.ANSWERED, now=T0 + minutes(6))
        assert queue.take_next(other, organiser, T0 + minutes(7)) is None, "Ana is not dialled"

        later = opened(organiser, campaign_make(organiser, bank.tree.lille, title="Later calls"))
        assert bank.ana.pk not in listed(later)
        assert bank.chloe.pk in listed(later)
        assert target_of(later, bank.chloe).zone == "Europe/Paris"


def primary_number(call):
    return call.person.phones.get(is_primary=True).number


# Consent ----------------------------------------------------------------------------------------------


def test_only_people_who_agreed_to_be_phoned_for_the_purpose_and_have_a_number_are_listed(bank):
    with schema_context("alpha"):
        assert listed(bank.campaign) == {person.pk for person in bank.called}
        assert bank.eve.pk not in listed(bank.campaign), "agreed to calls about events, not news"
        assert bank.fanny.pk not in listed(bank.campaign), "no number"
        assert bank.gaby.pk not in listed(bank.campaign), "outside Lille"
        coordinator = bank.coordinator
        events = opened(coordinator, campaign_make(coordinator, bank.tree.lille, purpose="events", title="Events"))
        assert listed(events) == {bank.eve.pk}


def test_someone_who_withdraws_after_the_list_is_made_is_not_called(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        withdraw(bank.ana)
        withdraw(bank.chloe)
        given = call_everyone(bank.campaign, coordinator, T0)
        assert sorted(given) == sorted([bank.bruno.pk, bank.dan.pk])


def test_opening_again_adds_the_segments_newcomers_and_keeps_everyone_elses_place(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        services.call_record(actor=coordinator, call=call, outcome=Outcome.NO_ANSWER, now=T0)
        newcomer = phoned("Nora Martin", "+33611000010", bank.tree.lille)
        assert services.campaign_open(actor=coordinator, campaign=bank.campaign) == 1
        assert newcomer.pk in listed(bank.campaign)
        assert target_of(bank.campaign, bank.ana).attempts == 1


def test_nobody_to_call_refuses_to_open_and_only_organisers_open(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        phoned("Eve Martin", "+33611000005", tree.lille, purposes=["events"])
        campaign = campaign_make(coordinator, tree.lille)
        with pytest.raises(InvalidAction):
            services.campaign_open(actor=coordinator, campaign=campaign)
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.DRAFT
        assert not campaign.targets.exists()
        phoned("Ana Martin", "+33611000001", tree.lille)
        with pytest.raises(NotAllowed):
            services.campaign_open(actor=tree.people["lille_member"].user, campaign=campaign)
        with pytest.raises(NotAllowed):
            services.campaign_open(actor=tree.people["sibling_coordinator"].user, campaign=campaign)
        assert services.campaign_open(actor=coordinator, campaign=campaign) == 1


# Recording a call ---------------------------------------------------------------------------------------


def test_answers_that_do_not_fit_their_question_are_refused_and_nothing_is_written(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        activities = Activity.objects.filter(person=bank.ana).count()
        for wrong in ({"topic": "Pizza"}, {"keen": "9"}, {"keen": "²"}, {"meeting": "maybe"}):
            with pytest.raises(InvalidAction):
                services.call_record(
                    actor=coordinator, call=call, outcome=Outcome.ANSWERED,
                    answers=answers_of(bank.questions, **{"said": "Fine", "meeting": "yes", **wrong}),
                    now=T0 + minutes(1),
                )  # fmt: skip
        with pytest.raises(InvalidAction):
            services.call_record(actor=coordinator, call=call, outcome="shouted", now=T0 + minutes(1))
        call.refresh_from_db()
        assert (call.outcome, call.answers, call.ended) == ("", {}, None)
        assert Activity.objects.filter(person=bank.ana).count() == activities
        assert not bank.ana.tags.exists()
        target = target_of(bank.campaign, bank.ana)
        assert (target.status, target.leased_by_id, target.call_id) == (QUEUED, coordinator.pk, call.pk)


def test_answers_tag_the_person_fill_custom_fields_and_make_one_call_on_the_timeline(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        CustomField.objects.create(name="Keenness", key="keenness", kind=CustomField.Kind.NUMBER)
        CustomField.objects.create(name="Comes", key="comes", kind=CustomField.Kind.YES_NO)
        keen = services.question_add(
            actor=coordinator, campaign=bank.campaign, kind=Question.Kind.SCALE, text="Keen, 1-5?",
            field_key="keenness",
        )  # fmt: skip
        comes = services.question_add(
            actor=coordinator, campaign=bank.campaign, kind=Question.Kind.YES_NO, text="Coming?", field_key="comes"
        )
        only(bank.campaign, bank.ana)
        call = queue.take_next(bank.campaign, coordinator, T0)
        answers = answers_of(bank.questions, meeting="yes", topic="Housing", keen="4", said="Call after six")
        answers |= {str(keen.pk): "5", str(comes.pk): "no"}
        services.call_record(
            actor=coordinator, call=call, outcome=Outcome.ANSWERED, answers=answers, note="Lovely", now=T0 + minutes(3)
        )
        call.refresh_from_db()
        q = bank.questions
        assert call.answers == {
            str(q["meeting"].pk): True, str(q["topic"].pk): "Housing", str(q["keen"].pk): 4,
            str(q["said"].pk): "Call after six", str(keen.pk): 5, str(comes.pk): False,
        }  # fmt: skip
        assert (call.outcome, call.note, call.ended) == (Outcome.ANSWERED, "Lovely", T0 + minutes(3))
        person = Person.objects.get(pk=bank.ana.pk)
        assert sorted(person.tags.values_list("name", flat=True)) == ["housing", "thursday meeting"]
        assert person.fields == {"keenness": 5, "comes": False}
        (activity,) = Activity.objects.filter(person=person, kind=Activity.Kind.CALL)
        assert activity.actor_id == coordinator.pk
        assert activity.details["outcome"] == Outcome.ANSWERED
        assert activity.details["answers"] == call.answers
        assert activity.details["campaign"] == bank.campaign.pk
        assert (activity.target_type, activity.target_id) == (
            ContentType.objects.get_for_model(Campaign), str(bank.campaign.pk),
        )  # fmt: skip
        assert "Will you come on Thursday? yes" in activity.summary
        assert "What matters most to you? Housing" in activity.summary

        # The same call submitted again (a double tap, a retry): nothing changes.
        again = services.call_record(
            actor=coordinator, call=call, outcome=Outcome.DO_NOT_CALL,
            answers=answers_of(bank.questions, topic="Transport"), now=T0 + minutes(4),
        )  # fmt: skip
        assert again.pk == call.pk
        call.refresh_from_db()
        assert (call.outcome, call.ended) == (Outcome.ANSWERED, T0 + minutes(3))
        assert Activity.objects.filter(person=person, kind=Activity.Kind.CALL).count() == 1
        assert sorted(person.tags.values_list("name", flat=True)) == ["housing", "thursday meeting"]
        person.refresh_from_db()
        assert "phone:news" in person.consents, "the second submission's 'do not call' was not applied"


def test_a_choice_without_a_tag_and_a_no_add_no_tag(bank):
    coordinator = bank.coordinator
    with schema_context("alpha"):
        only(bank.campaign, bank.bruno)
        call = queue.take_next(bank.campaign, coordinator, T0)
        services.call_record(
            actor=coordinator, call=call, outcome=Outcome.ANSWERED,
            answers=answers_of(bank.questions, meeting="no", topic="Other"), now=T0,
        )  # fmt: skip
        assert not bank.bruno.tags.exists()
        assert Activity.objects.filter(person=bank.bruno, kind=Activity.Kind.CALL).count() == 1


def test_a_call_recorded_after_its_lease_was_lost_is_still_kept(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        only(bank.campaign, bank.ana)
        first = queue.take_next(bank.campaign, coordinator, T0)
        second = queue.take_next(bank.campaign, member, T0 + LEASE + minutes(1))
        assert second.person_id == bank.ana.pk
        services.call_record(
            actor=coordinator, call=first, outcome=Outcome.ANSWERED,
            answers=answers_of(bank.questions, meeting="yes"), now=T0 + LEASE + minutes(2),
        )  # fmt: skip
        first.refresh_from_db()
        assert first.outcome == Outcome.ANSWERED
        assert first.answers == {str(bank.questions["meeting"].pk): True}
        assert Activity.objects.filter(person=bank.ana, kind=Activity.Kind.CALL, actor=coordinator).count() == 1
        assert bank.ana.tags.filter(name="thursday meeting").exists()
        assert target_of(bank.campaign, bank.ana).status == DONE, "she was reached: no one calls her again"
        assert queue.holds(second, member) is False


def test_only_the_caller_records_their_call(bank):
    coordinator, member = bank.coordinator, bank.tree.people["lille_member"].user
    with schema_context("alpha"):
        call = queue.take_next(bank.campaign, coordinator, T0)
        with pytest.raises(NotAllowed):
            services.call_record(actor=member, call=call, outcome=Outcome.ANSWERED, now=T0)
        call.refresh_from_db()
        assert call.outcome == ""
