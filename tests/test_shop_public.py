"""The public shop without Stripe: catalogue, cart, pay-and-collect checkout, the buyer's order
page, bad input, and what another organisation's visitors see."""

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from chapters.models import Chapter
from shop import services
from shop.models import Product, PublicOrder, StockLevel
from tests.helpers import run_tasks


@pytest.fixture
def catalogue(alpha, organiser):
    """A public mug (2 in stock), a chapters-only leaflet, and an inactive badge."""
    with schema_context("alpha"):
        user = organiser.user
        mug = services.product_save(
            actor=user, product=Product(name="Mug militant", slug="mug", kind="goodie", price=850, public=True)
        )
        leaflet = services.product_save(
            actor=user, product=Product(name="Tract interne", slug="tract", kind="leaflet", price=100, pack_size=500)
        )
        badge = services.product_save(
            actor=user,
            product=Product(name="Badge retiré", slug="badge", kind="goodie", price=200, public=True, active=False),
        )
        for product in (mug, leaflet, badge):
            services.stock_receive(
                actor=user, variant=product.variants.get(), location=services.warehouse(), quantity=2
            )
        lille = Chapter.objects.get(slug="national").add_child(name="Lille", slug="lille-shop")
        variants = {"mug": mug.variants.get(), "leaflet": leaflet.variants.get(), "badge": badge.variants.get()}
    return {**variants, "lille": lille}


def checkout(client, chapter, **overrides):
    data = {"full_name": "Noa Martin", "email": "noa@example.org", "payment": "collect", "collect_chapter": chapter.pk}
    return client.post("/shop/checkout/", {**data, **overrides})


def test_the_catalogue_shows_what_is_on_sale_and_nothing_else(catalogue, anonymous):
    page = anonymous.get("/shop/").content.decode()
    assert "Mug militant" in page
    assert "8.50" in page or "8,50" in page
    assert "Tract interne" not in page  # chapters only
    assert "Badge retiré" not in page  # inactive
    assert anonymous.get("/shop/p/tract/").status_code == 404
    assert anonymous.get("/shop/p/badge/").status_code == 404


def test_a_visitor_orders_to_collect_at_a_chapter(catalogue, anonymous, django_capture_on_commit_callbacks):
    anonymous.post("/shop/cart/add/", {"variant": catalogue["mug"].pk, "quantity": 2})
    assert "Mug militant" in anonymous.get("/shop/cart/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = checkout(anonymous, catalogue["lille"])
    with schema_context("alpha"):
        order = PublicOrder.objects.get()
        level = StockLevel.objects.get(variant=catalogue["mug"], location=services.warehouse())
    assert response["Location"] == f"/shop/orders/{order.token}/"
    assert (order.status, order.collect_chapter, order.total) == ("to_collect", catalogue["lille"], 1700)
    assert (level.on_hand, level.reserved) == (2, 2)
    page = anonymous.get(response["Location"]).content.decode()
    assert "Lille" in page
    assert order.reference in page
    assert anonymous.get("/shop/cart/").content.decode().count("Mug militant") == 0  # the cart is emptied
    run_tasks()
    assert [message.to for message in mail.outbox] == [["noa@example.org"]]
    assert f"/shop/orders/{order.token}/" in mail.outbox[0].body


def test_the_last_units_cannot_be_bought_twice(catalogue, anonymous):
    first, second = anonymous, Client(HTTP_HOST="alpha.localhost")
    for client in (first, second):
        client.post("/shop/cart/add/", {"variant": catalogue["mug"].pk, "quantity": 2})
    checkout(first, catalogue["lille"])
    refused = checkout(second, catalogue["lille"])
    assert "Not enough stock" in refused.content.decode()
    with schema_context("alpha"):
        assert PublicOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("variant_field", "quantity"),
    [("mug", "abc"), ("mug", "-1"), ("mug", "100"), ("mug", "0"), ("leaflet", "1"), ("badge", "1"), ("9999999", "1")],
)
def test_a_bad_cart_addition_is_refused_and_adds_nothing(catalogue, anonymous, variant_field, quantity):
    variant = catalogue[variant_field].pk if variant_field in catalogue else variant_field
    response = anonymous.post("/shop/cart/add/", {"variant": variant, "quantity": quantity}, follow=True)
    assert response.status_code == 200
    assert "Your cart is empty" in anonymous.get("/shop/cart/").content.decode()


def test_a_tampered_session_cart_is_ignored(catalogue, anonymous):
    with schema_context("alpha"):  # the session lives in the organisation's schema
        session = anonymous.session
        session["shop_cart"] = {"x": 1, str(catalogue["leaflet"].pk): 3, str(catalogue["mug"].pk): "2", "1e9": 5}
        session.save()
    anonymous.cookies["sessionid"] = session.session_key
    page = anonymous.get("/shop/cart/").content.decode()
    assert "Mug militant" in page
    assert "Tract interne" not in page


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"email": "not-an-address"}, "Enter a valid email address"),
        ({"full_name": ""}, "This field is required"),
        ({"collect_chapter": ""}, "Choose the chapter where you will collect"),
        ({"collect_chapter": "999999"}, "Select a valid choice"),
        ({"payment": "stripe"}, "Select a valid choice"),  # not offered: Stripe is not set up
    ],
)
def test_a_bad_checkout_says_why_and_orders_nothing(catalogue, anonymous, overrides, error):
    anonymous.post("/shop/cart/add/", {"variant": catalogue["mug"].pk, "quantity": 1})
    response = checkout(anonymous, catalogue["lille"], **overrides)
    assert response.status_code == 200
    assert error in response.content.decode()
    with schema_context("alpha"):
        assert not PublicOrder.objects.exists()
        assert StockLevel.objects.get(variant=catalogue["mug"], location=services.warehouse()).reserved == 0


def test_checkout_with_an_empty_cart_sends_back_to_the_shop(catalogue, anonymous):
    response = checkout(anonymous, catalogue["lille"])
    assert response["Location"] == "/shop/"


def test_an_unknown_order_link_is_a_404(catalogue, anonymous):
    assert anonymous.get("/shop/orders/not-a-token/").status_code == 404
    assert anonymous.get("/shop/orders/" + "x" * 300 + "/").status_code == 404


def test_another_organisation_sees_neither_the_products_nor_the_orders(catalogue, anonymous, beta):
    anonymous.post("/shop/cart/add/", {"variant": catalogue["mug"].pk, "quantity": 1})
    order_url = checkout(anonymous, catalogue["lille"])["Location"]
    visitor = Client(HTTP_HOST="beta.localhost")
    assert "Mug militant" not in visitor.get("/shop/").content.decode()
    assert visitor.get("/shop/p/mug/").status_code == 404
    assert visitor.get(order_url).status_code == 404
    # Alpha's variant id in beta's cart: beta has no such product on sale.
    visitor.post("/shop/cart/add/", {"variant": catalogue["mug"].pk, "quantity": 1})
    assert "Your cart is empty" in visitor.get("/shop/cart/").content.decode()


def test_the_shop_is_in_french_too(catalogue, anonymous):
    anonymous.cookies["django_language"] = "fr"
    page = anonymous.get("/shop/").content.decode()
    assert "Boutique" in page
    assert "8,50\xa0€" in page or "8,50 €" in page
