"""A small catalogue in alpha, on top of the chapter tree, and the ledger recomputed for the tests.

Logistics (a Logistics manager on the national chapter) builds it through the services:

poster     Poster A2, chapters only, 2.50 EUR, at most 50 per chapter order     100 in the warehouse
tshirt_s   T-shirt S, public and chapters, 15.00 EUR                             20
tshirt_m   T-shirt M                                                             20
leaflets   Leaflets, packs of 500, 20.00 EUR a pack, chapters only               30 packs
badge      Badge, public only, 3.00 EUR                                          50
"""

from collections import defaultdict

import pytest
from django_tenants.utils import schema_context

from shop import services
from shop.models import Product, StockLevel, StockMove


class Catalogue:
    def __init__(self, tree):
        self.tree = tree
        self.logistics = tree.person("logistics", role="Logistics manager", on=tree.national)
        self.warehouse = services.warehouse()
        self.poster = self.product(
            name="Poster A2", slug="poster-a2", kind="poster", price=250, max_per_chapter_order=50
        )
        self.tshirt_s, self.tshirt_m = self.product(
            name="T-shirt", slug="t-shirt", price=1500, public=True, variants=[("S", ""), ("M", "")]
        )
        self.leaflets = self.product(name="Leaflets", slug="leaflets", kind="leaflet", price=2000, pack_size=500)
        self.badge = self.product(name="Badge", slug="badge", price=300, public=True, chapter_orderable=False)
        for variant, quantity in [
            (self.poster, 100),
            (self.tshirt_s, 20),
            (self.tshirt_m, 20),
            (self.leaflets, 30),
            (self.badge, 50),
        ]:
            services.stock_receive(actor=self.logistics, variant=variant, location=self.warehouse, quantity=quantity)

    def product(self, *, variants=None, **fields):
        product = services.product_save(actor=self.logistics, product=Product(**fields), variants=variants)
        found = list(product.variants.select_related("product").order_by("pk"))
        return found[0] if variants is None else found

    def user(self, name):
        return self.tree.people[name].user

    def location(self, chapter):
        return services.chapter_location(chapter)

    @staticmethod
    def level(variant, location):
        return level(variant, location)

    @staticmethod
    def check_ledger():
        assert_levels_match_ledger()


@pytest.fixture
def catalogue(tree):
    with schema_context("alpha"):
        return Catalogue(tree)


def level(variant, location):
    """(on hand, reserved) as stored in StockLevel; (0, 0) where no row exists yet."""
    row = StockLevel.objects.filter(variant=variant, location=location).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


def ledger():
    """{(variant id, location id): (on hand, reserved)} summed from StockMove rows, following
    StockMove's documentation, independently of the services' own arithmetic."""
    totals = defaultdict(lambda: [0, 0])
    for kind, variant, quantity, source, target in StockMove.objects.values_list(
        "kind", "variant_id", "quantity", "from_location_id", "to_location_id"
    ):
        if kind == "receipt":
            totals[variant, target][0] += quantity
        elif kind == "reservation":
            totals[variant, source][1] += quantity
        elif kind == "release":
            totals[variant, source][1] -= quantity
        elif kind == "shipment":
            totals[variant, source][0] -= quantity
            totals[variant, source][1] -= quantity
        elif kind == "transfer":
            totals[variant, source][0] -= quantity
            totals[variant, target][0] += quantity
        elif kind == "adjustment" and target is not None:
            totals[variant, target][0] += quantity
        elif kind == "adjustment":
            totals[variant, source][0] -= quantity
        else:
            raise AssertionError(f"unknown move kind {kind}")
    return {key: tuple(value) for key, value in totals.items()}


def stored_levels():
    return {
        (variant, location): (on_hand, reserved)
        for variant, location, on_hand, reserved in StockLevel.objects.values_list(
            "variant_id", "location_id", "on_hand", "reserved"
        )
    }


def assert_levels_match_ledger():
    """Every stored level is its ledger sum, and every ledger sum has its stored level."""
    recomputed, stored = ledger(), stored_levels()
    zero = (0, 0)
    for key in set(recomputed) | set(stored):
        assert stored.get(key, zero) == recomputed.get(key, zero), f"level {key} differs from its ledger"
    assert all(on_hand >= 0 and 0 <= reserved <= on_hand for on_hand, reserved in stored.values())
