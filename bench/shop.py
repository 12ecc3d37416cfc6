"""A rush on the public shop: BENCH_BUYERS (default 200) visitors check out at the same moment for a
T-shirt of which BENCH_STOCK (default 50) are in the warehouse, paying by card through the local
fake of Stripe; beside as many product-page requests sent at the same moment, in the same run, on
the same Daphne process.

Each visitor is a thread with its own keep-alive connection and cookies. A buyer loads the product
page (for the CSRF cookie) and puts one T-shirt in its cart; then all are released together to send
the checkout form. A checkout either redirects to the fake's payment page (an order placed, its
T-shirt reserved) or shows the form again with "Not enough stock"; anything else is an error.
Every session opened is then paid on the fake, which delivers Stripe's signed
`checkout.session.completed` webhook to Daphne. The database must then hold one paid order per
session paid, and the warehouse must have promised no more T-shirts than it had.

At most BENCH_CONCURRENCY (default 50) requests are in flight at once: Daphne runs each request in
a thread of its own with a PostgreSQL connection of its own, so 200 in flight ask for more than the
server's max_connections (100) and get 500s.
"""

import os
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench._support import in_fresh_database, percentile, report, shop_with_a_shirt
from shop.stripe_fake import FakeStripe

DATABASE = "relais_bench_shop"
SLUG = "bench"
HOST = "bench.localhost"
SECRET_KEY = "sk_test_bench_0123456789abcdef"
WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"
PRODUCT_PAGE = "/shop/p/t-shirt/"
REFUSAL = "Not enough stock"
PAYERS = 8  # sessions paid at once on the fake, so webhooks reach Daphne concurrently too
TIMEOUT = 60


class Unexpected(Exception):
    """A visitor got an answer it should not have before the timed request."""


def main():
    in_fresh_database(DATABASE, run)


def prepare(stock):
    """Migrate, provision the organisation, set up its shop: Stripe keys, a T-shirt in one size,
    `stock` of it in the warehouse. Returns the variant's id."""
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from tenants.services import organisation_create

    call_command("migrate_schemas", interactive=False, verbosity=0)
    _organisation, founder = organisation_create(
        name="Bench", slug=SLUG, founder_name="Org", founder_email="org@bench.example",
        founder_password="bench-password-not-used-2026",
    )  # fmt: skip
    with schema_context(SLUG):
        variant = shop_with_a_shirt(
            founder, stock=stock, publishable_key="pk_test_bench", secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
        )
    return variant.pk


