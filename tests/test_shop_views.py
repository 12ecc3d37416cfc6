"""The shop's pages in the member app (/app/shop/), from each persona's side."""

import csv
import io
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation
from django_tenants.utils import schema_context
from PIL import Image

from shop import services
from shop.models import (
    Allowance,
    ChapterOrder,
    Location,
    Product,
    ProductPhoto,
    PublicOrder,
    ShopSettings,
    StockLevel,
    StockMove,
    Variant,
)
from shop.stripe_fake import FakeStripe
from shop.templatetags.shop_tags import money
from tests.helpers import run_tasks


@pytest.fixture
def shop(tree):
    """A leaflet chapters order (packs of 500, at most 10 per order), a public T-shirt, stock in the
    national warehouse, and a logistics manager for the whole organisation."""
    organiser = tree.people["organiser"].user
    with schema_context("alpha"):
        tree.person("logistics", role="Logistics manager", on=tree.national)
        leaflet = Product.objects.create(
            name="Climate leaflet", slug="climate-leaflet", kind="leaflet", price=1250, pack_size=500
        )
        leaflet.max_per_chapter_order = 10
        leaflet.save()
        leaflet_variant = Variant.objects.create(product=leaflet, sku="CLIMATE-LEAFLET")
        tshirt = Product.objects.create(
            name="T-shirt", slug="t-shirt", kind="goodie", price=1500, chapter_orderable=False, public=True
        )
        tshirt_m = Variant.objects.create(product=tshirt, size="M", sku="T-SHIRT-M")
        warehouse = services.warehouse()
        services.stock_receive(actor=organiser, variant=leaflet_variant, location=warehouse, quantity=100)
        services.stock_receive(actor=organiser, variant=tshirt_m, location=warehouse, quantity=20)
    return SimpleNamespace(leaflet=leaflet, leaflet_variant=leaflet_variant, tshirt_m=tshirt_m, warehouse=warehouse)


def client_of(tree, persona):
    return tree.people[persona].client()


def level(variant, location):
    with schema_context("alpha"):
        found = StockLevel.objects.filter(variant=variant, location=location).first()
        return (found.on_hand, found.reserved) if found else (0, 0)


def order_leaflets(tree, shop, persona="coordinator", chapter="lille", quantity=2):
    with schema_context("alpha"):
        actor = tree.people[persona].user
        return services.chapter_order_request(
            actor=actor,
            chapter=getattr(tree, chapter.replace("-", "_")),
            lines=[(Variant.objects.get(pk=shop.leaflet_variant.pk), quantity)],
        )


def refreshed(order):
    with schema_context("alpha"):
        return type(order).objects.get(pk=order.pk)


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


# Money --------------------------------------------------------------------------------------------


def test_money_is_written_the_way_each_language_writes_it():
    with translation.override("fr"):
        assert money(1250, "EUR") == "12,50 €"
        assert money(5, "CHF") == "0,05 CHF"
    with translation.override("en"):
        assert money(1250, "EUR") == "€12.50"
        assert money(-1250, "GBP") == "-£12.50"
        assert money(123456, "CHF") == "CHF 1234.56"
    assert money(None, "EUR") == ""
    assert money("not a number", "EUR") == ""


# Who may open what --------------------------------------------------------------------------------

MANAGEMENT_PAGES = [
    "/app/shop/catalogue/",
    "/app/shop/catalogue/new/",
    "/app/shop/stock/",
    "/app/shop/allowances/",
    "/app/shop/public-orders/",
    "/app/shop/reports/",
    "/app/shop/reports/stock/",
    "/app/shop/reports/stock/?format=csv",
    "/app/shop/settings/",
]


def test_anonymous_visitors_are_sent_to_sign_in(tree, shop):
    order = order_leaflets(tree, shop)
    anonymous = Client(HTTP_HOST=tree.people["organiser"].host)
    for path in [
        "/app/shop/",
        *MANAGEMENT_PAGES,
        "/app/shop/orders/",
        f"/app/shop/orders/{order.reference}/",
        "/app/shop/chapters/lille/order/",
        "/app/shop/chapters/lille/stock/",
        "/app/shop/stock/ledger/",
    ]:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path
    response = anonymous.post(f"/app/shop/orders/{order.reference}/approve/")
    assert response["Location"].startswith("/accounts/login/")
    assert refreshed(order).status == "requested"


def test_a_member_without_a_shop_role_sees_what_to_do_and_nothing_else(tree, shop):
    order = order_leaflets(tree, shop)
    member = client_of(tree, "lille_member")
    home = page(member, "/app/shop/")
    assert "Your chapter's coordinators do: ask them for what you need." in home
    assert 'href="/shop/"' in home
    assert "Manage the shop" not in home
    for path in [
        *MANAGEMENT_PAGES,
        "/app/shop/orders/",
        "/app/shop/stock/ledger/",
        f"/app/shop/orders/{order.reference}/",
        "/app/shop/chapters/lille/order/",
        "/app/shop/chapters/lille/stock/",
    ]:
        assert member.get(path).status_code == 404, path
    assert member.post("/app/shop/settings/disconnect-stripe/", {"disconnect-confirm": "on"}).status_code == 404
    assert member.post("/app/shop/stock/receive/").status_code == 404


def test_a_coordinator_is_refused_national_management_pages(tree, shop):
    coordinator = client_of(tree, "coordinator")
    for path in MANAGEMENT_PAGES:
        if path != "/app/shop/public-orders/":  # collect orders at their chapter
            assert coordinator.get(path).status_code == 404, path
    assert coordinator.post("/app/shop/stock/depot/", {"depot-name": "Lyon"}).status_code == 404
    with schema_context("alpha"):
        assert not Location.objects.filter(name="Lyon").exists()


