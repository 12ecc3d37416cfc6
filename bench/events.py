"""Answers racing for an event's places: BENCH_RSVPS (default 2,000) visitors answer a public
event of BENCH_PLACES (default 500) places at once, through its page's form (POST /events/<pk>/,
as a browser sends it), on the production layout (config/serving.py: Granian, a worker per core with
Redis shared between them, without the proxy in front). Every answer must be taken: the first
BENCH_PLACES going, the rest on the waiting list, nobody over the capacity.

Load: wrk (a load generator in C: Python's own limits do not cap the figures), BENCH_CONNECTIONS
(default 64) keep-alive connections, each visitor with a name, an address and a client address of
their own (X-Forwarded-For, as the proxy would give it: TRUSTED_PROXY_COUNT=1), so that the form's
rate limits see 2,000 people. The time is from the first request to the last answer committed.
Beside it, in the same run, the plain event page (GET, never cached) for BENCH_SECONDS (default 8).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench._support import in_fresh_database, report, start_redis

DATABASE = "relais_bench_events"
SLUG = "rsvp"
HOST = f"{SLUG}.localhost"
ROOT = Path(__file__).resolve().parent.parent
STATUSES = Path(__file__).resolve().parent / "wrk_statuses.lua"
RSVPS = int(os.environ.get("BENCH_RSVPS", "2000"))
PLACES = int(os.environ.get("BENCH_PLACES", "500"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
TIME_LIMIT = int(os.environ.get("BENCH_TIME_LIMIT", "300"))  # seconds the answers may take at most

# Each wrk thread sends its share of the answers, each a different visitor; once its share is
# sent, its connections ask for /healthz until the last answer comes back, and the thread stops.
# Answers are told apart from those by their type (an HTML page; /healthz answers JSON).
RSVP_LUA = r"""
local threads, count = {}, 0
function setup(thread)
  thread:set("index", count)
  count = count + 1
  table.insert(threads, thread)
end
function init(args)
  path, host = args[1], args[2]
  total, nthreads = tonumber(args[3]), tonumber(args[4])
  budget = math.floor(total / nthreads) + ((index < total % nthreads) and 1 or 0)
  sent, answered, statuses = 0, 0, {}
  -- wrk calls the first thread's request() once before the run, to check it: not a visitor.
  checking = index == 0
end
function request()
  if checking or sent >= budget then
    checking = false
    return wrk.format("GET", "/healthz", {["Host"] = host})
  end
  local n = index + sent * nthreads
  sent = sent + 1
  local body = "name=Visitor+" .. n .. "&email=visitor" .. n
    .. "%40bench.example&phone=&postcode=59000&guests=0&website=" .. ((n % 3 == 0) and "&wants_news=on" or "")
  local headers = {
    ["Host"] = host, ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256),
  }
  return wrk.format("POST", path, headers, body)
end
function response(status, headers, body)
  local kind = headers["Content-Type"] or headers["content-type"] or ""
  if string.find(kind, "json", 1, true) and status == 200 then return end
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if answered >= budget then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%d": %d', status, n)) end
  io.write("ANSWERS {" .. table.concat(parts, ", ") .. "}\n")
