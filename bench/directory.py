"""Directory search on a large organisation: 100,000 members, 200 searches as a member and as an
organiser, against a bare primary-key lookup measured in the same run.

BENCH_MEMBERS (default 100000) members with realistic French names are loaded with COPY into an
organisation of a database of its own (dropped at the end), spread over 50 local chapters, with
the same mix of privacy choices as the demo. Each search is what the directory page runs: the
page of 25 and the count, for a viewer whose grants are read afresh (as in a new request).
"""

import io
import os
import random
import statistics
import time

from bench._support import in_fresh_database, report

DATABASE = "relais_bench_directory"
GOAL_MS = 50.0
SEARCHES = 200
CITIES = (
    "Lille", "Roubaix", "Amiens", "Rennes", "Brest", "Quimper", "Toulouse", "Montpellier", "Lyon", "Marseille",
    "Nantes", "Bordeaux", "Strasbourg", "Grenoble", "Dijon", "Tours", "Limoges", "Rouen", "Caen", "Nancy",
)  # fmt: skip


def main():
    count = int(os.environ.get("BENCH_MEMBERS", "100000"))
    in_fresh_database(DATABASE, run, count)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(count):
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import User, fold
    from chapters import services as chapter_services
    from chapters.access import forget_grants
    from chapters.models import Chapter, Role, RoleAssignment
    from chapters.selectors import contact_visible_ids, directory_for, directory_paginator
    from operations import demo
    from tenants import services

    rng = random.Random(7)  # noqa: S311 - test data, not security
    call_command("migrate_schemas", interactive=False, verbosity=0)
    organisation, organiser = services.organisation_create(
        name="Bench", slug="bench", founder_name="Org", founder_email="org@bench.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context("bench"):
        national = Chapter.objects.get(depth=1)
        local_ids = []
        for region_number in range(5):
            region = chapter_services.chapter_create(
                actor=organiser,
                parent=national,
                name=f"Région {region_number}",
                slug=f"r{region_number}",
                kind="region",
            )
            for local_number in range(10):
                chapter = chapter_services.chapter_create(
                    actor=organiser,
                    parent=Chapter.objects.get(pk=region.pk),
                    name=f"Local {region_number}-{local_number}",
                    slug=f"l{region_number}-{local_number}",
                    kind="local",
                )
                local_ids.append(chapter.pk)

        visibilities = ["organisation"] * 5 + ["chapters"] * 4 + ["nobody"]
        started = time.monotonic()
        users = io.StringIO()
        now = timezone.now().isoformat()
        for number in range(count):
            first, last = rng.choice(demo.FIRST_NAMES), rng.choice(demo.LAST_NAMES)
            city = rng.choice(CITIES)
            skills = rng.sample(demo.SKILLS, rng.randrange(0, 3))
            interests = rng.sample(demo.INTERESTS, rng.randrange(0, 3))
            full_name = f"{first} {last}"
            search_text = fold(" ".join([full_name, city, *skills, *interests]))
            row = [
                f"m{number}@bench.example", full_name, "!", "f", "f", "t", now, f"+3361{number:07d}", "", "", city,
                "{" + ",".join(f'"{s}"' for s in skills) + "}", "{" + ",".join(f'"{s}"' for s in interests) + "}",
                rng.choice(visibilities), "f", "f", "f", search_text,
            ]  # fmt: skip
            users.write("\t".join(row) + "\n")
        users.seek(0)
        columns = (
            "email, full_name, password, is_superuser, is_staff, is_active, date_joined, phone, address, postcode, "
            "city, skills, interests, visibility, show_email, show_phone, show_address, search_text"
        )
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY accounts_user ({columns}) FROM STDIN") as copy:
                copy.write(users.getvalue())
            cursor.execute(
                "INSERT INTO chapters_membership (user_id, chapter_id, status, is_primary, requested, started, reason) "
                "SELECT u.id, (%s::bigint[])[1 + (u.id %% %s)], 'active', true, now(), now(), '' "
                "FROM accounts_user u WHERE u.email LIKE 'm%%@bench.example'",
                [local_ids, len(local_ids)],
            )
            cursor.execute("ANALYZE")
        load_seconds = time.monotonic() - started
        print(
            f"loaded {count} members and their memberships in {load_seconds:.1f}s ({count / load_seconds:,.0f} rows/s)"
        )

        member = User.objects.get(email="m12345@bench.example")
        coordinator = User.objects.get(email="m777@bench.example")
        RoleAssignment.objects.create(
            user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=Chapter.objects.get(slug="r2")
        )
        chapters = list(Chapter.objects.exclude(depth=1))
        queries = []
        for _ in range(SEARCHES):
            kind = rng.randrange(6)
            first, last, city = rng.choice(demo.FIRST_NAMES), rng.choice(demo.LAST_NAMES), rng.choice(CITIES)
            queries.append(
                [
                    {"query": fold(first)[:3]},
                    {"query": last},
                    {"query": f"{first} {last[:2]}"},
                    {"query": city, "skill": rng.choice(demo.SKILLS)},
                    {"chapter": rng.choice(chapters)},
                    {"query": fold(first), "chapter": rng.choice(chapters), "interest": rng.choice(demo.INTERESTS)},
                ][kind]
            )

        def timed(viewer, params):
            forget_grants(viewer)
            started = time.perf_counter()
            page = directory_paginator(directory_for(viewer, **params), params.get("query", "")).get_page(1)
            contact_visible_ids(viewer, [member.pk for member in page.object_list])
            page.paginator.count  # noqa: B018 - the page shows the count
            return (time.perf_counter() - started) * 1000

        slowest = []
        results = {}
        for label, viewer in [("member", member), ("coordinator", coordinator), ("organiser", organiser)]:
            timed(viewer, queries[0])  # warm the connection and caches once
            results[label] = [timed(viewer, params) for params in queries]
            slowest += sorted(zip(results[label], [label] * len(queries), map(str, queries), strict=True))[-3:]

        ids = list(User.objects.values_list("pk", flat=True)[:: max(1, count // 1000)])
        pk_times = []
        for pk in rng.sample(ids, min(200, len(ids))):
            started = time.perf_counter()
            User.objects.filter(pk=pk).first()
            pk_times.append((time.perf_counter() - started) * 1000)

        print()
        print(f"{'search as':<26}{'median (ms)':>12}{'p95 (ms)':>10}{'max (ms)':>10}")
        for label, values in results.items():
            median_ms, p95 = statistics.median(values), percentile(values, 0.95)
            print(f"{label:<26}{median_ms:>12.1f}{p95:>10.1f}{max(values):>10.1f}")
        print(
            f"{'primary-key lookup (ref.)':<26}{statistics.median(pk_times):>12.2f}{percentile(pk_times, 0.95):>10.2f}"
        )

        print("\nslowest searches:")
        for milliseconds, label, params in sorted(slowest, reverse=True):
            print(f"  {milliseconds:7.1f} ms  {label:<12} {params}")
        print("\nplan of a name search as a member (EXPLAIN ANALYZE):")
        print(directory_for(member, query="helene dub").explain(analyze=True))
        print("\nplan of a chapter listing as the organiser:")
        print(directory_for(organiser, chapter=chapters[3]).explain(analyze=True))

        worst_p95 = max(percentile(values, 0.95) for values in results.values())
        report(
            "directory",
            figures={
                "members": count,
                "load_rows_per_s": round(count / load_seconds),
                **{f"{label}_median_ms": round(statistics.median(v), 1) for label, v in results.items()},
                **{f"{label}_p95_ms": round(percentile(v, 0.95), 1) for label, v in results.items()},
            },
            reference={"pk_lookup_median_ms": round(statistics.median(pk_times), 2)},
            goal=f"p95 under {GOAL_MS:.0f} ms for every viewer",
            met=bool(worst_p95 < GOAL_MS),
        )
