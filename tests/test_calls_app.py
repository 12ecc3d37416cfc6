"""Phone banks in the member app: preparing a campaign (and the form's refusals), opening it,
pausing, resuming and closing it after a confirmation, invited callers, calling from the campaign
page and recording the result, the page's heartbeat, what a caller can read (their own callee's
number, nowhere any other, every reveal logged), the organisers' export and dashboard, the live
socket, and the demo campaign."""

import asyncio
import csv
import datetime
import io
import json
import re
from zoneinfo import ZoneInfo

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from calls import demo, queue, services
from calls.models import Call, Caller, Campaign, Outcome, Question, Reveal, Target
from chapters.access import forget_grants
from chapters.models import AuditEntry
from people.models import Activity, Person
from tests.calls_fixtures import (
    Bank,
    answers_of,
    campaign_make,
    opened,
    phoned,
    segment_of,
)
from tests.conftest import PASSWORD

CALL_PAGE = re.compile(r"/app/calls/(\d+)/calls/(\d+)/$")


def campaign_form(segment, **changes):
    """What the campaign form posts."""
    data = {
        "chapter": "lille",
        "title": "Call before the meeting",
        "description": "Thursday's meeting.",
        "segment": str(segment.pk),
        "purpose": "news",
        "script": "Hello {first_name}",
        "calling_from": "10:00",
        "calling_until": "20:30",
        "calling_days": ["1", "2", "3", "4", "5"],
        "cooldown_hours": "4",
        "max_attempts": "3",
        "callers": "members",
        "starts": timezone.localdate().isoformat(),
        "ends": "",
    }
    data.update(changes)
    return data


def call_id(response):
    """The id of the call a response redirects to (a call page)."""
    assert response.status_code == 302, response.status_code
    found = CALL_PAGE.fullmatch(response["Location"])
    assert found, response["Location"]
    return int(found.group(2))


def take(client, campaign):
    """Ask for the next person, as the campaign page's button does: the call's id."""
    return call_id(client.post(reverse("call_next", args=[campaign.pk])))


def page_text(client, url):
    response = client.get(url, follow=True)
    return response.status_code, response.content.decode()


def forms_of(number):
    """The ways a French number may be written on a page or in a file."""
    national = "0" + number[3:]
    spaced = " ".join([national[:2], national[2:4], national[4:6], national[6:8], national[8:]])
    return [number, number[1:], national, spaced, national[1:]]


def none_of(numbers, text):
    """The forms of `numbers` found in `text` (none, one hopes)."""
    return [shown for number in numbers for shown in forms_of(number) if shown in text]


# Preparing, opening, pausing, closing -----------------------------------------------------------------


def test_a_coordinator_prepares_a_campaign_and_the_form_says_what_is_wrong(tree):
    client = tree.people["coordinator"].client()
    with schema_context("alpha"):
        segment = segment_of(tree.lille, "Lille phones")
    form = client.get(reverse("call_campaign_create")).content.decode()
    assert "Lille phones" in form
    assert 'name="calling_days"' in form

    answer = client.post(
        reverse("call_campaign_create"), campaign_form(segment, calling_from="20:00", calling_until="10:00")
    )
    assert answer.status_code == 200
    assert "Calling hours must end after they start." in answer.content.decode()
    answer = client.post(reverse("call_campaign_create"), campaign_form(segment, calling_days=[]))
    assert answer.status_code == 200
    page = answer.content.decode()
    assert 'class="field has-error"' in page
    assert re.search(r"<legend>Days</legend>.*?<p class=\"error\">Choose one day at least.</p>", page, re.S)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    answer = client.post(
        reverse("call_campaign_create"),
        campaign_form(segment, starts=tomorrow.isoformat(), ends=timezone.localdate().isoformat()),
    )
    assert "The campaign must end after it starts." in answer.content.decode()
    with schema_context("alpha"):
        assert not Campaign.objects.exists(), "nothing saved"

    answer = client.post(reverse("call_campaign_create"), campaign_form(segment, calling_days=["1", "3", "6"]))
    with schema_context("alpha"):
        campaign = Campaign.objects.get()
        assert answer["Location"] == reverse("call_questions", args=[campaign.pk])
        assert (campaign.chapter, campaign.segment, campaign.status) == (tree.lille, segment, Campaign.Status.DRAFT)
        assert campaign.calling_days == [1, 3, 6]
        assert (campaign.calling_from, campaign.calling_until) == (datetime.time(10, 0), datetime.time(20, 30))
        assert campaign.created_by == tree.people["coordinator"].user
        assert AuditEntry.objects.filter(action="calls.campaign_created", chapter=tree.lille).exists()

    for persona in ("lille_member", "sibling_coordinator"):
        other = tree.people[persona].client()
        assert other.get(reverse("call_campaign", args=[campaign.pk])).status_code == 404, persona
        assert other.get(reverse("call_campaign_edit", args=[campaign.pk])).status_code == 404, persona
    assert tree.people["lille_member"].client().get(reverse("call_campaign_create")).status_code == 404


