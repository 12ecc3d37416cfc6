"""The campaign site under load: requests per second and p99 for the cached home page and for an
uncached article, beside a minimal Django view on the same web server in the same run.

The web server as production runs it (config/serving.py: Granian, without the proxy in front,
whose page cache bench/serving.py measures) on loopback; BENCH_CONCURRENCY (default 16) keep-alive connections from a
thread pool send requests for BENCH_SECONDS (default 8) per target, at most BENCH_REQUESTS
(default 20000) each. The minimal view (routed only with RELAIS_BENCH_SITE=1) goes through the
same middleware as a page, tenant resolution included, and returns a short text.
"""

import http.client
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from bench._support import in_fresh_database, publish_article, report

DATABASE = "relais_bench_site"
GOAL_RATIO = 1.5
HOST = "site.localhost"


def main():
    in_fresh_database(DATABASE, run)


def prepare():
    from django.core.management import call_command
    from django_tenants.utils import schema_context
    from wagtail.models import Locale

    from cms.models import HomePage
    from tenants import services

    call_command("migrate_schemas", interactive=False, verbosity=0)
    services.organisation_create(
        name="Site", slug="site", founder_name="Org", founder_email="org@site.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context("site"):
        home = HomePage.objects.get(locale=Locale.get_default())
        home.body = [("chapter_events", {"heading": "Coming up", "count": 5}), ("join_form", {"heading": "Join"})]
        home.save_revision().publish()
        return publish_article(
            title="A long read", slug="long-read", intro="An article served fresh on every request.", sentences=200
        )


def load(port, path, headers, concurrency, seconds, limit):
    """Closed-loop load: `concurrency` connections each send the next request when the last is
    answered. Returns (latencies in ms, errors, elapsed seconds)."""
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + seconds
    budget = [limit]

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append((time.perf_counter() - started) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.perf_counter() - started


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def run():
    from django.db import connections

    from tests.helpers import free_port

    article_path = prepare()
    connections.close_all()
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "16"))
    seconds = float(os.environ.get("BENCH_SECONDS", "8"))
    limit = int(os.environ.get("BENCH_REQUESTS", "20000"))
    port = free_port()
    env = {**os.environ, "RELAIS_BENCH_SITE": "1", "LOG_LEVEL": "WARNING"}
    log = (Path(__file__).resolve().parent.parent / ".data" / "site_web.log").open("w")
    from config.serving import sizes, web_command

    argv, extra = web_command(port, environ=env)
    server = subprocess.Popen(argv, env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT)
    size = sizes(env)
    headers = {"Host": HOST}
    rows = {}
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        # Warm up: the first requests fill the page cache and Django's lazy imports.
        for path in ["/bench-minimal/", "/", article_path]:
            load(port, path, headers, 2, 1, 50)
        print(
            f"Granian as config/serving.py starts it ({size['workers']} worker(s) x {size['threads']} threads, "
            f"no proxy in front), {concurrency} keep-alive connections, {seconds:g} s per target\n"
        )
        print(f"{'target':<34}{'req/s':>10}{'median ms':>11}{'p99 ms':>9}{'errors':>8}")
        for label, path, extra in [
            ("minimal Django view (reference)", "/bench-minimal/", {}),
            ("home page, cached", "/", {}),
            ("article, uncached", article_path, {"Cookie": "sessionid=bench-no-session"}),
        ]:
            latencies, errors, elapsed = load(port, path, {**headers, **extra}, concurrency, seconds, limit)
            rate = len(latencies) / elapsed
            rows[label] = (rate, percentile(latencies, 0.5), percentile(latencies, 0.99), errors)
            print(f"{label:<34}{rate:>10.0f}{rows[label][1]:>11.1f}{rows[label][2]:>9.1f}{errors:>8}")
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    minimal, cached, article = (rows[key] for key in rows)
    ratio = minimal[0] / cached[0] if cached[0] else float("inf")
    print(f"\nthroughput ratio minimal view / cached home page: {ratio:.2f}x (goal: within {GOAL_RATIO}x)")
    report(
        "site",
        figures={
            "home_cached_rps": round(cached[0]),
            "home_cached_p99_ms": round(cached[2], 1),
            "article_uncached_rps": round(article[0]),
            "article_uncached_p99_ms": round(article[2], 1),
            "errors": cached[3] + article[3],
        },
        reference={"minimal_view_rps": round(minimal[0]), "minimal_view_p99_ms": round(minimal[2], 1)},
        goal=f"cached home page within {GOAL_RATIO}x of the minimal view's throughput",
        met=ratio <= GOAL_RATIO and cached[3] == 0,
    )
