"""What every benchmark shares: a database of its own, and the closing JSON line."""

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

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


# What several benchmarks set up in the organisation they load. Django is imported inside: these
# run after in_fresh_database has configured it.


def session_keys(users):
    """A signed-in session for each user, as logging in would leave it: their cookie values."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    keys = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def shop_with_a_shirt(founder, *, stock, publishable_key, secret_key, webhook_secret):
    """The current organisation's shop with Stripe keys and one public T-shirt in one size, `stock`
    of it in the warehouse. Returns the variant."""
    from shop import services
    from shop.models import Product

    services.settings_save(
        actor=founder, currency="EUR", collect_at_chapters=False, shop_contact="",
        publishable_key=publishable_key, secret_key=secret_key, webhook_secret=webhook_secret,
    )  # fmt: skip
    shirt = services.product_save(
        actor=founder,
        product=Product(name="T-shirt", slug="t-shirt", kind=Product.Kind.GOODIE, price=1500, public=True),
        variants=[("M", "black")],
    )
    variant = shirt.variants.get()
    services.stock_receive(actor=founder, variant=variant, location=services.warehouse(), quantity=stock)
    return variant


def publish_article(*, title, slug, intro, sentences):
    """A published article of `sentences` sentences in the current organisation's news. Returns
    its path on the site."""
    from wagtail.models import Locale

    from cms.models import ArticlePage, HomePage, NewsIndexPage

    home = HomePage.objects.get(locale=Locale.get_default())
    news = NewsIndexPage.objects.get(locale=Locale.get_default())
    article = ArticlePage(
        title=title, slug=slug, intro=intro,
        body=[("paragraph", "<p>" + "Organising is patient work. " * sentences + "</p>")],
    )  # fmt: skip
    news.add_child(instance=article)
    article.save_revision().publish()
    return "/" + article.url_path.removeprefix(home.url_path)


def start_redis():
    from tests.helpers import free_port

    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(server).exists():
        raise SystemExit("this benchmark needs redis-server: apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        with contextlib.suppress(redis.ConnectionError):
            client.ping()
            return process, url
        time.sleep(0.1)
    process.kill()
    raise SystemExit("redis-server did not start")


def copy_people(cursor, rows):
    """COPY the tab-separated people of `rows` (a text file, at its start) into people_person, in
    the column order below, then give each who is not a member the address p<id>@bench.example."""
    with cursor.copy(
        "COPY people_person (full_name, language, address, postcode, commune, polling_station, source, "
        "source_detail, created, updated, consents, fields, name_key) FROM STDIN"
    ) as copy:
        while chunk := rows.read(1 << 20):
            copy.write(chunk)
    cursor.execute(
        "INSERT INTO people_personemail (person_id, email, is_primary, created) "
        "SELECT id, 'p' || id || '@bench.example', true, now() FROM people_person WHERE user_id IS NULL"
    )
