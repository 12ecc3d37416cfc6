"""Hostile frames for every websocket route, through the real ASGI stack (tenant from the Host,
Origin check, session auth), as tests/test_chat_consumer.py and tests/test_cms_counter.py drive it.

The chat socket gets, for each frame type its consumer knows, frames of that type with wrong
shapes and types, missing and extra fields; and for the rest, unknown types, JSON that is not an
object, text that is not JSON, binary frames, frames over the size limit and JSON nested deeper
than the parser goes. The petition counter and a mailing's progress (sockets that only send) get
the same garbage; a phone bank's socket, its one frame type (refresh) with extra fields, and the
garbage.

Every frame must be answered with an error frame carrying one of the consumer's own codes, or be
acted on, or be ignored; never raise (a frame sent afterwards is still answered, on the same
connection); and a refused frame stores nothing. The consumers read and write from worker
threads, which cannot see a test's transaction: the data is committed and removed afterwards."""

import inspect
import json
import re
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings

from accounts.models import User
from calls import consumers as calls_consumers
from calls.models import Campaign as CallCampaign
from chapters.models import Chapter
from chat import consumers as chat_consumers
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Room
from cms import consumers as cms_consumers
from cms.models import Signup
from config.asgi import application
from mailings import consumers as mailing_consumers
from mailings.models import Mailing
from people.models import Segment
from tests.fuzz import strategies
from tests.fuzz.conftest import EXAMPLES, ROUTES, examples, profile
from tests.security.routes import websocket_routes
from tests.test_chat_consumer import EMAILS, connected, rennes_room, run, session_cookie


def codes(module, pattern):
    return set(re.findall(pattern, Path(module.__file__).read_text()))


# The stable codes a chat error frame may carry: the consumer's own and the chat services'.
CHAT_CODES = codes(chat_consumers, r'self\.error\(\s*"(\w+)"') | codes(chat_services, r'ChatError\(\s*"(\w+)"')
COUNTER_CODES = codes(cms_consumers, r'"code":\s*"(\w+)"')
PROGRESS_CODES = codes(mailing_consumers, r'"code":\s*"(\w+)"')
FRAME_KEYS = sorted(codes(chat_consumers, r'content(?:\[|\.get\()"(\w+)"'))
# A phone bank's socket: the codes of its error frames, and the one frame type it acts on.
CALL_CODES = codes(calls_consumers, r'self\.error\(\s*"(\w+)"')
CALL_FRAME_TYPES = codes(calls_consumers, r'content\["type"\] != "(\w+)"')

# Frames the fuzzer found that once crashed a consumer, kept as explicit examples.
CHAT_REGRESSIONS = [
    # json.loads raised RecursionError (not a ValueError): the consumer died.
    ("[" * 5000 + "]" * 5000, None),
    ('{"type": "message.send", "room": ' + "[" * 2000 + "]" * 2000 + ', "body": "x"}', None),
    # int(Infinity) raised OverflowError (not a ValueError): the consumer died.
    ('{"type": "message.send", "room": Infinity, "body": "x"}', None),
    ('{"type": "resume", "last_event_id": 1e400}', None),
]
# (The sweep of strategies.py also sends each frame type a NUL in each key: a NUL in a message body
# reached PostgreSQL, whose DataError the consumer did not expect, and the consumer died.)
COUNTER_REGRESSIONS = [
    # The counter decoded every frame as JSON: text that was not JSON, or a binary frame, killed it.
    ("not json", None),
    (None, b"\x00\xff"),
]


def chat_tables():
    """A digest of every chat table but presence (which follows the connections themselves)."""
    with schema_context("alpha"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'alpha' "
            "AND table_name LIKE 'chat\\_%%' AND table_name <> 'chat_presence'"
        )
        tables = sorted(name for (name,) in cursor.fetchall())
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT '{name}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM alpha.\"{name}\" t"
                for name in tables
            )
        )
        return dict(cursor.fetchall())


def handler_keys(handler):
    """The keys a frame handler reads."""
    return sorted(set(re.findall(r'content(?:\[|\.get\()"(\w+)"', inspect.getsource(handler))))


def raw(text, binary):
    """The ASGI message of a frame (send_to() cannot send an empty one)."""
    return {"type": "websocket.receive", **({"bytes": binary} if binary is not None else {"text": text})}


def frame_is_a_ping(text):
    """Whether the consumer answers this frame with a pong of its own (it is a valid ping)."""
    if text is None or len(text.encode()) > chat_consumers.MAX_FRAME_BYTES:
        return False
    try:
        content = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(content, dict) and content.get("type") == "ping"


