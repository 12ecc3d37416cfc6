"""The supporter base at a million people: a saved segment's count and first page, an import of a
1,000,000-row CSV, and the review list of likely duplicates, each beside PostgreSQL's own figure
for the same data in the same run.

BENCH_PEOPLE (default 1000000) people are loaded with COPY into an organisation of a database of
its own (dropped at the end): 5 regions of 10 local chapters whose areas are departments, each
person with a postcode in one of them, an address, a mobile number for 60 %, email consent for
70 %, SMS consent for 30 %, up to two of 20 tags, names from a large synthetic pool and 1,000
planted likely duplicates. Then:

1. segment (on the base vacuumed, as autovacuum leaves it): chapter subtree (a region) + a tag +
   email consent, counted with its first page of 50, as a national organiser and as the region's
   coordinator (whose scope is an EXISTS over the chapter links), 60 times each: p95 against
   `SELECT count(*)` of the person table (goal ≤ 250 ms).
2. import: a CSV of BENCH_IMPORT_ROWS (default 1000000) rows (half new people, half already in the
   base, so that matching is exercised), run by people.imports.run in a process of its own whose
   peak memory is read from the kernel, against PostgreSQL's COPY of the same file into an unlogged
   table (goal: under 60 s, at least 16,000 rows/s, under 400 MB). The peak is the child's own
   high-water mark (VmHWM): getrusage would add this process's memory at the fork.
3. duplicates: people.merging.duplicates_find over the whole base, against a bare self-join on the
   name key (goal: under 60 s).
"""

import csv
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._support import copy_people, in_fresh_database, percentile, report

DATABASE = "relais_bench_people"
SEGMENT_GOAL_MS = 250.0
IMPORT_GOAL_S = 60.0
IMPORT_GOAL_MB = 400.0
DUPLICATES_GOAL_S = 60.0
RUNS = 60
TAGS = 20
SYLLABLES = (
    "ber", "lan", "dou", "mar", "tin", "ro", "gal", "vi", "nel", "char", "pen", "fleu", "co", "mo", "ris",
    "dal", "ker", "bou", "val", "lec",
)  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent
FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Alice", "Lina", "Zoé", "Hélène",
    "Lucas", "Hugo", "Louis", "Nathan", "Jules", "Gabriel", "Arthur", "Raphaël", "Théo", "Karim", "Yanis",
    "Mehdi", "Bastien", "Étienne", "François", "Agnès", "Benoît", "Cécile", "Fatou", "Amina", "Nadia",
)  # fmt: skip


def main():
    count = int(os.environ.get("BENCH_PEOPLE", "1000000"))
    in_fresh_database(DATABASE, run, count)


def surname(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3)))).capitalize()


