"""Shop journeys: a chapter coordinator orders leaflets and national logistics approve and ship
them until the chapter receives them; a visitor buys a T-shirt through (a local fake of) Stripe
Checkout and sees the order paid once the webhook arrived."""

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from chapters.models import AuditEntry, Chapter, Role, RoleAssignment
from shop import services
from shop.models import (
    ChapterOrder,
    Location,
    Product,
    PublicOrder,
    ShopSettings,
    StockLevel,
    StockMove,
    StripeEvent,
)
from shop.stripe_fake import FakeStripe
from tests.browser.conftest import screenshot, sign_in, verified_user
from tests.helpers import free_port, running_stack

pytestmark = pytest.mark.browser

SECRET_KEY = "sk_test_shop_journey_0123456789"
WEBHOOK_SECRET = "whsec_shop_journey_0123456789"
CHAPTER_SLUG = "shop-journey-lille"
COORDINATOR = "coord.shop@alpha.example"
LOGISTICS = "logistics.shop@alpha.example"
BUYER = "buyer.shop@example.org"
PRODUCT_SLUGS = ["shop-journey-leaflets", "shop-journey-tshirt"]
SETTINGS_FIELDS = [
    "currency",
    "collect_at_chapters",
    "shop_contact",
    "stripe_publishable_key",
    "stripe_secret_key",
    "stripe_webhook_secret",
    "stripe_secret_hint",
    "stripe_webhook_hint",
]


@pytest.fixture(scope="module")
def shop_server(organisations):
    """The fake of Stripe, and a web stack of this module's own whose Stripe library talks to it."""
    fake = FakeStripe(deliver=True).start()
    port = free_port()
    fake.add_account(SECRET_KEY, f"http://alpha.localhost:{port}/shop/stripe/webhook/", WEBHOOK_SECRET)
    try:
        with running_stack("web-shop-tests.log", port, STRIPE_API_BASE=fake.url):
            yield port, fake  # the fake posts to alpha.localhost through 127.0.0.1 (see FakeStripe.send)
    finally:
        fake.stop()


@pytest.fixture
def committed_shop(organisations, django_db_blocker):
    """Alpha's shop data for the web server, committed, and everything the journeys add removed afterwards:
    a chapter with its coordinator, logistics on the national chapter, leaflets for chapters,
    a public T-shirt, and Stripe set up against the fake."""
    started = timezone.now()
    with django_db_blocker.unblock(), schema_context("alpha"):
        row = ShopSettings.load()
        saved_settings = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    try:
        with django_db_blocker.unblock(), schema_context("alpha"):
            founder = User.objects.get(email="founder@alpha.example")
            national = Chapter.objects.get(slug="national")
            chapter = national.add_child(name="Lille Fives", slug=CHAPTER_SLUG, kind="local")
            coordinator = verified_user(COORDINATOR, "Nadia Coordo")
            RoleAssignment.objects.create(
                user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=chapter
            )
            logistics = verified_user(LOGISTICS, "Louis Logistique")
            RoleAssignment.objects.create(
                user=logistics,
                role=Role.objects.get(name="Logistics manager"),
                chapter=Chapter.objects.get(slug="national"),
            )
            warehouse = services.warehouse()
            leaflets = services.product_save(
                actor=logistics,
                product=Product(
                    name="Climate march leaflets",
                    slug="shop-journey-leaflets",
                    kind=Product.Kind.LEAFLET,
                    price=2000,
                    pack_size=500,
                    chapter_orderable=True,
                ),
            ).variants.get()
            services.stock_receive(actor=logistics, variant=leaflets, location=warehouse, quantity=100)
            services.settings_save(
                actor=founder,
                currency=row.currency,
                collect_at_chapters=row.collect_at_chapters,
                shop_contact=row.shop_contact,
                publishable_key="pk_test_shop_journey",
                secret_key=SECRET_KEY,
                webhook_secret=WEBHOOK_SECRET,
            )
            shirt = services.product_save(
                actor=founder,
                product=Product(
                    name="Relais T-shirt",
                    slug="shop-journey-tshirt",
                    kind=Product.Kind.GOODIE,
                    description="Organic cotton, printed by a cooperative.",
                    price=1500,
                    public=True,
                    chapter_orderable=False,
                ),
                variants=[("M", ""), ("L", "")],
            )
            for variant in shirt.variants.all():
                services.stock_receive(actor=founder, variant=variant, location=warehouse, quantity=5)
            ids = {"leaflets": leaflets.pk, "large": shirt.variants.get(size="L").pk}
        yield ids
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            chapter_orders = ChapterOrder.objects.filter(chapter__slug=CHAPTER_SLUG)
            public_orders = PublicOrder.objects.filter(email=BUYER)
            StripeEvent.objects.filter(received__gte=started).delete()
            StockMove.objects.filter(
                Q(variant__product__slug__in=PRODUCT_SLUGS)
                | Q(chapter_order__in=chapter_orders)
                | Q(public_order__in=public_orders)
            ).delete()
            chapter_orders.delete()  # their lines and events with them
            public_orders.delete()
            Location.objects.filter(chapter__slug=CHAPTER_SLUG).delete()  # its levels with it
            Product.objects.filter(slug__in=PRODUCT_SLUGS).delete()  # variants and their levels with it
            RoleAssignment.objects.filter(
                Q(chapter__slug=CHAPTER_SLUG) | Q(user__email__in=[COORDINATOR, LOGISTICS])
            ).delete()
            AuditEntry.objects.filter(
                Q(chapter__slug=CHAPTER_SLUG)
                | Q(actor__email__in=[COORDINATOR, LOGISTICS])
                | Q(action__startswith="shop.", created__gte=started)
            ).delete()
            Chapter.objects.filter(slug=CHAPTER_SLUG).delete()
            User.objects.filter(email__in=[COORDINATOR, LOGISTICS]).delete()
            ShopSettings.objects.filter(pk=ShopSettings.load().pk).update(**saved_settings)
        with django_db_blocker.unblock():
            from django_tasks_db.models import DBTaskResult

            connection.set_schema_to_public()
            DBTaskResult.objects.filter(task_path__startswith="shop.tasks.", enqueued_at__gte=started).delete()


