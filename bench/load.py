"""A mixed load on the production layout (config/serving.py): Granian serving HTTP, a worker per
core, and two Daphne processes serving the websockets, sharing a real Redis (channel layer and
cache), for a fixed time, beside a minimal Django view measured in the same run with the same client.

Everything runs on loopback, on a database of its own (dropped at the end): an organisation of
BENCH_MEMBERS (default 2000) members in a few chapters, a campaign site, a chat room, a shop paying
through the local fake of Stripe. For BENCH_SECONDS (default 30), BENCH_CONCURRENCY (default 12)
HTTP clients, each a thread with its own keep-alive connection and cookies, send one request after
another to Granian, picked at random in this mix:

  minimal view     /bench-minimal/ (routed with RELAIS_BENCH_SITE=1): tenant resolution and the
                   middleware, no database work of its own; the reference
  campaign page    the site's home page and an article, as an anonymous visitor
  member app       the member's home, their chapter's page, the chapter list, the chat's room list,
                   signed in as a member
  directory        a name search in the member directory
  checkout         product page, add to cart, checkout with a card: three requests, timed together;
                   the fake then pays the session and posts Stripe's signed webhook to Granian

Meanwhile BENCH_CHAT_SOCKETS (default 16) members keep a websocket open on the chat, half on each
Daphne process, and send BENCH_CHAT_RATE (default 5) messages per second between them; every
message must reach every socket, across the two processes through Redis.

Errors (a status other than the expected one, a refused chat frame, a message that did not reach a
socket, a traceback in a server's log) must be 0. The queries each view costs are counted afterwards
in this process, with Django's test client against the same organisation.
"""

import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from bench._support import (
    in_fresh_database,
    percentile,
    publish_article,
    report,
    session_keys,
    shop_with_a_shirt,
    start_redis,
)
from shop.stripe_fake import FakeStripe, event, public, sign

DATABASE = "relais_bench_load"
SLUG = "load"
HOST = f"{SLUG}.localhost"
SECRET_KEY = "sk_test_load_0123456789abcdef"
WEBHOOK_SECRET = "whsec_load_0123456789abcdef"
PRODUCT_PAGE = "/shop/p/t-shirt/"
MINIMAL = "/bench-minimal/"
LOG_DIR = Path(__file__).resolve().parent.parent / ".data"
TIMEOUT = 30

# What an HTTP client sends, and how often (weights).
MIX = {"minimal": 20, "campaign": 25, "member": 30, "directory": 15, "checkout": 10}
LABELS = {
    "minimal": "minimal Django view (reference)",
    "campaign": "campaign page",
    "member": "member app page",
    "directory": "directory search",
    "checkout": "checkout (3 requests)",
    "webhook": "Stripe webhook (fake → Granian)",
    "chat": "chat message, to all sockets",
}


def main():
    os.environ["RELAIS_BENCH_SITE"] = "1"  # routes the minimal view, here and in the servers
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per page Wagtail creates
    in_fresh_database(DATABASE, run)


# Set-up -------------------------------------------------------------------------------------------