class ChatSession:
    """One member's socket, reopened only if a frame ever killed it (so that the failure is the
    frame's, and the next example starts on a live connection)."""

    def __init__(self):
        self.socket = None

    def live(self):
        if self.socket is None:
            self.socket, self.rooms = connected(EMAILS[0])
        return self.socket

    def exchange(self, text, binary):
        """Send the frame, then a ping; every frame that came back before the pong."""
        socket = self.live()
        try:
            run(socket.communicator.send_input(raw(text, binary)))
            socket.send({"type": "ping"})
            frames, pongs = [], 1 + frame_is_a_ping(text)
            while pongs:
                frame = socket.receive(timeout=10)
                if frame == {"type": "pong"}:
                    pongs -= 1
                else:
                    frames.append(frame)
            return frames
        except BaseException:
            self.socket = None  # dead or out of step: the next example opens a new one
            raise

    def close(self):
        if self.socket is not None:
            self.socket.close()
            self.socket = None


@pytest.fixture
def chat_targets(chat_people):
    """A message of each of two members in Rennes' room, for frames that name a message."""
    with schema_context("alpha"):
        chat_selectors.rooms_for(chat_people["a"])  # the chapter's room is made on first need
    room = rennes_room()
    with schema_context("alpha"):
        own = chat_services.message_send(actor=chat_people["a"], room=Room.objects.get(pk=room), body="mine")
        other = chat_services.message_send(actor=chat_people["b"], room=Room.objects.get(pk=room), body="theirs")
    with schema_context("beta"):
        beta_user = User.objects.get(email="member@beta.example").pk
    connection.set_schema_to_public()
    return {
        "room": [room],
        "message": [own.pk, other.pk],
        "body": ["fuzz", "@Chat B hello", "**bold**"],
        "emoji": list(chat_services.EMOJI),
        "last_event_id": [0, 1],
        "client_id": ["c1"],
        "_foreign": [str(beta_user), str(room + 1_000_000)],
    }


def test_the_websocket_routes_are_the_ones_fuzzed_here():
    """A new websocket route must get its own fuzzing here."""
    assert {route.route for route in websocket_routes()} == {
        "/ws/chat/",
        "/ws/site/petition/<page_id>/",
        "/ws/mailings/<mailing_id>/",
        "/ws/calls/<campaign_id>/",
    }
    assert {"bad_json", "bad_frame", "unknown_type", "bad_fields", "frame_too_large", "forbidden"} <= CHAT_CODES
    assert {"bad_json", "bad_frame", "unknown_type", "frame_too_large", "too_soon"} == CALL_CODES
    assert {"refresh"} == CALL_FRAME_TYPES
    assert {"read_only"} == COUNTER_CODES
    assert {"read_only"} == PROGRESS_CODES
    assert {"room", "body", "message", "emoji", "last_event_id"} <= set(FRAME_KEYS)


def test_chat_frames_of_every_type_are_refused_with_a_code_or_acted_on_and_never_crash(chat_targets):
    plausible = {key: value for key, value in chat_targets.items() if not key.startswith("_")}
    real = {str(value) for values in plausible.values() for value in values if isinstance(value, int)}
    foreign = set(chat_targets["_foreign"])
    frame_types = sorted(chat_consumers.ChatConsumer.handlers)
    session = ChatSession()
    seen = {"error": 0, "other": 0}

    def fuzz_type(frame_type):
        """Frames of one type (None: of made-up types, and frames that are no frame at all)."""
        if frame_type is None:
            frames = strategies.websocket_garbage(FRAME_KEYS, plausible, real, foreign)
        else:
            keys = handler_keys(chat_consumers.ChatConsumer.handlers[frame_type])
            frames = strategies.websocket_frames(frame_type, keys, plausible, real, foreign, FRAME_KEYS)

        @hypothesis_settings(profile(), max_examples=examples("frame"))
        @given(frame=frames)
        def fuzz(frame):
            EXAMPLES["websocket"] += 1
            cache.clear()  # the rate limit of messages: each frame is judged on its own
            text, binary = frame
            before = chat_tables()
            answers = session.exchange(text, binary)
            errors = [answer for answer in answers if answer.get("type") == "error"]
            for error in errors:
                assert error.get("code") in CHAT_CODES, error
                assert isinstance(error.get("message"), str), error
            if errors:
                seen["error"] += 1
                assert chat_tables() == before, f"refused with {errors} but stored something"
            else:
                seen["other"] += 1

        if frame_type is None:
            for text, binary in CHAT_REGRESSIONS:
                fuzz = example(frame=(text, binary))(fuzz)
        else:
            for content in strategies.json_sweep(keys, plausible):
                fuzz = example(frame=(strategies.dumps({**content, "type": frame_type}), None))(fuzz)
        ROUTES["websocket"].add(f"/ws/chat/ {frame_type or 'other frames'}")
        fuzz()

    try:
        for frame_type in [*frame_types, None]:
            fuzz_type(frame_type)
        assert seen["error"], "no frame was refused"
        assert seen["other"], "no frame was acted on"
        # The connection that took every frame still answers a valid one, and stores it.
        socket = session.live()
        cache.clear()
        socket.send({"type": "message.send", "room": rennes_room(), "body": "after the fuzz", "client_id": "last"})
        assert socket.receive_until("sent")["client_id"] == "last"
    finally:
        session.close()


