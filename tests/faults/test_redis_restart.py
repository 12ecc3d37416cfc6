"""Redis, the chat's relay between processes, stopped and started again under connected clients:
each client gets an error frame and the socket closes; it reconnects once Redis is back, resumes
from the last event it saw and receives what was written meanwhile, once and in order."""

import asyncio
import json
import os
import shutil
import uuid

import pytest
import redis
import requests
import websockets
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Chapter, Membership
from chat.models import Message, Room
from tests.conftest import PASSWORD
from tests.faults.servers import RedisServer

ORIGIN = "http://alpha.localhost"
UNAVAILABLE = 4503
TIMEOUT = 15


@pytest.fixture
def redis_server():
    executable = shutil.which("redis-server")
    if executable is None:
        message = "redis-server is not installed: apt-get install redis-server (make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(executable)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def chat_room(private_db):
    """Alice and Bob, members of a new chapter, whose room they both read."""
    suffix = uuid.uuid4().hex[:8]
    with schema_context("alpha"):
        chapter = Chapter.objects.get(slug="national").add_child(name="Quimper", slug=f"quimper-{suffix}", kind="local")
        people = {}
        for name in ["alice", "bob"]:
            people[name] = User.objects.create_user(
                email=f"{name}.{suffix}@alpha.example", password=PASSWORD, full_name=name.title()
            )
            Membership.objects.create(user=people[name], chapter=chapter, status="active", started=timezone.now())
        room = Room.objects.create(kind="chapter", chapter=chapter, name="Quimper")
        cookies = {}
        for name, user in people.items():
            client = Client()
            assert client.login(email=user.email, password=PASSWORD)
            cookies[name] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return room, cookies


class Chat:
    """One person's websocket to Daphne, frame by frame, every wait bounded."""

    def __init__(self, web, cookie):
        self.web, self.cookie = web, cookie

    async def open(self):
        self.socket = await websockets.connect(
            f"ws://alpha.localhost:{self.web.port}/ws/chat/",
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={self.cookie}", "Origin": ORIGIN},
            host="127.0.0.1",
            open_timeout=TIMEOUT,
        )
        return await self.next()

    async def send(self, **frame):
        await self.socket.send(json.dumps(frame))

    async def next(self):
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout=TIMEOUT))

    async def until(self, frame_type):
        """Frames up to the first of this type; returns (that frame, the ones before)."""
        before = []
        while True:
            frame = await self.next()
            if frame["type"] == frame_type:
                return frame, before
            before.append(frame)

    async def close_code(self):
        """The code the server closed the socket with, once it did."""
        try:
            while True:
                await asyncio.wait_for(self.socket.recv(), timeout=TIMEOUT)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def reopen(self):
        """Reconnect until the server says hello again, as the page's script does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            try:
                hello = await self.open()
            except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                hello = None
            if hello and hello["type"] == "hello":
                return hello
            assert loop.time() < deadline, f"no hello after Redis came back, last answer {hello}"
            await asyncio.sleep(0.3)


def post_message(web, cookie, room_id, body):
    """The page's fallback while its socket is down: the message over HTTP."""
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
    headers = {"Host": "alpha.localhost"}
    page = session.get(f"{web.url}/app/chat/", headers=headers, timeout=TIMEOUT)
    assert page.status_code == 200
    return session.post(
        f"{web.url}/app/chat/api/rooms/{room_id}/messages/",
        json={"body": body},
        headers={**headers, "X-CSRFToken": session.cookies["csrftoken"], "Referer": ORIGIN + "/app/chat/"},
        timeout=TIMEOUT,
    )