def test_the_menu_shows_the_shop_to_those_with_a_role_in_it(tree, shop):
    assert ">Material</a>" in page(client_of(tree, "coordinator"), "/app/")
    member_home = page(client_of(tree, "lille_member"), "/app/")
    assert ">Material</a>" not in member_home
    assert 'href="/app/shop/"' in member_home, "the home card links to the shop"
    assert 'href="/shop/"' in member_home
    shop_home = page(client_of(tree, "coordinator"), "/app/shop/")
    assert 'href="/app/shop/" aria-current="page">Material</a>' in shop_home


def test_the_home_lists_what_the_coordinator_orders_for_and_recent_orders(tree, shop):
    order = order_leaflets(tree, shop)
    home = page(client_of(tree, "coordinator"), "/app/shop/")
    assert 'href="/app/shop/chapters/lille/order/"' in home
    assert 'href="/app/shop/chapters/lille-centre/order/"' in home
    assert "/app/shop/chapters/roubaix/order/" not in home
    assert f'href="/app/shop/orders/{order.reference}/"' in home
    assert "/app/shop/catalogue/" not in home
    organiser_home = page(client_of(tree, "organiser"), "/app/shop/")
    for path in ["catalogue", "stock", "allowances", "public-orders", "reports", "settings"]:
        assert f'href="/app/shop/{path}/"' in organiser_home


# Ordering for a chapter ---------------------------------------------------------------------------


def test_the_coordinator_orders_leaflets_through_the_form(tree, shop, django_capture_on_commit_callbacks):
    coordinator = client_of(tree, "coordinator")
    form = page(coordinator, "/app/shop/chapters/lille/order/")
    assert "Climate leaflet" in form
    assert "1 unit = 500 leaflets" in form
    assert "€12.50" in form
    assert "at most 10 per order" in form
    assert "T-shirt" not in form, "not orderable by chapters"
    field = f"quantity_{shop.leaflet_variant.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        response = coordinator.post("/app/shop/chapters/lille/order/", {field: "3", "note": "For the march"})
    with schema_context("alpha"):
        order = ChapterOrder.objects.get()
        assert order.chapter.slug == "lille"
        assert order.requested_by.email == "coordinator@alpha.example"
        assert [(line.variant_id, line.quantity, line.unit_price) for line in order.lines.all()] == [
            (shop.leaflet_variant.pk, 3, 1250)
        ]
        assert (order.total, order.units, order.note) == (3750, 3, "For the march")
    assert response["Location"] == f"/app/shop/orders/{order.reference}/"
    detail = page(coordinator, response["Location"])
    assert f"Order {order.reference} was sent to national logistics." in detail
    assert "1500" in detail, "3 packs of 500 pieces"
    assert "€37.50" in detail
    run_tasks()
    assert any("logistics@alpha.example" in message.to and order.reference in message.body for message in mail.outbox)


@pytest.mark.parametrize("quantity", ["abc", "-3", "999999999", "11", "2.5", ""])
def test_a_bad_quantity_is_a_form_error_and_orders_nothing(tree, shop, quantity):
    coordinator = client_of(tree, "coordinator")
    response = coordinator.post("/app/shop/chapters/lille/order/", {f"quantity_{shop.leaflet_variant.pk}": quantity})
    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="errorlist' in content
    with schema_context("alpha"):
        assert not ChapterOrder.objects.exists()


def test_an_order_over_the_allowance_is_refused_with_what_is_left(tree, shop):
    with schema_context("alpha"):
        today = timezone.localdate()
        Allowance.objects.create(
            chapter=tree.lille, starts=today.replace(month=1, day=1), ends=today.replace(month=12, day=31), budget=2000
        )
    coordinator = client_of(tree, "coordinator")
    form = page(coordinator, "/app/shop/chapters/lille/order/")
    assert "a budget of €20.00, €20.00 left" in form
    response = coordinator.post("/app/shop/chapters/lille/order/", {f"quantity_{shop.leaflet_variant.pk}": "2"})
    assert "goes over the chapter&#x27;s remaining budget" in response.content.decode()
    with schema_context("alpha"):
        assert not ChapterOrder.objects.exists()
    coordinator.post("/app/shop/chapters/lille/order/", {f"quantity_{shop.leaflet_variant.pk}": "1"})
    assert "€7.50 left" in page(coordinator, "/app/shop/chapters/lille/order/")


def test_an_archived_chapter_cannot_order(tree, shop):
    with schema_context("alpha"):
        tree.lille_centre.archived = timezone.now()
        tree.lille_centre.save()
    response = client_of(tree, "coordinator").post(
        "/app/shop/chapters/lille-centre/order/", {f"quantity_{shop.leaflet_variant.pk}": "1"}
    )
    assert "That chapter is archived." in response.content.decode()
    with schema_context("alpha"):
        assert not ChapterOrder.objects.exists()


def test_the_sibling_coordinator_cannot_see_or_order_for_lille(tree, shop):
    order = order_leaflets(tree, shop)
    sibling = client_of(tree, "sibling_coordinator")
    assert sibling.get(f"/app/shop/orders/{order.reference}/").status_code == 404
    assert sibling.get("/app/shop/chapters/lille/order/").status_code == 404
    assert (
        sibling.post("/app/shop/chapters/lille/order/", {f"quantity_{shop.leaflet_variant.pk}": "1"}).status_code == 404
    )
    assert sibling.post(f"/app/shop/orders/{order.reference}/cancel/", {"cancel-reason": "mine"}).status_code == 404
    assert order.reference not in page(sibling, "/app/shop/orders/")
    assert refreshed(order).status == "requested"
    with schema_context("alpha"):
        assert ChapterOrder.objects.count() == 1


def test_unknown_or_malformed_references_are_404(tree, shop):
    organiser = client_of(tree, "organiser")
    assert organiser.get("/app/shop/orders/C-NOTHERE/").status_code == 404
    assert organiser.get("/app/shop/orders/%00/").status_code == 404
    assert organiser.post("/app/shop/orders/C-NOTHERE/approve/").status_code == 404
    assert organiser.get("/app/shop/public-orders/P-NOTHERE/").status_code == 404
    assert organiser.get("/app/shop/chapters/atlantis/order/").status_code == 404


