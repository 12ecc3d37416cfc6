"""The chat websocket, through the real ASGI stack (tenant from Host, Origin check, session auth).

The consumer reads the database from worker threads, which cannot see a test's open transaction:
these tests use committed data in alpha and beta and remove it afterwards.
"""

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Chapter, Membership, Role, RoleAssignment
from chat.models import ChatEvent, Message, Presence, Room
from config.asgi import application
from tests.conftest import PASSWORD

EMAILS = ["chat.a@alpha.example", "chat.b@alpha.example", "chat.mod@alpha.example", "chat.out@alpha.example"]


@pytest.fixture
def chat_people(organisations, django_db_blocker):
    """In alpha: Rennes with two members (a, b) and a moderator; an outsider member of no chapter."""
    with django_db_blocker.unblock():
        with schema_context("alpha"):
            rennes = Chapter.objects.get(slug="national").add_child(name="Rennes", slug="rennes-chat", kind="local")
            people = {}
            for key, email in zip(["a", "b", "mod", "out"], EMAILS, strict=True):
                people[key] = User.objects.create_user(email=email, password=PASSWORD, full_name=f"Chat {key.upper()}")
            for key in ["a", "b"]:
                Membership.objects.create(user=people[key], chapter=rennes, status="active", started=timezone.now())
            RoleAssignment.objects.create(user=people["mod"], role=Role.objects.get(name="Moderator"), chapter=rennes)
        yield people
        with schema_context("alpha"):
            Room.objects.filter(chapter__slug="rennes-chat").delete()
            Room.objects.filter(kind__in=["announcements", "direct"]).delete()
            Membership.objects.filter(chapter__slug="rennes-chat").delete()
            RoleAssignment.objects.filter(chapter__slug="rennes-chat").delete()
            Chapter.objects.filter(slug="rennes-chat").delete()
            User.objects.filter(email__in=EMAILS).delete()
        with schema_context("beta"):
            Room.objects.all().delete()
        DBTaskResult.objects.all().delete()  # mention mails queued by committed messages


def session_cookie(schema, email):
    client = Client()
    with schema_context(schema):
        assert client.login(email=email, password=PASSWORD)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# One event loop for every socket of a test: a communicator's application lives in the loop that
# connected it.
LOOP = asyncio.new_event_loop()


def run(coroutine):
    return LOOP.run_until_complete(coroutine)


class Socket:
    """A websocket client on one organisation's host, driven from synchronous tests."""

    def __init__(self, host, cookie=None, origin=None):
        headers = [(b"host", host.encode()), (b"origin", (origin or f"http://{host}").encode())]
        if cookie:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        self.communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)

    def connect(self):
        return run(self.communicator.connect(timeout=5))

    def send(self, frame):
        text = frame if isinstance(frame, str) else json.dumps(frame)
        run(self.communicator.send_to(text_data=text))

    def receive(self, timeout=3):
        return json.loads(run(self.communicator.receive_from(timeout=timeout)))

    def receive_until(self, frame_type, timeout=3):
        while True:
            frame = self.receive(timeout)
            if frame["type"] == frame_type:
                return frame

    def nothing_more(self):
        return run(self.communicator.receive_nothing(timeout=0.3))

    def close(self):
        run(self.communicator.disconnect())


def connected(email, schema="alpha"):
    socket = Socket(f"{schema}.localhost", session_cookie(schema, email))
    accepted, _code = socket.connect()
    assert accepted
    hello = socket.receive()
    assert hello["type"] == "hello"
    return socket, hello["rooms"]


def rennes_room():
    with schema_context("alpha"):
        return Room.objects.get(chapter__slug="rennes-chat").pk


def test_anonymous_socket_is_refused_with_a_close_code(chat_people):
    accepted, code = Socket("alpha.localhost").connect()
    assert (accepted, code) == (False, 4401)


def test_socket_on_an_unknown_host_is_refused(chat_people):
    accepted, code = Socket("nobody.localhost", origin="http://nobody.localhost").connect()
    assert accepted is False
    assert code == 4404


