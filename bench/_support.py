"""What every benchmark shares: a database of its own, and the closing JSON line."""

import json
import os
import statistics

import psycopg


def use_fresh_database(name):
    """Point DATABASE_URL at a new, empty database `name` on the same server, then set Django up."""
    base_url = os.environ["DATABASE_URL"]
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    prefix, _, rest = base_url.partition("://")
    authority, _, path = rest.partition("/")
    query = path.partition("?")[2]
    os.environ["DATABASE_URL"] = f"{prefix}://{authority}/{name}" + (f"?{query}" if query else "")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return base_url


def in_fresh_database(name, run, *args):
    """Run `run(*args)` with Django set up on a new database `name`, dropped afterwards (kept with
    BENCH_KEEP_DATABASE=1, to look at its plans)."""
    base_url = use_fresh_database(name)
    try:
        run(*args)
    finally:
        if not os.environ.get("BENCH_KEEP_DATABASE"):
            drop_database(base_url, name)


def drop_database(base_url, name):
    from django.db import connections

    connections.close_all()
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def median(values):
    return statistics.median(values)


def percentile(values, fraction):
    """The nearest-rank percentile (`fraction` 0.99 for p99); NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def report(bench, figures, reference, goal, met):
    print(json.dumps({"bench": bench, "figures": figures, "reference": reference, "goal": goal, "met": met}))
