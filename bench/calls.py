"""Phone banks under load: BENCH_CALLERS (default 200) volunteers calling a campaign of
BENCH_PEOPLE (default 100,000) people over HTTP, on the production layout (config/serving.py:
Granian, a worker per core, Redis shared between them, without the proxy in front), for
BENCH_SECONDS (default 60).

The organisation is built with bulk SQL (COPY, as bench/people.py does): the people, each with a
mobile number and consent to be phoned, linked to the chapter that calls them; 13 numbers in 20
are in mainland France, the rest in Guadeloupe, Martinique, Guyane, Réunion, Mayotte, New
Caledonia and French Polynesia (eight time-zone keys), all inside the campaign's hours (00:00-23:59
every day). The campaign (a yes/no question and a choice) is opened as an organiser opens it:
calls.services.campaign_open freezes the list. The callers are members of the chapter, each with a
session made server-side and a CSRF cookie of their own (the token sent back in X-CSRFToken).

Each caller loops: POST /app/calls/<id>/next/ ("next person", 302 to the call page: the latency
measured), GET the call page (the number is revealed and logged), then, after the call itself,
POST the outcome with the two answers and then=stop, so that "next" stays a request of its own.
Outcomes: answered 11 times in 20, no answer 4, busy 2, message 2, "do not call again" 1.

A call lasts BENCH_CALL_SECONDS (default 8) on average, drawn uniformly between half and one and a
half times it: without that pause 200 callers would be 200 requests always waiting, and "next"
would measure the queue in front of a saturated server, not the queue of people. 200 callers at 8 s
a call offer about 1,400 calls a minute, above the goal of 1,000, so the figure says whether the
server keeps up. The callers start spread over the first call length (a phone bank does not start
on the same second). BENCH_CALL_SECONDS=0 measures the ceiling instead (callers never pause).

Load: wrk (a load generator in C: Python's own limits do not cap the figures). wrk's Lua state is
per thread, and a thread's response() is not told which of its connections answered, so each caller
is a wrk thread with one connection (-t200 -c200): the thread's Lua state is the caller's, and it
follows the Location headers itself. LuaJIT's ffi reads the monotonic clock for the latency of each
"next". The pause is wrk's delay(), so a caller on the phone holds no request open.

Figures: calls logged per minute (Call rows with an outcome after the run, over wrk's duration),
p50/p95/p99 of "next", errors (answers other than expected, socket errors), and from the database:
people assigned to two callers (two calls of one target by different callers whose spans
[started, ended or started + lease] overlap), reveals against calls (every recorded call has exactly
one reveal, by its caller), a timeline activity per recorded call. Beside them, in the same run,
with wrk and the callers' sessions: the member home /app/, signed in, at one connection per caller
with no pause (the server's capacity for a plain authenticated page), then the same page paced as
the callers' requests are (three per call length), its latency for comparison with "next". The
machine's load average is printed: wrk, PostgreSQL and Redis share its cores with the server.
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

from bench._support import in_fresh_database, percentile, report, session_keys, start_redis

DATABASE = "relais_bench_calls"
SLUG = "phonebank"
HOST = f"{SLUG}.localhost"
ROOT = Path(__file__).resolve().parent.parent
STATUSES = Path(__file__).resolve().parent / "wrk_statuses.lua"
CALLERS = int(os.environ.get("BENCH_CALLERS", "200"))
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "100000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
CALL_SECONDS = float(os.environ.get("BENCH_CALL_SECONDS", "8"))
REFERENCE_SECONDS = int(os.environ.get("BENCH_REFERENCE_SECONDS", "10"))
CSRF = "relaisbenchcallscsrftoken0123456"  # a CSRF secret as Django issues them: 32 letters and digits
GOAL_CALLS_PER_MINUTE = 1000
GOAL_NEXT_P95_MS = 100.0

# Zones of the numbers: (share out of 20, SQL for the number from the person's id).
NUMBERS = [
    (13, "'+336' || lpad((id % 100000000)::text, 8, '0')"),  # mainland France
    (1, "'+590690' || lpad((id % 1000000)::text, 6, '0')"),  # Guadeloupe
    (1, "'+596696' || lpad((id % 1000000)::text, 6, '0')"),  # Martinique
    (1, "'+594694' || lpad((id % 1000000)::text, 6, '0')"),  # Guyane
    (1, "'+262692' || lpad((id % 1000000)::text, 6, '0')"),  # Réunion
    (1, "'+262639' || lpad((id % 1000000)::text, 6, '0')"),  # Mayotte
    (1, "'+6877' || lpad((id % 100000)::text, 5, '0')"),  # New Caledonia
    (1, "'+68987' || lpad((id % 1000000)::text, 6, '0')"),  # French Polynesia (three zones)
]

# One caller per wrk thread (one connection each): the thread's Lua state is the caller's.
# LuaJIT's ffi reads the monotonic clock: a request's time from its sending to its answer, in ms.
CLOCK_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } relais_timespec;
int clock_gettime(int clock, relais_timespec *spec);
]]
local clock = ffi.new("relais_timespec")
function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
"""

