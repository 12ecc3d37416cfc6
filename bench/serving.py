"""Serving: Relais's pages on the production layout beside the ceiling of the same server, measured
with wrk (a load generator in C: Python's own limits do not cap the figures).

The production layout (config/serving.py): Granian runs Django's WSGI application, one worker per
core with a few threads each and a pool of database connections per worker, Redis shared between
the workers (one worker without redis-server), nginx in front with deploy/nginx.conf, the README's
proxy, public pages kept for CMS_PROXY_CACHE_SECONDS included (wrk drives Granian directly when
nginx is not installed; as root the benchmark installs it, and wrk, with apt-get). Daphne, today's
layout, is measured directly. Everything is on loopback, on a database of its own (dropped at the end): an
organisation of BENCH_MEMBERS (default 2,000) members in a few chapters, with a published article.

One run, one after the other, BENCH_SECONDS (default 8) each, at 16 connections and at BENCH_MANY
(default 1,000):
  ceiling         a WSGI "hello" (bench/hello.py) on the same server, workers and threads, behind
                  the same proxy: what the server can do when the application does nothing
  campaign page   the site's home page as an anonymous visitor, kept by the proxy (deploy/nginx.conf),
                  and from Django's own page cache (Granian directly, the proxy bypassed)
  /healthz        the health check (one query)
  member home     /app/, signed in
  directory       a name search in the member directory, signed in
then today's layout, Daphne alone with a connection per request: the member home and the campaign
page, for the comparison the goals name. `make bench NAME=serving BENCH_DAPHNE_ONLY=1` (or
`python -m bench serving --daphne-only`) measures every target on Daphne instead, as Relais served
before.

Errors: answers other than 200 and socket errors, and among them the 503s (counted by
bench/wrk_statuses.lua); at 1,000 connections there must be none.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench._support import in_fresh_database, report, session_keys, start_redis

DATABASE = "relais_bench_serving"
SLUG = "serve"
HOST = f"{SLUG}.localhost"
ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".data"
STATUSES = Path(__file__).resolve().parent / "wrk_statuses.lua"
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
MANY = int(os.environ.get("BENCH_MANY", "1000"))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "2000"))
DAPHNE_ONLY = "--daphne-only" in sys.argv or os.environ.get("BENCH_DAPHNE_ONLY") == "1"


def main():
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _raise_open_files_limit()
    _system_tools()
    in_fresh_database(DATABASE, run)


def _raise_open_files_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def _system_tools():
    missing = [name for name in ("wrk", "nginx") if not shutil.which(name) and not Path(f"/usr/sbin/{name}").exists()]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        packages = [{"nginx": "nginx-light"}.get(name, name) for name in missing]
        print(f"Installing {', '.join(packages)}", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, capture_output=True)
    if not shutil.which("wrk"):
        raise SystemExit("bench/serving.py needs wrk: apt-get install wrk")


# Set-up -------------------------------------------------------------------------------------------


def prepare():
    """Migrate, provision the organisation and fill it; a signed-in member's session key."""
    import random

    from django.core.management import call_command
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User
    from bench._support import publish_article
    from chapters import services as chapter_services
    from chapters.models import Chapter, Membership
    from operations import demo
    from tenants.services import organisation_create

    rng = random.Random(11)  # noqa: S311 - test data
    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, founder = organisation_create(
        name="Serve", slug=SLUG, founder_name="Org", founder_email="org@serve.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context(SLUG):
        national = Chapter.objects.get(depth=1)
        chapters = [
            chapter_services.chapter_create(
                actor=founder, parent=national, name=f"Local {number}", slug=f"l{number}", kind="local"
            )
            for number in range(6)
        ]
        people = []
        for number in range(MEMBERS):
            person = User(
                email=f"m{number}@serve.example", password="!",
                full_name=f"{rng.choice(demo.FIRST_NAMES)} {rng.choice(demo.LAST_NAMES)}",
                city=rng.choice(["Lille", "Lyon", "Nantes", "Rennes"]),
                visibility=rng.choice(["organisation", "organisation", "chapters", "nobody"]),
            )  # fmt: skip
            person.search_text = person.build_search_text()
            people.append(person)
        people = User.objects.bulk_create(people)
        Membership.objects.bulk_create(
            Membership(user=person, status="active", is_primary=True, started=timezone.now(), chapter=chapters[n % 6])
            for n, person in enumerate(people)
        )
        for number in range(5):
            chapter_services.announcement_post(
                actor=founder, chapter=chapters[0], title=f"Meeting {number}", body="Bring **leaflets**."
            )
        publish_article(title="Why we march", slug="why-we-march", intro="An article.", sentences=60)
        return session_keys([people[0]])[0], people[1].full_name.split()[-1]


# Processes ----------------------------------------------------------------------------------------


def free_port():
    from tests.helpers import free_port as port

    return port()


def wait_up(port, process, what):
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{what} exited; see {LOG_DIR}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


def start(argv, env, name):
    log = (LOG_DIR / f"serving_{name}.log").open("w")
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def nginx_conf(directory, listen_web, web, ws, listen_hello, hello):
    """deploy/nginx.conf (the README's proxy) in front of Relais; the same proxying, without the
    page cache, in front of the ceiling's hello app."""
    relais = (ROOT / "deploy" / "nginx.conf").read_text()
    for name, value in {"{web}": f"127.0.0.1:{web}", "{ws}": f"127.0.0.1:{ws}",
                        "{listen}": f"127.0.0.1:{listen_web}", "{cache}": f"{directory}/cache"}.items():  # fmt: skip
        relais = relais.replace(name, value)
    user = "user root;" if os.geteuid() == 0 else ""
    text = f"""{user}
worker_processes auto; daemon off; pid {directory}/nginx.pid; error_log {directory}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    access_log off; client_body_temp_path {directory}; proxy_temp_path {directory};
    fastcgi_temp_path {directory}; uwsgi_temp_path {directory}; scgi_temp_path {directory};
    {relais}
    upstream hello {{ server 127.0.0.1:{hello}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{listen_hello} backlog=4096;
        location / {{ proxy_pass http://hello; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
}}
"""
    path = Path(directory) / "nginx.conf"
    path.write_text(text)
    return path


# Measuring ----------------------------------------------------------------------------------------


def wrk(port, path, connections, cookie=None, seconds=SECONDS):
    threads = 2 if connections > 100 else 1
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    argv += ["-s", str(STATUSES), "-H", f"Host: {HOST}"]
    if cookie:
        argv += ["-H", f"Cookie: sessionid={cookie}"]
    output = subprocess.run([*argv, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    statuses = {int(k): v for k, v in json.loads(re.search(r"STATUSES (\{.*\})", output).group(1)).items()}
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output)),
        "errors": sum(n for status, n in statuses.items() if status != 200) + socket_errors,
        "503": statuses.get(503, 0),
    }


