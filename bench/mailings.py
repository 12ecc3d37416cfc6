"""A mailing at campaign scale: BENCH_RECIPIENTS (default 100,000) people who consented, each sent
their own message (name, commune, unsubscribe links) through the worker, batch by batch, to a
local fake of Brevo's batch API (mailings/brevo_fake.py in a process of its own, bodies not kept).

Printed: the time from "send" to the last batch's commit, messages per second, the worker's peak
memory, duplicates and missing recipients as the provider received them; beside them, in the same
run, the bare cost of rendering the same messages in one process without sending them.

Goal (issue 18): 100,000 messages in at most 100 s (>= 1,000 messages/s), 0 duplicates, 0 missing,
the worker under 300 MB.
"""

import io
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench._support import copy_people, in_fresh_database, report

DATABASE = "relais_bench_mailings"
GOAL_S = 100.0
GOAL_RATE = 1000.0
GOAL_MB = 300.0
ROOT = Path(__file__).resolve().parent.parent
KEY = "xkeysib-bench"
COMMUNES = ("Lille", "Roubaix", "Amiens", "Rennes", "Lyon", "Marseille", "Nantes", "Toulouse", "Brest", "Metz")
FIRST_NAMES = ("Camille", "Léa", "Karim", "Inès", "Hugo", "Fatou", "Étienne", "Agnès", "Yanis", "Zoé", "Louis")
BODY = [
    {"type": "text", "markdown": (
        'Bonjour {first_name|"à toutes et à tous"},\n\nSamedi, nous serons à **{commune|"votre ville"}** '
        "pour tracter. Rejoignez-nous !"
    )},
    {"type": "button", "label": "Je participe", "href": "https://bench.example/samedi"},
    {"type": "divider"},
    {"type": "text", "markdown": "L'équipe nationale"},
]  # fmt: skip


def main():
    count = int(os.environ.get("BENCH_RECIPIENTS", "100000"))
    in_fresh_database(DATABASE, run, count)