CALLER_LUA = r"""
local threads, count = {}, 0
function setup(thread)
  thread:set("index", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  host, campaign, sessions, yes_no, choice, csrf = args[1], args[2], args[3], args[4], args[5], args[6]
  call_ms = tonumber(args[7])
  local n = 0
  for line in io.lines(sessions) do
    if n == index then session = line end
    n = n + 1
  end
  math.randomseed(index * 7919 + 17)
  next_path = "/app/calls/" .. campaign .. "/next/"
  headers = {
    ["Host"] = host, ["Cookie"] = "sessionid=" .. session .. "; csrftoken=" .. csrf, ["X-CSRFToken"] = csrf,
  }
  form_headers = {
    ["Host"] = host, ["Cookie"] = headers["Cookie"], ["X-CSRFToken"] = csrf,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  state, call_path, sent_at, waiting, pause, made = "next", nil, 0, false, 0, 0
  nexts, counts = {}, {}
  -- wrk calls the first thread's request() once before the run, to check it: not a request sent.
  checking = index == 0
  first = true
end

local function tally(what) counts[what] = (counts[what] or 0) + 1 end

local OUTCOMES = {"answered", "answered", "answered", "answered", "answered", "answered", "answered", "answered",
  "answered", "answered", "answered", "no_answer", "no_answer", "no_answer", "no_answer", "busy", "busy",
  "message", "message", "do_not_call"}
local TOPICS = {"Logement", "Transports", "Climat", "Autre"}

function delay()
  if first then  -- callers start over the length of one call, not all at once
    first = false
    return math.random(0, call_ms)
  end
  local wait = pause
  pause = 0
  return wait
end

function request()
  if checking then
    checking = false
    return wrk.format("GET", "/healthz", {["Host"] = host})
  end
  if waiting then  -- wrk reconnected after an error and asks again: that answer is lost
    tally("lost")
    state = "next"
  end
  waiting = true
  sent_at = now_ms()
  if state == "next" then
    return wrk.format("POST", next_path, form_headers, "")
  elseif state == "page" then
    return wrk.format("GET", call_path, headers)
  end
  made = made + 1
  local outcome = OUTCOMES[(index + made) % #OUTCOMES + 1]
  local body = "outcome=" .. outcome .. "&call_back_at=&note=&then=stop"
    .. "&q" .. yes_no .. "=" .. ((made % 3 == 0) and "no" or "yes")
    .. "&q" .. choice .. "=" .. TOPICS[(index + made) % #TOPICS + 1]
  return wrk.format("POST", call_path, form_headers, body)
end

function response(status, headers, body)
  if not waiting then return end  -- the check request
  waiting = false
  local took = now_ms() - sent_at
  local location = headers["Location"] or headers["location"] or ""
  if state == "next" then
    if status == 302 and string.match(location, "/calls/%d+/calls/%d+/$") then
      table.insert(nexts, took)
      call_path, state = location, "page"
    elseif status == 302 then
      tally("nobody")  -- no one to call now: back to the campaign page
      pause = 1000
    else
      tally("next " .. status)
    end
  elseif state == "page" then
    if status == 200 and string.find(body, 'href="tel:', 1, true) then
      tally("revealed")
      state = "record"
      pause = math.floor(call_ms * (0.5 + math.random()))
    else
      tally("page " .. status)
      state = "next"
    end
  else
    if status == 302 then
      tally("recorded")
    else
      tally("record " .. status)
    end
    state = "next"
  end
end

function done(summary, latency, requests)
  local all, total = {}, {}
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("nexts")) do table.insert(all, string.format("%.3f", value)) end
    for what, n in pairs(thread:get("counts")) do total[what] = (total[what] or 0) + n end
  end
  local parts = {}
  for what, n in pairs(total) do table.insert(parts, string.format('"%s": %d', what, n)) end
  io.write("COUNTS {" .. table.concat(parts, ", ") .. "}\n")
  io.write("NEXT " .. table.concat(all, " ") .. "\n")
end
"""