def _ms(match):
    """wrk's "752.00us", "1.04ms", "2.10s" in milliseconds."""
    if not match:
        return float("nan")
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", match.group(1)).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def run():
    cookie, surname = prepare()
    env = {**os.environ, "RELAIS_ENV": "development", "LOG_LEVEL": "WARNING"}
    redis_process, redis_url = (None, None)
    if shutil.which("redis-server") or Path("/usr/bin/redis-server").exists():
        redis_process, redis_url = start_redis()
        env["REDIS_URL"] = redis_url
    sys.path.insert(0, str(ROOT))
    from config.serving import sizes, stop_all, web_command

    size = sizes(env)
    processes = []
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    targets = [
        ("ceiling", "hello", "/", None),
        ("campaign page, kept by the proxy", "web", "/", None),
        ("campaign page, Django's page cache", "web-direct", "/", None),
        ("/healthz", "web", "/healthz", None),
        ("member home, signed in", "web", "/app/", cookie),
        ("directory search", "web", f"/app/directory/?q={surname}", cookie),
    ]
    rows = []
    try:
        ports = {"hello": free_port(), "web": free_port(), "daphne": free_port()}
        hello_argv = [
            sys.executable, "-m", "granian", "--interface", "wsgi", "bench.hello:application",
            "--host", "127.0.0.1", "--port", str(ports["hello"]), "--workers", str(size["workers"]),
            "--blocking-threads", str(size["threads"]), "--backlog", "2048",
            "--backpressure", str(size["backpressure"]), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        web_argv, web_env = web_command(ports["web"], environ=env)
        daphne_env = {**env, "CONN_MAX_AGE": "0", "CHANNEL_LAYER": "memory"}
        daphne_argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(ports["daphne"]),
                       "--verbosity", "0", "config.asgi:application"]  # fmt: skip
        if not DAPHNE_ONLY:
            processes.append(start(hello_argv, env, "hello"))
            processes.append(start(web_argv, {**env, **web_env}, "web"))
            wait_up(ports["web"], processes[-1], "Granian")
        processes.append(start(daphne_argv, daphne_env, "daphne"))
        wait_up(ports["daphne"], processes[-1], "Daphne")
        front = dict(ports) | {"web-direct": ports["web"]}
        if nginx and not DAPHNE_ONLY:
            directory = tempfile.mkdtemp(prefix="relais-nginx-")
            front |= {"web": free_port(), "hello": free_port()}
            conf = nginx_conf(directory, front["web"], ports["web"], ports["daphne"], front["hello"], ports["hello"])
            processes.append(subprocess.Popen([nginx, "-c", str(conf), "-p", directory], stderr=subprocess.DEVNULL))
            time.sleep(1)
        layout = (
            f"Granian {size['workers']} worker(s) x {size['threads']} threads, pool {size['pool']} per worker, "
            f"{'Redis' if redis_url else 'no Redis'}, "
            f"{'behind nginx (deploy/nginx.conf)' if nginx else 'direct (no nginx)'}"
        )
        if DAPHNE_ONLY:
            print(f"Today's layout: Daphne alone, a connection per request; wrk {SECONDS} s per line\n", flush=True)
        else:
            print(f"Production layout: {layout}; Daphne: today's layout; wrk {SECONDS} s per line\n", flush=True)
        for _label, server, path, session in targets:  # warm every server's caches and pools first
            if server != "hello" and not DAPHNE_ONLY:
                wrk(front[server], path, 16, session, seconds=2)
            wrk(front["daphne"], path if server != "hello" else "/healthz", 16, session, seconds=2)
        plan = []
        for connections in (16, MANY):
            for label, server, path, session in targets:
                if not DAPHNE_ONLY:
                    plan.append((label, server, path, session, connections))
                elif server != "hello" and "proxy" not in label:  # Daphne alone: no ceiling, no proxy
                    plan.append((f"{label} [Daphne]", "daphne", path, session, connections))
            if not DAPHNE_ONLY:
                for label, _server, path, session in targets[2:5:2]:  # the comparison: cached page, member home
                    plan.append((f"{label} [Daphne]", "daphne", path, session, connections))
        for label, server, path, session, connections in plan:
            figures = wrk(front[server], path, connections, session)
            rows.append((label, connections, figures))
            print(
                f"{label:<44} {connections:>5} conn  {figures['rps']:>9,.0f} req/s  p50 {figures['p50']:>8.1f} ms"
                f"  p99 {figures['p99']:>8.1f} ms  errors {figures['errors']:>6}  503 {figures['503']:>5}",
                flush=True,
            )
    finally:
        stop_all(list(reversed(processes)), timeout=20)
        if redis_process:
            redis_process.terminate()
    _summarise(rows)


