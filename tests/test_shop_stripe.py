"""Public checkout through Stripe, against the local fake of Stripe's API (shop/stripe_fake.py),
with webhook events signed the way Stripe signs them: valid, invalid, replayed, duplicated and
out-of-order deliveries."""

import datetime
import io
import json
import time

import pytest
import stripe
from django.core import mail
from django.core.management import call_command
from django_tenants.utils import schema_context

from shop import services
from shop.models import Product, PublicOrder, ShopSettings, StockLevel, StockMove, StripeEvent
from shop.stripe_fake import FakeStripe, event, sign
from tests.helpers import run_tasks

SECRET_KEY = "sk_test_alpha_0123456789abcdef"
WEBHOOK_SECRET = "whsec_alpha_0123456789abcdef"
WEBHOOK = "/shop/stripe/webhook/"


@pytest.fixture(scope="module")
def fake():
    server = FakeStripe(deliver=False).start()  # tests deliver the events themselves, through the test client
    server.add_account(SECRET_KEY, "http://alpha.localhost/shop/stripe/webhook/", WEBHOOK_SECRET)
    yield server
    server.stop()


@pytest.fixture
def shop(alpha, organiser, fake, settings):
    """Alpha sells a T-shirt in two sizes, 3 of each in the warehouse, and has Stripe set up."""
    settings.STRIPE_API_BASE = fake.url
    with schema_context("alpha"):
        user = organiser.user
        services.settings_save(
            actor=user,
            currency="EUR",
            collect_at_chapters=False,
            shop_contact="",
            publishable_key="pk_test_alpha",
            secret_key=SECRET_KEY,
            webhook_secret=WEBHOOK_SECRET,
        )
        shirt = services.product_save(
            actor=user,
            product=Product(name="T-shirt", slug="t-shirt", kind="goodie", price=1500, public=True),
            variants=[("M", "red"), ("L", "red")],
        )
        medium, large = shirt.variants.get(size="M"), shirt.variants.get(size="L")
        for variant in (medium, large):
            services.stock_receive(actor=user, variant=variant, location=services.warehouse(), quantity=3)
    return {"medium": medium, "large": large, "client": organiser.client(logged_in=False)}


def level(variant):
    with schema_context("alpha"):
        return StockLevel.objects.get(variant=variant, location=services.warehouse())


def buy(client, variant, quantity=1):
    """A visitor, no account: add to cart and check out; returns the response of the checkout."""
    client.post("/shop/cart/add/", {"variant": variant.pk, "quantity": quantity})
    return client.post(
        "/shop/checkout/",
        {"full_name": "Camille Durand", "email": "camille@example.org", "payment": "stripe", "address": "1 rue X"},
    )


def deliver(client, sent, *, secret=WEBHOOK_SECRET, timestamp=None, host=None):
    payload = json.dumps(sent)
    extra = {"HTTP_HOST": host} if host else {}
    return client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, secret, timestamp),
        **extra,
    )


def last_event(fake, event_type):
    return next(sent for _account, sent in reversed(fake.events) if sent["type"] == event_type)


def paid_order(shop, fake):
    client = shop["client"]
    response = buy(client, shop["medium"], 2)
    session_id = response["Location"].rsplit("/", 1)[-1]
    fake.session_pay(session_id)
    return session_id, last_event(fake, "checkout.session.completed")