def prepare(members, sessions):
    """Migrate, provision the organisation and fill it. Returns what the clients need."""
    from django.core.management import call_command
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from chapters import services as chapter_services
    from chapters.models import Chapter, Membership
    from chat.models import Room
    from operations import demo
    from tenants.services import organisation_create

    rng = random.Random(7)  # noqa: S311 - test data, not security
    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, founder = organisation_create(
        name="Load", slug=SLUG, founder_name="Org", founder_email="org@load.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context(SLUG):
        national = Chapter.objects.get(depth=1)
        chapters = []
        for region_number in range(2):
            region = chapter_services.chapter_create(
                actor=founder, parent=national, name=f"Région {region_number}", slug=f"r{region_number}",
                kind="region",
            )  # fmt: skip
            for local_number in range(3):
                chapters.append(
                    chapter_services.chapter_create(
                        actor=founder,
                        parent=Chapter.objects.get(pk=region.pk),
                        name=f"Local {region_number}-{local_number}",
                        slug=f"l{region_number}-{local_number}",
                        kind="local",
                    )  # fmt: skip
                )
        home_chapter = chapters[0]  # the chapter of the signed-in clients, and its chat room

        people = []
        for number in range(members):
            first, last = rng.choice(demo.FIRST_NAMES), rng.choice(demo.LAST_NAMES)
            person = User(
                email=f"m{number}@load.example", full_name=f"{first} {last}", password="!",
                city=rng.choice(["Lille", "Lyon", "Nantes", "Rennes"]),
                skills=rng.sample(demo.SKILLS, rng.randrange(0, 3)),
                visibility=rng.choice(["organisation", "organisation", "chapters", "nobody"]),
            )  # fmt: skip
            person.search_text = person.build_search_text()
            people.append(person)
        people = User.objects.bulk_create(people)
        now = timezone.now()
        Membership.objects.bulk_create(
            Membership(
                user=person,
                status="active",
                is_primary=True,
                started=now,
                chapter=home_chapter if number < sessions else chapters[number % len(chapters)],
            )  # fmt: skip
            for number, person in enumerate(people)
        )
        for number in range(5):
            chapter_services.announcement_post(
                actor=founder, chapter=home_chapter, title=f"Meeting {number}",
                body=f"We meet on **day {number}**: bring leaflets.",
            )  # fmt: skip
        room, _created = Room.objects.get_or_create(kind="chapter", chapter=home_chapter, name=home_chapter.name)

        cookies = session_keys(people[:sessions])
        variant = shop_with_a_shirt(
            founder, stock=100_000, publishable_key="pk_test_load", secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
        )
        article_path = publish_article(
            title="Why we march", slug="why-we-march", intro="An article of the campaign site.", sentences=100
        )
    return {
        "cookies": cookies,
        "room": room.pk,
        "chapter": home_chapter.slug,
        "variant": variant.pk,
        "article": article_path,
        "member_ids": [person.pk for person in people[:sessions]],
    }


def start_web(port, env):
    """HTTP as production serves it (config/serving.py): Granian, a worker per core."""
    from config.serving import web_command

    argv, extra = web_command(port, environ=env)
    return _started("Granian", argv, {**env, **extra}, port, LOG_DIR / "load_web.log")


def start_daphne(port, env, index):
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--verbosity", "0",
            "config.asgi:application"]  # fmt: skip
    return _started("Daphne", argv, env, port, LOG_DIR / f"load_daphne_{index}.log")


def _started(name, argv, env, port, log_path):
    """The server started, once its /healthz answers: (process, log file, log path)."""
    from config.serving import wait_until_up

    log = log_path.open("w")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    if wait_until_up(f"http://127.0.0.1:{port}/healthz", [process], timeout=30):
        return process, log, log_path
    process.kill()
    raise SystemExit(f"{name} did not start; see {log_path}")


# The HTTP clients ---------------------------------------------------------------------------------


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {kind: [] for kind in LABELS}
        self.errors = {kind: [] for kind in LABELS}
        self.requests = 0
        self.checkouts = []  # checkout session ids opened
        self.paid = 0

    def record(self, kind, milliseconds, error=None, requests_sent=1):
        with self.lock:
            self.requests += requests_sent
            if error:
                self.errors[kind].append(error)
            else:
                self.latencies[kind].append(milliseconds)