def test_another_organisation_does_not_know_alphas_order(tree, shop, other_tenant_user):
    order = order_leaflets(tree, shop)
    beta = other_tenant_user.client()
    assert beta.get(f"/app/shop/orders/{order.reference}/").status_code == 404
    assert beta.post(f"/app/shop/orders/{order.reference}/approve/").status_code == 404
    assert refreshed(order).status == "requested"


# The order's life ---------------------------------------------------------------------------------


def test_logistics_approves_prepares_and_ships_and_the_chapter_receives(tree, shop, django_capture_on_commit_callbacks):
    order = order_leaflets(tree, shop, quantity=4)
    logistics = client_of(tree, "logistics")
    detail = page(logistics, f"/app/shop/orders/{order.reference}/")
    assert "Approve and set the stock aside" in detail
    assert "Mark received" not in detail

    with django_capture_on_commit_callbacks(execute=True):
        response = logistics.post(f"/app/shop/orders/{order.reference}/approve/")
    assert response["Location"] == f"/app/shop/orders/{order.reference}/"
    assert refreshed(order).status == "approved"
    assert level(shop.leaflet_variant, shop.warehouse) == (100, 4)
    run_tasks()
    assert any("coordinator@alpha.example" in message.to for message in mail.outbox)

    logistics.post(f"/app/shop/orders/{order.reference}/prepare/")
    assert refreshed(order).status == "prepared"

    response = logistics.post(f"/app/shop/orders/{order.reference}/ship/", {"ship-carrier": " "})
    assert refreshed(order).status == "prepared", "a carrier is required"
    assert "Nothing was changed" in page(logistics, response["Location"])
    logistics.post(
        f"/app/shop/orders/{order.reference}/ship/", {"ship-carrier": "La Poste", "ship-tracking_reference": "LP123"}
    )
    shipped = refreshed(order)
    assert (shipped.status, shipped.carrier, shipped.tracking_reference) == ("shipped", "La Poste", "LP123")
    assert level(shop.leaflet_variant, shop.warehouse) == (96, 0)

    coordinator = client_of(tree, "coordinator")
    assert "Mark received" in page(coordinator, f"/app/shop/orders/{order.reference}/")
    coordinator.post(f"/app/shop/orders/{order.reference}/receive/")
    assert refreshed(order).status == "received"
    with schema_context("alpha"):
        lille_stock = Location.objects.get(chapter=tree.lille)
    assert level(shop.leaflet_variant, lille_stock) == (4, 0)
    history = page(coordinator, f"/app/shop/orders/{order.reference}/")
    for status in ["Requested", "Approved", "Prepared", "Shipped", "Received"]:
        assert f"<strong>{status}</strong>" in history
    assert "La Poste LP123" in history


def test_refusing_needs_a_reason_and_the_reason_is_shown(tree, shop):
    order = order_leaflets(tree, shop)
    logistics = client_of(tree, "logistics")
    response = logistics.post(f"/app/shop/orders/{order.reference}/refuse/", {"refuse-reason": ""})
    assert response.status_code == 302
    assert refreshed(order).status == "requested"
    assert "Nothing was changed" in page(logistics, response["Location"])
    logistics.post(f"/app/shop/orders/{order.reference}/refuse/", {"refuse-reason": "No stock until May"})
    refused = refreshed(order)
    assert (refused.status, refused.refusal_reason) == ("refused", "No stock until May")
    assert "No stock until May" in page(client_of(tree, "coordinator"), f"/app/shop/orders/{order.reference}/")


def test_a_coordinator_cannot_approve_and_may_cancel_with_a_reason(tree, shop):
    order = order_leaflets(tree, shop)
    coordinator = client_of(tree, "coordinator")
    detail = page(coordinator, f"/app/shop/orders/{order.reference}/")
    assert "Approve" not in detail
    assert "Cancel the order" in detail
    assert coordinator.post(f"/app/shop/orders/{order.reference}/approve/").status_code == 404
    assert refreshed(order).status == "requested"
    coordinator.post(f"/app/shop/orders/{order.reference}/cancel/", {"cancel-reason": ""})
    assert refreshed(order).status == "requested"
    coordinator.post(f"/app/shop/orders/{order.reference}/cancel/", {"cancel-reason": "Ordered twice"})
    assert refreshed(order).status == "cancelled"


def test_an_action_out_of_turn_changes_nothing_and_says_why(tree, shop):
    order = order_leaflets(tree, shop)
    logistics = client_of(tree, "logistics")
    response = logistics.post(f"/app/shop/orders/{order.reference}/ship/", {"ship-carrier": "La Poste"})
    assert "This order is requested: it cannot be shipped." in page(logistics, response["Location"])
    assert refreshed(order).status == "requested"
    assert level(shop.leaflet_variant, shop.warehouse) == (100, 0)


def test_approving_more_than_the_stock_is_refused(tree, shop):
    order = order_leaflets(tree, shop, quantity=10)
    with schema_context("alpha"):
        services.stock_adjust(
            actor=tree.people["organiser"].user,
            variant=shop.leaflet_variant,
            location=shop.warehouse,
            delta=-95,
            reason="flood",
        )
    logistics = client_of(tree, "logistics")
    response = logistics.post(f"/app/shop/orders/{order.reference}/approve/")
    assert "Not enough stock" in page(logistics, response["Location"])
    assert refreshed(order).status == "requested"