def test_checkout_reserves_stock_and_sends_the_buyer_to_stripe(shop, fake):
    response = buy(shop["client"], shop["medium"], 2)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{fake.url}/pay/cs_test_")
    session = fake.sessions[response["Location"].rsplit("/", 1)[-1]]
    with schema_context("alpha"):
        order = PublicOrder.objects.get(stripe_session_id=session["id"])
    assert order.status == PublicOrder.Status.PENDING_PAYMENT
    assert session["amount_total"] == order.total == 2 * 1500
    assert session["metadata"] == {"order": order.reference}
    assert [(item["quantity"], item["price_data"]["unit_amount"]) for item in session["_line_items"]] == [("2", "1500")]
    assert (level(shop["medium"]).on_hand, level(shop["medium"]).reserved) == (3, 2)
    # Not paid until the webhook says so, even once the buyer is back on the success page.
    back = shop["client"].get(f"/shop/orders/{order.token}/?from=checkout")
    assert "waiting for Stripe to confirm" in back.content.decode()
    with schema_context("alpha"):
        assert PublicOrder.objects.get(pk=order.pk).status == PublicOrder.Status.PENDING_PAYMENT


def test_a_verified_completed_event_marks_the_order_paid_and_mails_the_buyer(
    shop, fake, django_capture_on_commit_callbacks
):
    session_id, completed = paid_order(shop, fake)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(shop["client"], completed)
    assert response.status_code == 200
    assert response.json()["outcome"] == "paid"
    with schema_context("alpha"):
        order = PublicOrder.objects.get(stripe_session_id=session_id)
        assert order.status == PublicOrder.Status.PAID
        assert order.paid is not None
        assert order.stripe_payment_intent == fake.sessions[session_id]["payment_intent"]
    page = shop["client"].get(f"/shop/orders/{order.token}/").content.decode()
    assert "Your payment is confirmed" in page
    # Paid goods stay reserved until they are sent.
    assert (level(shop["medium"]).on_hand, level(shop["medium"]).reserved) == (3, 2)
    run_tasks()
    assert [message.to for message in mail.outbox] == [["camille@example.org"]]
    assert order.reference in mail.outbox[0].subject


def test_the_library_accepts_the_fakes_signature(shop, fake):
    """The fake signs exactly as Stripe does: Stripe's own library verifies it."""
    _session_id, completed = paid_order(shop, fake)
    payload = json.dumps(completed)
    verified = stripe.Webhook.construct_event(payload, sign(payload, WEBHOOK_SECRET), WEBHOOK_SECRET)
    assert verified["id"] == completed["id"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), WEBHOOK_SECRET)


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "no header", "altered body", "replayed an hour later", "garbage header", "not json"],
)
def test_an_unverifiable_event_is_refused_with_400_and_changes_nothing(shop, fake, tamper):
    session_id, completed = paid_order(shop, fake)
    client = shop["client"]
    payload = json.dumps(completed)
    headers = {"HTTP_STRIPE_SIGNATURE": sign(payload, WEBHOOK_SECRET)}
    if tamper == "wrong secret":
        headers["HTTP_STRIPE_SIGNATURE"] = sign(payload, "whsec_someone_else")
    elif tamper == "no header":
        headers = {}
    elif tamper == "altered body":
        payload = payload.replace('"paid"', '"paid" ')
    elif tamper == "replayed an hour later":
        headers["HTTP_STRIPE_SIGNATURE"] = sign(payload, WEBHOOK_SECRET, time.time() - 3600)
    elif tamper == "garbage header":
        headers["HTTP_STRIPE_SIGNATURE"] = "t=,v1=\x00" * 50
    elif tamper == "not json":
        payload = "{not json"
        headers["HTTP_STRIPE_SIGNATURE"] = sign(payload, WEBHOOK_SECRET)
    response = client.post(WEBHOOK, data=payload, content_type="application/json", **headers)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_signature"}
    with schema_context("alpha"):
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.PENDING_PAYMENT
        assert not StripeEvent.objects.exists()


def test_a_duplicated_event_is_applied_once(shop, fake, django_capture_on_commit_callbacks):
    session_id, completed = paid_order(shop, fake)
    with django_capture_on_commit_callbacks(execute=True):
        first, second = deliver(shop["client"], completed), deliver(shop["client"], completed)
    assert (first.json()["outcome"], second.json()["outcome"]) == ("paid", "duplicate")
    with schema_context("alpha"):
        assert StripeEvent.objects.filter(event_id=completed["id"]).count() == 1
    run_tasks()
    assert len(mail.outbox) == 1  # one receipt, not two