# The member home, paced as the callers are (three requests per call), from the same sessions.
PACED_LUA = r"""
local threads, count = {}, 0
function setup(thread)
  thread:set("index", count)
  count = count + 1
  table.insert(threads, thread)
end
function init(args)
  host, sessions, call_ms = args[1], args[2], tonumber(args[3])
  local n = 0
  for line in io.lines(sessions) do
    if n == index then session = line end
    n = n + 1
  end
  math.randomseed(index * 104729 + 3)
  statuses, took, first, sent_at = {}, {}, true, 0
  checking = index == 0
end
function delay()
  if first then first = false return math.random(0, call_ms) end
  return math.random(0, math.floor(call_ms * 2 / 3))
end
function request()
  if checking then checking = false else sent_at = now_ms() end
  return wrk.format("GET", "/app/", {["Host"] = host, ["Cookie"] = "sessionid=" .. session})
end
function response(status, headers, body)
  table.insert(took, now_ms() - sent_at)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local all, total = {}, {}
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("took")) do table.insert(all, string.format("%.3f", value)) end
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%d": %d', status, n)) end
  io.write("STATUSES {" .. table.concat(parts, ", ") .. "}\n")
  io.write("LATENCIES " .. table.concat(all, " ") .. "\n")
end
"""

# People given to two callers at once: two calls of the same target by different callers whose
# spans overlap, a call's span running from its start to its end (or, still open, to the end of
# the lease it was given).
DOUBLE_ASSIGNED = """
    SELECT count(DISTINCT a.target_id) FROM calls_call a
    JOIN calls_call b ON b.target_id = a.target_id AND b.id > a.id
      AND b.caller_id IS DISTINCT FROM a.caller_id
      AND b.started < COALESCE(a.ended, a.started + %(lease)s)
      AND a.started < COALESCE(b.ended, b.started + %(lease)s)
"""
# Recorded calls whose number was not shown exactly once, to their own caller.
REVEALS_OFF = """
    SELECT count(*) FROM calls_call c
    WHERE c.outcome <> '' AND (
      (SELECT count(*) FROM calls_reveal r WHERE r.call_id = c.id) <> 1
      OR EXISTS (SELECT 1 FROM calls_reveal r WHERE r.call_id = c.id AND r.caller_id IS DISTINCT FROM c.caller_id)
    )
"""


def main():
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not shutil.which("wrk"):
        raise SystemExit("bench/calls.py needs wrk: apt-get install wrk")
    in_fresh_database(DATABASE, run)


# Set-up -------------------------------------------------------------------------------------------