def together(count, in_flight, get_ready, act):
    """`count` visitors, one thread each, at most `in_flight` of them waiting for an answer at any
    time: get_ready(index) at their own pace, then, all released at once, act(state) timed. Returns
    each visitor's (outcome, detail), the latencies of the timed requests in ms (from the moment
    each is sent), and the wall time from the release to the last answer in seconds."""
    results, latencies, ends, released = [None] * count, [], [], []
    lock, slots = threading.Lock(), threading.Semaphore(in_flight)
    barrier = threading.Barrier(count, action=lambda: released.append(time.perf_counter()), timeout=TIMEOUT * 2)

    def visitor(index):
        try:
            with slots:
                state = get_ready(index)
        except (requests.RequestException, Unexpected) as error:
            state, results[index] = None, ("error", f"before the rush: {error}")
        barrier.wait()
        if state is None:
            return
        with slots:
            started = time.perf_counter()
            try:
                results[index] = act(state)
            except requests.RequestException as error:
                results[index] = ("error", repr(error))
            finished = time.perf_counter()
        with lock:
            latencies.append((finished - started) * 1000)
            ends.append(finished)

    threads = [threading.Thread(target=visitor, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, latencies, (max(ends) - released[0]) if ends else float("nan")


def expect(response, status):
    if response.status_code != status:
        raise Unexpected(f"{response.request.method} {urlsplit(response.url).path}: {response.status_code}")
    return response


def session():
    visitor = requests.Session()
    visitor.headers.update({"Host": HOST, "Accept-Language": "en"})
    return visitor


def ledger(variant_id):
    """What the database says after the rush and the payments."""
    from django.db.models import Sum
    from django_tenants.utils import schema_context

    from shop import services
    from shop.models import PublicOrder, PublicOrderLine, StockLevel, StockMove, StripeEvent

    paid = PublicOrder.Status.PAID
    with schema_context(SLUG):
        level = StockLevel.objects.get(variant_id=variant_id, location=services.warehouse())
        shipments = StockMove.objects.filter(kind=StockMove.Kind.SHIPMENT, variant_id=variant_id)
        return {
            "orders": PublicOrder.objects.count(),
            "paid": PublicOrder.objects.filter(status=paid).count(),
            "paid_units": PublicOrderLine.objects.filter(order__status=paid).aggregate(n=Sum("quantity"))["n"] or 0,
            "events_paid": StripeEvent.objects.filter(outcome="paid").count(),
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "shipped": shipments.aggregate(n=Sum("quantity"))["n"] or 0,
        }


def run():
    from django.db import connections

    from tests.helpers import free_port

    buyers = int(os.environ.get("BENCH_BUYERS", "200"))
    stock = int(os.environ.get("BENCH_STOCK", "50"))
    in_flight = int(os.environ.get("BENCH_CONCURRENCY", "50"))
    started = time.perf_counter()
    variant_id = prepare(stock)
    print(f"database migrated and shop set up in {time.perf_counter() - started:.1f}s")
    connections.close_all()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = FakeStripe().start()
    fake.add_account(SECRET_KEY, f"http://{HOST}:{port}/shop/stripe/webhook/", WEBHOOK_SECRET)
    pay_url = f"{fake.url}/pay/"
    env = {**os.environ, "STRIPE_API_BASE": fake.url, "LOG_LEVEL": "WARNING"}
    log_path = Path(__file__).resolve().parent.parent / ".data" / "shop_daphne.log"
    log = log_path.open("w")
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--verbosity", "0",
         "config.asgi:application"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    # The same visitors look at the product page, then buy: the page gives them the CSRF cookie.
    visitors = [session() for _ in range(buyers)]

    def product_ready(index):
        expect(visitors[index].get(base + PRODUCT_PAGE, timeout=TIMEOUT), 200)
        return visitors[index]

    def product_page(visitor):
        response = visitor.get(base + PRODUCT_PAGE, timeout=TIMEOUT)
        return ("ok", None) if response.status_code == 200 else ("error", str(response.status_code))

    def buyer_ready(index):
        visitor = visitors[index]
        token = visitor.cookies.get("csrftoken")
        if not token:
            raise Unexpected("no csrftoken cookie from the product page")
        added = visitor.post(
            base + "/shop/cart/add/",
            data={"variant": variant_id, "quantity": 1, "csrfmiddlewaretoken": token},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        expect(added, 302)
        return visitor, token, index

    def checkout(state):
        visitor, token, index = state
        response = visitor.post(
            base + "/shop/checkout/",
            data={
                "csrfmiddlewaretoken": token,
                "full_name": f"Buyer {index}",
                "email": f"buyer{index}@bench.example",
                "payment": "stripe",
                "address": f"{index} Rue de la Rush\n75000 Paris",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        location = response.headers.get("Location", "")
        if response.status_code == 302 and location.startswith(pay_url):
            return "placed", location.removeprefix(pay_url)
        if response.status_code == 200 and REFUSAL in response.text:
            return "refused", None
        return "error", f"{response.status_code} {location or response.text[:120]!r}"

    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"Daphne did not start; see {log_path}")
        # Warm up the templates and Django's lazy imports, without placing an order, with one more
        # visitor, dropped afterwards.
        visitors.append(session())
        product_ready(buyers)
        buyer_ready(buyers)
        expect(visitors.pop().get(base + "/shop/checkout/", timeout=TIMEOUT), 200)

        pages, page_latencies, page_wall = together(buyers, in_flight, product_ready, product_page)
        checkouts, checkout_latencies, race_wall = together(buyers, in_flight, buyer_ready, checkout)
        sessions = [detail for outcome, detail in checkouts if outcome == "placed"]
        started = time.perf_counter()
        with ThreadPoolExecutor(PAYERS) as pool:
            paid = [result for result in pool.map(fake.session_pay, sessions) if result is not None]
        pay_wall = time.perf_counter() - started
    finally:
        daphne.terminate()
        daphne.wait(timeout=20)
        log.close()
        fake.stop()
        for visitor in visitors:
            visitor.close()

    counts = {outcome: sum(1 for result in checkouts if result[0] == outcome) for outcome in ("placed", "refused")}
    errors = [detail for outcome, detail in checkouts if outcome == "error"]
    page_errors = [detail for outcome, detail in pages if outcome != "ok"]
    deliveries = [status for _event, status in fake.deliveries]
    db = ledger(variant_id)
    oversold = max(0, db["reserved"] + db["shipped"] - stock)
    checks = [
        ("one paid order per session paid", db["paid"] == len(paid) == db["events_paid"]),
        ("every session opened was paid", len(paid) == counts["placed"] == db["orders"]),
        ("every webhook answered 200", len(deliveries) == len(paid) and all(s == 200 for s in deliveries)),
        ("units reserved = units paid", db["reserved"] == db["paid_units"]),
        (f"units on hand = {stock} received", db["on_hand"] == stock),
        ("nothing refused while stock was left", counts["placed"] == min(buyers, stock)),
    ]
    tracebacks = log_path.read_text().count("Traceback")

    page_rate = len(page_latencies) / page_wall
    checkout_rate = len(checkout_latencies) / race_wall
    print(
        f"One Daphne process on loopback, {buyers} visitors released at once, {in_flight} requests in flight "
        f"at most, {stock} T-shirts in stock\n"
    )
    print(f"{'request':<38}{'per s':>8}{'median ms':>11}{'p99 ms':>9}{'errors':>8}")
    for label, rate, latencies, failed in [
        ("product page (reference)", page_rate, page_latencies, page_errors),
        ("checkout, card through fake Stripe", checkout_rate, checkout_latencies, errors),
    ]:
        median, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"{label:<38}{rate:>8.0f}{median:>11.1f}{p99:>9.1f}{len(failed):>8}")
    ratio = page_rate / checkout_rate if checkout_rate else float("inf")
    print(f"\nproduct pages per checkout in the same time: {ratio:.2f}x")
    print(
        f"orders placed {counts['placed']}, refused for lack of stock {counts['refused']}, errors {len(errors)}, "
        f"oversold {oversold}"
    )
    webhook_rate = len(paid) / pay_wall if pay_wall else float("nan")
    print(f"sessions paid {len(paid)} in {pay_wall:.2f}s ({webhook_rate:.0f} webhooks/s, {PAYERS} at once)")
    print(
        f"warehouse: {db['on_hand']} on hand, {db['reserved']} reserved, {db['shipped']} shipped; "
        f"{db['paid']} paid orders of {db['orders']}"
    )
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    for detail in sorted(set(errors + page_errors))[:5]:
        print(f"  error: {detail}")
    if tracebacks:
        print(f"  {tracebacks} tracebacks in {log_path}")

    report(
        "shop",
        figures={
            "orders_placed": counts["placed"],
            "refused_out_of_stock": counts["refused"],
            "errors": len(errors),
            "oversold": oversold,
            "checkouts_per_s": round(checkout_rate, 1),
            "checkout_p99_ms": round(percentile(checkout_latencies, 0.99), 1),
            "webhooks_per_s": round(webhook_rate, 1),
            "consistent": all(ok for _name, ok in checks),
        },
        reference={
            "product_page_rps": round(page_rate, 1),
            "product_page_p99_ms": round(percentile(page_latencies, 0.99), 1),
            "product_page_errors": len(page_errors),
        },
        goal=f"{buyers} checkouts for {stock} units: none oversold, none failing, each paid session a paid order",
        met=oversold == 0 and not errors and all(ok for _name, ok in checks),
    )