end
"""


def main():
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not shutil.which("wrk"):
        raise SystemExit("bench/events.py needs wrk: apt-get install wrk")
    in_fresh_database(DATABASE, run)


def prepare():
    """Migrate, provision the organisation, publish the event. Returns the event's id."""
    import datetime

    from django.core.management import call_command
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from chapters.models import Chapter
    from events import services
    from tenants.services import organisation_create

    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, founder = organisation_create(
        name="Rsvp", slug=SLUG, founder_name="Org", founder_email="org@rsvp.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context(SLUG):
        start = (timezone.now() + datetime.timedelta(days=10)).replace(hour=18, minute=0, second=0, microsecond=0)
        event = services.event_save(
            actor=founder, chapter=Chapter.objects.get(depth=1), title="Grand meeting", kind="rally",
            slots=[(start, start + datetime.timedelta(hours=2))], capacity=PLACES, place="Zénith",
            description="Everyone is welcome.",
        )  # fmt: skip
        return event.pk


def outcome(event_id):
    """(answers, going, waiting, places taken, places held by the going answers)."""
    from django.db.models import Count, Q, Sum
    from django_tenants.utils import schema_context

    from events.models import Rsvp, Timeslot

    with schema_context(SLUG):
        slot = Timeslot.objects.get(event_id=event_id)
        counts = Rsvp.objects.filter(timeslot=slot).aggregate(
            answers=Count("pk"),
            going=Count("pk", filter=Q(status="going")),
            waiting=Count("pk", filter=Q(status="waiting")),
            held=Sum("guests", filter=Q(status="going")),
        )
        return (
            counts["answers"],
            counts["going"],
            counts["waiting"],
            slot.taken,
            counts["going"] + (counts["held"] or 0),
        )


def answers_so_far(event_id):
    from django_tenants.utils import schema_context

    from events.models import Rsvp

    with schema_context(SLUG):
        return Rsvp.objects.filter(timeslot__event_id=event_id).count()


def wait_up(port, process):
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("Granian exited; see .data/events_web.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("Granian did not start")


def page_rate(port, path):
    """wrk on the plain event page: requests per second, p99 ms, answers other than 200."""
    argv = ["wrk", "-t2", f"-c{min(CONNECTIONS, 64)}", f"-d{SECONDS}s", "--latency", "-s", str(STATUSES)]
    output = subprocess.run(
        [*argv, "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True
    ).stdout
    statuses = {int(k): v for k, v in json.loads(re.search(r"STATUSES (\{.*\})", output).group(1)).items()}
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else float("nan")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return rps, p99_ms, sum(n for status, n in statuses.items() if status != 200)


def post_answers(port, path, event_id, directory):
    """Every visitor answers; returns (seconds until the last answer was committed, {status: n})."""
    script = Path(directory) / "rsvp.lua"
    script.write_text(RSVP_LUA)
    threads = 2
    argv = [
        "wrk", f"-t{threads}", f"-c{max(CONNECTIONS, threads)}", f"-d{TIME_LIMIT}s", "--timeout", "60s",
        "-s", str(script), f"http://127.0.0.1:{port}{path}",
        "--", path, HOST, str(RSVPS), str(threads),
    ]  # fmt: skip
    started = time.perf_counter()
    load = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while answers_so_far(event_id) < RSVPS and load.poll() is None:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    time.sleep(0.5)  # the last answers' pages on their way back to wrk
    load.send_signal(2)  # SIGINT: wrk stops and prints what it counted
    output = load.communicate(timeout=60)[0]
    match = re.search(r"ANSWERS (\{.*\})", output)
    statuses = {int(k): v for k, v in json.loads(match.group(1)).items()} if match else {}
    socket_errors = re.search(r"Socket errors:.*", output)
    if socket_errors:
        statuses["socket"] = socket_errors.group(0)
    return elapsed, statuses


def run():
    from django.db import connections

    from config.serving import sizes, web_command
    from tests.helpers import free_port

    event_id = prepare()
    connections.close_all()
    env = {**os.environ, "RELAIS_ENV": "development", "LOG_LEVEL": "WARNING", "TRUSTED_PROXY_COUNT": "1"}
    redis_process, redis_url = start_redis() if shutil.which("redis-server") else (None, None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    size = sizes(env)
    port = free_port()
    argv, extra = web_command(port, environ=env)
    (ROOT / ".data").mkdir(exist_ok=True)
    log = (ROOT / ".data" / "events_web.log").open("w")
    server = subprocess.Popen(argv, env={**env, **extra}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    path = f"/events/{event_id}/"
    directory = tempfile.mkdtemp(prefix="relais-bench-events-")
    try:
        wait_up(port, server)
        subprocess.run(
            ["wrk", "-t1", "-c4", "-d2s", "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}{path}"],
            capture_output=True,
        )  # warm up: imports, pools, caches
        print(
            f"Granian as config/serving.py starts it ({size['workers']} worker(s) x {size['threads']} threads, "
            f"{'Redis' if redis_url else 'no Redis'}, no proxy in front); wrk, {CONNECTIONS} connections\n",
            flush=True,
        )
        page_rps, page_p99, page_errors = page_rate(port, path)
        print(
            f"{'event page, GET (reference)':<34}{page_rps:>10.0f} req/s   p99 {page_p99:.1f} ms   errors {page_errors}"
        )
        elapsed, statuses = post_answers(port, path, event_id, directory)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        if redis_process:
            redis_process.terminate()
        shutil.rmtree(directory, ignore_errors=True)
    answers, going, waiting, taken, held = outcome(event_id)
    rate = answers / elapsed if elapsed else 0.0
    errors = sum(n for status, n in statuses.items() if status not in (200, "socket")) + (RSVPS - answers)
    over = max(0, taken - PLACES) + max(0, held - PLACES)
    print(f"{f'{RSVPS:,} answers, POST':<34}{rate:>10.0f} answers/s ({elapsed:.1f} s to the last commit)")
    print(
        f"\nanswers taken {answers:,} of {RSVPS:,}; going {going:,}, waiting {waiting:,}; places taken {taken} "
        f"of {PLACES} (held by going answers: {held}); over capacity {over}; answers other than 200: "
        f"{errors} {statuses}"
    )
    expected_going = min(RSVPS, PLACES)
    met = (
        answers == RSVPS
        and going == expected_going
        and waiting == RSVPS - expected_going
        and taken == held == expected_going
        and over == 0
        and errors == 0
    )
    report(
        "events",
        figures={
            "rsvps": answers,
            "going": going,
            "waiting": waiting,
            "over_capacity": over,
            "errors": errors,
            "rsvps_per_s": round(rate, 1),
            "seconds": round(elapsed, 2),
        },
        reference={"event_page_get_rps": round(page_rps, 1), "event_page_get_p99_ms": round(page_p99, 1)},
        goal=f"{RSVPS:,} concurrent answers for {PLACES} places: {expected_going} going, "
        f"{RSVPS - expected_going} waiting, 0 over capacity, 0 errors",
        met=met,
    )