def prepare():
    """The organisation, its people, the callers and the open campaign. Returns what the load needs."""
    import datetime
    import io

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User, fold
    from bench._support import copy_people
    from calls import services
    from calls.models import Campaign, Question
    from chapters import services as chapter_services
    from chapters.models import Chapter, Membership
    from people import segments
    from people.models import Channel, Purpose
    from tenants.services import organisation_create

    started = time.monotonic()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, founder = organisation_create(
        name="Phone bank", slug=SLUG, founder_name="Org", founder_email="org@phonebank.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context(SLUG):
        chapter = chapter_services.chapter_create(
            actor=founder, parent=Chapter.objects.get(depth=1), name="Lille", slug="lille", kind="local"
        )
        callers = User.objects.bulk_create(
            User(email=f"caller{number}@phonebank.example", full_name=f"Caller {number}", password="!")
            for number in range(CALLERS)
        )
        Membership.objects.bulk_create(
            Membership(user=user, chapter=chapter, status="active", is_primary=True, started=timezone.now())
            for user in callers
        )
        consent = f"{Channel.PHONE}:{Purpose.NEWS}"
        rows = io.StringIO()
        for number in range(PEOPLE):
            full_name = f"Camille Supporter{number}"
            rows.write(
                f"{full_name}\tfr\t{number % 200 + 1} rue Nationale\t59000\tLille\t\timport\tBench\t"
                f"2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t{{email:news,{consent}}}\t{{}}\t"
                f"{' '.join(sorted(fold(full_name).split()))}\n"
            )
        rows.seek(0)
        with connection.cursor() as cursor:
            copy_people(cursor, rows)
            bounds, whens = 0, []
            for share, sql in NUMBERS:
                bounds += share
                whens.append(f"WHEN id % 20 < {bounds} THEN {sql}")
            cursor.execute(
                "INSERT INTO people_personphone (person_id, number, is_mobile, is_primary, created) "
                f"SELECT id, CASE {' '.join(whens)} END, true, true, now() FROM people_person WHERE user_id IS NULL"
            )
            cursor.execute(
                "INSERT INTO people_personchapter (person_id, chapter_id, reason, created) "
                "SELECT id, %s, 'area', now() FROM people_person WHERE user_id IS NULL",
                [chapter.pk],
            )
            cursor.execute("ANALYZE")
        loaded = time.monotonic() - started
        segment = segments.segment_save(
            actor=founder, name="Agreed to be phoned", chapter=chapter,
            definition={"all": [{"type": "consent", "channel": Channel.PHONE, "purpose": Purpose.NEWS}]},
        )  # fmt: skip
        campaign = services.campaign_save(
            actor=founder, chapter=chapter, segment=segment, title="Rappel mobilisation", description="",
            purpose=Purpose.NEWS, script="Bonjour {first_name}, je m'appelle {caller}, bénévole à {chapter}.",
            calling_from=datetime.time(0, 0), calling_until=datetime.time(23, 59), calling_days=[1, 2, 3, 4, 5, 6, 7],
            cooldown_hours=4, max_attempts=3, callers=Campaign.Callers.MEMBERS,
            starts=timezone.localdate() - datetime.timedelta(days=1),
        )  # fmt: skip
        yes_no = services.question_add(
            actor=founder, campaign=campaign, kind=Question.Kind.YES_NO,
            text="Viendrez-vous à la réunion publique de jeudi ?", tag="réunion publique",
        )  # fmt: skip
        choice = services.question_add(
            actor=founder, campaign=campaign, kind=Question.Kind.CHOICE,
            text="Quel sujet compte le plus pour vous ?",
            choices=services.parse_choices("Logement -> logement\nTransports -> transports\nClimat -> climat\nAutre"),
        )  # fmt: skip
        opening = time.monotonic()
        listed = services.campaign_open(actor=founder, campaign=campaign)
        opened = time.monotonic() - opening
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a table after a bulk insert
        campaign.refresh_from_db()
        sessions = session_keys(callers)
    print(
        f"set up in {time.monotonic() - started:.0f} s: {PEOPLE:,} people and their numbers loaded in "
        f"{loaded:.0f} s (migrations included); the list frozen by campaign_open in {opened:.1f} s "
        f"({listed:,} people, zones {', '.join(campaign.zones)})",
        flush=True,
    )
    return {"campaign": campaign.pk, "yes_no": yes_no.pk, "choice": choice.pk, "sessions": sessions, "listed": listed}


# Load ---------------------------------------------------------------------------------------------


def wait_up(port, process):
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("Granian exited; see .data/calls_web.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("Granian did not start")


def settle(port, quick_ms=50, limit_s=60):
    """Wait until /healthz answers quickly again: no request of the last measure is still queued."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30):
            pass
        if (time.perf_counter() - started) * 1000 < quick_ms:
            return
        time.sleep(0.2)


def _ms(text):
    """wrk's "752.00us", "1.04ms", "2.10s" in milliseconds."""
    if not text:
        return float("nan")
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def _socket_errors(output):
    return sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))


def member_home(port, sessions):
    """wrk on /app/, signed in, one connection per caller, with no pause: requests/s, p50, p99
    (ms), errors."""
    argv = [
        "wrk", "-t2", f"-c{CALLERS}", f"-d{REFERENCE_SECONDS}s", "--latency", "--timeout", "30s",
        "-s", str(STATUSES), "-H", f"Host: {HOST}", "-H", f"Cookie: sessionid={sessions[0]}",
        f"http://127.0.0.1:{port}/app/",
    ]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True).stdout
    statuses = {int(k): v for k, v in json.loads(re.search(r"STATUSES (\{.*\})", output).group(1)).items()}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),
        "errors": sum(n for status, n in statuses.items() if status != 200) + _socket_errors(output),
    }


