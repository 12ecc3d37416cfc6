"""How long it takes to provision an organisation: plain migrations against the template clone.

Creates BENCH_TENANTS organisations (default 5) each way, alternating the two paths so that
neither gets a warmer cache, in a database of its own that is dropped at the end. Each figure is
the whole of tenants.services.organisation_create (rows, schema, founder), as a signup pays it.
"""

import logging
import os
import time

from bench._support import in_fresh_database, median, report

DATABASE = "relais_bench_provisioning"
GOAL_SECONDS = 1.0
GOAL_RATIO = 7.0


def main():
    count = int(os.environ.get("BENCH_TENANTS", "5"))
    in_fresh_database(DATABASE, run, count)


def run(count):
    from django.conf import settings
    from django.core.management import call_command

    from tenancy.schema_compare import describe_schema
    from tenants import services

    logging.getLogger("tenants.services").setLevel(logging.WARNING)
    started = time.monotonic()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    print(f"database migrated (public and template) in {time.monotonic() - started:.1f}s")

    schema_timings = {"migrate": [], "clone": []}
    original_schema_create = services.schema_create

    def timed_schema_create(schema_name, *, method="clone"):
        started = time.monotonic()
        original_schema_create(schema_name, method=method)
        schema_timings[method].append(time.monotonic() - started)

    services.schema_create = timed_schema_create
    timings = {"migrate": [], "clone": []}
    for index in range(count):
        for method in ("migrate", "clone"):
            slug = f"bench-{method}-{index}"
            started = time.monotonic()
            services.organisation_create(
                name=slug,
                slug=slug,
                founder_name="Bench",
                founder_email=f"{slug}@example.org",
                founder_password="bench-password-not-used-2026",
                method=method,
            )
            timings[method].append(time.monotonic() - started)
            print(f"  {slug:<20} {timings[method][-1]:6.2f} s", flush=True)

    same = describe_schema("bench-clone-0", with_data=False) == describe_schema("bench-migrate-0", with_data=False)
    same_as_template = describe_schema("bench-clone-0", with_data=False) == describe_schema(
        settings.TENANT_BASE_SCHEMA, with_data=False
    )
    migrate_median, clone_median = median(timings["migrate"]), median(timings["clone"])
    ratio = migrate_median / clone_median

    print()
    print(f"{'path':<28}{'median (s)':>12}{'min (s)':>10}{'max (s)':>10}")
    for label, method in [("plain migrations (reference)", "migrate"), ("template clone", "clone")]:
        values = timings[method]
        print(f"{label:<28}{median(values):>12.3f}{min(values):>10.3f}{max(values):>10.3f}")
    print(f"{'speed-up (reference / clone)':<28}{ratio:>12.1f}x")
    print(
        f"of which the schema alone: {median(schema_timings['migrate']):.3f} s migrating, "
        f"{median(schema_timings['clone']):.3f} s cloning; the rest is the organisation's rows and the "
        "founder's account (its password hash is most of it)"
    )
    print(f"clone structure equals plain migrations: {same}; equals the template: {same_as_template}")
    report(
        "provisioning",
        figures={
            "clone_median_s": round(clone_median, 3),
            "clone_schema_median_s": round(median(schema_timings["clone"]), 3),
            "speedup": round(ratio, 1),
            "tenants_each_way": count,
        },
        reference={
            "migrate_median_s": round(migrate_median, 3),
            "migrate_schema_median_s": round(median(schema_timings["migrate"]), 3),
        },
        goal=f"clone median under {GOAL_SECONDS} s and at least {GOAL_RATIO}x faster than plain migrations",
        met=bool(clone_median < GOAL_SECONDS and ratio >= GOAL_RATIO and same and same_as_template),
    )
