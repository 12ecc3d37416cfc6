"""Topic rooms, direct conversations, mentions, mutes and reports, through the HTTP API and the
moderation pages (the websocket side is in test_chat_consumer.py)."""

import re

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import User
from chat.models import Mention, Message, Mute, Report, Room, RoomMember
from tests.helpers import run_tasks


def post(persona, path, data=None):
    return persona.client().post(f"/app/chat/api/{path}", data or {}, content_type="application/json")


def rooms_of(persona):
    return {room["name"]: room for room in persona.client().get("/app/chat/api/rooms/").json()["rooms"]}


def open_topic(tree, persona="coordinator", chapter=None, audience="subtree", people=()):
    response = post(
        tree.people[persona],
        "topics/",
        {"chapter": (chapter or tree.lille).pk, "name": "Tractage marché", "audience": audience, "people": people},
    )
    assert response.status_code == 201, response.content
    return response.json()["room"]


def chapter_room(tree, slug="lille"):
    tree.people["lille_member"].client().get("/app/chat/api/rooms/")  # rooms are created on first need
    with schema_context("alpha"):
        return Room.objects.get(kind="chapter", chapter__slug=slug)


# Topic rooms ---------------------------------------------------------------------------------------


def test_a_topic_open_to_a_chapter_reaches_its_subtree_and_nobody_else(tree):
    with schema_context("alpha"):
        centre_member = tree.person("centre_member", member_of=tree.lille_centre)
    topic = open_topic(tree)
    assert topic["kind"] == "topic"
    assert topic["audience"] == "subtree"

    assert "Tractage marché" in rooms_of(tree.people["lille_member"])
    assert "Tractage marché" in rooms_of(tree.people["centre_member"]), "members below Lille are in"
    assert "Tractage marché" in rooms_of(tree.people["parent_coordinator"]), "coordinators above see it"
    assert "Tractage marché" not in rooms_of(tree.people["other_chapter_member"])
    assert "Tractage marché" not in rooms_of(tree.people["sibling_coordinator"])
    outsider = post(tree.people["other_chapter_member"], f"rooms/{topic['id']}/messages/", {"body": "hi"})
    assert outsider.status_code == 404
    assert post(tree.people["centre_member"], f"rooms/{topic['id']}/messages/", {"body": "Je viens"}).status_code == 201
    with schema_context("alpha"):
        assert list(Message.objects.filter(room_id=topic["id"]).values_list("author", flat=True)) == [centre_member.pk]