def run(count):
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from tenants import services

    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, organiser = services.organisation_create(
        name="Bench", slug="bench", founder_name="Org", founder_email="org@bench.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context("bench"):
        load(count)
        rendering_s = measure_rendering(organiser, count)
        outcome = measure_sending(organiser, count)
    seconds, peak_mb, received = outcome["seconds"], outcome["peak_mb"], outcome["received"]
    rate = count / seconds if seconds else 0.0
    print(f"\n{'':<44}{'seconds':>10}{'messages/s':>12}{'peak MB':>10}")
    print(f"{'sent through the worker to the fake Brevo':<44}{seconds:>10.1f}{rate:>12,.0f}{peak_mb:>10.0f}")
    print(f"{'rendering alone, one process (ref.)':<44}{rendering_s:>10.1f}{count / rendering_s:>12,.0f}")
    print(
        f"received by the provider: {received:,}; duplicates: {outcome['duplicates']:,}; missing: "
        f"{outcome['missing']:,}; rows marked sent: {outcome['sent_rows']:,}"
    )
    met = (
        seconds <= GOAL_S * count / 100_000
        and rate >= GOAL_RATE
        and peak_mb < GOAL_MB
        and outcome["duplicates"] == 0
        and outcome["missing"] == 0
    )
    report(
        "mailings",
        figures={
            "recipients": count,
            "send_s": round(seconds, 1),
            "messages_per_s": round(rate),
            "worker_peak_mb": round(peak_mb),
            "duplicates": outcome["duplicates"],
            "missing": outcome["missing"],
        },
        reference={"render_only_s": round(rendering_s, 1), "render_only_per_s": round(count / rendering_s)},
        goal=(
            f"100,000 recipients in <= {GOAL_S:.0f} s (>= {GOAL_RATE:,.0f} messages/s), 0 duplicates, 0 missing, "
            f"worker < {GOAL_MB:.0f} MB"
        ),
        met=met,
    )


def load(count):
    """`count` people who consented to news by email, each with an address, with COPY."""
    from django.db import connection

    from accounts.models import fold

    rng = random.Random(18)  # noqa: S311 - test data, not security
    started = time.monotonic()
    rows = io.StringIO()
    for _number in range(count):
        full_name = f"{rng.choice(FIRST_NAMES)} Bench{rng.randrange(10**6)}"
        key = " ".join(sorted(fold(full_name).split()))
        rows.write(
            f"{full_name}\tfr\t\t59000\t{rng.choice(COMMUNES)}\t\timport\tBench\t2026-01-01 00:00:00+00\t"
            f"2026-01-01 00:00:00+00\t{{email:news}}\t{{}}\t{key}\n"
        )
    rows.seek(0)
    with connection.cursor() as cursor:
        copy_people(cursor, rows)
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded {count:,} people with an address and consent in {time.monotonic() - started:.1f} s")


def _draft(organiser):
    from mailings import sending

    return sending.mailing_save(
        actor=organiser, chapter=None, segment=None, purpose="news", language="fr",
        subject='Samedi à {commune|"votre ville"}', preview_text="Tractage dans tout le pays", blocks=BODY,
    )  # fmt: skip


def measure_rendering(organiser, count):
    """The reference: each message rendered as the worker renders it (its links signed), in one
    process, nothing written, nothing sent."""
    from mailings import sending
    from mailings.models import Recipient
    from people.models import Person

    mailing = _draft(organiser)
    people = list(Person.objects.filter(user__isnull=True).order_by("pk")[:count])
    started = time.monotonic()
    compiled, _look = sending.compiled_for(mailing)
    for number, person in enumerate(people):
        row = Recipient(pk=number + 1, person=person, address=f"p{person.pk}@bench.example")
        sending._rendered(compiled, row, "http://bench.localhost/")
    seconds = time.monotonic() - started
    mailing.delete()
    return seconds


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure_sending(organiser, count):
    from django.db import connection

    from mailings import sending
    from mailings.models import Mailing, Recipient

    port = _free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "mailings.brevo_fake", "--port", str(port), "--key", KEY, "--track", "",
         "--without-bodies"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        fake.stdout.readline()  # "Fake Brevo on ...": it listens
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MAILINGS_PROVIDER": "brevo",
            "ANYMAIL_BREVO_API_KEY": KEY,
            "ANYMAIL_BREVO_API_URL": url + "/v3/",
            "MAILINGS_FROM_EMAIL": "mailings@bench.example",
            "MAILINGS_BATCH_SIZE": os.environ.get("BENCH_BATCH", "1000"),
            "MAILINGS_RATE_PER_SECOND": "1000000",  # the platform's own pace is not what is measured
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        mailing = _draft(organiser)
        started = time.monotonic()
        sending.mailing_send(actor=organiser, mailing=mailing, base_url="http://bench.localhost/")
        connection.close()
        worker = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "_mailings_worker_child.py")],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
        peak = [line for line in worker.stdout.splitlines() if line.startswith("PEAK_MB=")]
        if os.environ.get("BENCH_VERBOSE"):  # the worker's own output (its tasks, its memory)
            print(worker.stdout[-12000:])
        if worker.returncode or not peak:
            print(worker.stdout[-3000:], worker.stderr[-3000:])
            raise SystemExit("the worker failed")
        with urllib.request.urlopen(url + "/_fake/messages", timeout=120) as answer:  # noqa: S310 - loopback
            messages = json.load(answer)
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    addresses = [message["email"] for message in messages]
    expected = set(Recipient.objects.filter(mailing=mailing).values_list("address", flat=True))
    mailing = Mailing.objects.get(pk=mailing.pk)
    assert mailing.status == Mailing.Status.SENT, mailing.status
    return {
        "seconds": seconds,
        "peak_mb": float(peak[-1].split("=")[1]),
        "received": len(addresses),
        "duplicates": len(addresses) - len(set(addresses)),
        "missing": len(expected - set(addresses)),
        "sent_rows": Recipient.objects.filter(mailing=mailing, status="sent").count(),
    }


if __name__ == "__main__":
    main()