async def _counter_exchange(communicator, text, binary):
    await communicator.send_input(raw(text, binary))
    await communicator.send_to(text_data="{}")
    return [await communicator.receive_json_from(timeout=10) for _ in range(2)]


def test_the_petition_counter_refuses_every_frame_with_a_code_and_never_crashes(committed_petition, db):
    page = committed_petition
    host = "alpha.localhost"
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    state = {"socket": None}
    signatures = Signup.objects  # read in alpha's schema below

    def socket():
        if state["socket"] is None:
            communicator = WebsocketCommunicator(application, f"/ws/site/petition/{page.pk}/", headers=headers)
            connected, _code = run(communicator.connect(timeout=10))
            assert connected
            assert run(communicator.receive_json_from(timeout=10)) == {"type": "counter", "count": 1}
            state["socket"] = communicator
        return state["socket"]

    frames = strategies.websocket_garbage(["type", "count", "page", "email"], {"page": [page.pk]})

    @hypothesis_settings(profile(), max_examples=examples("frame"))
    @given(frame=frames)
    def fuzz(frame):
        EXAMPLES["websocket"] += 1
        text, binary = frame
        with schema_context("alpha"):
            before = signatures.filter(page=page).count()
        try:
            answers = run(_counter_exchange(socket(), text, binary))
        except BaseException:
            state["socket"] = None
            raise
        assert [answer["code"] for answer in answers] == ["read_only", "read_only"], answers
        assert all(answer["type"] == "error" and answer["code"] in COUNTER_CODES for answer in answers)
        with schema_context("alpha"):
            assert signatures.filter(page=page).count() == before

    for text, binary in COUNTER_REGRESSIONS:
        fuzz = example(frame=(text, binary))(fuzz)
    ROUTES["websocket"].add("/ws/site/petition/<page_id>/ any frame")
    try:
        fuzz()
    finally:
        if state["socket"] is not None:
            run(state["socket"].disconnect())


@pytest.fixture
def committed_mailing(organisations, django_db_blocker):
    with django_db_blocker.unblock(), schema_context("alpha"):
        mailing = Mailing.objects.create(subject="Fuzzed", status="sending")
    yield mailing
    with django_db_blocker.unblock(), schema_context("alpha"):
        Mailing.objects.filter(pk=mailing.pk).delete()


def test_a_mailings_progress_socket_refuses_every_frame_with_a_code_and_never_crashes(
    committed_mailing, django_db_blocker
):
    mailing = committed_mailing
    host = "alpha.localhost"
    with django_db_blocker.unblock():
        cookie = session_cookie("alpha", "founder@alpha.example")
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    state = {"socket": None}

    def socket():
        if state["socket"] is None:
            communicator = WebsocketCommunicator(application, f"/ws/mailings/{mailing.pk}/", headers=headers)
            connected, _code = run(communicator.connect(timeout=10))
            assert connected
            first = run(communicator.receive_json_from(timeout=10))
            assert (first["type"], first["mailing"], first["status"]) == ("progress", mailing.pk, "sending")
            state["socket"] = communicator
        return state["socket"]

    frames = strategies.websocket_garbage(["type", "mailing", "status", "cancel"], {"mailing": [mailing.pk]})

    @hypothesis_settings(profile(), max_examples=examples("frame"))
    @given(frame=frames)
    def fuzz(frame):
        EXAMPLES["websocket"] += 1
        text, binary = frame
        try:
            with django_db_blocker.unblock():  # the consumer reads the database from its own threads
                answers = run(_counter_exchange(socket(), text, binary))
        except BaseException:
            state["socket"] = None
            raise
        assert [answer["code"] for answer in answers] == ["read_only", "read_only"], answers
        with django_db_blocker.unblock(), schema_context("alpha"):
            assert Mailing.objects.get(pk=mailing.pk).status == "sending"

    for text, binary in COUNTER_REGRESSIONS:
        fuzz = example(frame=(text, binary))(fuzz)
    ROUTES["websocket"].add("/ws/mailings/<mailing_id>/ any frame")
    try:
        fuzz()
    finally:
        if state["socket"] is not None:
            with django_db_blocker.unblock():
                run(state["socket"].disconnect())