class Client:
    """One HTTP client: a keep-alive session on the web server, as a member (for the member app) and
    as an anonymous visitor (for the campaign site and the shop)."""

    def __init__(self, index, port, cookie, setup, fake, results, deadline):
        self.base = f"http://127.0.0.1:{port}"
        self.rng = random.Random(index)  # noqa: S311 - a load mix, not security
        self.member = requests.Session()
        self.member.headers["Host"] = HOST
        self.member.cookies.set("sessionid", cookie)
        self.visitor = requests.Session()  # a buyer: the shop keeps the cart in their session
        self.visitor.headers["Host"] = HOST
        self.reader = requests.Session()  # a reader of the campaign site, without a session
        self.reader.headers["Host"] = HOST
        self.index, self.setup, self.fake, self.results, self.deadline = index, setup, fake, results, deadline
        self.member_pages = ["/app/", f"/app/chapters/{setup['chapter']}/", "/app/chapters/", "/app/chat/api/rooms/"]
        self.campaign_pages = ["/", setup["article"]]

    def get(self, session, path, expected=200):
        response = session.get(self.base + path, timeout=TIMEOUT, allow_redirects=False)
        if response.status_code != expected:
            return f"GET {path}: {response.status_code}"
        return None

    def run(self):
        from operations import demo

        kinds, weights = list(MIX), list(MIX.values())
        while time.perf_counter() < self.deadline:
            kind = self.rng.choices(kinds, weights)[0]
            started = time.perf_counter()
            sent = 1
            try:
                if kind == "minimal":
                    error = self.get(self.member, MINIMAL)
                elif kind == "campaign":
                    error = self.get(self.reader, self.rng.choice(self.campaign_pages))
                elif kind == "member":
                    error = self.get(self.member, self.rng.choice(self.member_pages))
                elif kind == "directory":
                    query = self.rng.choice(demo.FIRST_NAMES)[: self.rng.randrange(3, 6)]
                    error = self.get(self.member, f"/app/directory/?q={query}")
                else:
                    sent, (error, session_id) = 3, self.checkout()
            except requests.RequestException as failure:
                error = f"{kind}: {failure!r}"
            self.results.record(kind, (time.perf_counter() - started) * 1000, error, sent)
            if kind == "checkout" and not error:
                self.pay(session_id)

    def checkout(self):
        visitor = self.visitor
        error = self.get(visitor, PRODUCT_PAGE)
        if error:
            return error, None
        token = visitor.cookies.get("csrftoken")
        added = visitor.post(
            self.base + "/shop/cart/add/",
            data={"variant": self.setup["variant"], "quantity": 1, "csrfmiddlewaretoken": token},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        if added.status_code != 302:
            return f"POST /shop/cart/add/: {added.status_code}", None
        number = self.rng.randrange(10**9)
        response = visitor.post(
            self.base + "/shop/checkout/",
            data={
                "csrfmiddlewaretoken": token, "full_name": f"Buyer {number}", "email": f"buyer{number}@load.example",
                "payment": "stripe", "address": f"{number % 200} rue de la Charge\n59000 Lille",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )  # fmt: skip
        pay_url = f"{self.fake.url}/pay/"
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.startswith(pay_url):
            return f"POST /shop/checkout/: {response.status_code} {location[:60]}", None
        session_id = location.removeprefix(pay_url)
        with self.results.lock:
            self.results.checkouts.append(session_id)
        return None, session_id

    def pay(self, session_id):
        """The buyer pays; the fake posts the signed webhook to the web server, as Stripe would (what
        it answered is checked with every delivery at the end)."""
        started = time.perf_counter()
        paid = self.fake.session_pay(session_id) is not None
        with self.results.lock:
            self.results.paid += paid
        self.results.record("webhook", (time.perf_counter() - started) * 1000, None if paid else "session not paid")


# The chat sockets ---------------------------------------------------------------------------------

TOKEN = re.compile(r"load-(\d+)-")


async def chat_load(ports, cookies, room_id, seconds, rate, results):
    """Sockets half on each process; messages sent at `rate` per second by each socket in turn; the
    latency of each delivery, from the moment its message was sent to the moment a socket got it."""
    import websockets

    sent_at, seen, ready = {}, set(), []
    delivered = [0]

    async def reader(index, socket):
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in socket:
                frame = json.loads(raw)
                if frame.get("type") == "hello":
                    ready.append(index)
                elif frame.get("type") == "error":
                    results.record("chat", 0, f"chat error frame: {frame.get('code')} {frame.get('message')}")
                elif frame.get("type") == "message.new":
                    found = TOKEN.search(frame["message"]["html"])
                    if found and (index, found.group(1)) not in seen:
                        seen.add((index, found.group(1)))
                        delivered[0] += 1
                        milliseconds = (time.perf_counter() - sent_at[found.group(1)]) * 1000
                        results.record("chat", milliseconds, requests_sent=0)

    sockets, readers = [], []
    for index, cookie in enumerate(cookies):
        socket = await websockets.connect(
            f"ws://{HOST}:{ports[index % 2]}/ws/chat/",
            additional_headers={"Origin": f"http://{HOST}", "Cookie": f"sessionid={cookie}"},
            host="127.0.0.1",
            open_timeout=TIMEOUT,
            max_queue=None,
        )
        sockets.append(socket)
        readers.append(asyncio.create_task(reader(index, socket)))
    deadline = time.monotonic() + TIMEOUT
    while len(ready) < len(sockets) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    started, number = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        key = str(number)
        sent_at[key] = time.perf_counter()
        frame = {"type": "message.send", "room": room_id, "body": f"load-{key}- on my way", "client_id": key}
        sender = sockets[number % len(sockets)]
        number += 1
        try:
            await sender.send(json.dumps(frame))
        except websockets.ConnectionClosed as closed:
            results.record("chat", 0, f"a socket was closed: {closed}", requests_sent=0)
            break
        await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))
    expected = number * len(sockets)
    grace = time.monotonic() + 10  # what has not arrived 10 s after the last send is lost
    while delivered[0] < expected and time.monotonic() < grace:
        await asyncio.sleep(0.05)
    for socket in sockets:
        await socket.close()
    for task in readers:
        task.cancel()
    missing = expected - delivered[0]
    if missing:
        results.record("chat", 0, f"{missing} of {expected} chat deliveries missing", requests_sent=0)
    return {"messages": number, "sockets": len(sockets), "expected": expected, "delivered": delivered[0]}