def run(count):
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from tenants import services

    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, organiser = services.organisation_create(
        name="Bench", slug="bench", founder_name="Org", founder_email="org@bench.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    figures, reference, met = {}, {}, {}
    with schema_context("bench"):
        world = load(count, organiser)
        figures["people"] = count
        figures["load_rows_per_s"] = world["load_rows_per_s"]
        for name, measure in [
            ("segment", measure_segment),
            ("import", measure_import),
            ("duplicates", measure_duplicates),
        ]:
            outcome = measure(world)
            if outcome is None:
                print(f"\n{name}: not measured (the code it measures is not there)")
                continue
            part_figures, part_reference, part_met = outcome
            figures |= part_figures
            reference |= part_reference
            met[name] = part_met
    report(
        "people",
        figures=figures,
        reference=reference,
        goal=(
            f"segment count + first page p95 <= {SEGMENT_GOAL_MS:.0f} ms; import of 1,000,000 rows < "
            f"{IMPORT_GOAL_S:.0f} s (>= 16,000 rows/s) under {IMPORT_GOAL_MB:.0f} MB; likely duplicates over the "
            f"base < {DUPLICATES_GOAL_S:.0f} s"
        ),
        met=bool(met) and all(met.values()),
    )


# Loading ----------------------------------------------------------------------------------------


def load(count, organiser):
    """The chapters, the tags and `count` people, with COPY and set-based inserts."""
    from django.db import connection

    from accounts.models import fold
    from chapters import services as chapter_services
    from chapters.models import Chapter, Role, RoleAssignment
    from people import services as people_services
    from people.models import Tag

    rng = random.Random(17)  # noqa: S311 - test data, not security
    national = Chapter.objects.get(depth=1)
    regions, locals_ = [], []
    for region_number in range(5):
        departments = [str(10 + 10 * region_number + local) for local in range(10)]
        region = chapter_services.chapter_create(
            actor=organiser, parent=national, name=f"Région {region_number}", slug=f"r{region_number}",
            kind="region", area=" ".join(departments),
        )  # fmt: skip
        regions.append(region)
        for local, department in enumerate(departments):
            locals_.append(
                chapter_services.chapter_create(
                    actor=organiser,
                    parent=Chapter.objects.get(pk=region.pk),
                    name=f"Local {department}",
                    slug=f"l{region_number}-{local}",
                    kind="local",
                    area=department,
                )  # fmt: skip
            )
    tags = [Tag.objects.create(name=f"tag-{number:02d}") for number in range(TAGS)]

    started = time.monotonic()
    people = io.StringIO()
    planted = set(rng.sample(range(count), min(1000, count // 2)))
    previous = None
    for number in range(count):
        if number in planted and previous is not None:
            full_name, postcode = previous  # the same human, entered twice with another address
        else:
            full_name = f"{rng.choice(FIRST_NAMES)} {surname(rng)}"
            department = 10 + rng.randrange(50)
            postcode = f"{department}{rng.randrange(1000):03d}"
        previous = (full_name, postcode)
        consents = []
        if rng.random() < 0.7:
            consents.append("email:news")
        if rng.random() < 0.3:
            consents.append("sms:events")
        key = " ".join(sorted(fold(full_name).split()))
        people.write(
            f"{full_name}\tfr\t{rng.randrange(1, 200)} rue de la République\t{postcode}\t\t\timport\tBench\t"
            f"2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t{{{','.join(consents)}}}\t{{}}\t{key}\n"
        )
    people.seek(0)
    with connection.cursor() as cursor:
        copy_people(cursor, people)
        cursor.execute(
            "INSERT INTO people_personphone (person_id, number, is_mobile, is_primary, created) "
            "SELECT id, '+336' || lpad((id * 7919 %% 100000000)::text, 8, '0'), true, true, now() "
            "FROM people_person WHERE id %% 10 < 6 AND user_id IS NULL",
            [],
        )
        for offset, tag in enumerate(tags):
            # Each tag on about 5 % of the people, two at most per person.
            cursor.execute(
                "INSERT INTO people_person_tags (person_id, tag_id) SELECT id, %s FROM people_person "
                "WHERE (id * 31 + %s) %% 40 IN (0, 1) ON CONFLICT DO NOTHING",
                [tag.pk, offset],
            )
    for chapter in Chapter.objects.exclude(area=""):
        people_services.chapter_area_apply(chapter)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seconds = time.monotonic() - started
    print(f"loaded {count:,} people, their addresses, numbers, tags and chapters in {seconds:.1f} s")
    # A base of a million people has been vacuumed by autovacuum since it was loaded: without it the
    # visibility map is empty, and every index-only scan of the segment reads the table as well.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    coordinator = _user("coordinator@bench.example")
    RoleAssignment.objects.create(
        user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=regions[2]
    )
    return {
        "count": count,
        "organiser": organiser,
        "coordinator": coordinator,
        "region": regions[2],
        "tag": tags[3],
        "load_rows_per_s": round(count / seconds),
        "rng": rng,
    }


def _user(email):
    from accounts.models import User

    return User.objects.create_user(email=email, password="bench-password-not-used-2026", full_name="Coordinator")


def _timed(function, runs=RUNS):
    function()  # warm the connection and the plan cache
    values = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        values.append((time.perf_counter() - started) * 1000)
    return values


def _row(label, values):
    print(f"{label:<44}{statistics.median(values):>10.1f}{percentile(values, 0.95):>10.1f}{max(values):>10.1f}")


# 1. A saved segment -----------------------------------------------------------------------------


def measure_segment(world):
    try:
        from people import segments
    except ImportError:
        return None
    from django.db import connection

    from chapters.access import forget_grants
    from people.models import Person

    definition = segment_definition(world)
    segment = segments.segment_save(
        actor=world["organiser"], chapter=None, name="Bench: region 2, tag-03, email", definition=definition
    )

    def count_and_page(viewer):
        def run():
            forget_grants(viewer)  # as in a new request
            people = segments.audience_for(viewer, segment, "people.view")
            people.count()
            list(people.order_by("-created", "-id")[:50])

        return run

    def bare_count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM people_person")
            cursor.fetchone()

    results = {
        "organiser": _timed(count_and_page(world["organiser"])),
        "coordinator": _timed(count_and_page(world["coordinator"])),
    }
    reference = _timed(bare_count)
    found = segments.audience_for(world["organiser"], segment, "people.view").count()
    print(f"\nsegment (region 2 + tag-03 + email consent): {found:,} of {Person.objects.count():,} people")
    print(f"{'count + first page of 50, as':<44}{'median ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for label, values in results.items():
        _row(label, values)
    _row("SELECT count(*) FROM people_person (ref.)", reference)
    print("\nplan, as the region's coordinator (EXPLAIN ANALYZE of the count):")
    print(segments.audience_for(world["coordinator"], segment, "people.view").explain(analyze=True))
    worst = max(percentile(values, 0.95) for values in results.values())
    return (
        {
            "segment_matches": found,
            **{f"segment_{label}_p95_ms": round(percentile(v, 0.95), 1) for label, v in results.items()},
            **{f"segment_{label}_median_ms": round(statistics.median(v), 1) for label, v in results.items()},
        },
        {"count_star_p95_ms": round(percentile(reference, 0.95), 1)},
        worst <= SEGMENT_GOAL_MS,
    )


def segment_definition(world):
    """Chapter subtree + a tag + email consent, in people.segments' definition format."""
    from people import segments

    return segments.example_definition(chapter=world["region"], tag=world["tag"], channel="email", purpose="news")


# 2. An import of 1,000,000 rows -----------------------------------------------------------------


def measure_import(world):
    try:
        from people import imports  # noqa: F401 - only whether it is there
    except ImportError:
        return None
    from django.db import connection

    rows = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
    rng = world["rng"]
    path = Path(tempfile.mkdtemp(prefix="relais-bench-")) / "people.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "prénom", "nom", "téléphone", "code postal", "étiquette", "consentement e-mail"])
        existing = world["count"]
        for number in range(rows):
            # Every other line someone already in the base (by address), else someone new.
            email = f"p{rng.randrange(1, existing)}@bench.example" if number % 2 else f"new{number}@import.example"
            phone = f"06{rng.randrange(10, 90)}{rng.randrange(10**6):06d}"
            postcode = f"{10 + rng.randrange(50)}{rng.randrange(1000):03d}"
            consent = "oui" if rng.random() < 0.6 else ""
            writer.writerow([email, rng.choice(FIRST_NAMES), surname(rng), phone, postcode, "import-bench", consent])
    size_mb = path.stat().st_size / 1e6
    print(f"\nimport: {rows:,} rows, {size_mb:.0f} MB of CSV")

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_copy (email text, first text, last text, phone text, postcode text, "
            "tag text, consent text)"
        )
        with (
            path.open("rb") as handle,
            cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        cursor.execute("DROP TABLE bench_copy")
    copy_seconds = time.monotonic() - started

    # The import runs as the worker runs it: in a process of its own, whose peak memory we read.
    command = [sys.executable, str(ROOT / "bench" / "_people_import_child.py"), str(path), world["organiser"].email]
    started = time.monotonic()
    child = subprocess.run(command, env=os.environ.copy(), cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    lines = child.stdout.strip().splitlines()
    print("\n".join(line for line in lines if not line.startswith("PEAK_MB=")))
    if child.returncode:
        print(child.stderr[-3000:])
        return {"import_failed": True}, {"copy_s": round(copy_seconds, 1)}, False
    peak_mb = float(next(line for line in lines if line.startswith("PEAK_MB=")).partition("=")[2])
    print(f"{'':<30}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    print(f"{'people.imports.run':<30}{seconds:>10.1f}{rows / seconds:>12,.0f}{peak_mb:>10.0f}")
    print(f"{'COPY of the same file (ref.)':<30}{copy_seconds:>10.1f}{rows / copy_seconds:>12,.0f}")
    return (
        {"import_s": round(seconds, 1), "import_rows_per_s": round(rows / seconds), "import_peak_mb": round(peak_mb)},
        {"copy_s": round(copy_seconds, 1), "copy_rows_per_s": round(rows / copy_seconds)},
        seconds < IMPORT_GOAL_S * rows / 1_000_000 and peak_mb < IMPORT_GOAL_MB,
    )


# 3. Likely duplicates ---------------------------------------------------------------------------


def measure_duplicates(world):
    try:
        from people import merging
    except ImportError:
        return None
    from django.db import connection

    from people.models import DuplicatePair

    started = time.monotonic()
    merging.duplicates_find()
    seconds = time.monotonic() - started
    pairs = DuplicatePair.objects.count()

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM people_person a JOIN people_person b "
            "ON a.name_key = b.name_key AND a.postcode = b.postcode AND a.id < b.id"
        )
        bare = cursor.fetchone()[0]
    bare_seconds = time.monotonic() - started
    print(
        f"\nlikely duplicates over {world['count']:,} people: {pairs:,} pairs to review ({bare:,} by name and postcode)"
    )
    print(f"{'people.merging.duplicates_find':<44}{seconds:>10.1f} s")
    print(f"{'self-join on name key and postcode (ref.)':<44}{bare_seconds:>10.1f} s")
    return (
        {"duplicates_s": round(seconds, 1), "duplicate_pairs": pairs},
        {"self_join_s": round(bare_seconds, 1)},
        seconds < DUPLICATES_GOAL_S,
    )