def test_questions_are_added_from_their_page_and_a_choice_needs_two_answers(tree):
    client = tree.people["coordinator"].client()
    with schema_context("alpha"):
        campaign = campaign_make(tree.people["coordinator"].user, tree.lille)
    url = reverse("call_questions", args=[campaign.pk])
    answer = client.post(url, {"kind": "choice", "text": "Which?", "choices": "Only one", "tag": "", "field_key": ""})
    assert answer.status_code == 200
    assert "A choice needs two answers at least, one per line." in answer.content.decode()
    answer = client.post(
        url, {"kind": "choice", "text": "Which topic?", "choices": "Housing -> housing\r\nOther", "field_key": ""}
    )
    assert answer.status_code == 302
    with schema_context("alpha"):
        question = Question.objects.get(campaign=campaign)
        assert question.choices == [{"label": "Housing", "tag": "housing"}, {"label": "Other", "tag": ""}]
    assert tree.people["lille_member"].client().get(url).status_code == 404


def test_opening_a_campaign_nobody_can_be_called_in_says_why_and_leaves_it_a_draft(tree):
    client = tree.people["coordinator"].client()
    with schema_context("alpha"):
        phoned("Eve Martin", "+33611000005", tree.lille, purposes=["events"])  # not for news
        phoned("Fanny Martin", "", tree.lille)  # no number
        campaign = campaign_make(tree.people["coordinator"].user, tree.lille)
    status_url = reverse("call_campaign_status", args=[campaign.pk])
    confirm = client.get(status_url, {"action": "open"}).content.decode()
    assert "Open the campaign to callers?" in confirm
    code, page = page_text(client, reverse("call_campaign", args=[campaign.pk]))
    assert "0 people can be called" in page
    answer = client.post(status_url, {"action": "open"}, follow=True)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "No one in this segment can be called: they need a phone number and to have agreed to be phoned." in page
    with schema_context("alpha"):
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.DRAFT
        assert not campaign.targets.exists()
        assert campaign.opened is None


def test_pausing_resuming_and_closing_ask_first_then_change_the_campaign(bank):
    coordinator = bank.tree.people["coordinator"].client()
    member = bank.tree.people["lille_member"].client()
    campaign = bank.campaign
    url = reverse("call_campaign_status", args=[campaign.pk])

    def status():
        with schema_context("alpha"):
            return Campaign.objects.get(pk=campaign.pk).status

    confirm = coordinator.get(url, {"action": "pause"})
    assert "Pause the calls?" in confirm.content.decode()
    assert status() == "open", "a GET only asks"
    assert coordinator.post(url, {"action": "pause"})["Location"] == reverse("call_campaign", args=[campaign.pk])
    assert status() == "paused"
    refused = member.post(reverse("call_next", args=[campaign.pk]), follow=True).content.decode()
    assert "This campaign is not open for calls at the moment." in refused
    assert "Calls are paused for now." in refused
    with schema_context("alpha"):
        assert not Call.objects.filter(campaign=campaign).exists()

    assert "Resume the calls?" in coordinator.get(url, {"action": "resume"}).content.decode()
    coordinator.post(url, {"action": "resume"})
    assert status() == "open"
    take(member, campaign)

    assert "Close the campaign?" in coordinator.get(url, {"action": "close"}).content.decode()
    assert status() == "open"
    coordinator.post(url, {"action": "close"})
    assert status() == "closed"
    again = coordinator.post(url, {"action": "resume"}, follow=True).content.decode()
    assert "This campaign cannot go from" in again
    again = coordinator.post(url, {"action": "open"}, follow=True).content.decode()
    assert "This campaign is closed." in again
    assert status() == "closed"
    other = bank.tree.people["child_coordinator"].client()
    assert "This campaign is over." in other.get(reverse("call_campaign", args=[campaign.pk])).content.decode()
    refused = other.post(reverse("call_next", args=[campaign.pk]), follow=True).content.decode()
    assert "This campaign is not open for calls at the moment." in refused
    assert member.post(url, {"action": "open"}).status_code == 404, "callers do not open nor close"