@pytest.fixture
def committed_bank(organisations, django_db_blocker):
    """An open phone bank of alpha's national chapter, which alpha's founder organises."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        national = Chapter.objects.get(slug="national")
        segment = Segment.objects.create(name="Fuzzed", chapter=national, definition={"all": []})
        bank = CallCampaign.objects.create(chapter=national, title="Fuzzed", segment=segment, status="open")
    yield bank
    with django_db_blocker.unblock(), schema_context("alpha"):
        CallCampaign.objects.filter(pk=bank.pk).delete()
        segment.delete()


def calls_tables():
    """A digest of every table of phone banks."""
    with schema_context("alpha"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'alpha' "
            "AND table_name LIKE 'calls\\_%%'"
        )
        tables = sorted(name for (name,) in cursor.fetchall())
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT '{name}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM alpha.\"{name}\" t"
                for name in tables
            )
        )
        return dict(cursor.fetchall())


def frame_is_a_refresh(text):
    """Whether the consumer acts on this frame (a refresh it may answer with the figures)."""
    if text is None or len(text.encode()) > calls_consumers.MAX_FRAME_BYTES:
        return False
    try:
        content = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(content, dict) and content.get("type") == "refresh"


def test_a_phone_banks_socket_answers_every_frame_with_a_code_or_the_figures_and_never_crashes(
    committed_bank, django_db_blocker
):
    """Refresh frames with any extra keys, and garbage of every kind: each gets one answer, an error
    frame with one of the consumer's codes, or (a refresh, at most every few seconds) the figures;
    the socket stays open and nothing is stored."""
    bank = committed_bank
    host = "alpha.localhost"
    with django_db_blocker.unblock():
        cookie = session_cookie("alpha", "founder@alpha.example")
        before = calls_tables()
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    state = {"socket": None}
    seen = {"stats": 0, "error": 0}

    def socket():
        if state["socket"] is None:
            communicator = WebsocketCommunicator(application, f"/ws/calls/{bank.pk}/", headers=headers)
            connected, _code = run(communicator.connect(timeout=10))
            assert connected
            first = run(communicator.receive_json_from(timeout=10))
            assert (first["type"], first["status"], first["targets"]) == ("stats", "open", 0), first
            state["socket"] = communicator
        return state["socket"]

    async def exchange(communicator, text, binary):
        """The frame's answer, then that of a frame that is no frame ({} has no type)."""
        await communicator.send_input(raw(text, binary))
        await communicator.send_to(text_data="{}")
        return [await communicator.receive_json_from(timeout=10) for _ in range(2)]

    def fuzz_frames(frames, kind):
        @hypothesis_settings(profile(), max_examples=examples("frame"))
        @given(frame=frames)
        def fuzz(frame):
            EXAMPLES["websocket"] += 1
            text, binary = frame
            try:
                with django_db_blocker.unblock():  # the consumer reads the database from its own threads
                    answer, after = run(exchange(socket(), text, binary))
            except BaseException:
                state["socket"] = None
                raise
            assert (after["type"], after["code"]) == ("error", "bad_frame"), after
            if answer["type"] == "stats":
                assert frame_is_a_refresh(text), f"figures for a frame that is no refresh: {answer}"
                assert answer["status"] == "open", answer
                assert "answers" in answer, answer
            else:
                assert answer["type"] == "error", answer
                assert answer["code"] in CALL_CODES, answer
                assert isinstance(answer.get("message"), str), answer
                assert frame_is_a_refresh(text) == (answer["code"] == "too_soon"), (text, answer)
            seen["stats" if answer["type"] == "stats" else "error"] += 1

        fuzz = example(frame=(strategies.dumps({"type": "refresh"}), None))(fuzz)
        if kind == "other frames":
            for text, binary in COUNTER_REGRESSIONS + CHAT_REGRESSIONS:
                fuzz = example(frame=(text, binary))(fuzz)
        ROUTES["websocket"].add(f"/ws/calls/<campaign_id>/ {kind}")
        fuzz()

    plausible = {"campaign": [bank.pk], "type": sorted(CALL_FRAME_TYPES)}
    try:
        fuzz_frames(strategies.websocket_frames("refresh", [], plausible, extra_keys=["campaign", "since"]), "refresh")
        fuzz_frames(strategies.websocket_garbage(["type", "campaign", "since"], plausible), "other frames")
        assert seen["stats"], "no refresh was answered with the figures"
        assert seen["error"], "no frame was refused"
        with django_db_blocker.unblock():
            assert calls_tables() == before, "a frame stored something"
    finally:
        if state["socket"] is not None:
            with django_db_blocker.unblock():
                run(state["socket"].disconnect())
