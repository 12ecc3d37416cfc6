"""The chat over plain HTTP: the same actions as the websocket, with JSON errors."""

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from chat.models import Message, Room


@pytest.fixture
def lille_room(tree):
    client = tree.people["lille_member"].client()
    rooms = client.get("/app/chat/api/rooms/").json()["rooms"]
    with schema_context("alpha"):
        return Room.objects.get(chapter__slug="lille", kind="chapter").pk, rooms


def api(tree, persona):
    return tree.people[persona].client()


def test_member_lists_their_rooms_with_unread_counts(tree, lille_room):
    room, rooms = lille_room
    names = {r["name"]: r for r in rooms}
    assert set(names) == {"Announcements", "Lille"}
    assert names["Lille"]["can_post"] is True
    assert names["Announcements"]["can_post"] is False
    api(tree, "coordinator").post(
        f"/app/chat/api/rooms/{room}/messages/", {"body": "Bonjour"}, content_type="application/json"
    )
    unread = {r["name"]: r["unread"] for r in api(tree, "lille_member").get("/app/chat/api/rooms/").json()["rooms"]}
    assert unread["Lille"] == 1


def test_post_read_history_edit_react_delete(tree, lille_room):
    room, _rooms = lille_room
    member = api(tree, "lille_member")
    created = member.post(f"/app/chat/api/rooms/{room}/messages/", {"body": "*hello*"}, content_type="application/json")
    assert created.status_code == 201
    message = created.json()["message"]
    assert message["html"] == "<p><em>hello</em></p>"
    edited = member.post(
        f"/app/chat/api/messages/{message['id']}/edit/", {"body": "hello!"}, content_type="application/json"
    )
    assert edited.json()["message"]["edited"] is not None
    reacted = api(tree, "coordinator").post(
        f"/app/chat/api/messages/{message['id']}/react/", {"emoji": "👍"}, content_type="application/json"
    )
    assert reacted.json()["message"]["reactions"] == {"👍": 1}
    history = member.get(f"/app/chat/api/rooms/{room}/messages/").json()
    assert [m["html"] for m in history["messages"]] == ["<p>hello!</p>"]
    deleted = member.post(f"/app/chat/api/messages/{message['id']}/delete/")
    assert deleted.json()["message"]["deleted"] is True
    events = member.get("/app/chat/api/events/?after=0").json()["events"]
    assert [event["type"] for event in events] == [
        "message.new",
        "message.edited",
        "message.reactions",
        "message.deleted",
    ]


def test_history_pages_backwards_by_cursor(tree, lille_room):
    room, _rooms = lille_room
    with schema_context("alpha"):
        author = tree.people["lille_member"].user
        Message.objects.bulk_create(Message(room_id=room, author=author, body=f"n{number}") for number in range(60))
    member = api(tree, "lille_member")
    first = member.get(f"/app/chat/api/rooms/{room}/messages/").json()
    assert len(first["messages"]) == 50
    assert first["messages"][0]["html"] == "<p>n59</p>"
    second = member.get(f"/app/chat/api/rooms/{room}/messages/?before={first['before']}").json()
    assert [m["html"] for m in second["messages"]][-1] == "<p>n0</p>"
    assert len(second["messages"]) == 10
    assert second["before"] is None


@pytest.mark.parametrize("persona", ["other_chapter_member", "sibling_coordinator"])
def test_outsiders_of_a_chapter_get_404_for_its_room(tree, lille_room, persona):
    room, _rooms = lille_room
    client = api(tree, persona)
    assert client.get(f"/app/chat/api/rooms/{room}/messages/").json()["error"]["code"] == "not_found"
    response = client.post(f"/app/chat/api/rooms/{room}/messages/", {"body": "x"}, content_type="application/json")
    assert response.status_code == 404
    with schema_context("alpha"):
        assert not Message.objects.filter(room_id=room).exists()


def test_errors_are_json_with_a_stable_code(tree, lille_room):
    room, _rooms = lille_room
    member = api(tree, "lille_member")
    cases = [
        (f"/app/chat/api/rooms/{room}/messages/", {"body": ""}, 400, "empty"),
        (f"/app/chat/api/rooms/{room}/messages/", {"body": "x" * 4001}, 400, "too_long"),
        (f"/app/chat/api/rooms/{room}/messages/", {}, 400, "bad_fields"),
        (f"/app/chat/api/rooms/{room}/messages/", "not json", 400, "bad_fields"),
        (f"/app/chat/api/rooms/{room}/read/", {"message": "x"}, 400, "bad_fields"),
        ("/app/chat/api/messages/99999/edit/", {"body": "x"}, 404, "not_found"),
    ]
    for path, data, status, code in cases:
        response = member.post(path, data, content_type="application/json")
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path
    anonymous = Client(HTTP_HOST="alpha.localhost").get("/app/chat/api/rooms/")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthenticated")


def test_sending_too_fast_over_http_is_refused_with_429(tree, lille_room):
    room, _rooms = lille_room
    member = api(tree, "lille_member")
    statuses = [
        member.post(
            f"/app/chat/api/rooms/{room}/messages/", {"body": f"m{n}"}, content_type="application/json"
        ).status_code
        for n in range(11)
    ]
    assert statuses == [201] * 10 + [429]


def test_the_chat_page_renders_for_members(tree):
    page = api(tree, "lille_member").get("/app/chat/").content.decode()
    assert 'id="chat"' in page
    assert "/static/chat/chat.js" in page


def test_the_room_list_says_which_event_to_follow_from(tree, lille_room):
    room, _rooms = lille_room
    api(tree, "coordinator").post(
        f"/app/chat/api/rooms/{room}/messages/", {"body": "Bonjour"}, content_type="application/json"
    )
    listing = api(tree, "lille_member").get("/app/chat/api/rooms/").json()
    events = api(tree, "lille_member").get("/app/chat/api/events/?after=0").json()["events"]
    assert listing["last_event_id"] == events[-1]["event_id"]
    after = api(tree, "lille_member").get(f"/app/chat/api/events/?after={listing['last_event_id']}").json()
    assert after["events"] == [], "nothing is replayed to a client that starts from the list"
    outsider = api(tree, "other_chapter_member").get("/app/chat/api/rooms/").json()
    assert outsider["last_event_id"] < listing["last_event_id"]