def test_a_campaign_for_invited_callers_is_hidden_from_members_not_invited(bank):
    tree = bank.tree
    coordinator = tree.people["coordinator"].client()
    member, other = tree.people["lille_member"], tree.people["child_coordinator"]
    with schema_context("alpha"):
        Campaign.objects.filter(pk=bank.campaign.pk).update(callers=Campaign.Callers.INVITED)
    detail = reverse("call_campaign", args=[bank.campaign.pk])
    assert member.client().get(detail).status_code == 404
    assert member.client().post(reverse("call_next", args=[bank.campaign.pk])).status_code == 404
    assert bank.campaign.title not in member.client().get(reverse("calls")).content.decode()

    answer = coordinator.post(reverse("call_callers", args=[bank.campaign.pk]), {"email": "nobody@example.org"})
    assert "No member of the organisation has this address." in answer.content.decode()
    answer = coordinator.post(reverse("call_callers", args=[bank.campaign.pk]), {"email": member.email.upper()})
    assert answer.status_code == 302
    with schema_context("alpha"):
        assert Caller.objects.filter(campaign=bank.campaign, user=member.user).exists()
    assert bank.campaign.title in member.client().get(reverse("calls")).content.decode()
    assert member.client().get(detail).status_code == 200
    call = take(member.client(), bank.campaign)
    assert member.client().get(reverse("call_page", args=[bank.campaign.pk, call])).status_code == 200
    assert other.client().get(detail).status_code == 404, "a member of Lille Centre, not invited"

    # Removed: their call under way goes back to the list.
    with schema_context("alpha"):
        invited = Caller.objects.get(campaign=bank.campaign, user=member.user)
    coordinator.post(reverse("call_caller_remove", args=[bank.campaign.pk, invited.pk]))
    assert member.client().get(detail).status_code == 404
    assert member.client().get(reverse("call_page", args=[bank.campaign.pk, call])).status_code == 404
    with schema_context("alpha"):
        assert not Target.objects.filter(campaign=bank.campaign, leased_by=member.user).exists()


# Calling ------------------------------------------------------------------------------------------------