def test_order_lists_follow_who_sees_what_and_filter(tree, shop):
    lille = order_leaflets(tree, shop)
    roubaix = order_leaflets(tree, shop, persona="sibling_coordinator", chapter="roubaix")
    logistics = client_of(tree, "logistics")
    listing = page(logistics, "/app/shop/orders/")
    assert lille.reference in listing
    assert roubaix.reference in listing
    filtered = page(logistics, "/app/shop/orders/?chapter=roubaix&status=requested")
    assert roubaix.reference in filtered
    assert lille.reference not in filtered
    assert "No order matches these filters." in page(logistics, "/app/shop/orders/?status=shipped")
    coordinator_list = page(client_of(tree, "coordinator"), "/app/shop/orders/")
    assert lille.reference in coordinator_list
    assert roubaix.reference not in coordinator_list
    assert logistics.get("/app/shop/orders/?chapter=%00&status=%00").status_code == 200
    junk = client_of(tree, "coordinator").get("/app/shop/orders/?chapter=roubaix&status=zz&page=-4")
    assert junk.status_code == 200
    assert roubaix.reference not in junk.content.decode()


def test_order_lists_are_paginated_with_their_filters(tree, shop):
    """The page links (includes/pagination.html) keep every filter and replace only the page."""
    for _ in range(26):
        order_leaflets(tree, shop, quantity=1)
    logistics = client_of(tree, "logistics")
    listing = page(logistics, "/app/shop/orders/?status=requested&chapter=lille")
    assert "Page 1 of 2" in listing
    assert 'href="?status=requested&amp;chapter=lille&amp;page=2" rel="next"' in listing
    second = page(logistics, "/app/shop/orders/?status=requested&page=2&chapter=lille")
    assert "Page 2 of 2" in second
    assert 'href="?status=requested&amp;page=1&amp;chapter=lille" rel="prev"' in second
    assert 'rel="next"' not in second


# Catalogue ----------------------------------------------------------------------------------------


def product_data(**overrides):
    data = {
        "name": "Sticker pack",
        "slug": "",
        "kind": "sticker",
        "description": "Round stickers",
        "price": "12,5",
        "currency": "eur",
        "pack_size": "50",
        "chapter_orderable": "on",
        "max_per_chapter_order": "",
        "active": "on",
        "sizes": "",
        "colours": "Red, Green",
    }
    return {**data, **overrides}


def test_logistics_adds_a_product_with_a_decimal_price_and_its_variants(tree, shop):
    logistics = client_of(tree, "logistics")
    response = logistics.post("/app/shop/catalogue/new/", product_data())
    with schema_context("alpha"):
        product = Product.objects.get(slug="sticker-pack")
        assert (product.price, product.currency, product.pack_size, product.public) == (1250, "EUR", 50, False)
        assert sorted(product.variants.values_list("colour", flat=True)) == ["Green", "Red"]
    assert response["Location"] == f"/app/shop/catalogue/{product.pk}/"
    edit = page(logistics, response["Location"])
    assert 'value="12.50"' in edit
    assert "STICKER-PACK-RED" in edit
    listing = page(logistics, "/app/shop/catalogue/")
    assert "Sticker pack" in listing
    assert "€12.50" in listing


@pytest.mark.parametrize("price", ["12.345", "abc", "-1", "1e3", "NaN", "12.", "99999999", ""])
def test_a_bad_price_is_a_form_error(tree, shop, price):
    response = client_of(tree, "organiser").post("/app/shop/catalogue/new/", product_data(price=price))
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    with schema_context("alpha"):
        assert not Product.objects.filter(name="Sticker pack").exists()


def test_a_variant_whose_sku_is_taken_saves_nothing(tree, shop):
    response = client_of(tree, "organiser").post(
        "/app/shop/catalogue/new/", product_data(name="Climate", slug="climate", sizes="leaflet", colours="")
    )
    assert response.status_code == 200
    assert "The SKU CLIMATE-LEAFLET is already used." in response.content.decode()
    with schema_context("alpha"):
        assert not Product.objects.filter(slug="climate").exists()


def test_editing_a_product_keeps_its_variants_and_changes_its_price(tree, shop):
    organiser = client_of(tree, "organiser")
    data = product_data(name="Climate leaflet", slug="climate-leaflet", kind="leaflet", price="9.90", pack_size="500")
    organiser.post(f"/app/shop/catalogue/{shop.leaflet.pk}/", data)
    with schema_context("alpha"):
        leaflet = Product.objects.get(pk=shop.leaflet.pk)
        assert leaflet.price == 990
        assert list(leaflet.variants.values_list("sku", flat=True)) == ["CLIMATE-LEAFLET"]
    taken = organiser.post(f"/app/shop/catalogue/{shop.leaflet.pk}/", {**data, "slug": "t-shirt"})
    assert "Another product already uses the address" in taken.content.decode()
    assert organiser.get("/app/shop/catalogue/999999/").status_code == 404


def test_variants_are_added_and_a_duplicate_is_refused(tree, shop):
    organiser = client_of(tree, "organiser")
    response = organiser.post(f"/app/shop/catalogue/{shop.tshirt_m.product_id}/variants/", {"size": "L"})
    assert response.status_code == 302
    duplicate = organiser.post(f"/app/shop/catalogue/{shop.tshirt_m.product_id}/variants/", {"size": "M"})
    assert "This product already has that size and colour." in duplicate.content.decode()
    empty = organiser.post(f"/app/shop/catalogue/{shop.tshirt_m.product_id}/variants/", {})
    assert "Give a size, a colour, or both." in empty.content.decode()
    with schema_context("alpha"):
        assert sorted(Variant.objects.filter(product_id=shop.tshirt_m.product_id).values_list("size", flat=True)) == [
            "L",
            "M",
        ]


