"""A Stripe webhook delivered while the database is down, and one in the middle of being applied
when it goes down: both are answered 503, so Stripe retries, and the retry applies the event
once: one stored event, the order paid once, one mail to the buyer queued."""

import json
import threading

import requests
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import User
from shop import services
from shop.models import Product, PublicOrder, StockMove, StripeEvent
from shop.stripe_fake import FakeStripe, sign
from tests.faults.servers import wait_until

SECRET_KEY = "sk_test_faults_0123456789abcdef"
WEBHOOK_SECRET = "whsec_faults_0123456789abcdef"


def deliver(web, sent):
    """What Stripe does: POST the signed event to the organisation's endpoint."""
    payload = json.dumps(sent)
    return requests.post(
        f"{web.url}/shop/stripe/webhook/",
        data=payload.encode(),
        headers={
            "Host": "alpha.localhost",
            "Content-Type": "application/json",
            "Stripe-Signature": sign(payload, WEBHOOK_SECRET),
        },
        timeout=30,
    )


def test_a_webhook_during_an_outage_is_refused_then_applied_once(private_db, processes, settings):
    fake = FakeStripe(deliver=False).start()  # the test delivers, as Stripe would, and retries
    try:
        fake.add_account(SECRET_KEY)
        settings.STRIPE_API_BASE = fake.url
        with schema_context("alpha"):
            founder = User.objects.get(email="founder@alpha.example")
            services.settings_save(
                actor=founder,
                currency="EUR",
                collect_at_chapters=False,
                shop_contact="",
                publishable_key="pk_test_faults",
                secret_key=SECRET_KEY,
                webhook_secret=WEBHOOK_SECRET,
            )
            cap = services.product_save(
                actor=founder,
                product=Product(name="Cap", slug="cap-faults", kind="goodie", price=1200, public=True),
            ).variants.get()
            services.stock_receive(actor=founder, variant=cap, location=services.warehouse(), quantity=5)
        buyer = Client(HTTP_HOST="alpha.localhost")
        buyer.post("/shop/cart/add/", {"variant": cap.pk, "quantity": 2})
        checkout = buyer.post(
            "/shop/checkout/",
            {"full_name": "Camille Durand", "email": "camille@example.org", "payment": "stripe", "address": "1 rue X"},
        )
        assert checkout.status_code == 302
        session_id = checkout["Location"].rsplit("/", 1)[-1]
        fake.session_pay(session_id)
        completed = next(sent for _account, sent in fake.events if sent["type"] == "checkout.session.completed")
    finally:
        fake.stop()
    web = processes.web()

    # Delivered while the order is being applied: the event is stored, the order row is next,
    # and waits behind a lock this test holds, until the database goes.
    blocker = private_db.connect()
    blocker.execute("LOCK TABLE alpha.shop_publicorder IN ACCESS EXCLUSIVE MODE")
    answers = []
    delivery = threading.Thread(target=lambda: answers.append(deliver(web, completed)))
    delivery.start()
    wait_until(lambda: private_db.waiting_for_locks() >= 1, timeout=20, message="the webhook did not reach the order")
    private_db.stop(mode="immediate")  # every connection cut at once (see test_postgres_restart.py)
    delivery.join(timeout=30)
    blocker.close()
    in_flight = answers[0]
    assert (in_flight.status_code, in_flight.json()) == (503, {"error": "unavailable"})

    # Stripe retries while the database is still down.
    down = deliver(web, completed)
    assert down.status_code == 503
    assert down.headers["Retry-After"].isdigit()

    private_db.start()
    connection.close()  # the test's own connection went with the server
    applied = deliver(web, completed)
    assert (applied.status_code, applied.json()) == (200, {"received": True, "outcome": "paid"})
    again = deliver(web, completed)  # Stripe delivers at least once
    assert (again.status_code, again.json()) == (200, {"received": True, "outcome": "duplicate"})

    with schema_context("alpha"):
        order = PublicOrder.objects.get(stripe_session_id=session_id)
        assert order.status == PublicOrder.Status.PAID
        assert list(StripeEvent.objects.filter(event_id=completed["id"]).values_list("outcome", flat=True)) == ["paid"]
        assert list(StockMove.objects.filter(public_order=order).values_list("kind", "quantity")) == [
            ("reservation", 2)
        ]
    mails = DBTaskResult.objects.filter(task_path="shop.tasks.public_order_mail")
    assert [row.args_kwargs["args"] for row in mails] == [["alpha", order.pk, "paid"]]