def test_the_same_payment_under_a_new_event_id_is_harmless(shop, fake):
    """Stripe may send the same news twice under two ids: the second finds the order paid."""
    session_id, completed = paid_order(shop, fake)
    again = event("checkout.session.completed", completed["data"]["object"])
    assert deliver(shop["client"], completed).json()["outcome"] == "paid"
    assert deliver(shop["client"], again).json()["outcome"] == "already paid"
    with schema_context("alpha"):
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.PAID


def test_expired_after_completed_leaves_the_order_paid(shop, fake):
    session_id, completed = paid_order(shop, fake)
    stale = event("checkout.session.expired", {**completed["data"]["object"], "status": "expired"})
    deliver(shop["client"], completed)
    assert deliver(shop["client"], stale).json()["outcome"] == "already paid"
    with schema_context("alpha"):
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.PAID
    assert level(shop["medium"]).reserved == 2


def test_a_refund_delivered_before_the_payment_applies_once_the_payment_arrives(shop, fake):
    session_id, completed = paid_order(shop, fake)
    with schema_context("alpha"):
        order = PublicOrder.objects.get(stripe_session_id=session_id)
    # A refund made in Stripe's dashboard, delivered before the payment event.
    refunded = event(
        "charge.refunded",
        {
            "id": "ch_1",
            "object": "charge",
            "payment_intent": fake.sessions[session_id]["payment_intent"],
            "refunded": True,
        },
    )
    assert deliver(shop["client"], refunded).json()["outcome"].startswith("unknown payment")
    assert deliver(shop["client"], completed).json()["outcome"] == "paid, then refunded"
    with schema_context("alpha"):
        order.refresh_from_db()
    assert order.status == PublicOrder.Status.REFUNDED
    assert (level(shop["medium"]).on_hand, level(shop["medium"]).reserved) == (3, 0)


def test_an_expired_session_releases_the_stock(shop, fake):
    response = buy(shop["client"], shop["large"], 3)
    session_id = response["Location"].rsplit("/", 1)[-1]
    assert level(shop["large"]).available == 0
    fake.sessions[session_id]["status"] = "open"
    fake.session_expire(session_id)
    assert deliver(shop["client"], last_event(fake, "checkout.session.expired")).json()["outcome"] == "expired"
    with schema_context("alpha"):
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.EXPIRED
    assert (level(shop["large"]).on_hand, level(shop["large"]).reserved) == (3, 0)


def test_the_buyer_cancelling_on_stripe_expires_the_session_and_releases_the_stock(shop, fake):
    response = buy(shop["client"], shop["large"], 1)
    session_id = response["Location"].rsplit("/", 1)[-1]
    with schema_context("alpha"):
        order = PublicOrder.objects.get(stripe_session_id=session_id)
    confirm = shop["client"].get(f"/shop/orders/{order.token}/cancel/")
    assert "Cancel the order" in confirm.content.decode()
    assert level(shop["large"]).reserved == 1  # a GET changes nothing
    shop["client"].post(f"/shop/orders/{order.token}/cancel/")
    assert fake.sessions[session_id]["status"] == "expired"
    with schema_context("alpha"):
        assert PublicOrder.objects.get(pk=order.pk).status == PublicOrder.Status.EXPIRED
    assert level(shop["large"]).reserved == 0
    # Stripe's expired event, arriving afterwards, finds nothing left to do.
    assert deliver(shop["client"], last_event(fake, "checkout.session.expired")).json()["outcome"] == "already expired"