def warehouse_level(variant_id):
    return StockLevel.objects.get(variant_id=variant_id, location=services.warehouse())


# A chapter orders leaflets -------------------------------------------------------------------------


def test_a_coordinator_orders_leaflets_logistics_approve_and_ship_them_and_the_chapter_receives_them(
    shop_server, committed_shop, new_page, django_db_blocker
):
    port, _fake = shop_server
    base = f"http://alpha.localhost:{port}"

    coordinator = new_page()
    sign_in(coordinator, port, COORDINATOR)
    coordinator.get_by_role("navigation", name="Main").get_by_role("link", name="Material").click()
    expect(coordinator.get_by_role("heading", name="Material", level=1)).to_be_visible()
    coordinator.get_by_role("link", name="order material").click()
    expect(coordinator.get_by_role("heading", name="Order material for Lille Fives")).to_be_visible()
    quantity = coordinator.get_by_label("Climate march leaflets")
    expect(quantity).to_be_visible()
    quantity.fill("4")
    coordinator.get_by_role("button", name="Send the order").click()
    with django_db_blocker.unblock(), schema_context("alpha"):
        order = ChapterOrder.objects.get(chapter__slug=CHAPTER_SLUG)
    order_url = f"{base}/app/shop/orders/{order.reference}/"
    coordinator.wait_for_url(order_url)
    expect(coordinator.get_by_text(f"Order {order.reference} was sent to national logistics.")).to_be_visible()
    expect(coordinator.get_by_role("heading", name=f"Order {order.reference}", level=1)).to_be_visible()
    expect(coordinator.get_by_text("For Lille Fives · Requested")).to_be_visible()
    assert (order.status, order.units, order.total) == ("requested", 4, 8000)
    screenshot(coordinator, "shop-chapter-order-requested")

    logistics = new_page()
    sign_in(logistics, port, LOGISTICS)
    logistics.get_by_role("navigation", name="Main").get_by_role("link", name="Material").click()
    logistics.get_by_role("navigation", name="Shop").get_by_role("link", name="Chapter orders").click()
    row = logistics.get_by_role("row").filter(has_text=order.reference)
    expect(row).to_contain_text("Lille Fives")
    expect(row).to_contain_text("Requested")
    row.get_by_role("link", name=order.reference).click()
    logistics.wait_for_url(order_url)

    logistics.get_by_role("button", name="Approve and set the stock aside").click()
    expect(logistics.get_by_text("The order is approved; its stock is set aside.")).to_be_visible()
    expect(logistics.get_by_text("For Lille Fives · Approved")).to_be_visible()
    with django_db_blocker.unblock(), schema_context("alpha"):
        level = warehouse_level(committed_shop["leaflets"])
    assert (level.on_hand, level.reserved) == (100, 4), "the packs are set aside in the warehouse"

    logistics.get_by_role("button", name="Mark prepared").click()
    expect(logistics.get_by_text("The order is marked prepared.")).to_be_visible()
    logistics.get_by_label("Carrier", exact=True).fill("Colissimo")
    logistics.get_by_label("Tracking reference").fill("6A12345678901")
    logistics.get_by_role("button", name="Mark shipped").click()
    expect(logistics.get_by_text("The order is marked shipped.")).to_be_visible()
    expect(logistics.get_by_text("For Lille Fives · Shipped")).to_be_visible()
    screenshot(logistics, "shop-chapter-order-shipped")

    coordinator.goto(order_url)
    expect(coordinator.get_by_text("For Lille Fives · Shipped")).to_be_visible()
    expect(coordinator.get_by_text("Colissimo · 6A12345678901")).to_be_visible()
    coordinator.get_by_role("button", name="Mark received: add it to the chapter's stock").click()
    expect(coordinator.get_by_text("The order is received; the material is in the chapter's stock.")).to_be_visible()
    expect(coordinator.get_by_text("For Lille Fives · Received")).to_be_visible()
    screenshot(coordinator, "shop-chapter-order-received")

    with django_db_blocker.unblock(), schema_context("alpha"):
        order.refresh_from_db()
        chapter_stock = StockLevel.objects.get(
            variant_id=committed_shop["leaflets"], location__chapter__slug=CHAPTER_SLUG
        )
        level = warehouse_level(committed_shop["leaflets"])
        history = list(order.events.values_list("status", flat=True))
    assert order.status == "received"
    assert (order.carrier, order.tracking_reference) == ("Colissimo", "6A12345678901")
    assert (chapter_stock.on_hand, chapter_stock.reserved) == (4, 0)
    assert (level.on_hand, level.reserved) == (96, 0)
    assert history == ["requested", "approved", "prepared", "shipped", "received"]