def _summarise(rows):
    by = {(label, connections): figures for label, connections, figures in rows}
    figures = {f"{label} @{connections}": round(f["rps"], 1) for (label, connections), f in by.items()}
    failures = {f"{label} @{connections}": f["errors"] for (label, connections), f in by.items() if f["errors"]}
    if DAPHNE_ONLY:
        report("serving", figures, {}, "today's layout (Daphne), for comparison", True)
        return
    ceiling = by[("ceiling", 16)]["rps"]
    cached = by[("campaign page, kept by the proxy", 16)]["rps"]
    home, daphne_home = by[("member home, signed in", 16)]["rps"], by[("member home, signed in [Daphne]", 16)]["rps"]
    many_errors = sum(f["errors"] for (label, c), f in by.items() if c == MANY and "[Daphne]" not in label)
    print(
        f"\ncached campaign page: {cached / ceiling:.0%} of the ceiling (goal 50%); "
        f"member home {home / daphne_home:.1f}x Daphne's (goal 3x); "
        f"errors at {MANY} connections on the production layout: {many_errors} (goal 0)"
    )
    if failures:
        print("errors:", failures)
    met = cached >= 0.5 * ceiling and home >= 3 * daphne_home and many_errors == 0
    reference = {"ceiling @16": round(ceiling, 1), "member home [Daphne] @16": round(daphne_home, 1)}
    goal = f"cached page >= 50% of the ceiling; member home >= 3x Daphne; 0 errors at {MANY} connections"
    report("serving", figures, reference, goal, met)
