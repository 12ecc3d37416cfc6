"""Chat fan-out: BENCH_CLIENTS (default 1000) websocket clients in one room of one Daphne process,
messages sent at a steady rate, delivery latency measured at every client; the same load on a bare
relay consumer on the same server, in the same run, is the ceiling.

Everything runs on loopback, bounded in count and time: the clients connect in batches, the
senders send BENCH_MESSAGES messages (default 20) at BENCH_RATE per second (default 1), and the
run waits at most 10 s for the last deliveries.
"""

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench._support import in_fresh_database, report, session_keys

DATABASE = "relais_bench_chat"
GOAL_P99_MS = 250.0
GOAL_RATIO = 3.0


def main():
    clients = int(os.environ.get("BENCH_CLIENTS", "1000"))
    in_fresh_database(DATABASE, run, clients)


def prepare(clients):
    """An organisation with one chapter of `clients` members, and a session cookie for each."""
    from django.core.management import call_command
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from chapters.models import Chapter, Membership
    from chat.models import Room
    from tenants import services

    call_command("migrate_schemas", interactive=False, verbosity=0)
    services.organisation_create(
        name="Fan-out", slug="fanout", founder_name="Org", founder_email="org@fanout.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context("fanout"):
        chapter = Chapter.objects.get(depth=1).add_child(name="Salle", slug="salle", kind="local")
        users = User.objects.bulk_create(
            User(email=f"c{number}@fanout.example", full_name=f"Client {number}", password="!")
            for number in range(clients)
        )
        Membership.objects.bulk_create(
            Membership(user=user, chapter=chapter, status="active", started=timezone.now()) for user in users
        )
        room = Room.objects.create(kind="chapter", chapter=chapter, name="Salle")
        cookies = session_keys(users)
    return room.pk, cookies


async def measure(port, path, cookies, make_frame, messages, rate, senders):
    import websockets

    latencies, received, connected = [], 0, []
    done = asyncio.Event()
    expected = messages * len(cookies)

    async def client(cookie):
        nonlocal received
        headers = {"Origin": "http://fanout.localhost"}
        if cookie:
            headers["Cookie"] = f"sessionid={cookie}"
        socket = await websockets.connect(
            f"ws://fanout.localhost:{port}{path}",
            additional_headers=headers,
            host="127.0.0.1",
            max_queue=None,
            open_timeout=60,
        )
        connected.append(socket)
        async for raw in socket:
            frame = json.loads(raw)
            sent_at = frame.get("sent_at") or _sent_at(frame)
            if sent_at is not None:
                latencies.append((time.time() - sent_at) * 1000)
                received += 1
                if received >= expected:
                    done.set()

    tasks = []
    connect_started = time.time()
    deadline = connect_started + 180
    for start in range(0, len(cookies), 25):
        # Connect in batches, each waiting for the last: a login storm is not what is measured.
        tasks += [asyncio.create_task(client(cookie)) for cookie in cookies[start : start + 25]]
        while len(connected) < min(start + 25, len(cookies)) and time.time() < deadline:
            await asyncio.sleep(0.05)
    if len(connected) < len(cookies):
        print(f"  only {len(connected)} of {len(cookies)} clients connected within 180 s")
    print(f"  {len(connected)} clients connected in {time.time() - connect_started:.1f}s")
    await asyncio.sleep(1)
    started = time.time()
    for number in range(messages):
        sender = connected[number % senders]
        await sender.send(make_frame(number))
        await asyncio.sleep(1 / rate)
    with contextlib.suppress(TimeoutError):  # what did not arrive within 10 s counts as lost
        await asyncio.wait_for(done.wait(), timeout=10)
    duration = time.time() - started
    for socket in connected:
        await socket.close()
    for task in tasks:
        task.cancel()
    return latencies, received, expected, duration


def _sent_at(frame):
    """Chat frames carry the send time inside the message text (as the bench wrote it)."""
    if frame.get("type") != "message.new":
        return None
    html = frame["message"]["html"]
    try:
        return float(html.split("t=")[1].split("<")[0])
    except (IndexError, ValueError):
        return None


def summary(label, latencies, received, expected, duration):
    ordered = sorted(latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    rate = received / duration if duration else 0
    print(f"{label:<24}{median:>10.1f}{p99:>10.1f}{rate:>14,.0f}{received:>10}/{expected}")
    return median, p99, rate


def run(clients):
    from django.db import connections

    messages = int(os.environ.get("BENCH_MESSAGES", "20"))
    rate = float(os.environ.get("BENCH_RATE", "1"))
    room_id, cookies = prepare(clients)
    connections.close_all()

    from tests.helpers import free_port

    port = free_port()
    env = {**os.environ, "RELAIS_BENCH_ECHO": "1", "LOG_LEVEL": "WARNING"}
    log = (Path(__file__).resolve().parent.parent / ".data" / "chat_fanout_daphne.log").open("w")
    daphne = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--verbosity",
            "0",
            "config.asgi:application",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        print(f"{clients} clients, {messages} messages at {rate:g}/s, one Daphne process, in-memory channel layer\n")
        print(f"{'consumer':<24}{'median ms':>10}{'p99 ms':>10}{'delivered/s':>14}{'received':>17}")
        bare = asyncio.run(
            measure(port, "/ws/bench-echo/", [None] * clients, lambda n: json.dumps({"sent_at": time.time(), "n": n}),
                    messages, rate, senders=1)
        )  # fmt: skip
        bare_median, bare_p99, bare_rate = summary("bare relay (reference)", *bare)
        chat = asyncio.run(
            measure(port, "/ws/chat/", cookies,
                    lambda n: json.dumps({"type": "message.send", "room": room_id, "body": f"n={n} t={time.time()}"}),
                    messages, rate, senders=20)
        )  # fmt: skip
        chat_median, chat_p99, chat_rate = summary("chat consumer", *chat)
    finally:
        daphne.terminate()
        daphne.wait(timeout=20)
        log.close()
    ratio = chat_p99 / bare_p99 if bare_p99 else float("inf")
    print(f"\np99 ratio chat / bare relay: {ratio:.1f}x")
    report(
        "chat_fanout",
        figures={
            "clients": clients,
            "chat_median_ms": round(chat_median, 1),
            "chat_p99_ms": round(chat_p99, 1),
            "chat_delivered_per_s": round(chat_rate),
            "delivered": chat[1],
            "expected": chat[2],
        },
        reference={
            "bare_median_ms": round(bare_median, 1),
            "bare_p99_ms": round(bare_p99, 1),
            "bare_delivered_per_s": round(bare_rate),
        },
        goal=(
            f"p99 under {GOAL_P99_MS:.0f} ms for {clients} clients on one Daphne, "
            f"within {GOAL_RATIO:g}x of the bare relay"
        ),
        met=bool(chat_p99 < GOAL_P99_MS and ratio <= GOAL_RATIO and chat[1] == chat[2]),
    )