def member_home_paced(port, session_file, directory):
    """/app/ from each caller's session, paced as the callers are: [latencies ms], errors."""
    script = Path(directory) / "paced.lua"
    script.write_text(CLOCK_LUA + PACED_LUA)
    argv = [
        "wrk", f"-t{CALLERS}", f"-c{CALLERS}", f"-d{REFERENCE_SECONDS}s", "--timeout", "30s", "-s", str(script),
        f"http://127.0.0.1:{port}/app/", "--", HOST, str(session_file), str(int(CALL_SECONDS * 1000)),
    ]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True).stdout
    statuses = {int(k): v for k, v in json.loads(re.search(r"STATUSES (\{.*\})", output).group(1)).items()}
    latencies = [float(value) for value in re.search(r"LATENCIES ?(.*)", output).group(1).split()]
    return latencies, sum(n for status, n in statuses.items() if status != 200) + _socket_errors(output)


def callers_load(port, setup, session_file, directory):
    """The callers, for SECONDS. Returns (seconds, [next latencies ms], {what: count}, socket errors)."""
    script = Path(directory) / "callers.lua"
    script.write_text(CLOCK_LUA + CALLER_LUA)
    argv = [
        "wrk", f"-t{CALLERS}", f"-c{CALLERS}", f"-d{SECONDS}s", "--timeout", "30s", "-s", str(script),
        f"http://127.0.0.1:{port}/app/calls/{setup['campaign']}/next/",
        "--", HOST, str(setup["campaign"]), str(session_file), str(setup["yes_no"]), str(setup["choice"]), CSRF,
        str(int(CALL_SECONDS * 1000)),
    ]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True).stdout
    seconds = _ms(re.search(r"requests in ([\d.]+\w+),", output).group(1)) / 1000
    counts = json.loads(re.search(r"COUNTS (\{.*\})", output).group(1))
    nexts = [float(value) for value in re.search(r"NEXT ?(.*)", output).group(1).split()]
    return seconds, nexts, counts, _socket_errors(output)