def png_upload(name="tshirt.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_a_photo_is_validated_and_added(tree, shop):
    organiser = client_of(tree, "organiser")
    path = f"/app/shop/catalogue/{shop.tshirt_m.product_id}/photos/"
    refused = organiser.post(path, {"image": SimpleUploadedFile("evil.png", b"<?php echo 1; ?>")})
    assert refused.status_code == 200
    assert 'class="errorlist' in refused.content.decode()
    with schema_context("alpha"):
        assert not ProductPhoto.objects.exists()
    response = organiser.post(path, {"image": png_upload()})
    assert response.status_code == 302
    with schema_context("alpha"):
        assert ProductPhoto.objects.get().product_id == shop.tshirt_m.product_id
    assert "<img" in page(organiser, response["Location"])


# Stock --------------------------------------------------------------------------------------------


def test_national_logistics_receive_adjust_and_transfer_stock(tree, shop, django_capture_on_commit_callbacks):
    logistics = client_of(tree, "logistics")
    stock = page(logistics, "/app/shop/stock/")
    assert "Climate leaflet" in stock
    assert "National warehouse" in stock
    variant, warehouse = shop.leaflet_variant.pk, shop.warehouse.pk

    logistics.post(
        "/app/shop/stock/receive/",
        {
            "receive-variant": variant,
            "receive-location": warehouse,
            "receive-quantity": "50",
            "receive-reason": "Print",
        },
    )
    assert level(shop.leaflet_variant, shop.warehouse) == (150, 0)

    no_reason = logistics.post(
        "/app/shop/stock/adjust/",
        {"adjust-variant": variant, "adjust-location": warehouse, "adjust-delta": "-5", "adjust-reason": ""},
    )
    assert no_reason.status_code == 200
    assert "This field is required." in no_reason.content.decode()
    too_many = logistics.post(
        "/app/shop/stock/adjust/",
        {"adjust-variant": variant, "adjust-location": warehouse, "adjust-delta": "-500", "adjust-reason": "count"},
    )
    assert "Not enough stock" in too_many.content.decode()
    assert level(shop.leaflet_variant, shop.warehouse) == (150, 0)
    logistics.post(
        "/app/shop/stock/adjust/",
        {"adjust-variant": variant, "adjust-location": warehouse, "adjust-delta": "-5", "adjust-reason": "Wet box"},
    )
    assert level(shop.leaflet_variant, shop.warehouse) == (145, 0)

    with django_capture_on_commit_callbacks(execute=True):
        logistics.post(
            "/app/shop/stock/transfer/",
            {
                "transfer-variant": variant,
                "transfer-source": warehouse,
                "transfer-target_chapter": tree.lille.pk,
                "transfer-quantity": "20",
            },
        )
    with schema_context("alpha"):
        lille_stock = Location.objects.get(chapter=tree.lille)
    assert level(shop.leaflet_variant, lille_stock) == (20, 0)
    assert level(shop.leaflet_variant, shop.warehouse) == (125, 0)
    run_tasks()
    assert any("coordinator@alpha.example" in message.to for message in mail.outbox)

    both = logistics.post(
        "/app/shop/stock/transfer/",
        {
            "transfer-variant": variant,
            "transfer-source": warehouse,
            "transfer-target_chapter": tree.lille.pk,
            "transfer-target_location": lille_stock.pk,
            "transfer-quantity": "1",
        },
    )
    assert "Choose where the stock goes" in both.content.decode()
    assert level(shop.leaflet_variant, lille_stock) == (20, 0)


def test_logistics_create_a_regional_depot(tree, shop):
    logistics = client_of(tree, "logistics")
    logistics.post("/app/shop/stock/depot/", {"depot-name": "Dépôt Lyon", "depot-address": "1 rue X"})
    with schema_context("alpha"):
        depot = Location.objects.get(kind="depot")
        assert (depot.name, depot.address) == ("Dépôt Lyon", "1 rue X")
    assert "Dépôt Lyon" in page(logistics, "/app/shop/stock/")


def test_a_coordinator_keeps_the_chapters_stock_and_sends_some_to_another_chapter(tree, shop):
    coordinator = client_of(tree, "coordinator")
    empty = page(coordinator, "/app/shop/chapters/lille/stock/")
    assert "Nothing in this chapter's stock yet." in empty
    coordinator.post(
        "/app/shop/chapters/lille/stock/receive/",
        {"receive-variant": shop.leaflet_variant.pk, "receive-quantity": "30", "receive-reason": "Already here"},
    )
    with schema_context("alpha"):
        lille_stock = Location.objects.get(chapter=tree.lille)
    assert level(shop.leaflet_variant, lille_stock) == (30, 0)
    assert "Climate leaflet" in page(coordinator, "/app/shop/chapters/lille/stock/")

    coordinator.post(
        "/app/shop/chapters/lille/stock/transfer/",
        {
            "transfer-variant": shop.leaflet_variant.pk,
            "transfer-target_chapter": tree.roubaix.pk,
            "transfer-quantity": "12",
        },
    )
    with schema_context("alpha"):
        roubaix_stock = Location.objects.get(chapter=tree.roubaix)
    assert level(shop.leaflet_variant, lille_stock) == (18, 0)
    assert level(shop.leaflet_variant, roubaix_stock) == (12, 0)

    refused = coordinator.post(
        "/app/shop/chapters/lille/stock/transfer/",
        {
            "transfer-variant": shop.leaflet_variant.pk,
            "transfer-target_chapter": tree.roubaix.pk,
            "transfer-quantity": "999999999",
        },
    )
    assert refused.status_code == 200
    assert level(shop.leaflet_variant, lille_stock) == (18, 0)
    assert coordinator.post("/app/shop/chapters/lille/stock/depot/", {"depot-name": "x"}).status_code == 404

    ledger = page(coordinator, "/app/shop/stock/ledger/")
    assert "Already here" in ledger
    assert "National warehouse" not in ledger, "only the moves of the coordinator's chapters"


def test_the_sibling_coordinator_cannot_touch_lilles_stock(tree, shop):
    with schema_context("alpha"):
        lille_stock = services.chapter_location(tree.lille)
        services.stock_receive(
            actor=tree.people["organiser"].user, variant=shop.leaflet_variant, location=lille_stock, quantity=10
        )
    sibling = client_of(tree, "sibling_coordinator")
    assert sibling.get("/app/shop/chapters/lille/stock/").status_code == 404
    response = sibling.post(
        "/app/shop/chapters/lille/stock/transfer/",
        {
            "transfer-variant": shop.leaflet_variant.pk,
            "transfer-target_chapter": tree.roubaix.pk,
            "transfer-quantity": "5",
        },
    )
    assert response.status_code == 404
    assert level(shop.leaflet_variant, lille_stock) == (10, 0)
    assert "No stock move yet." in page(sibling, f"/app/shop/stock/ledger/?location={lille_stock.pk}")


def test_the_ledger_filters_by_location_and_variant(tree, shop):
    logistics = client_of(tree, "logistics")
    everything = page(logistics, "/app/shop/stock/ledger/")
    assert "Climate leaflet" in everything
    assert "T-shirt M" in everything
    only_tshirts = page(logistics, f"/app/shop/stock/ledger/?variant={shop.tshirt_m.pk}")
    assert "T-shirt M" in only_tshirts
    assert "Climate leaflet" not in only_tshirts.split("<table>")[1]
    assert logistics.get("/app/shop/stock/ledger/?variant=abc&location=-1&page=zz").status_code == 200


# Allowances ---------------------------------------------------------------------------------------


def test_logistics_set_an_allowance_in_euros_and_see_its_use(tree, shop):
    logistics = client_of(tree, "logistics")
    year = timezone.localdate().year
    data = {"chapter": tree.lille.pk, "starts": f"{year}-01-01", "ends": f"{year}-12-31", "budget": "150.00"}
    response = logistics.post("/app/shop/allowances/", data)
    assert response["Location"] == "/app/shop/allowances/"
    with schema_context("alpha"):
        allowance = Allowance.objects.get()
        assert (allowance.chapter_id, allowance.budget, allowance.units) == (tree.lille.pk, 15000, None)
    order_leaflets(tree, shop, quantity=2)
    listing = page(logistics, "/app/shop/allowances/")
    assert "€150.00" in listing
    assert "€25.00" in listing

    overlap = logistics.post("/app/shop/allowances/", {**data, "budget": "", "units": "5"})
    assert "already has an allowance over part of that period" in overlap.content.decode()
    nothing = logistics.post(
        "/app/shop/allowances/", {**data, "starts": f"{year + 1}-01-01", "ends": f"{year + 1}-12-31", "budget": ""}
    )
    assert "Give a budget, a number of units, or both." in nothing.content.decode()

    logistics.post(
        f"/app/shop/allowances/{allowance.pk}/",
        {"starts": f"{year}-01-01", "ends": f"{year}-12-31", "budget": "", "units": "40"},
    )
    with schema_context("alpha"):
        allowance.refresh_from_db()
        assert (allowance.budget, allowance.units) == (None, 40)
        assert Allowance.objects.count() == 1


# Public orders ------------------------------------------------------------------------------------


def place_collect_order(tree, shop, chapter="lille"):
    with schema_context("alpha"):
        return services.public_order_place(
            lines=[(Variant.objects.get(pk=shop.tshirt_m.pk), 2)],
            full_name="Sam Supporter",
            email="sam@example.org",
            payment=PublicOrder.Payment.COLLECT,
            collect_chapter=getattr(tree, chapter),
        )


def test_the_chapter_hands_over_a_collect_order(tree, shop):
    order = place_collect_order(tree, shop)
    assert level(shop.tshirt_m, shop.warehouse) == (20, 2)
    coordinator = client_of(tree, "coordinator")
    assert order.reference in page(coordinator, "/app/shop/public-orders/")
    detail = page(coordinator, f"/app/shop/public-orders/{order.reference}/")
    assert "Sam Supporter" in detail
    assert "€30.00" in detail
    assert "Handed over and paid" in detail
    coordinator.post(f"/app/shop/public-orders/{order.reference}/fulfil/")
    assert refreshed(order).status == "fulfilled"
    assert level(shop.tshirt_m, shop.warehouse) == (18, 0)


def test_other_chapters_do_not_see_a_collect_order(tree, shop):
    order = place_collect_order(tree, shop)
    sibling = client_of(tree, "sibling_coordinator")
    assert order.reference not in page(sibling, "/app/shop/public-orders/")
    assert sibling.get(f"/app/shop/public-orders/{order.reference}/").status_code == 404
    assert sibling.post(f"/app/shop/public-orders/{order.reference}/fulfil/").status_code == 404
    assert refreshed(order).status == "to_collect"


def test_logistics_cancel_a_collect_order_with_a_reason(tree, shop):
    order = place_collect_order(tree, shop)
    logistics = client_of(tree, "logistics")
    logistics.post(f"/app/shop/public-orders/{order.reference}/cancel/", {"cancel-reason": ""})
    assert refreshed(order).status == "to_collect"
    logistics.post(f"/app/shop/public-orders/{order.reference}/cancel/", {"cancel-reason": "Never came"})
    assert refreshed(order).status == "cancelled"
    assert level(shop.tshirt_m, shop.warehouse) == (20, 0)
    assert "No order matches this filter." in page(logistics, "/app/shop/public-orders/?status=paid")
    assert order.reference in page(logistics, "/app/shop/public-orders/?status=cancelled")


def connect_stripe(tree, secret_key, webhook_secret):
    with schema_context("alpha"):
        services.settings_save(
            actor=tree.people["organiser"].user,
            currency="EUR",
            collect_at_chapters=True,
            shop_contact="",
            publishable_key="pk_test_views",
            secret_key=secret_key,
            webhook_secret=webhook_secret,
        )


@pytest.fixture
def stripe_fake(tree, settings):
    """Alpha's Stripe account on the local fake (shop/stripe_fake.py), which keeps every request."""
    fake = FakeStripe(deliver=False).start()
    account = fake.add_account("sk_test_views_0123456789", "", "whsec_views_0123456789")
    settings.STRIPE_API_BASE = fake.url
    connect_stripe(tree, account.secret_key, account.webhook_secret)
    yield fake
    fake.stop()


def paid_on_stripe(fake, amount):
    """A checkout session paid on the fake; its payment intent."""
    account = next(iter(fake.accounts.values()))
    line = {"quantity": "1", "price_data": {"currency": "eur", "unit_amount": str(amount)}}
    session = fake.session_create(account, {"line_items": [line], "success_url": "http://alpha.localhost/"})
    return fake.session_pay(session["id"])["payment_intent"]


def refund_requests(fake):
    return [(request.params, request.idempotency_key) for request in fake.requests if request.path == "/v1/refunds"]


def test_a_card_order_is_refunded_only_after_confirmation(tree, shop, stripe_fake):
    payment_intent = paid_on_stripe(stripe_fake, 1500)
    with schema_context("alpha"):
        order = PublicOrder.objects.create(
            reference="P-CARDPAID",
            token="t" * 43,
            status=PublicOrder.Status.FULFILLED,
            payment=PublicOrder.Payment.STRIPE,
            full_name="Card Buyer",
            email="card@example.org",
            address="1 rue de la Paix",
            source=shop.warehouse,
            total=1500,
            stripe_payment_intent=payment_intent,
            paid=timezone.now(),
        )
    logistics = client_of(tree, "logistics")
    assert "Refund the order" in page(logistics, f"/app/shop/public-orders/{order.reference}/")
    logistics.post(f"/app/shop/public-orders/{order.reference}/refund/")
    assert refund_requests(stripe_fake) == []
    assert refreshed(order).status == "fulfilled"
    logistics.post(f"/app/shop/public-orders/{order.reference}/refund/", {"refund-confirm": "on"})
    assert refund_requests(stripe_fake) == [({"payment_intent": payment_intent}, "refund-P-CARDPAID")]
    _account, refunded = stripe_fake.events[-1]
    assert (refunded["type"], refunded["data"]["object"]["payment_intent"]) == ("charge.refunded", payment_intent)
    assert refreshed(order).status == "refunded"
    assert "Refund the order" not in page(logistics, f"/app/shop/public-orders/{order.reference}/")


def test_a_refund_stripe_refuses_changes_nothing(tree, shop, stripe_fake):
    with schema_context("alpha"):
        order = PublicOrder.objects.create(
            reference="P-CARDFAIL",
            token="u" * 43,
            status=PublicOrder.Status.FULFILLED,
            payment=PublicOrder.Payment.STRIPE,
            full_name="Card Buyer",
            email="card@example.org",
            source=shop.warehouse,
            total=1500,
            stripe_payment_intent="pi_456",  # a payment Stripe does not know: it answers 404
        )
    logistics = client_of(tree, "logistics")
    response = logistics.post(f"/app/shop/public-orders/{order.reference}/refund/", {"refund-confirm": "on"})
    assert "Stripe refused the refund or could not be reached" in page(logistics, response["Location"])
    assert refund_requests(stripe_fake) == [({"payment_intent": "pi_456"}, "refund-P-CARDFAIL")]
    assert stripe_fake.events == []  # no charge.refunded
    assert refreshed(order).status == "fulfilled"


# Reports ------------------------------------------------------------------------------------------


def csv_rows(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_stock_report_exports_rows_and_defuses_formulas(tree, shop):
    with schema_context("alpha"):
        evil = Product.objects.create(name="=cmd()", slug="evil", price=100)
        services.stock_receive(
            actor=tree.people["organiser"].user,
            variant=Variant.objects.create(product=evil, sku="EVIL"),
            location=shop.warehouse,
            quantity=3,
        )
    logistics = client_of(tree, "logistics")
    assert "Climate leaflet" in page(logistics, "/app/shop/reports/stock/")
    response = logistics.get("/app/shop/reports/stock/?format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="shop-stock.csv"'
    rows = csv_rows(response)
    assert rows[0] == ["Location", "Kind", "Product", "Variant", "SKU", "On hand", "Reserved", "Available"]
    assert [
        "National warehouse",
        "National warehouse",
        "Climate leaflet",
        "",
        "CLIMATE-LEAFLET",
        "100",
        "0",
        "100",
    ] in rows
    assert ["National warehouse", "National warehouse", "'=cmd()", "", "EVIL", "3", "0", "3"] in rows
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_the_orders_and_allowances_reports_cover_the_period(tree, shop):
    order_leaflets(tree, shop, quantity=2)
    order_leaflets(tree, shop, persona="sibling_coordinator", chapter="roubaix", quantity=1)
    with schema_context("alpha"):
        year = timezone.localdate().year
        Allowance.objects.create(
            chapter=tree.lille, starts=f"{year}-01-01", ends=f"{year}-12-31", budget=10000, units=20
        )
    organiser = client_of(tree, "organiser")
    rows = csv_rows(organiser.get("/app/shop/reports/orders/?format=csv"))
    assert rows[1:] == [["Lille", "1", "2", "25.00", "EUR"], ["Roubaix", "1", "1", "12.50", "EUR"]]
    assert "€25.00" in page(organiser, "/app/shop/reports/orders/")
    last_year = csv_rows(
        organiser.get(f"/app/shop/reports/orders/?format=csv&starts={year - 1}-01-01&ends={year - 1}-12-31")
    )
    assert last_year[1:] == []
    response = organiser.get("/app/shop/reports/allowances/?format=csv")
    assert response["Content-Disposition"] == f'attachment; filename="shop-allowances-{year}-01-01-{year}-12-31.csv"'
    assert csv_rows(response)[1:] == [["Lille", f"{year}-01-01", f"{year}-12-31", "100.00", "25.00", "20", "2", "EUR"]]
    assert organiser.get("/app/shop/reports/orders/?starts=zz&ends=2024-02-31").status_code == 200


def test_the_sales_report_counts_paid_orders_by_month(tree, shop):
    order = place_collect_order(tree, shop)
    client_of(tree, "coordinator").post(f"/app/shop/public-orders/{order.reference}/fulfil/")
    place_collect_order(tree, shop)  # not paid yet: not a sale
    rows = csv_rows(client_of(tree, "logistics").get("/app/shop/reports/sales/?format=csv"))
    assert rows[0] == ["Month", "Orders", "Total", "Currency"]
    assert rows[1:] == [[timezone.localdate().strftime("%Y-%m"), "1", "30.00", "EUR"]]


# Settings -----------------------------------------------------------------------------------------


def test_stripe_secrets_are_never_shown_back(tree, shop):
    organiser = client_of(tree, "organiser")
    settings_page = page(organiser, "/app/shop/settings/")
    assert "http://alpha.localhost/shop/stripe/webhook/" in settings_page
    data = {
        "currency": "eur",
        "collect_at_chapters": "on",
        "shop_contact": "shop@alpha.example",
        "publishable_key": "pk_test_abc",
        "secret_key": "sk_test_SECRETsecret4242",
        "webhook_secret": "whsec_WEBHOOKsecret9876",
    }
    response = organiser.post("/app/shop/settings/", data)
    assert response["Location"] == "/app/shop/settings/"
    saved = page(organiser, "/app/shop/settings/")
    assert "SECRETsecret" not in saved
    assert "WEBHOOKsecret" not in saved
    assert "sk_test_…4242" in saved
    assert "…9876" in saved
    with schema_context("alpha"):
        row = ShopSettings.load()
        assert row.stripe_configured
        assert (row.currency, row.stripe_publishable_key) == ("EUR", "pk_test_abc")
        assert "SECRET" not in row.stripe_secret_key, "encrypted at rest"

    organiser.post("/app/shop/settings/", {**data, "secret_key": "", "webhook_secret": "", "collect_at_chapters": ""})
    with schema_context("alpha"):
        row = ShopSettings.load()
        assert row.stripe_secret_hint == "sk_test_…4242", "blank keeps the stored secret"
        assert not row.collect_at_chapters
    wrong = organiser.post("/app/shop/settings/", {**data, "secret_key": "pk_live_oops"})
    assert "This does not look like the right Stripe key." in wrong.content.decode()
    assert "pk_live_oops" not in wrong.content.decode()


def test_disconnecting_stripe_needs_a_confirmation(tree, shop):
    connect_stripe(tree, "sk_test_123456", "whsec_123456")
    organiser = client_of(tree, "organiser")
    organiser.post("/app/shop/settings/disconnect-stripe/")
    with schema_context("alpha"):
        assert ShopSettings.load().stripe_configured
    organiser.post("/app/shop/settings/disconnect-stripe/", {"disconnect-confirm": "on"})
    with schema_context("alpha"):
        assert not ShopSettings.load().stripe_configured
    assert "Stripe is not connected" in page(organiser, "/app/shop/settings/")
    assert client_of(tree, "logistics").get("/app/shop/settings/").status_code == 404


# No input answers 500 -----------------------------------------------------------------------------

JUNK = {
    "page": "-5",
    "status": "\x00",
    "chapter": "99999999",
    "location": "abc",
    "variant": "1e9",
    "starts": "2024-13-45",
    "ends": "\x00",
    "format": "xls",
    "name": "<script>",
    "price": "1,2,3",
    "reason": "x" * 5000,
    "note": "\x00" * 10,
    "image": "not a file",
    "receive-quantity": "9" * 40,
    "adjust-delta": "-0",
    "transfer-target_chapter": "../",
    "depot-name": "",
    "budget": "12.345",
    "units": "-1",
    "secret_key": " ",
    "currency": "€€€€",
    "refund-confirm": "maybe",
}


@pytest.mark.parametrize("persona", ["organiser", "logistics", "coordinator", "sibling_coordinator", "lille_member"])
def test_no_shop_page_answers_500(tree, shop, persona):
    order = order_leaflets(tree, shop)
    collect = place_collect_order(tree, shop)
    product = shop.leaflet.pk
    client = client_of(tree, persona)
    paths = [
        "/app/shop/",
        "/app/shop/catalogue/",
        "/app/shop/catalogue/new/",
        f"/app/shop/catalogue/{product}/",
        f"/app/shop/catalogue/{product}/variants/",
        f"/app/shop/catalogue/{product}/photos/",
        "/app/shop/stock/",
        "/app/shop/stock/ledger/",
        *[f"/app/shop/stock/{action}/" for action in ["receive", "adjust", "transfer", "depot"]],
        *[f"/app/shop/chapters/lille/stock/{action}/" for action in ["receive", "adjust", "transfer", "depot"]],
        "/app/shop/chapters/lille/stock/",
        "/app/shop/chapters/lille/order/",
        "/app/shop/allowances/",
        "/app/shop/allowances/999999/",
        "/app/shop/orders/",
        f"/app/shop/orders/{order.reference}/",
        *[
            f"/app/shop/orders/{order.reference}/{action}/"
            for action in ["approve", "refuse", "prepare", "ship", "receive", "cancel"]
        ],
        "/app/shop/public-orders/",
        f"/app/shop/public-orders/{collect.reference}/",
        *[f"/app/shop/public-orders/{collect.reference}/{action}/" for action in ["fulfil", "cancel", "refund"]],
        "/app/shop/reports/",
        *[f"/app/shop/reports/{name}/" for name in ["stock", "orders", "allowances", "sales"]],
        "/app/shop/settings/",
        "/app/shop/settings/disconnect-stripe/",
    ]
    for path in paths:
        for method in (client.get, client.post):
            response = method(path, JUNK)
            assert response.status_code < 500, (persona, method.__name__, path)
    with schema_context("alpha"):
        assert StockMove.objects.filter(kind="adjustment").count() == 0


def test_the_collecting_chapters_coordinator_is_offered_to_cancel_an_order_never_collected(tree, shop):
    order = place_collect_order(tree, shop)
    coordinator = client_of(tree, "coordinator")
    assert f"/app/shop/public-orders/{order.reference}/cancel/" in page(
        coordinator, f"/app/shop/public-orders/{order.reference}/"
    )
    coordinator.post(f"/app/shop/public-orders/{order.reference}/cancel/", {"cancel-reason": "Never came"})
    assert refreshed(order).status == "cancelled"
    assert level(shop.tshirt_m, shop.warehouse) == (20, 0)