def test_a_member_calls_records_the_answers_and_moves_to_the_next_person(bank):
    persona = bank.tree.people["lille_member"]
    client = persona.client()
    campaign = bank.campaign
    detail = client.get(reverse("call_campaign", args=[campaign.pk])).content.decode()
    assert "Call the next person" in detail
    first = take(client, campaign)
    page = client.get(reverse("call_page", args=[campaign.pk, first])).content.decode()
    with schema_context("alpha"):
        call = Call.objects.select_related("person").get(pk=first)
        number = bank.number_of(call.person)
    first_name = call.person.full_name.split()[0]
    assert call.caller_id == persona.user.pk
    assert f'href="tel:{number}"' in page
    assert forms_of(number)[3] in page, "the number as people read it"
    assert f"Hello {first_name}, I am Lille_Member from Lille." in page, "the script, filled in"
    assert "Will you come on Thursday?" in page
    assert "You have a call under way." in client.get(reverse("call_campaign", args=[campaign.pk])).content.decode()

    q = bank.questions
    answer = client.post(
        reverse("call_page", args=[campaign.pk, first]),
        {
            "outcome": "answered", "note": "Nice chat", "then": "next",
            f"q{q['meeting'].pk}": "yes", f"q{q['topic'].pk}": "Transport", f"q{q['keen'].pk}": "5",
            f"q{q['said'].pk}": "Wants a lift",
        },
    )  # fmt: skip
    second = call_id(answer)
    assert second != first
    with schema_context("alpha"):
        call.refresh_from_db()
        assert call.outcome == Outcome.ANSWERED
        assert call.answers == {
            str(q["meeting"].pk): True, str(q["topic"].pk): "Transport", str(q["keen"].pk): 5,
            str(q["said"].pk): "Wants a lift",
        }  # fmt: skip
        person = Person.objects.get(pk=call.person_id)
        assert set(person.tags.values_list("name", flat=True)) == {"thursday meeting", "transport"}
        assert person.activities.filter(kind=Activity.Kind.CALL).count() == 1
        assert Call.objects.get(pk=second).person_id != call.person_id

    # The same form sent again (a double tap) counts once, and leads back to the campaign.
    again = client.post(reverse("call_page", args=[campaign.pk, first]), {"outcome": "busy", "then": "next"})
    assert again["Location"] == reverse("call_campaign", args=[campaign.pk])
    answer = client.post(
        reverse("call_page", args=[campaign.pk, second]),
        {"outcome": "call_back", "call_back_at": (timezone.localtime() + datetime.timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M"), "then": "stop"},
    )  # fmt: skip
    assert answer["Location"] == reverse("call_campaign", args=[campaign.pk])
    with schema_context("alpha"):
        assert Call.objects.get(pk=first).outcome == Outcome.ANSWERED
        assert Call.objects.get(pk=second).outcome == Outcome.CALL_BACK
        promised = Call.objects.get(pk=second).person_id
        target = Target.objects.get(campaign=campaign, person_id=promised)
        assert target.preferred_caller_id == persona.user.pk
    detail = client.get(reverse("call_campaign", args=[campaign.pk])).content.decode()
    assert re.search(r"You made <strong data-mine>2</strong> calls", detail)


def test_call_back_at_is_read_in_the_callers_own_time_zone(bank):
    client = bank.tree.people["lille_member"].client()
    campaign = bank.campaign
    first = take(client, campaign)
    day = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    answer = client.post(
        reverse("call_page", args=[campaign.pk, first]),
        {"outcome": "call_back", "call_back_at": f"{day}T18:00", "zone": "America/Guadeloupe", "then": "stop"},
    )
    assert answer.status_code == 302
    with schema_context("alpha"):
        promised = Call.objects.get(pk=first).call_back_at
    expected = datetime.datetime.fromisoformat(f"{day}T18:00").replace(tzinfo=ZoneInfo("America/Guadeloupe"))
    assert promised == expected, "18:00 in Guadeloupe is 22:00 UTC, not 18:00 Paris time"
    second = take(client, campaign)
    answer = client.post(
        reverse("call_page", args=[campaign.pk, second]),
        {"outcome": "call_back", "call_back_at": f"{day}T18:00", "zone": "../../etc/passwd", "then": "stop"},
    )
    assert answer.status_code == 302, "an unknown zone is the organisation's, never an error"
    with schema_context("alpha"):
        promised = Call.objects.get(pk=second).call_back_at
    assert promised == datetime.datetime.fromisoformat(f"{day}T18:00").replace(tzinfo=ZoneInfo(settings.TIME_ZONE))


def test_the_result_form_with_bad_input_says_why_and_records_nothing(bank):
    client = bank.tree.people["lille_member"].client()
    campaign, q = bank.campaign, bank.questions
    call = take(client, campaign)
    url = reverse("call_page", args=[campaign.pk, call])
    answer = client.post(url, {"outcome": "answered", f"q{q['keen'].pk}": "9", f"q{q['meeting'].pk}": "yes"})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "“9” is not an answer to “How keen are you to help?”." in page
    assert re.search(rf'name="q{q["meeting"].pk}" value="yes" checked', page), "what was given is kept"
    answer = client.post(url, {"outcome": "answered", f"q{q['topic'].pk}": "Pizza"})
    assert answer.status_code == 400
    assert "“Pizza” is not an answer to “What matters most to you?”." in answer.content.decode()
    answer = client.post(url, {"outcome": "call_back", "call_back_at": ""})
    assert answer.status_code == 400
    assert "Say when to call back." in answer.content.decode()
    past = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(url, {"outcome": "call_back", "call_back_at": past})
    assert "The time to call back must be in the future." in answer.content.decode()
    answer = client.post(url, {"outcome": "shouted"})
    assert answer.status_code == 400
    assert 'class="outcomes has-error"' in answer.content.decode()
    with schema_context("alpha"):
        made = Call.objects.get(pk=call)
        assert (made.outcome, made.answers, made.ended) == ("", {}, None)
        assert not Activity.objects.filter(person_id=made.person_id, kind=Activity.Kind.CALL).exists()
        assert not Person.objects.get(pk=made.person_id).tags.exists()
        assert queue.holds(made, bank.tree.people["lille_member"].user)


def test_the_heartbeat_keeps_the_person_and_says_when_they_were_lost(bank):
    persona = bank.tree.people["lille_member"]
    client = persona.client()
    campaign = bank.campaign
    call = take(client, campaign)
    keep = reverse("call_keep", args=[campaign.pk, call])
    answer = client.post(keep)
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "seconds": settings.CALLS_LEASE_SECONDS}
    with schema_context("alpha"):
        made = Call.objects.get(pk=call)
        assert Target.objects.get(pk=made.target_id).lease_until > timezone.now() + datetime.timedelta(seconds=60)
        # The page went quiet: the lease lapsed, and someone else was given the person.
        Target.objects.filter(pk=made.target_id).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
        campaign.targets.exclude(pk=made.target_id).update(status=Target.Status.DONE)
        other = queue.take_next(campaign, bank.coordinator)
        assert other.person_id == made.person_id
    answer = client.post(keep)
    assert answer.status_code == 409
    assert answer.json()["ok"] is False
    assert answer.json()["error"]["code"] == "lease_lost"
    with schema_context("alpha"):
        before = Reveal.objects.count()
        number = bank.number_of(made.person)
    page = client.get(reverse("call_page", args=[campaign.pk, call]), follow=True).content.decode()
    assert "This person went back to the list" in page
    assert none_of([number], page) == []
    with schema_context("alpha"):
        assert Reveal.objects.count() == before, "no number shown, none logged"
    assert client.get(keep).status_code == 405, "the heartbeat is a POST"


def test_a_caller_asking_for_people_faster_than_anyone_calls_is_refused_for_a_while(bank, settings):
    settings.CALLS_PEOPLE_RATE = "2/h"
    client = bank.tree.people["lille_member"].client()
    campaign = bank.campaign
    for _round in range(2):
        call = take(client, campaign)
        client.post(reverse("call_release", args=[campaign.pk, call]))
    answer = client.post(reverse("call_next", args=[campaign.pk]), follow=True)
    assert "You asked for many people in a short time" in answer.content.decode()
    with schema_context("alpha"):
        assert Call.objects.filter(caller=bank.tree.people["lille_member"].user).count() == 2, "no third person"
    other = take(bank.tree.people["coordinator"].client(), campaign)
    assert client.get(reverse("call_page", args=[campaign.pk, other])).status_code == 404


def test_stopping_without_calling_gives_the_person_back_at_once(bank):
    client = bank.tree.people["lille_member"].client()
    call = take(client, bank.campaign)
    answer = client.post(reverse("call_release", args=[bank.campaign.pk, call]), follow=True)
    assert "You stopped: this person went back to the list" in answer.content.decode()
    with schema_context("alpha"):
        made = Call.objects.get(pk=call)
        assert made.ended is not None
        target = Target.objects.get(pk=made.target_id)
        assert (target.leased_by_id, target.call_id) == (None, None)


# What a caller can read -----------------------------------------------------------------------------------


def test_a_caller_reads_their_own_callees_number_and_no_other_through_any_route(bank):
    tree, campaign = bank.tree, bank.campaign
    persona = tree.people["lille_member"]
    client = persona.client()
    mine = take(client, campaign)
    theirs = [take(tree.people[name].client(), campaign) for name in ("coordinator", "child_coordinator")]
    with schema_context("alpha"):
        own = Call.objects.select_related("person").get(pk=mine)
        own_number = bank.number_of(own.person)
        others = [number for number in Bank.NUMBERS.values() if number != own_number]
        # A second campaign the member may call for, and its call of someone else.
        nord = opened(
            tree.people["organiser"].user, campaign_make(tree.people["organiser"].user, tree.nord, title="Nord")
        )
    elsewhere = take(tree.people["coordinator"].client(), nord)

    pages = {}
    for url in (
        reverse("calls"),
        reverse("call_campaign", args=[campaign.pk]),
        reverse("call_page", args=[campaign.pk, mine]),
        reverse("call_campaign", args=[nord.pk]),
    ):
        code, pages[url] = page_text(client, url)
        assert code == 200, url
        assert none_of(others, pages[url]) == [], url
    assert f'href="tel:{own_number}"' in pages[reverse("call_page", args=[campaign.pk, mine])]
    assert none_of([own_number], pages[reverse("calls")]) == []
    assert none_of([own_number], pages[reverse("call_campaign", args=[campaign.pk])]) == []

    for other in theirs:
        for name in ("call_page", "call_keep", "call_release"):
            url = reverse(name, args=[campaign.pk, other])
            assert client.post(url).status_code == 404, url
        assert client.get(reverse("call_page", args=[campaign.pk, other])).status_code == 404
    assert client.get(reverse("call_page", args=[nord.pk, elsewhere])).status_code == 404
    assert client.get(reverse("call_page", args=[nord.pk, mine])).status_code == 404, "own call, other campaign"
    assert client.get(reverse("call_page", args=[campaign.pk, elsewhere])).status_code == 404

    question = bank.questions["meeting"]
    for url in (
        reverse("call_export", args=[campaign.pk]),
        reverse("call_dashboard", args=[campaign.pk]),
        reverse("call_reveals", args=[campaign.pk]),
        reverse("call_campaign_edit", args=[campaign.pk]),
        reverse("call_questions", args=[campaign.pk]),
        reverse("call_question_delete", args=[campaign.pk, question.pk]),
        reverse("call_callers", args=[campaign.pk]),
        reverse("call_caller_remove", args=[campaign.pk, 1]),
        reverse("call_campaign_status", args=[campaign.pk]) + "?action=close",
        reverse("call_campaign_create"),
        reverse("calls_settings"),
        reverse("people"),
        reverse("person_detail", args=[own.person_id]),
        reverse("person_detail", args=[bank.bruno.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("call_campaign_status", args=[campaign.pk]), {"action": "close"}).status_code == 404

    with schema_context("alpha"):
        reveals = list(Reveal.objects.filter(caller=persona.user).values_list("call_id", "person_id", "number"))
        assert reveals == [(mine, own.person_id, own_number)], "one call page seen, one reveal"
    client.get(reverse("call_page", args=[campaign.pk, mine]))
    with schema_context("alpha"):
        assert Reveal.objects.filter(caller=persona.user, call_id=mine, number=own_number).count() == 2

    # The organisers read the log: who saw whose number, when; the numbers themselves are not on it.
    log = tree.people["coordinator"].client().get(reverse("call_reveals", args=[campaign.pk])).content.decode()
    assert log.count(persona.user.get_full_name()) == 2
    assert own.person.full_name in log
    assert none_of([own_number, *others], log) == []


def test_the_results_export_is_for_organisers_and_holds_answers_but_no_number(bank):
    tree, campaign, q = bank.tree, bank.campaign, bank.questions
    with schema_context("alpha"):
        member = tree.people["lille_member"].user
        forget_grants(member)
        for outcome, answers in [
            (Outcome.ANSWERED, answers_of(q, meeting="yes", topic="Housing", keen="4", said="Bring leaflets")),
            (Outcome.NO_ANSWER, {}),
            (Outcome.ANSWERED, answers_of(q, meeting="no", topic="Other")),
        ]:
            call = services.call_next(actor=member, campaign=campaign)
            services.call_reveal(actor=member, call=call)
            services.call_record(actor=member, call=call, outcome=outcome, answers=answers, note="Said hello")
        numbers = list(Reveal.objects.values_list("number", flat=True))
        assert len(numbers) == 3
    answer = tree.people["coordinator"].client().get(reverse("call_export", args=[campaign.pk]))
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(answer.streaming_content).decode("utf-8-sig")
    assert none_of(list(Bank.NUMBERS.values()), text) == []
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:8] == ["call", "person_id", "person", "caller", "ended", "outcome", "call_back_at", "note"]
    assert rows[0][8:] == [question.text for question in q.values()]
    assert len(rows) == 4
    outcomes = sorted(row[5] for row in rows[1:])
    assert outcomes == ["Answered", "Answered", "No answer"]
    answered = {row[8]: row for row in rows[1:] if row[5] == "Answered"}
    assert answered["yes"][9:] == ["Housing", "4", "Bring leaflets"]
    assert answered["no"][9:] == ["Other", "", ""]
    assert {row[3] for row in rows[1:]} == {"Lille_Member"}
    with schema_context("alpha"):
        assert AuditEntry.objects.filter(action="calls.results_exported").count() == 1

    dashboard = tree.people["coordinator"].client().get(reverse("call_dashboard", args=[campaign.pk]))
    page = dashboard.content.decode()
    assert dashboard.status_code == 200
    assert "What matters most to you?" in page
    assert none_of(list(Bank.NUMBERS.values()), page) == []
    outsider = tree.people["sibling_coordinator"].client()
    assert outsider.get(reverse("call_export", args=[campaign.pk])).status_code == 404


# The live socket --------------------------------------------------------------------------------------------

# One event loop for every socket of a test: a communicator's application lives in the loop that
# connected it.
LOOP = asyncio.new_event_loop()


def run(coroutine):
    return LOOP.run_until_complete(coroutine)


def session_cookie(email, schema="alpha"):
    client = Client()
    with schema_context(schema):
        assert client.login(email=email, password=PASSWORD)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class Socket:
    """A websocket client on /ws/calls/<id>/ of one organisation's host, driven from synchronous tests."""

    def __init__(self, campaign_id, email=None, schema="alpha"):
        from config.asgi import application

        host = f"{schema}.localhost"
        headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
        if email:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_cookie(email, schema)}".encode()))
        self.communicator = WebsocketCommunicator(application, f"/ws/calls/{campaign_id}/", headers=headers)

    def connect(self):
        return run(self.communicator.connect(timeout=5))

    def send(self, text):
        run(self.communicator.send_to(text_data=text))

    def receive(self, timeout=5):
        return json.loads(run(self.communicator.receive_from(timeout=timeout)))

    def nothing_more(self):
        return run(self.communicator.receive_nothing(timeout=0.3))

    def close(self):
        run(self.communicator.disconnect())


def watching(campaign_id, email):
    socket = Socket(campaign_id, email)
    accepted, _code = socket.connect()
    assert accepted, email
    first = socket.receive()
    assert first["type"] == "stats"
    return socket, first


def in_worker(function):
    """Run `function` in a worker thread, as the consumers' database work runs: what it publishes
    after its commit reaches the sockets through the loop they live in."""

    def schema_bound():
        with schema_context("alpha"):
            return function()

    return run(database_sync_to_async(schema_bound)())


def test_the_socket_gives_organisers_the_figures_and_each_call_and_callers_their_count(committed_bank):
    bank = committed_bank(3, 2)
    campaign, q = bank.campaign, bank.questions
    caller, teammate = bank.callers
    organiser, organiser_stats = watching(campaign.pk, bank.founder.email)
    mine, mine_stats = watching(campaign.pk, caller.email)
    team, _team_stats = watching(campaign.pk, teammate.email)
    try:
        assert (organiser_stats["targets"], organiser_stats["calls"], organiser_stats["status"]) == (3, 0, "open")
        assert set(organiser_stats["answers"]) == {str(q[name].pk) for name in ("meeting", "topic", "keen")}
        assert organiser_stats["texts"] == {str(q["said"].pk): 0}
        assert "answers" not in mine_stats, "callers get no answers"
        assert "leaderboard" not in mine_stats, "the organisation did not turn the leaderboard on"
        assert mine_stats["mine"] == 0

        def record(outcome, answers):
            def made():
                with transaction.atomic():
                    call = queue.take_next(Campaign.objects.get(pk=campaign.pk), caller)
                    services.call_reveal(actor=caller, call=call)
                    services.call_record(actor=caller, call=call, outcome=outcome, answers=answers)

            in_worker(made)

        record(Outcome.ANSWERED, answers_of(q, meeting="yes", topic="Housing", keen="4", said="Secret words"))
        frame = organiser.receive()
        assert frame["type"] == "call"
        assert frame["outcome"] == "answered"
        assert frame["caller"] == caller.pk
        assert frame["answers"] == {str(q["meeting"].pk): True, str(q["topic"].pk): "Housing", str(q["keen"].pk): 4}
        assert str(q["said"].pk) in frame["answered"]
        assert frame["done"] is True, "an answered person leaves the list: the dashboard's progress moves"
        assert mine.receive() == {"type": "call", "mine": True}
        assert team.receive() == {"type": "call", "mine": False}

        # A call whose transaction is rolled back sends nothing: frames leave after the commit.
        def rolled_back():
            with transaction.atomic():
                call = queue.take_next(Campaign.objects.get(pk=campaign.pk), teammate)
                services.call_record(actor=teammate, call=call, outcome=Outcome.BUSY)
                transaction.set_rollback(True)

        in_worker(rolled_back)
        assert organiser.nothing_more()
        assert mine.nothing_more()

        organiser.send(json.dumps({"type": "refresh"}))
        stats = organiser.receive()
        assert stats["type"] == "stats"
        assert (stats["calls"], stats["outcomes"]["answered"], stats["done"]) == (1, 1, 1)
        assert stats["answers"][str(q["topic"].pk)] == {"Housing": 1}
        assert stats["texts"] == {str(q["said"].pk): 1}
        organiser.send(json.dumps({"type": "refresh"}))
        assert organiser.receive()["code"] == "too_soon"
        mine.send(json.dumps({"type": "refresh"}))
        assert mine.receive()["mine"] == 1

        everything = json.dumps([frame, stats])
        assert "Secret words" not in everything, "free text never goes out on the socket"
        assert not [person for person in bank.people if person.phones.get().number in everything]

        in_worker(lambda: services.campaign_set_status(actor=bank.founder, campaign=campaign, status="paused"))
        for socket in (organiser, mine, team):
            assert socket.receive() == {"type": "status", "status": "paused"}
    finally:
        for socket in (organiser, mine, team):
            socket.close()


def test_the_socket_refuses_strangers_and_answers_bad_frames_with_an_error(committed_bank):
    bank = committed_bank(1, 1)
    campaign = bank.campaign
    assert Socket(campaign.pk).connect() == (False, 4401)
    assert Socket(campaign.pk, bank.outsider.email).connect() == (False, 4404), "a member of another chapter"
    assert Socket(campaign.pk + 10_000, bank.founder.email).connect() == (False, 4404), "no such campaign"
    assert Socket(campaign.pk, "member@beta.example", schema="beta").connect() == (False, 4404), "beta's member"
    draft = campaign_make(bank.founder, bank.chapter, title=f"Draft {bank.tag}")
    assert Socket(draft.pk, bank.callers[0].email).connect() == (False, 4404), "drafts are for organisers"

    socket, _stats = watching(campaign.pk, bank.callers[0].email)
    try:
        for text, code in [
            ("{not json", "bad_json"),
            ("[1, 2]", "bad_frame"),
            (json.dumps({"type": 3}), "bad_frame"),
            (json.dumps({"type": "dial", "number": "+33600000000"}), "unknown_type"),
            (json.dumps({"type": "refresh", "pad": "x" * 2000}), "frame_too_large"),
        ]:
            socket.send(text)
            frame = socket.receive()
            assert (frame["type"], frame["code"]) == ("error", code), text
        socket.send(json.dumps({"type": "refresh"}))
        assert socket.receive()["type"] == "stats", "the socket stayed open"
        socket.send(json.dumps({"type": "refresh"}))
        assert socket.receive()["code"] == "too_soon"
    finally:
        socket.close()


# The demo -------------------------------------------------------------------------------------------------


def test_the_demo_campaign_is_seeded_once_with_its_script_questions_and_first_calls(tree):
    with schema_context("alpha"):
        for n in range(30):
            phoned(f"Demo Person{n}", f"+336330000{n:02d}", tree.lille, purposes=())
        organiser = tree.people["organiser"].user
        coordinator, member = tree.people["coordinator"].user, tree.people["lille_member"].user
        recorded = demo.seed(organiser, coordinator=coordinator, member=member)
        campaign = Campaign.objects.get(title="Rappel mobilisation")
        assert recorded == demo.CALLED
        assert campaign.status == Campaign.Status.OPEN
        assert campaign.chapter == tree.lille
        assert "{first_name}" in campaign.script
        assert [question.kind for question in campaign.questions.all()] == ["yes_no", "choice", "scale"]
        assert campaign.targets.count() >= demo.CALLED
        calls = Call.objects.filter(campaign=campaign).exclude(outcome="")
        assert calls.count() == demo.CALLED
        assert {call.caller_id for call in calls} == {organiser.pk, coordinator.pk, member.pk}
        assert calls.filter(outcome=Outcome.ANSWERED).exclude(answers={}).count() == 8
        assert campaign.targets.filter(status=Target.Status.QUEUED).exists(), "partly called"
        counts = (Campaign.objects.count(), Call.objects.count(), Person.objects.count())
        assert demo.seed(organiser, coordinator=coordinator, member=member) == 0
        assert (Campaign.objects.count(), Call.objects.count(), Person.objects.count()) == counts
    page = tree.people["lille_member"].client().get(reverse("call_campaign", args=[campaign.pk])).content.decode()
    assert "Rappel mobilisation" in page, "Lille's members may call for it"