def test_a_refund_through_relais_releases_unsent_stock_and_the_webhook_is_then_a_no_op(shop, fake, organiser):
    session_id, completed = paid_order(shop, fake)
    deliver(shop["client"], completed)
    with schema_context("alpha"):
        order = PublicOrder.objects.get(stripe_session_id=session_id)
        services.public_order_refund(actor=organiser.user, order=order)
        order.refresh_from_db()
    assert order.status == PublicOrder.Status.REFUNDED
    assert (level(shop["medium"]).on_hand, level(shop["medium"]).reserved) == (3, 0)
    assert deliver(shop["client"], last_event(fake, "charge.refunded")).json()["outcome"] == "refunded"
    with schema_context("alpha"):
        releases = StockMove.objects.filter(public_order=order, kind=StockMove.Kind.RELEASE).count()
    assert releases == 1


def test_stripe_down_at_checkout_cancels_the_order_and_keeps_the_stock(shop, fake):
    fake.fail_next = 10  # the library retries twice
    try:
        response = buy(shop["client"], shop["medium"], 1)
    finally:
        fake.fail_next = 0
    assert response.status_code == 200
    assert "Card payment is unavailable" in response.content.decode()
    with schema_context("alpha"):
        assert PublicOrder.objects.get().status == PublicOrder.Status.CANCELLED
    assert level(shop["medium"]).reserved == 0


def test_a_lost_expiry_webhook_is_settled_by_asking_stripe(shop, fake):
    response = buy(shop["client"], shop["medium"], 1)
    session_id = response["Location"].rsplit("/", 1)[-1]
    with schema_context("alpha"):
        assert services.checkouts_settle() == 0  # too recent to settle
        released = services.checkouts_settle(older_than=datetime.timedelta(0))
        assert released == 1
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.EXPIRED
    assert fake.sessions[session_id]["status"] == "expired"
    assert level(shop["medium"]).reserved == 0


def test_the_settle_command_releases_unpaid_checkouts_in_every_organisation(shop, fake):
    response = buy(shop["client"], shop["large"], 2)
    session_id = response["Location"].rsplit("/", 1)[-1]
    out = io.StringIO()
    call_command("shop_settle_checkouts", older_than_minutes=0, stdout=out)
    assert "alpha: released 1 unpaid checkout(s)" in out.getvalue()
    assert fake.sessions[session_id]["status"] == "expired"
    assert level(shop["large"]).reserved == 0


def test_keys_are_stored_encrypted_and_only_hinted(shop):
    with schema_context("alpha"):
        row = ShopSettings.load()
    assert SECRET_KEY not in row.stripe_secret_key
    assert WEBHOOK_SECRET not in row.stripe_webhook_secret
    assert row.stripe_secret_hint == "sk_test_…cdef"
    assert row.stripe_configured


def test_another_organisations_webhook_does_not_reach_this_one(shop, fake, beta):
    """An event signed with alpha's secret, sent to beta's host: beta has no such secret."""
    session_id, completed = paid_order(shop, fake)
    response = deliver(shop["client"], completed, host="beta.localhost")
    assert response.status_code == 400
    with schema_context("alpha"):
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.PENDING_PAYMENT


def test_without_stripe_the_webhook_says_so(alpha, anonymous):
    payload = json.dumps(event("checkout.session.completed", {"id": "cs_x"}))
    response = anonymous.post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload, "x")
    )
    assert response.status_code == 400
    assert response.json() == {"error": "not_configured"}


def test_the_webhook_refuses_other_methods(shop):
    assert shop["client"].get(WEBHOOK).status_code == 405


def test_a_signed_body_that_is_not_utf8_is_refused_as_unreadable_and_stores_nothing(shop, fake):
    """Found by the fuzz suite: a body that is not UTF-8, with a valid signature over its bytes."""
    session_id, _completed = paid_order(shop, fake)
    payload = b"\x80"
    response = shop["client"].post(
        WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload, WEBHOOK_SECRET)
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unreadable"}
    with schema_context("alpha"):
        assert not StripeEvent.objects.exists()
        assert PublicOrder.objects.get(stripe_session_id=session_id).status == PublicOrder.Status.PENDING_PAYMENT