# Query counts -------------------------------------------------------------------------------------


def query_counts(setup, fake, member_id):
    """The queries of each view of the mix, counted in this process with Django's test client
    against the same organisation (each view requested once first, as the servers were warm)."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from accounts.models import User

    member, visitor = TestClient(HTTP_HOST=HOST), TestClient(HTTP_HOST=HOST)
    with schema_context(SLUG):
        member.force_login(User.objects.get(pk=member_id), backend="django.contrib.auth.backends.ModelBackend")
    counts = []

    def count(label, send, *args, expect=200, **kwargs):
        send(*args, **kwargs)
        with CaptureQueriesContext(connection) as captured:
            response = send(*args, **kwargs)
        counts.append((label, len(captured), response.status_code == expect))
        return response

    count(f"GET {MINIMAL}", member.get, MINIMAL)
    for path in ["/", setup["article"]]:
        count(f"GET {path}", visitor.get, path)
    for path in ["/app/", f"/app/chapters/{setup['chapter']}/", "/app/chapters/", "/app/chat/api/rooms/"]:
        count(f"GET {path}", member.get, path)
    count("GET /app/directory/?q=mar", member.get, "/app/directory/", {"q": "mar"})
    count(
        "POST /app/chat/api/rooms/<id>/messages/ (the socket frame's HTTP twin)",
        member.post, f"/app/chat/api/rooms/{setup['room']}/messages/", {"body": "counted"}, expect=201,
    )  # fmt: skip
    count(f"GET {PRODUCT_PAGE}", visitor.get, PRODUCT_PAGE)
    count(
        "POST /shop/cart/add/",
        visitor.post,
        "/shop/cart/add/",
        {"variant": setup["variant"], "quantity": 1},
        expect=302,
    )
    address = {"full_name": "Counted", "email": "counted@load.example", "payment": "stripe", "address": "1 rue"}
    with override_settings(STRIPE_API_BASE=fake.url):
        visitor.post("/shop/cart/add/", {"variant": setup["variant"], "quantity": 1})
        with CaptureQueriesContext(connection) as captured:
            response = visitor.post("/shop/checkout/", address)
    counts.append(("POST /shop/checkout/ (card)", len(captured), response.status_code == 302))
    session = fake.sessions[response["Location"].rsplit("/", 1)[-1]]
    session.update(status="complete", payment_status="paid", payment_intent="pi_counted")
    payload = json.dumps(event("checkout.session.completed", public(session)))
    with CaptureQueriesContext(connection) as captured:
        response = visitor.post(
            "/shop/stripe/webhook/", payload, content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(payload, WEBHOOK_SECRET),
        )  # fmt: skip
    counts.append(("POST /shop/stripe/webhook/", len(captured), response.status_code == 200))
    return counts


# The run ------------------------------------------------------------------------------------------


def run():
    from django.db import connections

    from tests.helpers import free_port

    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "12"))
    sockets = int(os.environ.get("BENCH_CHAT_SOCKETS", "16"))
    rate = float(os.environ.get("BENCH_CHAT_RATE", "5"))
    members = int(os.environ.get("BENCH_MEMBERS", "2000"))
    started = time.perf_counter()
    setup = prepare(max(members, concurrency + sockets), concurrency + sockets)
    print(f"database migrated and organisation filled in {time.perf_counter() - started:.1f}s")
    connections.close_all()

    redis_process, redis_url = start_redis()
    fake = FakeStripe().start()
    web_port, ports = free_port(), [free_port(), free_port()]  # ports: the two websocket servers
    fake.add_account(SECRET_KEY, f"http://{HOST}:{web_port}/shop/stripe/webhook/", WEBHOOK_SECRET)
    env = {
        **os.environ, "REDIS_URL": redis_url, "STRIPE_API_BASE": fake.url, "RELAIS_BENCH_SITE": "1",
        "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    daphnes = []
    results = Results()
    try:
        daphnes.append(start_web(web_port, env))
        for index, port in enumerate(ports):
            daphnes.append(start_daphne(port, env, index))
        http_cookies, chat_cookies = setup["cookies"][:concurrency], setup["cookies"][concurrency:]
        # Warm up each process (templates, lazy imports, the page cache) outside the measure.
        warm = Results()
        for index in range(2):
            client = Client(index, web_port, http_cookies[index % len(http_cookies)], setup, fake, warm, 0)
            for path in [MINIMAL, *client.member_pages, "/app/directory/?q=mar"]:
                client.get(client.member, path)
            for path in client.campaign_pages:
                client.get(client.reader, path)
            _error, session_id = client.checkout()
            client.pay(session_id)
        warm_errors = [error for errors in warm.errors.values() for error in errors]
        if warm_errors:
            raise SystemExit(f"the warm-up failed: {warm_errors[:3]}")

        deadline = time.perf_counter() + seconds
        clients = [
            Client(index, web_port, cookie, setup, fake, results, deadline) for index, cookie in enumerate(http_cookies)
        ]
        threads = [threading.Thread(target=client.run) for client in clients]
        chat_result = {}
        chat_thread = threading.Thread(
            target=lambda: chat_result.update(
                asyncio.run(chat_load(ports, chat_cookies, setup["room"], seconds, rate, results))
            )
        )
        load_started = time.perf_counter()
        for thread in [*threads, chat_thread]:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - load_started
        chat_thread.join()
        if not chat_result:
            results.record("chat", 0, "the chat clients failed: see the traceback above", requests_sent=0)
    finally:
        for process, log, _path in daphnes:
            process.terminate()
            process.wait(timeout=20)
            log.close()
        redis_process.terminate()
        redis_process.wait(timeout=10)

    tracebacks = sum(path.read_text().count("Traceback") for _process, _log, path in daphnes)
    results.errors["webhook"] += [f"webhook answered {status}" for _event, status in fake.deliveries if status != 200]
    checks = consistency(results)
    counts = query_counts(setup, fake, setup["member_ids"][0])
    fake.stop()
    summary(results, chat_result, checks, counts, tracebacks, elapsed, concurrency, sockets, rate)


def consistency(results):
    """Every session paid is a paid order, its webhook applied once."""
    from django_tenants.utils import schema_context

    from shop.models import PublicOrder, StripeEvent

    with schema_context(SLUG):
        paid_orders = PublicOrder.objects.filter(status=PublicOrder.Status.PAID).count()
        applied = StripeEvent.objects.filter(outcome="paid").count()
    # The warm-up paid one checkout per process.
    return [
        ("one paid order per session paid", paid_orders == applied == results.paid + 2),
        ("every checkout opened was paid", len(results.checkouts) == results.paid),
    ]


def summary(results, chat, checks, counts, tracebacks, elapsed, concurrency, sockets, rate):
    rows = {}
    print(
        f"\nThe production layout on loopback: Granian (HTTP, a worker per core) and two Daphne processes "
        f"(websockets) sharing one Redis (channel layer and cache), {elapsed:.0f} s, "
        f"{concurrency} HTTP clients, {sockets} chat sockets sending {rate:g} messages/s\n"
    )
    print(f"{'kind':<34}{'count':>8}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for kind, label in LABELS.items():
        latencies, errors = results.latencies[kind], results.errors[kind]
        rows[kind] = {
            "count": len(latencies),
            "per_s": len(latencies) / elapsed,
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "errors": len(errors),
        }
        row = rows[kind]
        print(f"{label:<34}{row['count']:>8}{row['per_s']:>8.1f}{row['p50']:>9.1f}{row['p99']:>9.1f}{row['errors']:>8}")
    errors = sum(row["errors"] for row in rows.values()) + tracebacks
    rate_all = results.requests / elapsed
    print(f"\nHTTP requests: {results.requests} in {elapsed:.1f}s, {rate_all:.0f}/s")
    print(
        f"chat: {chat.get('messages', 0)} messages to {chat.get('sockets', 0)} sockets, "
        f"{chat.get('delivered', 0)} of {chat.get('expected', 0)} deliveries"
    )
    minimal, member = rows["minimal"], rows["member"]
    p50_ratio = member["p50"] / minimal["p50"] if minimal["p50"] else float("nan")
    p99_ratio = member["p99"] / minimal["p99"] if minimal["p99"] else float("nan")
    print(f"member app page / minimal view: p50 {p50_ratio:.1f}x, p99 {p99_ratio:.1f}x")
    print(f"errors: {errors}" + (f" ({tracebacks} tracebacks in .data/load_*.log)" if tracebacks else ""))
    for kind, found in results.errors.items():
        for detail in sorted(set(found))[:3]:
            print(f"  {kind}: {detail}")
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print("\nqueries per view (counted in-process, the view requested once before):")
    for label, queries, ok in counts:
        print(f"  {queries:>3}  {label}{'' if ok else '  (unexpected status)'}")

    report(
        "load",
        figures={
            "requests_per_s": round(rate_all, 1),
            **{f"{kind}_p50_ms": round(row["p50"], 1) for kind, row in rows.items() if kind != "minimal"},
            **{f"{kind}_p99_ms": round(row["p99"], 1) for kind, row in rows.items() if kind != "minimal"},
            "chat_delivered": chat.get("delivered", 0),
            "chat_expected": chat.get("expected", 0),
            "errors": errors,
            "member_vs_minimal_p50": round(p50_ratio, 2),
            "queries": {label.split(" (")[0]: queries for label, queries, _ok in counts},
        },
        reference={
            "minimal_view_p50_ms": round(minimal["p50"], 1),
            "minimal_view_p99_ms": round(minimal["p99"], 1),
            "minimal_view_per_s": round(minimal["per_s"], 1),
        },
        goal="0 errors under the mixed load on two processes; every chat message reaches every socket; "
        "every paid checkout a paid order",
        met=errors == 0 and all(ok for _name, ok in checks) and all(ok for _label, _queries, ok in counts),
    )