def test_only_holders_of_chat_create_rooms_open_topics_and_names_are_checked(tree):
    refused = post(
        tree.people["lille_member"], "topics/", {"chapter": tree.lille.pk, "name": "Mine", "audience": "subtree"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "forbidden"
    outside = post(
        tree.people["coordinator"], "topics/", {"chapter": tree.roubaix.pk, "name": "X", "audience": "subtree"}
    )
    assert outside.json()["error"]["code"] == "forbidden"
    for data, code in [
        ({"chapter": tree.lille.pk, "name": "   ", "audience": "subtree"}, "bad_name"),
        ({"chapter": tree.lille.pk, "name": "x" * 81, "audience": "subtree"}, "bad_name"),
        ({"chapter": tree.lille.pk, "name": "Ok", "audience": "everyone"}, "bad_audience"),
        ({"chapter": tree.lille.pk, "name": "Ok", "audience": "invited", "people": ["abc"]}, "bad_fields"),
        ({"chapter": tree.lille.pk, "name": "Ok", "audience": "invited", "people": {"a": 1}}, "bad_fields"),
        ({"chapter": "nope", "name": "Ok", "audience": "subtree"}, "bad_fields"),
        ({"chapter": 10**30, "name": "Ok", "audience": "subtree"}, "not_found"),
    ]:
        response = post(tree.people["coordinator"], "topics/", data)
        assert response.status_code in (400, 404)
        assert response.json()["error"]["code"] == code, data
    with schema_context("alpha"):
        assert not Room.objects.filter(kind="topic").exists()


def test_an_invitation_only_topic_is_read_by_its_people_only(tree):
    with schema_context("alpha"):
        member = tree.people["lille_member"].user
    topic = open_topic(tree, audience="invited", people=[member.pk])
    assert "Tractage marché" in rooms_of(tree.people["lille_member"])
    assert "Tractage marché" not in rooms_of(tree.people["parent_coordinator"]), "not open to the chapter"
    assert post(tree.people["parent_coordinator"], f"rooms/{topic['id']}/messages/", {"body": "x"}).status_code == 404

    # The creator invites someone their directory shows; not someone it hides.
    with schema_context("alpha"):
        roubaix = tree.people["other_chapter_member"].user
    hidden = post(tree.people["coordinator"], f"rooms/{topic['id']}/invite/", {"people": [roubaix.pk]})
    assert hidden.json()["error"]["code"] == "not_reachable"
    with schema_context("alpha"):
        User.objects.filter(pk=roubaix.pk).update(visibility=User.Visibility.ORGANISATION)
    added = post(tree.people["coordinator"], f"rooms/{topic['id']}/invite/", {"people": [roubaix.pk]})
    assert added.json()["added"] == [{"id": roubaix.pk, "name": "Other_Chapter_Member"}]
    assert "Tractage marché" in rooms_of(tree.people["other_chapter_member"])
    # Members cannot invite; people leave.
    assert post(tree.people["lille_member"], f"rooms/{topic['id']}/invite/", {"people": []}).json()["error"][
        "code"
    ] == ("forbidden")
    assert post(tree.people["lille_member"], f"rooms/{topic['id']}/leave/").status_code == 200
    assert "Tractage marché" not in rooms_of(tree.people["lille_member"])


def test_a_chapter_room_cannot_be_left(tree):
    room = chapter_room(tree)
    response = post(tree.people["lille_member"], f"rooms/{room.pk}/leave/")
    assert response.json()["error"]["code"] == "cannot_leave"


# Direct conversations ------------------------------------------------------------------------------


def test_direct_conversation_between_members_who_see_each_other(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        member = tree.people["lille_member"].user
    opened = post(tree.people["lille_member"], "direct/", {"people": [coordinator.pk]})
    assert opened.status_code == 200
    room = opened.json()["room"]
    assert room["kind"] == "direct"
    assert room["name"] == "Coordinator"
    again = post(tree.people["coordinator"], "direct/", {"people": [member.pk]}).json()["room"]
    assert again["id"] == room["id"], "the same two people find the same conversation"
    assert again["name"] == "Lille_Member"

    post(tree.people["lille_member"], f"rooms/{room['id']}/messages/", {"body": "Salut"})
    history = tree.people["coordinator"].client().get(f"/app/chat/api/rooms/{room['id']}/messages/").json()
    assert [m["html"] for m in history["messages"]] == ["<p>Salut</p>"]
    # Nobody else reads it, not even a coordinator above them.
    for persona in ["parent_coordinator", "organiser", "other_chapter_member"]:
        response = tree.people[persona].client().get(f"/app/chat/api/rooms/{room['id']}/messages/")
        assert response.status_code == 404, persona


def test_direct_conversation_respects_directory_privacy(tree):
    with schema_context("alpha"):
        roubaix = tree.people["other_chapter_member"].user
        hidden = tree.person("hidden", member_of=tree.lille)
        User.objects.filter(pk=hidden.pk).update(visibility=User.Visibility.NOBODY)
    for target in [roubaix, hidden]:
        response = post(tree.people["lille_member"], "direct/", {"people": [target.pk]})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "not_reachable"
    # Their coordinator sees them whatever they chose, so may write to them.
    assert post(tree.people["coordinator"], "direct/", {"people": [hidden.pk]}).status_code == 200
    assert post(tree.people["lille_member"], "direct/", {"people": []}).json()["error"]["code"] == "no_people"
    assert post(tree.people["lille_member"], "direct/", {"people": list(range(1, 60))}).json()["error"]["code"] == (
        "too_many_people"
    )
    with schema_context("alpha"):
        assert Room.objects.filter(kind="direct").count() == 1


def test_someone_outside_every_chapter_cannot_start_conversations(tree):
    with schema_context("alpha"):
        tree.person("loner")
        target = tree.people["coordinator"].user
    response = post(tree.people["loner"], "direct/", {"people": [target.pk]})
    assert response.json()["error"]["code"] == "forbidden"


def test_group_conversation_is_named_after_the_others(tree):
    with schema_context("alpha"):
        ids = [tree.people[p].user.pk for p in ["coordinator", "lille_member"]]
    room = post(tree.people["organiser"], "direct/", {"people": ids}).json()["room"]
    assert room["name"] == "Coordinator, Lille_Member"
    assert (
        rooms_of(tree.people["lille_member"])[f"{tree.people['organiser'].user.full_name}, Coordinator"]["id"]
        == (room["id"])
    )


# Mentions ------------------------------------------------------------------------------------------


def test_a_mention_is_recorded_highlighted_and_mailed_once(tree, django_capture_on_commit_callbacks):
    room = chapter_room(tree)
    with schema_context("alpha"):
        member = tree.people["lille_member"].user
        outsider = tree.people["other_chapter_member"].user
    with django_capture_on_commit_callbacks(execute=True):
        sent = post(
            tree.people["coordinator"],
            f"rooms/{room.pk}/messages/",
            {"body": "@Lille_Member et @Other_Chapter_Member, venez"},
        )
    message = sent.json()["message"]
    assert message["mentions"] == [member.pk], "someone who cannot read the room is not mentioned"
    assert '<span class="mention">@Lille_Member</span>' in message["html"]
    assert "@Other_Chapter_Member" in message["html"]
    assert message["html"].count("mention") == 1
    assert rooms_of(tree.people["lille_member"])["Lille"]["mentions"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        post(tree.people["coordinator"], f"rooms/{room.pk}/messages/", {"body": "Encore toi @Lille_Member"})
    run_tasks()
    assert [m.to for m in mail.outbox] == [[member.email]], "one mail per room every quarter of an hour"
    assert "Coordinator mentioned you in Lille" in mail.outbox[0].subject
    assert re.search(rf"http://alpha\.localhost\S*/app/chat/\?room={room.pk}", mail.outbox[0].body)
    assert outsider.email not in str([m.to for m in mail.outbox])

    # Reading the room clears the mention badge.
    with schema_context("alpha"):
        last = Message.objects.filter(room=room).latest("pk").pk
    post(tree.people["lille_member"], f"rooms/{room.pk}/read/", {"message": last})
    assert rooms_of(tree.people["lille_member"])["Lille"]["mentions"] == 0


def test_the_longest_name_wins_and_code_is_not_highlighted(tree):
    room = chapter_room(tree)
    with schema_context("alpha"):
        anne = tree.person("anne", member_of=tree.lille)
        anne_marie = tree.person("anne marie", member_of=tree.lille)
    message = post(
        tree.people["coordinator"], f"rooms/{room.pk}/messages/", {"body": "@Anne Marie merci, `@Anne` non"}
    ).json()["message"]
    assert message["mentions"] == [anne_marie.pk], "Anne is named only inside code"
    assert anne.pk not in message["mentions"]
    assert "<code>@Anne</code>" in message["html"]


def test_editing_notifies_only_people_newly_mentioned(tree):
    room = chapter_room(tree)
    coordinator = tree.people["coordinator"]
    message = post(coordinator, f"rooms/{room.pk}/messages/", {"body": "Bonjour @Lille_Member"}).json()["message"]
    with schema_context("alpha"):
        tree.person("zoe", member_of=tree.lille)
    post(coordinator, f"messages/{message['id']}/edit/", {"body": "Bonjour @Lille_Member et @Zoe"})
    with schema_context("alpha"):
        assert sorted(Mention.objects.filter(message_id=message["id"]).values_list("user__full_name", flat=True)) == [
            "Lille_Member",
            "Zoe",
        ]


def test_people_search_for_mentions_only_offers_readers_of_the_room(tree):
    room = chapter_room(tree)
    with schema_context("alpha"):
        User.objects.filter(email__startswith="other_chapter_member").update(visibility=User.Visibility.ORGANISATION)
    client = tree.people["coordinator"].client()
    everyone = client.get("/app/chat/api/people/?q=other").json()["people"]
    assert [p["name"] for p in everyone] == ["Other_Chapter_Member"]
    readers = client.get(f"/app/chat/api/people/?q=other&room={room.pk}").json()["people"]
    assert readers == []
    assert client.get("/app/chat/api/people/?q=").json()["people"] == []


# Mutes and reports -------------------------------------------------------------------------------


def test_a_moderator_mutes_a_member_who_then_cannot_post(tree):
    room = chapter_room(tree)
    with schema_context("alpha"):
        member = tree.people["lille_member"].user
        coordinator = tree.people["coordinator"].user
    assert (
        post(tree.people["lille_member"], f"rooms/{room.pk}/mutes/", {"user": coordinator.pk, "minutes": 60}).json()[
            "error"
        ]["code"]
        == "forbidden"
    )
    bad = post(tree.people["coordinator"], f"rooms/{room.pk}/mutes/", {"user": member.pk, "minutes": 61})
    assert bad.json()["error"]["code"] == "bad_duration"
    muted = post(tree.people["coordinator"], f"rooms/{room.pk}/mutes/", {"user": member.pk, "minutes": 60})
    assert muted.status_code == 200
    refused = post(tree.people["lille_member"], f"rooms/{room.pk}/messages/", {"body": "hello?"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "muted"
    assert rooms_of(tree.people["lille_member"])["Lille"]["muted_until"] == muted.json()["muted_until"]
    with schema_context("alpha"):
        assert not Message.objects.filter(room=room).exists()
    # Another moderator of the chapter cannot be muted.
    with schema_context("alpha"):
        parent = tree.people["parent_coordinator"].user
    assert (
        post(tree.people["coordinator"], f"rooms/{room.pk}/mutes/", {"user": parent.pk, "minutes": 15}).json()["error"][
            "code"
        ]
        == "cannot_mute"
    )

    page = tree.people["coordinator"].client().get("/app/chat/moderation/").content.decode()
    assert "Lille_Member" in page
    assert "People muted now" in page
    with schema_context("alpha"):
        mute = Mute.objects.get(user=member)
    lifted = tree.people["coordinator"].client().post(f"/app/chat/moderation/mutes/{mute.pk}/lift/", follow=True)
    assert "Lille_Member can write again." in lifted.content.decode()
    assert post(tree.people["lille_member"], f"rooms/{room.pk}/messages/", {"body": "merci"}).status_code == 201


def test_reports_reach_the_rooms_moderators_who_resolve_them(tree):
    room = chapter_room(tree)
    message = post(
        tree.people["lille_member"], f"rooms/{room.pk}/messages/", {"body": "Mon numéro: 0600000000"}
    ).json()["message"]
    assert (
        post(tree.people["lille_member"], f"messages/{message['id']}/report/", {"reason": "spam"}).json()["error"][
            "code"
        ]
        == "own_message"
    )
    assert (
        post(tree.people["coordinator"], f"messages/{message['id']}/report/", {"reason": "rude"}).json()["error"][
            "code"
        ]
        == "bad_reason"
    )
    filed = post(
        tree.people["coordinator"], f"messages/{message['id']}/report/", {"reason": "personal_data", "note": "numéro"}
    )
    assert filed.status_code == 201
    again = post(tree.people["coordinator"], f"messages/{message['id']}/report/", {"reason": "spam"})
    assert again.json()["report"] == filed.json()["report"], "a second report by the same person changes nothing"
    assert (
        post(tree.people["other_chapter_member"], f"messages/{message['id']}/report/", {"reason": "spam"}).status_code
        == 404
    )

    # The author edits the message afterwards: moderators still see what was reported.
    post(tree.people["lille_member"], f"messages/{message['id']}/edit/", {"body": "rien"})
    queue = tree.people["parent_coordinator"].client().get("/app/chat/moderation/").content.decode()
    assert "Mon numéro: 0600000000" in queue
    assert "Its author has edited the message since." in queue
    sibling = tree.people["sibling_coordinator"].client().get("/app/chat/moderation/").content.decode()
    assert "0600000000" not in sibling, "moderators of another chapter do not see it"
    assert tree.people["lille_member"].client().get("/app/chat/moderation/").status_code == 404

    with schema_context("alpha"):
        report = Report.objects.get()
    resolved = (
        tree.people["parent_coordinator"]
        .client()
        .post(
            f"/app/chat/moderation/reports/{report.pk}/",
            {"outcome": "resolved", "delete_message": "on", "mute_minutes": "1440", "note": "supprimé"},
            follow=True,
        )
    )
    assert "The report was handled." in resolved.content.decode()
    with schema_context("alpha"):
        report.refresh_from_db()
        assert (report.status, report.handled_by.email) == ("resolved", "parent_coordinator@alpha.example")
        assert Message.objects.get(pk=message["id"]).deleted is not None
        assert Mute.objects.get(user__email="lille_member@alpha.example").room == room
    twice = (
        tree.people["coordinator"]
        .client()
        .post(f"/app/chat/moderation/reports/{report.pk}/", {"outcome": "dismissed"}, follow=True)
    )
    assert "Someone handled this report already." in twice.content.decode()
    handled = tree.people["coordinator"].client().get("/app/chat/moderation/?show=handled").content.decode()
    assert "supprimé" in handled
    # A sibling coordinator cannot act on it, and gets the same answer as for a report that does not exist.
    assert (
        tree.people["sibling_coordinator"]
        .client()
        .post(f"/app/chat/moderation/reports/{report.pk}/", {"outcome": "dismissed"})
        .status_code
        == 404
    )


def test_reports_on_direct_conversations_go_to_national_moderators(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
    room = post(tree.people["lille_member"], "direct/", {"people": [coordinator.pk]}).json()["room"]
    message = post(tree.people["lille_member"], f"rooms/{room['id']}/messages/", {"body": "insulte"}).json()["message"]
    post(tree.people["coordinator"], f"messages/{message['id']}/report/", {"reason": "harassment"})
    assert "insulte" in tree.people["organiser"].client().get("/app/chat/moderation/").content.decode()
    assert "insulte" not in tree.people["parent_coordinator"].client().get("/app/chat/moderation/").content.decode()


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("topics/", []),
        ("direct/", {"people": "1"}),
        ("direct/", {"people": [None]}),
        ("rooms/{room}/mutes/", {"user": "x", "minutes": 15}),
        ("rooms/{room}/mutes/", {"user": 10**30, "minutes": 15}),
        ("messages/999999999/report/", {"reason": "spam"}),
        ("rooms/{room}/invite/", {"people": ["1"]}),
    ],
)
def test_malformed_requests_get_a_json_error_and_change_nothing(tree, path, data):
    room = chapter_room(tree)
    response = post(tree.people["coordinator"], path.format(room=room.pk), data)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] in {"bad_fields", "not_found", "forbidden"}
    with schema_context("alpha"):
        assert not Mute.objects.exists()
        assert not Report.objects.exists()
        assert not RoomMember.objects.exists()


# Personal data ---------------------------------------------------------------------------------------


def test_chat_messages_are_in_the_download_and_erasure_unsigns_them_everywhere(tree):
    from chapters import services as chapter_services

    room = chapter_room(tree)
    member = tree.people["lille_member"]
    post(member, f"rooms/{room.pk}/messages/", {"body": "Mon message à moi"})
    post(tree.people["coordinator"], f"rooms/{room.pk}/messages/", {"body": "Merci @Lille_Member"})
    download = member.client().get("/app/profile/my-data.json").json()
    assert [m["text"] for m in download["chat"]["messages"]] == ["Mon message à moi"]
    assert download["chat"]["messages"][0]["room"] == "Lille"

    with schema_context("alpha"):
        chapter_services.account_erase(user=User.objects.get(pk=member.user.pk))
        assert not Mention.objects.filter(user=member.user).exists()
    history = tree.people["coordinator"].client().get(f"/app/chat/api/rooms/{room.pk}/messages/").json()["messages"]
    assert [(m["author"]["name"], m["html"]) for m in history] == [
        ("Coordinator", "<p>Merci @Lille_Member</p>"),  # the coordinator's words; no mention left
        ("Former member", "<p>Mon message à moi</p>"),
    ]
    events = tree.people["coordinator"].client().get("/app/chat/api/events/?after=0").json()["events"]
    assert "Lille_Member" not in str([e["message"]["author"] for e in events])


def test_another_organisations_member_reaches_nothing_of_alphas_chat(tree, other_tenant_user):
    """Beta's member, with alpha's ids, on beta's host and with beta's session on alpha's host."""
    room = chapter_room(tree)
    message = post(tree.people["lille_member"], f"rooms/{room.pk}/messages/", {"body": "Secret d'alpha"}).json()[
        "message"
    ]
    post(tree.people["coordinator"], f"messages/{message['id']}/report/", {"reason": "spam"})
    beta = other_tenant_user.client()
    with schema_context("alpha"):
        report = Report.objects.get()
        member = tree.people["lille_member"].user
    probes = [
        beta.get(f"/app/chat/api/rooms/{room.pk}/presence/"),
        beta.get(f"/app/chat/api/people/?q=lille&room={room.pk}"),
        beta.get("/app/chat/api/people/?q=lille"),
        beta.post(
            f"/app/chat/api/messages/{message['id']}/report/", {"reason": "spam"}, content_type="application/json"
        ),
        beta.post(
            f"/app/chat/api/rooms/{room.pk}/mutes/", {"user": member.pk, "minutes": 15}, content_type="application/json"
        ),
        beta.post(f"/app/chat/api/rooms/{room.pk}/invite/", {"people": [member.pk]}, content_type="application/json"),
        beta.post("/app/chat/api/direct/", {"people": [member.pk]}, content_type="application/json"),
        beta.get("/app/chat/moderation/"),
        beta.post(f"/app/chat/moderation/reports/{report.pk}/", {"outcome": "dismissed"}),
    ]
    for response in probes:
        assert response.status_code < 500
        assert b"Secret d'alpha" not in response.content
        assert b"Lille_Member" not in response.content
    # Beta's session means nothing on alpha's host.
    stolen = other_tenant_user.client()
    stolen.defaults["HTTP_HOST"] = "alpha.localhost"
    assert stolen.get(f"/app/chat/api/rooms/{room.pk}/presence/").status_code == 401
    with schema_context("alpha"):
        report.refresh_from_db()
        assert report.status == "open"
        assert not Mute.objects.exists()
        assert not Room.objects.filter(kind="direct").exists()


def test_a_moderator_deleting_someone_elses_message_is_audited_an_author_deleting_their_own_is_not(tree):
    from chapters.models import AuditEntry

    room = chapter_room(tree)
    own = post(tree.people["lille_member"], f"rooms/{room.pk}/messages/", {"body": "oups"}).json()["message"]
    theirs = post(tree.people["lille_member"], f"rooms/{room.pk}/messages/", {"body": "hors sujet"}).json()["message"]
    assert post(tree.people["lille_member"], f"messages/{own['id']}/delete/").status_code == 200
    assert post(tree.people["parent_coordinator"], f"messages/{theirs['id']}/delete/").status_code == 200
    with schema_context("alpha"):
        entries = list(AuditEntry.objects.filter(action="chat.message_deleted"))
        assert [(e.actor.email, e.subject.email, e.chapter.slug, e.details["message"]) for e in entries] == [
            ("parent_coordinator@alpha.example", "lille_member@alpha.example", "lille", theirs["id"])
        ]
