"""Two Daphne processes share chat rooms through a real redis-server: a message sent through
one reaches a client connected to the other."""

import asyncio
import json

import websockets
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Chapter, Membership
from chat.models import Room
from tests.conftest import PASSWORD

EMAILS = ["redis.a@alpha.example", "redis.b@alpha.example"]


def cookie(email):
    client = Client()
    with schema_context("alpha"):
        assert client.login(email=email, password=PASSWORD)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def exchange(ports, cookies, room_id):
    headers = [{"Cookie": cookie_value, "Origin": "http://alpha.localhost"} for cookie_value in cookies]
    async with (
        # The URI gives the Host header (the organisation); host= is where the socket connects.
        websockets.connect(
            f"ws://alpha.localhost:{ports[0]}/ws/chat/", additional_headers=headers[0], host="127.0.0.1"
        ) as sender,
        websockets.connect(
            f"ws://alpha.localhost:{ports[1]}/ws/chat/", additional_headers=headers[1], host="127.0.0.1"
        ) as receiver,
    ):
        for socket in (sender, receiver):
            assert json.loads(await socket.recv())["type"] == "hello"
        await sender.send(json.dumps({"type": "message.send", "room": room_id, "body": "across processes"}))
        while True:
            frame = json.loads(await asyncio.wait_for(receiver.recv(), timeout=10))
            if frame["type"] == "message.new":
                return frame


def test_a_message_crosses_from_one_daphne_to_the_other(organisations, two_daphnes, django_db_blocker):
    with django_db_blocker.unblock():
        with schema_context("alpha"):
            brest = Chapter.objects.get(slug="national").add_child(name="Brest", slug="brest-redis", kind="local")
            for email in EMAILS:
                user = User.objects.create_user(email=email, password=PASSWORD, full_name=email.split("@")[0])
                Membership.objects.create(user=user, chapter=brest, status="active", started=timezone.now())
            room = Room.objects.create(kind="chapter", chapter=brest, name="Brest")
        cookies = [cookie(email) for email in EMAILS]
        try:
            frame = asyncio.run(exchange(two_daphnes, cookies, room.pk))
            assert frame["room"] == room.pk
            assert frame["message"]["html"] == "<p>across processes</p>"
        finally:
            with schema_context("alpha"):
                Room.objects.filter(chapter__slug="brest-redis").delete()
                Membership.objects.filter(chapter__slug="brest-redis").delete()
                Chapter.objects.filter(slug="brest-redis").delete()
                User.objects.filter(email__in=EMAILS).delete()