# A visitor buys a T-shirt ------------------------------------------------------------------------


def test_a_visitor_buys_a_t_shirt_through_stripe_checkout_and_sees_the_order_paid(
    shop_server, committed_shop, new_page, django_db_blocker
):
    port, fake = shop_server
    base = f"http://alpha.localhost:{port}"
    visitor = new_page()
    visitor.goto(f"{base}/shop/")
    expect(visitor.get_by_role("heading", name="Shop", level=1)).to_be_visible()
    visitor.get_by_role("link", name="Relais T-shirt").click()
    visitor.wait_for_url(f"{base}/shop/p/shop-journey-tshirt/")
    expect(visitor.get_by_role("heading", name="Relais T-shirt", level=1)).to_be_visible()
    expect(visitor.get_by_text("€15.00")).to_be_visible()
    visitor.get_by_label("L", exact=True).check()
    expect(visitor.get_by_label("M", exact=True)).not_to_be_checked()
    screenshot(visitor, "shop-product")

    visitor.get_by_role("button", name="Add to cart").click()
    visitor.wait_for_url(f"{base}/shop/cart/")
    expect(visitor.get_by_text("Relais T-shirt L is in your cart.")).to_be_visible()
    visitor.get_by_role("link", name="Check out").click()
    visitor.wait_for_url(f"{base}/shop/checkout/")
    visitor.get_by_label("Your name").fill("Camille Durand")
    visitor.get_by_label("Email").fill(BUYER)
    visitor.get_by_label("Card, through Stripe").check()
    visitor.get_by_label("Delivery address").fill("12 rue des Tanneurs\n59000 Lille")
    visitor.get_by_role("button", name="Place the order").click()

    visitor.wait_for_url(f"{fake.url}/pay/**")
    expect(visitor.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
    expect(visitor.get_by_text("1 × Relais T-shirt L")).to_be_visible()
    with django_db_blocker.unblock(), schema_context("alpha"):
        order = PublicOrder.objects.get(email=BUYER)
    assert order.status == "pending_payment"
    assert order.stripe_session_id
    screenshot(visitor, "shop-fake-checkout")

    visitor.get_by_role("button", name="Pay 15.00 EUR").click()
    visitor.wait_for_url(f"{base}/shop/orders/{order.token}/?from=checkout")
    # The order page refreshes itself while the payment is awaited.
    expect(visitor.locator("#order-status")).to_have_text("Paid", timeout=20_000)
    expect(visitor.get_by_text("Your payment is confirmed.")).to_be_visible()
    expect(visitor.get_by_role("heading", name=f"Order {order.reference}", level=1)).to_be_visible()
    screenshot(visitor, "shop-order-paid")

    with django_db_blocker.unblock(), schema_context("alpha"):
        order.refresh_from_db()
        events = list(StripeEvent.objects.values_list("type", "outcome", "payload__data__object__id"))
        large = warehouse_level(committed_shop["large"])
        lines = list(order.lines.values_list("variant_id", "quantity"))
    assert order.status == "paid"
    assert order.paid is not None
    assert order.address.splitlines() == ["12 rue des Tanneurs", "59000 Lille"]
    assert lines == [(committed_shop["large"], 1)]
    assert events == [("checkout.session.completed", "paid", order.stripe_session_id)]
    assert [status for _event_id, status in fake.deliveries] == [200], "one webhook, signed and accepted"
    assert (large.on_hand, large.reserved) == (5, 1), "held for the order until it is sent"