def failed_sign_in(web):
    session = requests.Session()
    headers = {"Host": "alpha.localhost"}
    session.get(f"{web.url}/accounts/login/", headers=headers, timeout=TIMEOUT)
    return session.post(
        f"{web.url}/accounts/login/",
        data={
            "login": "nobody@alpha.example",
            "password": "wrong",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={**headers, "Referer": ORIGIN + "/accounts/login/"},
        timeout=TIMEOUT,
    )


async def heard_live(sender, listener, room, body):
    """A message the sender sends reaches the listener live; then both close."""
    await sender.send(type="message.send", room=room.pk, body=body)
    live, _ = await listener.until("message.new")
    assert live["message"]["html"] == f"<p>{body}</p>"
    for chat in (sender, listener):
        await chat.socket.close()


def bodies(frames):
    return [frame["message"]["html"] for frame in frames if frame["type"] == "message.new"]


def test_chat_clients_are_told_reconnect_and_catch_up_when_redis_restarts(redis_server, chat_room, processes):
    room, cookies = chat_room
    web = processes.web(REDIS_URL=redis_server.url)

    async def scenario():
        alice, bob = Chat(web, cookies["alice"]), Chat(web, cookies["bob"])
        assert (await alice.open())["type"] == "hello"
        assert (await bob.open())["type"] == "hello"
        await alice.send(type="message.send", room=room.pk, body="before")
        seen, _ = await bob.until("message.new")
        assert seen["message"]["html"] == "<p>before</p>"

        redis_server.stop()
        for chat in (alice, bob):
            error, _ = await chat.until("error")
            assert error["code"] == "unavailable"
            assert await chat.close_code() == UNAVAILABLE

        # While Redis is down: a new socket is told the same, the HTTP fallback still writes.
        newcomer = Chat(web, cookies["bob"])
        refused = await newcomer.open()
        assert (refused["type"], refused["code"]) == ("error", "unavailable")
        assert await newcomer.close_code() == UNAVAILABLE
        posted = await asyncio.to_thread(post_message, web, cookies["alice"], room.pk, "while away")
        assert posted.status_code == 201, posted.text[:300]
        # The cache is Redis too: pages and sign-in (its rate limits) work without it meanwhile.
        campaign = await asyncio.to_thread(
            requests.get, f"{web.url}/", headers={"Host": "alpha.localhost"}, timeout=TIMEOUT
        )
        assert campaign.status_code == 200, campaign.text[:300]
        sign_in = await asyncio.to_thread(failed_sign_in, web)
        assert sign_in.status_code == 200, sign_in.text[:300]
        assert "not correct" in sign_in.text, "the form again, with its error (the rate limit read a miss)"

        redis_server.start()
        for chat in (bob, alice):
            await chat.reopen()
            await chat.send(type="resume", last_event_id=seen["event_id"])
            resumed, missed = await chat.until("resumed")
            assert bodies(missed) == ["<p>while away</p>"]
            assert resumed["last_event_id"] == missed[-1]["event_id"]

        # Live again through the new Redis: the rooms were joined again on reconnection.
        await heard_live(alice, bob, room, "after")

    asyncio.run(scenario())
    with schema_context("alpha"):
        assert list(Message.objects.filter(room=room).order_by("pk").values_list("body", flat=True)) == [
            "before",
            "while away",
            "after",
        ]


def test_a_redis_that_forgot_its_groups_leaves_no_client_deaf(redis_server, chat_room, processes):
    """Redis answers again at once but has forgotten the group memberships (a failover, a quick
    restart), and only one connection broke: the one the process reads its sockets' messages
    through. Every socket of the process is told, not only the one whose read failed."""
    room, cookies = chat_room
    web = processes.web(REDIS_URL=redis_server.url)

    async def scenario():
        alice, bob = Chat(web, cookies["alice"]), Chat(web, cookies["bob"])
        hello = await alice.open()
        await bob.open()
        replaced = redis.Redis(port=redis_server.port)
        replaced.flushall()
        reading = [client["id"] for client in replaced.client_list() if client["cmd"] in ("brpop", "blpop", "bzpopmin")]
        assert reading, replaced.client_list()
        replaced.client_kill_filter(_id=reading[0])
        for chat in (alice, bob):
            error, _ = await chat.until("error")
            assert error["code"] == "unavailable"
            assert await chat.close_code() == UNAVAILABLE
        for chat in (alice, bob):
            await chat.reopen()
            await chat.send(type="resume", last_event_id=hello["last_event_id"])
            await chat.until("resumed")
        await heard_live(alice, bob, room, "heard")

    asyncio.run(scenario())


def test_an_idle_chat_socket_stays_open_while_the_layer_waits_for_messages(redis_server, chat_room, processes):
    """channels-redis waits for a socket's messages with a blocking read of 5 s, again and
    again. redis-py 8 reads with a 5 s socket timeout by default: unless the layer's
    connections wait longer (settings), the idle read times out and the socket is closed."""
    room, cookies = chat_room
    web = processes.web(REDIS_URL=redis_server.url)

    async def scenario():
        alice, bob = Chat(web, cookies["alice"]), Chat(web, cookies["bob"])
        await alice.open()
        await bob.open()
        await asyncio.sleep(7)  # longer than one blocking read
        await alice.send(type="message.send", room=room.pk, body="still there?")
        heard, before = await bob.until("message.new")
        assert before == []
        assert heard["message"]["html"] == "<p>still there?</p>"
        for chat in (alice, bob):
            await chat.socket.close()

    asyncio.run(scenario())