def test_socket_from_a_foreign_origin_is_refused(chat_people):
    socket = Socket("alpha.localhost", session_cookie("alpha", EMAILS[0]), origin="http://evil.example")
    accepted, _code = socket.connect()
    assert accepted is False


def test_members_see_their_chapter_room_and_outsiders_do_not(chat_people):
    member, member_rooms = connected(EMAILS[0])
    outsider, outsider_rooms = connected(EMAILS[3])
    assert rennes_room() in member_rooms
    assert rennes_room() not in outsider_rooms
    assert len(outsider_rooms) == 1, "the organisation's announcements only"
    member.close()
    outsider.close()


def test_a_message_reaches_the_other_members_live_and_is_stored(chat_people):
    a, _rooms = connected(EMAILS[0])
    b, _rooms = connected(EMAILS[1])
    outsider, _rooms = connected(EMAILS[3])
    room = rennes_room()
    a.send({"type": "message.send", "room": room, "body": "Salut **tout le monde**", "client_id": "c1"})
    assert a.receive_until("sent")["client_id"] == "c1"
    frame = b.receive_until("message.new")
    assert frame["room"] == room
    assert frame["message"]["html"] == "<p>Salut <strong>tout le monde</strong></p>"
    assert frame["message"]["author"]["name"] == "Chat A"
    assert outsider.nothing_more()
    with schema_context("alpha"):
        assert Message.objects.get(room_id=room).body == "Salut **tout le monde**"
    for socket in (a, b, outsider):
        socket.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ({"type": "teleport"}, "unknown_type"),
        ({"type": "message.send", "room": "x", "body": "hi"}, "bad_fields"),
        ({"type": "message.send", "body": "hi"}, "bad_fields"),
        ({"type": "message.send", "room": 1, "body": {"html": "<b>"}}, "bad_fields"),
        ({"type": "message.send", "room": 99999999, "body": "hi"}, "not_found"),
        ({"type": "message.send", "room": "ROOM", "body": "   "}, "empty"),
        ({"type": "message.send", "room": "ROOM", "body": "x" * 4001}, "too_long"),
        ({"type": "message.edit", "message": 99999999, "body": "x"}, "not_found"),
        ("x" * 20_000, "frame_too_large"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(chat_people, frame, code):
    socket, _rooms = connected(EMAILS[0])
    if isinstance(frame, dict) and frame.get("room") == "ROOM":
        frame = {**frame, "room": rennes_room()}
    socket.send(frame)
    error = socket.receive_until("error")
    assert error["code"] == code
    socket.send({"type": "message.send", "room": rennes_room(), "body": "still here"})
    assert socket.receive_until("sent")["message"] > 0
    with schema_context("alpha"):
        assert list(Message.objects.filter(room_id=rennes_room()).values_list("body", flat=True)) == ["still here"]
    socket.close()


def test_sending_too_fast_is_refused_without_storing(chat_people):
    socket, _rooms = connected(EMAILS[0])
    room = rennes_room()
    for number in range(11):
        socket.send({"type": "message.send", "room": room, "body": f"m{number}"})
    frames = [socket.receive() for _ in range(10 * 2 + 1)]  # ten "sent" + "message.new", one error
    errors = [frame for frame in frames if frame["type"] == "error"]
    assert [error["code"] for error in errors] == ["rate_limited"]
    with schema_context("alpha"):
        assert Message.objects.filter(room_id=room).count() == 10
    socket.close()


def test_only_the_author_edits_and_a_moderator_may_delete(chat_people):
    a, _rooms = connected(EMAILS[0])
    b, _rooms = connected(EMAILS[1])
    moderator, _rooms = connected(EMAILS[2])
    a.send({"type": "message.send", "room": rennes_room(), "body": "first"})
    message_id = a.receive_until("sent")["message"]
    b.send({"type": "message.edit", "message": message_id, "body": "hijack"})
    assert b.receive_until("error")["code"] == "forbidden"
    a.send({"type": "message.edit", "message": message_id, "body": "first, edited"})
    edited = b.receive_until("message.edited")
    assert edited["message"]["html"] == "<p>first, edited</p>"
    moderator.send({"type": "message.delete", "message": message_id})
    deleted = a.receive_until("message.deleted")
    assert deleted["message"]["deleted"] is True
    assert deleted["message"]["html"] == ""
    with schema_context("alpha"):
        assert Message.objects.get(pk=message_id).body == ""
    for socket in (a, b, moderator):
        socket.close()


def test_a_reconnecting_client_gets_exactly_what_it_missed_in_order(chat_people):
    a, _rooms = connected(EMAILS[0])
    room = rennes_room()
    a.send({"type": "message.send", "room": room, "body": "before"})
    seen = a.receive_until("message.new")["event_id"]
    a.close()

    b, _rooms = connected(EMAILS[1])
    for body in ["missed 1", "missed 2"]:
        b.send({"type": "message.send", "room": room, "body": body})
        b.receive_until("sent")
    b.close()

    again, _rooms = connected(EMAILS[0])
    again.send({"type": "resume", "last_event_id": seen})
    replayed = [again.receive(), again.receive()]
    assert [frame["message"]["html"] for frame in replayed] == ["<p>missed 1</p>", "<p>missed 2</p>"]
    assert replayed[0]["event_id"] < replayed[1]["event_id"]
    resumed = again.receive()
    assert resumed == {"type": "resumed", "last_event_id": replayed[1]["event_id"]}
    again.send({"type": "resume", "last_event_id": seen})
    assert again.receive() == {"type": "resumed", "last_event_id": replayed[1]["event_id"]}, "no duplicates"
    again.close()


def test_a_socket_of_another_organisation_never_sees_alphas_events(chat_people):
    a, _rooms = connected(EMAILS[0])
    beta, _beta_rooms = connected("member@beta.example", schema="beta")
    room = rennes_room()
    beta.send({"type": "message.send", "room": room, "body": "from beta"})
    error_or_sent = beta.receive()
    a.send({"type": "message.send", "room": room, "body": "alpha only"})
    a.receive_until("sent")
    assert beta.nothing_more()
    with schema_context("alpha"):
        assert list(Message.objects.filter(room_id=room).values_list("body", flat=True)) == ["alpha only"]
    if error_or_sent["type"] == "sent":
        # The same id named a room of beta's own: the message went there, not to alpha.
        with schema_context("beta"):
            assert Message.objects.filter(body="from beta").exists()
    a.close()
    beta.close()


def test_events_are_numbered_in_the_database(chat_people):
    a, _rooms = connected(EMAILS[0])
    a.send({"type": "message.send", "room": rennes_room(), "body": "logged"})
    frame = a.receive_until("message.new")
    with schema_context("alpha"):
        event = ChatEvent.objects.get(pk=frame["event_id"])
    assert (event.kind, event.room_id) == ("message.new", rennes_room())
    a.close()


def test_a_member_removed_from_a_chapter_stops_receiving_its_room_at_once(chat_people):
    from chapters import services as chapter_services

    b, b_rooms = connected(EMAILS[1])
    a, _rooms = connected(EMAILS[0])
    room = rennes_room()
    assert room in b_rooms
    with schema_context("alpha"):
        organiser = User.objects.get(email="founder@alpha.example")
        membership = Membership.objects.get(user__email=EMAILS[1], chapter__slug="rennes-chat")
        chapter_services.membership_remove(actor=organiser, membership=membership, reason="moved away")
    assert room not in b.receive_until("rooms")["rooms"]
    a.send({"type": "message.send", "room": room, "body": "after removal"})
    a.receive_until("sent")
    assert b.nothing_more()
    b.send({"type": "message.send", "room": room, "body": "still here?"})
    assert b.receive_until("error")["code"] == "not_found"
    a.close()
    b.close()


# Presence, typing, mentions, mutes, new rooms ------------------------------------------------------


def test_watching_a_room_lists_who_is_online_then_follows_arrivals_typing_and_departures(chat_people):
    a, _rooms = connected(EMAILS[0])
    room = rennes_room()
    a.send({"type": "watch", "room": room})
    listed = a.receive_until("presence.list")
    assert listed["online"] == [{"id": listed["online"][0]["id"], "name": "Chat A"}]

    b, _rooms = connected(EMAILS[1])
    arrived = a.receive_until("presence")
    assert (arrived["user"]["name"], arrived["online"]) == ("Chat B", True)
    b.send({"type": "watch", "room": room})
    assert [p["name"] for p in b.receive_until("presence.list")["online"]] == ["Chat A", "Chat B"]

    b.send({"type": "typing", "room": room})
    typing = a.receive_until("typing")
    assert typing["user"]["name"] == "Chat B"
    b.send({"type": "typing", "room": room})  # within a second: dropped
    assert a.nothing_more()

    # The outsider is online too, but not in Rennes' room: nobody there hears of them.
    outsider, _rooms = connected(EMAILS[3])
    assert a.nothing_more()
    outsider.send({"type": "watch", "room": room})
    assert outsider.receive_until("error")["code"] == "not_found"
    outsider.send({"type": "typing", "room": room})
    assert outsider.receive_until("error")["code"] == "not_found"
    assert a.nothing_more()

    b.close()
    left = a.receive_until("presence")
    assert (left["user"]["name"], left["online"]) == ("Chat B", False)
    a.send({"type": "ping"})
    assert a.receive_until("pong") == {"type": "pong"}
    a.close()
    outsider.close()
    with schema_context("alpha"):
        assert not Presence.objects.filter(room_id=room).exists(), "closed sockets leave no presence behind"


def test_a_second_tab_does_not_announce_its_owner_twice(chat_people):
    a, _rooms = connected(EMAILS[0])
    room = rennes_room()
    a.send({"type": "watch", "room": room})
    a.receive_until("presence.list")
    b1, _rooms = connected(EMAILS[1])
    assert a.receive_until("presence")["online"] is True
    b2, _rooms = connected(EMAILS[1])
    assert a.nothing_more()
    b1.close()
    assert a.nothing_more(), "B is still online in the other tab"
    b2.close()
    assert a.receive_until("presence")["online"] is False
    a.close()


def test_a_mention_notifies_every_socket_of_the_person_mentioned(chat_people):
    a, _rooms = connected(EMAILS[0])
    b, _rooms = connected(EMAILS[1])
    b_second_tab, _rooms = connected(EMAILS[1])
    room = rennes_room()
    a.send({"type": "message.send", "room": room, "body": "@Chat B tu viens ?"})
    mention = b.receive_until("mention")
    assert mention["room"] == room
    assert mention["by"] == "Chat A"
    new = b.receive_until("message.new")
    assert '<span class="mention">@Chat B</span>' in new["message"]["html"]
    assert new["message"]["id"] == mention["message"]
    assert new["message"]["mentions"] == [chat_people["b"].pk]
    assert b_second_tab.receive_until("mention")["message"] == mention["message"]
    assert a.receive_until("message.new")["message"]["id"] == mention["message"]
    assert a.nothing_more(), "the author is not notified"
    for socket in (a, b, b_second_tab):
        socket.close()


def test_a_muted_member_is_told_at_once_and_their_messages_refused(chat_people):
    from chat import services

    b, _rooms = connected(EMAILS[1])
    room = rennes_room()
    with schema_context("alpha"):
        services.mute_impose(
            actor=User.objects.get(email=EMAILS[2]),
            room=Room.objects.get(pk=room),
            user=User.objects.get(email=EMAILS[1]),
            minutes=15,
        )
    muted = b.receive_until("muted")
    assert muted["room"] == room
    assert muted["until"] is not None
    b.send({"type": "message.send", "room": room, "body": "hello?"})
    assert b.receive_until("error")["code"] == "muted"
    with schema_context("alpha"):
        assert not Message.objects.filter(room_id=room).exists()
    b.close()


def test_a_new_conversation_reaches_the_other_persons_open_socket(chat_people):
    from chat import services

    b, b_rooms = connected(EMAILS[1])
    with schema_context("alpha"):
        room = services.direct_open(
            actor=User.objects.get(email=EMAILS[0]), people=[User.objects.get(email=EMAILS[1]).pk]
        )
    rooms = b.receive_until("rooms")["rooms"]
    assert room.pk in rooms
    assert room.pk not in b_rooms
    a, _rooms = connected(EMAILS[0])
    a.send({"type": "message.send", "room": room.pk, "body": "en privé"})
    assert b.receive_until("message.new")["message"]["html"] == "<p>en privé</p>"
    outsider, outsider_rooms = connected(EMAILS[3])
    assert room.pk not in outsider_rooms
    assert outsider.nothing_more()
    a.close()
    b.close()
    outsider.close()


def test_a_message_written_as_a_conversation_opens_still_reaches_the_other_person(chat_people, monkeypatch):
    """The message is written in the instant between Bruno's socket reading his new rooms and
    joining the new room's group, where no group of his hears it: it comes by catch-up."""
    from chat import events, services

    bruno_socket, _rooms = connected(EMAILS[1])
    with schema_context("alpha"):
        anne, bruno = User.objects.get(email=EMAILS[0]), User.objects.get(email=EMAILS[1])
    enter = events.presence_enter

    def enter_while_anne_writes(*, user, channel_name, room_ids):
        for room_id in room_ids:  # on the consumer's database thread, in alpha's schema
            services.message_send(actor=anne, room=Room.objects.get(pk=room_id), body="dans l'instant")
        return enter(user=user, channel_name=channel_name, room_ids=room_ids)

    monkeypatch.setattr(events, "presence_enter", enter_while_anne_writes)
    with schema_context("alpha"):
        room = services.direct_open(actor=anne, people=[bruno.pk])
    frames = []
    while not frames or frames[-1]["type"] != "rooms":
        frames.append(bruno_socket.receive())
    assert room.pk in frames[-1]["rooms"]
    received = [frame for frame in frames if frame["type"] == "message.new"]
    assert [(frame["room"], frame["message"]["html"]) for frame in received] == [(room.pk, "<p>dans l'instant</p>")]
    assert bruno_socket.nothing_more()
    bruno_socket.close()


def test_presence_and_typing_never_cross_organisations(chat_people):
    a, _rooms = connected(EMAILS[0])
    room = rennes_room()
    beta, _rooms = connected("member@beta.example", schema="beta")
    beta.send({"type": "watch", "room": room})
    frame = beta.receive()
    a.send({"type": "typing", "room": room})
    if frame["type"] == "presence.list":
        # The id named one of beta's own rooms: only beta's people are listed there.
        assert "Chat A" not in [p["name"] for p in frame["online"]]
    else:
        assert frame["code"] == "not_found"
    assert beta.nothing_more()
    a.close()
    beta.close()


def test_hello_says_where_to_follow_from_counting_only_the_persons_rooms(chat_people):
    a, _rooms = connected(EMAILS[0])
    a.send({"type": "message.send", "room": rennes_room(), "body": "in Rennes"})
    last = a.receive_until("message.new")["event_id"]
    again = Socket("alpha.localhost", session_cookie("alpha", EMAILS[1]))
    assert again.connect()[0]
    assert again.receive()["last_event_id"] == last
    stranger = Socket("alpha.localhost", session_cookie("alpha", EMAILS[3]))
    assert stranger.connect()[0]
    assert stranger.receive()["last_event_id"] < last, "Rennes' events do not count for an outsider"
    for socket in (a, again, stranger):
        socket.close()