def run():
    from django.db import connections

    from config.serving import sizes, stop_all, web_command
    from tests.helpers import free_port

    setup = prepare()
    connections.close_all()
    # A bench caller calls far faster than a person could: the limit against collecting numbers is lifted.
    env = {**os.environ, "RELAIS_ENV": "development", "LOG_LEVEL": "WARNING", "CALLS_PEOPLE_RATE": "1000000/h"}
    redis_process, redis_url = start_redis()
    env["REDIS_URL"] = redis_url
    size = sizes(env)
    port = free_port()
    argv, extra = web_command(port, environ=env)
    (ROOT / ".data").mkdir(exist_ok=True)
    log = (ROOT / ".data" / "calls_web.log").open("w")
    server = subprocess.Popen(argv, env={**env, **extra}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    directory = tempfile.mkdtemp(prefix="relais-bench-calls-")
    session_file = Path(directory) / "sessions.txt"
    session_file.write_text("".join(f"{key}\n" for key in setup["sessions"]))
    try:
        wait_up(port, server)
        subprocess.run(
            ["wrk", "-t1", "-c4", "-d2s", "-H", f"Host: {HOST}", "-H", f"Cookie: sessionid={setup['sessions'][0]}",
             f"http://127.0.0.1:{port}/app/"],
            capture_output=True,
        )  # warm up: imports, pools, caches  # fmt: skip
        print(
            f"Granian as config/serving.py starts it ({size['workers']} worker(s) x {size['threads']} threads, "
            f"pool {size['pool']} per worker, Redis, no proxy in front); wrk, one connection per caller; "
            f"{CALLERS} callers, a call lasting {CALL_SECONDS:g} s on average\n",
            flush=True,
        )
        home = member_home(port, setup["sessions"])
        settle(port)  # the requests wrk left queued in Granian are served before the next measure
        paced = member_home_paced(port, session_file, directory)
        settle(port)
        seconds, nexts, counts, socket_errors = callers_load(port, setup, session_file, directory)
        load = os.getloadavg()[0]
    finally:
        stop_all([server], timeout=20)
        log.close()
        redis_process.terminate()
        shutil.rmtree(directory, ignore_errors=True)
    figures = outcome(setup)
    summarise(setup, home, paced, seconds, nexts, counts, socket_errors, figures, load)


def outcome(setup):
    """What the database says after the run."""
    import datetime

    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import schema_context

    from calls.models import Call, Reveal
    from people.models import Activity

    lease = datetime.timedelta(seconds=settings.CALLS_LEASE_SECONDS)
    with schema_context(SLUG), connection.cursor() as cursor:
        cursor.execute(DOUBLE_ASSIGNED, {"lease": lease})
        doubles = cursor.fetchone()[0]
        cursor.execute(REVEALS_OFF)
        reveals_off = cursor.fetchone()[0]
        return {
            "taken": Call.objects.filter(campaign_id=setup["campaign"]).count(),
            "recorded": Call.objects.filter(campaign_id=setup["campaign"]).exclude(outcome="").count(),
            "reveals": Reveal.objects.count(),
            "reveals_off": reveals_off,
            "activities": Activity.objects.filter(kind=Activity.Kind.CALL).count(),
            "doubles": doubles,
        }


def summarise(setup, home, paced, seconds, nexts, counts, socket_errors, figures, load):
    recorded = figures["recorded"]
    per_minute = recorded / seconds * 60 if seconds else 0.0
    p50, p95, p99 = (percentile(nexts, fraction) for fraction in (0.5, 0.95, 0.99))
    paced_latencies, paced_errors = paced
    paced_p50, paced_p95, paced_p99 = (percentile(paced_latencies, fraction) for fraction in (0.5, 0.95, 0.99))
    errors = sum(n for what, n in counts.items() if what not in ("revealed", "recorded", "nobody")) + socket_errors
    print(f"{'':<52}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    rows = [
        ("reference: member home /app/, no pause", home["rps"], home["p50"], float("nan"), home["p99"],
         home["errors"]),
        ("reference: member home, paced as the callers", len(paced_latencies) / REFERENCE_SECONDS, paced_p50,
         paced_p95, paced_p99, paced_errors),
        ("next person: POST next/ (302 to the call page)", len(nexts) / seconds, p50, p95, p99, errors),
    ]  # fmt: skip
    for label, rate, *latencies, failed in rows:
        shown = "".join(f"{'':>9}" if value != value else f"{value:>9.1f}" for value in latencies)
        print(f"{label:<52}{rate:>8,.1f}{shown}{failed:>8}")
    print(
        f"\ncalls logged: {recorded:,} in {seconds:.1f} s = {per_minute:,.0f} per minute "
        f"(goal >= {GOAL_CALLS_PER_MINUTE:,}); people taken {figures['taken']:,} of {setup['listed']:,}"
    )
    print(
        f"people assigned to two callers: {figures['doubles']} (goal 0); reveals {figures['reveals']:,} for "
        f"{figures['taken']:,} calls taken; recorded calls without exactly one reveal by their caller: "
        f"{figures['reveals_off']}; call activities on timelines {figures['activities']:,}"
    )
    print(f"callers' answers: {json.dumps(counts, sort_keys=True)}; socket errors {socket_errors}")
    print(
        f"machine: {os.cpu_count()} cores, load average {load:.1f} over the last minute of the callers "
        "(server, PostgreSQL, Redis, wrk, and anything else running)"
    )
    met = (
        per_minute >= GOAL_CALLS_PER_MINUTE
        and p95 < GOAL_NEXT_P95_MS
        and figures["doubles"] == 0
        and figures["reveals_off"] == 0
        and figures["activities"] == recorded
        and errors == 0
    )
    report(
        "calls",
        figures={
            "callers": CALLERS,
            "people": setup["listed"],
            "call_seconds": CALL_SECONDS,
            "seconds": round(seconds, 1),
            "calls_recorded": recorded,
            "calls_per_minute": round(per_minute, 1),
            "next_p50_ms": round(p50, 1),
            "next_p95_ms": round(p95, 1),
            "next_p99_ms": round(p99, 1),
            "errors": errors,
            "double_assigned": figures["doubles"],
            "calls_taken": figures["taken"],
            "reveals": figures["reveals"],
            "recorded_without_one_reveal": figures["reveals_off"],
            "call_activities": figures["activities"],
            "load_average": round(load, 2),
        },
        reference={
            "member_home_rps": round(home["rps"], 1),
            "member_home_p50_ms": round(home["p50"], 1),
            "member_home_p99_ms": round(home["p99"], 1),
            "member_home_paced_p50_ms": round(paced_p50, 1),
            "member_home_paced_p95_ms": round(paced_p95, 1),
            "member_home_paced_p99_ms": round(paced_p99, 1),
        },
        goal=f">= {GOAL_CALLS_PER_MINUTE:,} calls logged per minute, p95 of next person < {GOAL_NEXT_P95_MS:.0f} ms, "
        "0 people assigned to two callers, every recorded call revealed once to its caller, 0 errors",
        met=met,
    )
